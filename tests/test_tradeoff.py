"""The Pareto frontier over per-model summaries (the recommendation: tests/test_recommend.py)."""

from __future__ import annotations

from desktop_app.analysis.stats import bootstrap_mean
from desktop_app.analysis.summary import ModelSummary
from desktop_app.analysis.tradeoff import AXES, pareto_frontier


def model(name: str, passed: int | None, graded: int = 20, cost: float | None = 1e-6,
          speed: float | None = 50.0, wall_ms: float | None = 500.0, size: int | None = 100_000_000
          ) -> ModelSummary:
    """A summary as summarize() makes it: the first `passed` of `graded` pass/fail cases pass."""
    scores = {} if passed is None else {f"case-{i:03d}": float(i < passed) for i in range(graded)}
    quality, low, high = bootstrap_mean(list(scores.values()), bounds=(0.0, 1.0)) if scores else (None,) * 3
    return ModelSummary(
        model=name, provider="llama.cpp", path=f"/models/{name}.gguf", quantization="Q4_K_M", file_size=size, cases=graded,
        answered=graded, graded=graded if passed is not None else 0, passed=passed or 0, quality=quality,
        quality_low=low, quality_high=high, errors=0, tokens_per_second=speed, time_to_first_token_ms=200.0,
        wall_time_ms=wall_ms, completion_tokens=1000, prompt_tokens=2000, peak_memory_bytes=None,
        cost_usd=(cost or 0.0) * graded, cost_per_answer_usd=cost,
        cost_per_million_tokens_usd=None if cost is None else cost * graded / 3000 * 1e6,
        pass_rate=quality, case_scores=scores, fits=True)


def names(models: list[ModelSummary]) -> list[str]:
    return [m.model for m in models]


# Pareto frontier ---------------------------------------------------------------------------------

def test_the_frontier_drops_dominated_models_and_is_ordered_by_the_axis() -> None:
    cheap = model("cheap", 10, cost=1e-6)
    middle = model("middle", 14, cost=5e-6)
    worse_and_dearer = model("worse-and-dearer", 12, cost=8e-6)  # middle beats it on both
    best = model("best", 18, cost=2e-5)
    same_quality_dearer = model("same-quality-dearer", 18, cost=3e-5)  # as good as best, dearer
    frontier = pareto_frontier([best, worse_and_dearer, same_quality_dearer, middle, cheap])
    assert names(frontier) == ["cheap", "middle", "best"]


def test_identical_models_both_stay_and_a_tie_on_cost_keeps_only_the_better() -> None:
    twin_a, twin_b = model("twin-a", 15, cost=2e-6), model("twin-b", 15, cost=2e-6)
    same_cost_worse = model("same-cost-worse", 11, cost=2e-6)
    frontier = pareto_frontier([twin_a, same_cost_worse, twin_b])
    assert names(frontier) == ["twin-a", "twin-b"]


def test_on_a_higher_is_better_axis_the_fastest_comes_first() -> None:
    fast = model("fast", 8, speed=120.0)
    medium = model("medium", 12, speed=60.0)
    slow_and_worse = model("slow-and-worse", 10, speed=30.0)
    slow_and_good = model("slow-and-good", 16, speed=20.0)
    frontier = pareto_frontier([slow_and_worse, medium, slow_and_good, fast], AXES["speed"])
    assert names(frontier) == ["fast", "medium", "slow-and-good"]
    # The same models on cost (all equal) leave only the best.
    assert names(pareto_frontier([slow_and_worse, medium, slow_and_good, fast])) == ["slow-and-good"]


def test_models_without_quality_or_without_a_value_on_the_axis_are_left_out() -> None:
    ungraded = model("ungraded", None, cost=1e-9)
    unmeasured = model("unmeasured", 20, speed=None)
    ok = model("ok", 10, speed=40.0)
    assert names(pareto_frontier([ungraded, unmeasured, ok], AXES["speed"])) == ["ok"]
    assert names(pareto_frontier([ungraded, unmeasured, ok])) == ["unmeasured"]
    assert pareto_frontier([]) == []
