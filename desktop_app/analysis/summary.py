"""Per-model aggregates of a stored run: quality with a confidence interval, speed and cost."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

from desktop_app.costing.answer_cost import machine_seconds, reprice
from desktop_app.costing.prices import ApiPricing
from desktop_app.providers.api import ApiModelSpec
from desktop_app.settings import Settings
from desktop_app.storage.store import Store


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
    quality_low: float | None  # 95% Wilson interval of the pass rate
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

    @property
    def measured_with_caveats(self) -> bool:
        return bool(self.measurement_notes)

    @property
    def is_local(self) -> bool:
        return self.provider == "llama.cpp"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def wilson_interval(passed: int, n: int, z: float = 1.96) -> tuple[float, float] | tuple[None, None]:
    if n == 0:
        return None, None
    p = passed / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


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


def summarize(store: Store, run_id: str, settings: Settings | None = None) -> RunSummary:
    """Per-model figures of a run. With `settings`, every answer is priced under them (the figures
    the plot, the tables and the projection share); without, at what was stored when it ran."""
    run = store.run(run_id)
    cases = len(json.loads(run["suite_json"])["cases"])
    rows_by_model: dict[str, list[dict[str, Any]]] = {}
    for row in store.results(run["id"]):
        rows_by_model.setdefault(row["model_key"], []).append(row)
    hardware = hardware_key(json.loads(run["hardware_json"] or "{}"))
    origins = {r["measured_in_run"] for rows in rows_by_model.values() for r in rows if r.get("measured_in_run")}
    origin_hardware = {k: hardware_key(v) for k, v in store.hardware_of_runs(origins).items()}
    models = []
    for model in store.run_models(run["id"]):
        metadata = json.loads(model["metadata_json"] or "{}")
        rows = rows_by_model.get(model["model_key"], [])
        if settings is not None:
            pricing = None
            if model["provider"] != "llama.cpp":
                spec = ApiModelSpec.from_dict(json.loads(model["spec_json"]))
                pricing = ApiPricing(spec, settings.price_override(spec.ref))
            rows = [{**r, "cost_usd": reprice(r, settings, pricing)} for r in rows]
        spec = json.loads(model["spec_json"] or "{}")
        models.append(_summarize_model(model["model_key"], model["provider"], model["path"], metadata,
                                       cases, rows, _Reference(spec.get("n_threads"), hardware, origin_hardware)))
    return RunSummary(run, models)


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


def _summarize_model(key: str, provider: str, path: str | None, metadata: dict[str, Any], cases: int,
                     rows: list[dict[str, Any]], reference: _Reference) -> ModelSummary:
    errors = [r for r in rows if r["error"]]
    graded = [r for r in rows if _score(r) is not None]
    scores = [_score(r) for r in graded]
    passed = sum(1 for r in graded if _passed(r))
    low, high = wilson_interval(passed, len(graded))
    ok = [r for r in rows if not r["error"]]
    local = provider == "llama.cpp"
    basis, notes = _measurement_basis(ok, reference) if local else (ok, [])
    timed = [r for r in basis if r["generation_tokens_per_second"] and (r["completion_tokens"] or 0) > 1]
    generation_seconds = sum((r["completion_tokens"] - 1) / r["generation_tokens_per_second"] for r in timed)
    generated = sum(r["completion_tokens"] - 1 for r in timed)
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
        quality_low=low, quality_high=high, errors=len(errors),
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
        measurement_notes=tuple(notes))
