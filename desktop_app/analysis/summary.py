"""Per-model aggregates of a stored run: quality with a confidence interval, speed and cost."""

from __future__ import annotations

import copy
import dataclasses
import json
import statistics
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.analysis.stats import bootstrap_mean, stable_seed
from desktop_app.costing.answer_cost import machine_seconds, reprice
from desktop_app.costing.prices import pricing_for
from desktop_app.providers.api import ApiModelSpec
from desktop_app.settings import Settings
from desktop_app.storage.store import Store

if TYPE_CHECKING:
    from desktop_app.models.hardware import Hardware


@dataclass(frozen=True)
class TagQuality:
    """A model's quality on the cases of one tag."""

    mean: float
    low: float
    high: float
    n: int  # graded cases with the tag


@dataclass(frozen=True)
class ModelSummary:
    model: str
    provider: str  # llama.cpp, or the API (openai, anthropic, openai-compatible)
    path: str | None
    quantization: str | None
    file_size: int | None
    cases: int  # planned
    answered: int  # stored answers, failed ones included
    graded: int
    passed: int
    quality: float | None  # mean grade score; a failed answer scores 0
    quality_low: float | None  # 95% bootstrap interval of the mean score (seeded by run and model)
    quality_high: float | None
    errors: int
    tokens_per_second: float | None  # generated tokens over generation time, all answers pooled
    time_to_first_token_ms: float | None  # median
    wall_time_ms: float | None  # median per answer
    completion_tokens: int
    prompt_tokens: int
    peak_memory_bytes: int | None
    cost_usd: float | None  # None: an API answer has no known price
    cost_per_answer_usd: float | None
    cost_per_million_tokens_usd: float | None
    prompt_tokens_per_second: float | None = None  # median
    watts: float | None = None  # a local model's measured (or configured) draw while answering
    threads: int | None = None  # CPU threads a local model's figures were measured with
    # Speed, latency and (local) cost come from these answers: measured in this run's conditions,
    # alone and on a quiet machine where there are such answers (see _measurement_basis).
    measured_answers: int = 0
    under_load: int = 0  # answers measured while other programs kept the CPU busy
    shared: int = 0  # answers measured while other local models answered too
    reused: int = 0  # answers reused from an earlier run
    measurement_notes: tuple[str, ...] = ()  # what a reader of the figures should know, in words
    # Cases a local model decoded at once (None: one at a time). Its tokens_per_second is then what the
    # batch wrote in all (the machine's speed on it), its time to first token includes reading the
    # prompts decoded with it, and one answer alone streamed at stream_tokens_per_second.
    parallel: int | None = None
    stream_tokens_per_second: float | None = None
    pass_rate: float | None = None  # share of graded answers that passed
    tags: dict[str, TagQuality] = field(default_factory=dict)  # quality per tag of the suite's cases
    # Each graded case's score, for paired comparisons (kept out of to_dict: one number per case).
    case_scores: dict[str, float] = field(default_factory=dict, repr=False)
    # Whether it fits this machine: an API model does; a local one is checked when summarize is given it.
    fits: bool | None = None
    fit_reason: str | None = None

    @property
    def measured_with_caveats(self) -> bool:
        return bool(self.measurement_notes)

    @property
    def is_local(self) -> bool:
        return self.provider == "llama.cpp"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["case_scores"]
        return data


@dataclass(frozen=True)
class RunSummary:
    run: dict[str, Any]
    models: list[ModelSummary]

    def to_dict(self) -> dict[str, Any]:
        run = self.run
        return {"run_id": run["id"], "status": run["status"], "status_reason": run.get("status_reason"),
                "kind": run["kind"],
                "created_at": run["created_at"], "suite": run["suite_name"],
                "suite_version": run["suite_version"], "models": [m.to_dict() for m in self.models]}


def _score(row: dict[str, Any]) -> float | None:
    """A person's verdict (good 1, bad 0) wins over the suite's checks; a failed answer scores 0."""
    if row["error"]:
        return 0.0
    if row.get("human_label") is not None:
        return 1.0 if row["human_label"] > 0 else 0.0
    return row["grade_score"]


def _passed(row: dict[str, Any]) -> bool:
    if row["error"]:
        return False
    if row.get("human_label") is not None:
        return row["human_label"] > 0
    return bool(row["grade_passed"])


# Columns of an answer no figure is made from: left unread, a summary of 100,000 answers reads a third as much.
NOT_SUMMARIZED = ("text", "request_json", "request_hash", "grade_reason", "grade_json", "cost_json", "identity_json",
                  "finish_reason", "energy_source", "chat_template", "served_model", "peak_memory_scope")


def summarize(store: Store, run_id: str, settings: Settings | None = None,
              this_machine: Hardware | None = None, answers: list[dict[str, Any]] | None = None) -> RunSummary:
    """Per-model figures of a run. With `settings`, every answer is priced under them (the figures
    the plot, the tables and the projection share); without, at what was stored when it ran. With
    `this_machine`, each local model says whether it fits it. `answers`: the run's answers as
    store.results(run_id) gives them, already read (the Results screen's), so they are not read twice;
    they are left as they are."""
    run = store.run(run_id)
    suite_cases = store.suite_cases(run["id"])  # case by case: a large suite never holds the lock long
    cases = len(suite_cases)
    case_tags = {str(c.get("id")): tuple(c.get("tags") or ()) for c in suite_cases}
    _let_go(suite_cases)
    rows_by_model: dict[str, list[dict[str, Any]]] = {}
    if answers is None:
        for row in store.results(run["id"], omit=NOT_SUMMARIZED):
            rows_by_model.setdefault(row["model_key"], []).append(row)
    else:
        for row in answers:  # copies: pricing them anew below must not change the caller's
            rows_by_model.setdefault(row["model_key"], []).append(dict(row))
    hardware = hardware_key(json.loads(run["hardware_json"] or "{}"))
    origins = {r["measured_in_run"] for rows in rows_by_model.values() for r in rows if r.get("measured_in_run")}
    origin_hardware = {k: hardware_key(v) for k, v in store.hardware_of_runs(origins).items()}
    models = []
    for model in store.run_models(run["id"]):
        metadata = json.loads(model["metadata_json"] or "{}")
        rows = rows_by_model.pop(model["model_key"], [])
        if settings is not None:
            pricing = None
            if model["provider"] != "llama.cpp":
                spec = ApiModelSpec.from_dict(json.loads(model["spec_json"]))
                pricing = pricing_for(spec, settings)
            for r in rows:  # this function's own rows: priced anew in place, not copied
                r["cost_usd"] = reprice(r, settings, pricing)
        spec = json.loads(model["spec_json"] or "{}")
        summary = _summarize_model(model["model_key"], model["provider"], model["path"], metadata,
                                   cases, rows, _Reference(spec.get("n_threads"), hardware, origin_hardware))
        summary = dataclasses.replace(summary, **_quality(run["id"], model["model_key"], rows, case_tags),
                                      **_fit(model["provider"], metadata, spec, this_machine))
        models.append(summary)
        _let_go(rows)
    for rows in rows_by_model.values():  # answers of a model no longer in the run
        _let_go(rows)
    while case_tags:  # 25,000 cases' tags freed at once would hold the lock as long as their answers would
        for _ in range(min(500, len(case_tags))):
            case_tags.popitem()
    return RunSummary(run, models)


# Summaries of the runs shown lately, the latest last: (database, run id) -> (the answers' version, the settings
# and machine they were made under, the summary).
_KEPT: OrderedDict[tuple[str, str], tuple[tuple[Any, ...], Settings | None, Any, RunSummary]] = OrderedDict()
_KEPT_RUNS = 4
_KEPT_LOCK = threading.Lock()  # the app summarizes on worker threads


def latest_summary(store: Store, run_id: str, settings: Settings | None = None, this_machine: Hardware | None = None,
                   answers: list[dict[str, Any]] | None = None, version: tuple[Any, ...] | None = None) -> RunSummary:
    """summarize(), kept for the run until its answers change (one added, graded again, given a person's verdict)
    or other settings price them. The Results and Tradeoff screens, a verdict's recount and a new volume all ask
    for the same run's figures, and 100,000 answers take seconds of bootstraps to sum up.

    `answers` (see summarize) must have been read after `version` (store.answers_version) was.
    """
    run = store.run(run_id)
    key = (str(store.path), run["id"])
    if answers is None or version is None:
        answers, version = None, store.answers_version(run["id"])
    with _KEPT_LOCK:
        kept = _KEPT.get(key)
        if kept is not None and kept[0] == version and kept[1] == settings and kept[2] == this_machine:
            _KEPT.move_to_end(key)
            return RunSummary(run, kept[3].models)  # the run's row as it is now: its status may have moved on
    summary = summarize(store, run["id"], settings, this_machine, answers)
    with _KEPT_LOCK:
        _KEPT[key] = (version, copy.deepcopy(settings), copy.deepcopy(this_machine), summary)
        _KEPT.move_to_end(key)
        while len(_KEPT) > _KEPT_RUNS:
            _KEPT.popitem(last=False)
    return summary


def _let_go(rows: list[Any], step: int = 500) -> None:
    """Free a long list a slice at a time. 100,000 answers freed at once hold Python's lock for 0.4 s: the app
    summarizes on a worker thread, and its window would stall for as long."""
    while rows:
        del rows[-step:]


def _quality(run_id: str, model: str, rows: list[dict[str, Any]],
             case_tags: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The mean score's bootstrap interval, the pass rate, per-tag quality and per-case scores, seeded
    by run and model so the same run always shows the same interval."""
    scores: dict[str, float] = {}
    for r in rows:
        score = _score(r)
        if score is not None:
            scores[str(r["case_id"])] = score
    if not scores:
        return {"quality_low": None, "quality_high": None, "pass_rate": None, "tags": {}, "case_scores": {}}
    interval = bootstrap_mean(list(scores.values()), seed=stable_seed(run_id, model), bounds=(0.0, 1.0))
    by_tag: dict[str, list[float]] = {}
    for case, score in scores.items():
        for tag in case_tags.get(case, ()):
            by_tag.setdefault(tag, []).append(score)
    tags = {}
    for tag in sorted(by_tag):
        values = by_tag[tag]
        mean, low, high = bootstrap_mean(values, seed=stable_seed(run_id, model, tag), bounds=(0.0, 1.0))
        tags[tag] = TagQuality(mean, low, high, len(values))
    passed = sum(1 for r in rows if _score(r) is not None and _passed(r))
    return {"quality_low": interval.low, "quality_high": interval.high, "pass_rate": passed / len(scores),
            "tags": tags, "case_scores": scores}


def _fit(provider: str, metadata: dict[str, Any], spec: dict[str, Any],
         hardware: Hardware | None) -> dict[str, Any]:
    """Whether a model fits `hardware`: an API model always does; a local one by the fit estimate."""
    if provider != "llama.cpp":
        return {"fits": True, "fit_reason": None}
    if hardware is None:
        return {"fits": None, "fit_reason": None}
    from desktop_app.models.fit import estimate_fit
    from desktop_app.models.gguf_meta import ModelInfo

    try:
        info = ModelInfo.from_dict(metadata)
    except (KeyError, TypeError):
        return {"fits": None, "fit_reason": "its file's details were not stored with the run"}
    fit = estimate_fit(info, hardware, context=spec.get("n_ctx"))
    return {"fits": fit.fits, "fit_reason": fit.reason}


def hardware_key(hardware: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two machines the same for speed: the CPU, its cores and the GPUs (not free memory)."""
    return (hardware.get("cpu_name"), hardware.get("physical_cores"), hardware.get("logical_threads"),
            tuple(sorted(g.get("name", "") for g in hardware.get("gpus", ()))))


@dataclass(frozen=True)
class _Reference:
    """The conditions this run measures under, for telling which reused measurements are like its own."""

    threads: int | None
    hardware: tuple[Any, ...]
    origin_hardware: dict[str, tuple[Any, ...]]

    def like_ours(self, row: dict[str, Any], threads: int | None) -> bool:
        if not row.get("reused_from"):
            return True
        origin = row.get("measured_in_run")
        return (row.get("threads") == threads
                and self.origin_hardware.get(origin, self.hardware) == self.hardware)


def _measurement_basis(rows: list[dict[str, Any]], reference: _Reference) -> tuple[list[dict[str, Any]], list[str]]:
    """The answers whose speed (and local cost) stand for this model on this machine, and what the
    figures' reader should know about them.

    Preferred: measured in this run's conditions (a reused answer counts when it was measured with
    the same threads on the same hardware) on a quiet machine; else whatever there is, said so.
    Answers measured while other local models shared the CPU are kept, and said so.
    """
    measured = [r for r in rows if not r["error"]]
    if not measured:
        return [], []
    fresh_threads = [r.get("threads") for r in measured if not r.get("reused_from") and r.get("threads")]
    threads = statistics.mode(fresh_threads) if fresh_threads else reference.threads
    ours = [r for r in measured if reference.like_ours(r, threads)]
    quiet = [r for r in ours if not r.get("under_load")]
    basis = quiet or ours or measured
    notes = []
    loaded = [r for r in ours if r.get("under_load")]
    if loaded and quiet:
        notes.append(f"{len(loaded)} answer{'s' if len(loaded) != 1 else ''} measured while other programs kept "
                     f"the CPU busy {'are' if len(loaded) != 1 else 'is'} left out of speed and cost")
    elif loaded:
        notes.append("measured while other programs kept the CPU busy: slower and dearer than this machine "
                     "is when quiet; run again on a quiet machine")
    shared = [r.get("sharing") for r in basis if r.get("sharing")]
    if shared:
        some = "" if len(shared) == len(basis) else f" ({len(shared)} of {len(basis)} answers)"
        notes.append(f"measured while {max(shared) + 1} local models shared the CPU{some}: each alone is "
                     f"faster (a suite run measures them one at a time)")
    if not ours:
        runs = sorted({r.get("measured_in_run") or "?" for r in measured})
        notes.append(f"measured in run {', '.join(runs)} under other settings (threads or hardware), "
                     f"reused here")
    else:
        reused = sorted({r["measured_in_run"] for r in basis if r.get("reused_from") and r.get("measured_in_run")})
        if reused:
            notes.append(f"{sum(1 for r in basis if r.get('reused_from'))} of {len(basis)} measurements reused "
                         f"from run {', '.join(reused)} (same threads and hardware)")
    return basis, notes


def _speed(row: dict[str, Any]) -> float | None:
    """The generation speed an answer stands for: its own, or for an answer decoded in a batch, the
    batch's (the machine's speed on this model; each answer of a batch streams slower)."""
    if (row.get("parallel") or 1) > 1 and row.get("batch_tokens_per_second"):
        return row["batch_tokens_per_second"]
    return row["generation_tokens_per_second"]


def batched_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if (r.get("parallel") or 1) > 1]


def _summarize_model(key: str, provider: str, path: str | None, metadata: dict[str, Any], cases: int,
                     rows: list[dict[str, Any]], reference: _Reference) -> ModelSummary:
    errors = [r for r in rows if r["error"]]
    graded = [r for r in rows if _score(r) is not None]
    scores = [_score(r) for r in graded]
    passed = sum(1 for r in graded if _passed(r))
    ok = [r for r in rows if not r["error"]]
    local = provider == "llama.cpp"
    basis, notes = _measurement_basis(ok, reference) if local else (ok, [])
    timed = [r for r in basis if _speed(r) and (r["completion_tokens"] or 0) > 1]
    generation_seconds = sum((r["completion_tokens"] - 1) / _speed(r) for r in timed)
    generated = sum(r["completion_tokens"] - 1 for r in timed)
    batched = [r["parallel"] for r in batched_rows(basis)]
    own = [r["generation_tokens_per_second"] for r in batched_rows(basis) if r["generation_tokens_per_second"]]
    prompt_tokens = sum(r["prompt_tokens"] or 0 for r in ok)
    completion_tokens = sum(r["completion_tokens"] or 0 for r in ok)
    unpriced = any(r["cost_usd"] is None for r in ok)
    cost = None if unpriced else sum(r["cost_usd"] or 0.0 for r in rows)
    # A local answer's cost is a measurement too (energy, time): priced from the same answers as speed.
    priced = basis if local else ok
    per_answer = None if unpriced or not priced else sum(r["cost_usd"] or 0.0 for r in priced) / len(priced)
    priced_tokens = sum((r["prompt_tokens"] or 0) + (r["completion_tokens"] or 0) for r in priced)
    prompt_speeds = [r["prompt_tokens_per_second"] for r in basis if r["prompt_tokens_per_second"]]
    metered = [r for r in basis if r["energy_joules"] and r["wall_time_ms"]]
    seconds = sum(machine_seconds(r) for r in metered)
    ttfts = [r["time_to_first_token_ms"] for r in basis if r["time_to_first_token_ms"] is not None]
    walls = [r["wall_time_ms"] for r in basis if r["wall_time_ms"] is not None]
    peaks = [r["peak_memory_bytes"] for r in ok if r["peak_memory_bytes"]]
    threads = [r["threads"] for r in basis if r.get("threads")]
    return ModelSummary(
        model=key, provider=provider, path=path, quantization=metadata.get("quantization"),
        file_size=metadata.get("file_size"), cases=cases, answered=len(rows), graded=len(graded),
        passed=passed, quality=statistics.fmean(scores) if scores else None,
        quality_low=None, quality_high=None, errors=len(errors),  # the interval: _quality
        tokens_per_second=generated / generation_seconds if generation_seconds > 0 else None,
        time_to_first_token_ms=statistics.median(ttfts) if ttfts else None,
        wall_time_ms=statistics.median(walls) if walls else None,
        completion_tokens=completion_tokens, prompt_tokens=prompt_tokens,
        peak_memory_bytes=max(peaks) if peaks else None, cost_usd=cost,
        cost_per_answer_usd=per_answer,
        cost_per_million_tokens_usd=(sum(r["cost_usd"] or 0.0 for r in priced) / priced_tokens * 1e6
                                     if per_answer is not None and priced_tokens else None),
        prompt_tokens_per_second=statistics.median(prompt_speeds) if prompt_speeds else None,
        watts=sum(r["energy_joules"] for r in metered) / seconds if seconds > 0 else None,
        threads=statistics.mode(threads) if threads else None,
        measured_answers=len(basis),
        under_load=sum(1 for r in ok if r.get("under_load")),
        shared=sum(1 for r in ok if r.get("sharing")),
        reused=sum(1 for r in ok if r.get("reused_from")),
        measurement_notes=tuple(notes),
        parallel=max(batched) if batched else None,
        stream_tokens_per_second=statistics.median(own) if own else None)
