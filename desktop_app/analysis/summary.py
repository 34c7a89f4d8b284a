"""Per-model aggregates of a stored run: quality with a confidence interval, speed and cost."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

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
        return {"run_id": run["id"], "status": run["status"], "kind": run["kind"],
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


def summarize(store: Store, run_id: str) -> RunSummary:
    run = store.run(run_id)
    cases = len(json.loads(run["suite_json"])["cases"])
    rows_by_model: dict[str, list[dict[str, Any]]] = {}
    for row in store.results(run["id"]):
        rows_by_model.setdefault(row["model_key"], []).append(row)
    models = []
    for model in store.run_models(run["id"]):
        metadata = json.loads(model["metadata_json"] or "{}")
        models.append(_summarize_model(model["model_key"], model["provider"], model["path"], metadata,
                                       cases, rows_by_model.get(model["model_key"], [])))
    return RunSummary(run, models)


def _summarize_model(key: str, provider: str, path: str | None, metadata: dict[str, Any], cases: int,
                     rows: list[dict[str, Any]]) -> ModelSummary:
    errors = [r for r in rows if r["error"]]
    graded = [r for r in rows if _score(r) is not None]
    scores = [_score(r) for r in graded]
    passed = sum(1 for r in graded if _passed(r))
    low, high = wilson_interval(passed, len(graded))
    ok = [r for r in rows if not r["error"]]
    timed = [r for r in ok if r["generation_tokens_per_second"] and (r["completion_tokens"] or 0) > 1]
    generation_seconds = sum((r["completion_tokens"] - 1) / r["generation_tokens_per_second"] for r in timed)
    generated = sum(r["completion_tokens"] - 1 for r in timed)
    prompt_tokens = sum(r["prompt_tokens"] or 0 for r in ok)
    completion_tokens = sum(r["completion_tokens"] or 0 for r in ok)
    unpriced = any(r["cost_usd"] is None for r in ok)
    cost = None if unpriced else sum(r["cost_usd"] or 0.0 for r in rows)
    prompt_speeds = [r["prompt_tokens_per_second"] for r in ok if r["prompt_tokens_per_second"]]
    metered = [r for r in ok if r["energy_joules"] and r["wall_time_ms"]]
    seconds = sum(r["wall_time_ms"] for r in metered) / 1000
    ttfts = [r["time_to_first_token_ms"] for r in ok if r["time_to_first_token_ms"] is not None]
    walls = [r["wall_time_ms"] for r in ok if r["wall_time_ms"] is not None]
    peaks = [r["peak_memory_bytes"] for r in ok if r["peak_memory_bytes"]]
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
        cost_per_answer_usd=cost / len(ok) if ok and cost is not None else None,
        cost_per_million_tokens_usd=(cost / (prompt_tokens + completion_tokens) * 1e6
                                     if cost is not None and prompt_tokens + completion_tokens else None),
        prompt_tokens_per_second=statistics.median(prompt_speeds) if prompt_speeds else None,
        watts=sum(r["energy_joules"] for r in metered) / seconds if seconds > 0 else None)
