"""Quality against cost: the Pareto frontier of models and a recommendation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from desktop_app.analysis.summary import ModelSummary


@dataclass(frozen=True)
class Axis:
    key: str  # a ModelSummary field
    label: str
    lower_is_better: bool
    log_scale: bool


AXES: dict[str, Axis] = {
    "cost": Axis("cost_per_answer_usd", "cost per answer (USD)", True, True),
    "latency": Axis("wall_time_ms", "time per answer (ms)", True, True),
    "speed": Axis("tokens_per_second", "generation speed (tokens/s)", False, False),
    "size": Axis("file_size", "model file size (bytes)", True, True),
}


def pareto_frontier(models: Sequence[ModelSummary], axis: Axis = AXES["cost"]) -> list[ModelSummary]:
    """Models no other model beats on both quality and the axis, in the order of the axis.

    A model is dominated when another is at least as good on both and strictly better on one.
    """
    points = [m for m in models if m.quality is not None and getattr(m, axis.key) is not None]

    def better_or_equal(a: ModelSummary, b: ModelSummary) -> bool:
        x_a, x_b = getattr(a, axis.key), getattr(b, axis.key)
        return x_a <= x_b if axis.lower_is_better else x_a >= x_b

    frontier = []
    for m in points:
        dominated = any(
            o is not m and better_or_equal(o, m) and o.quality >= m.quality
            and (getattr(o, axis.key) != getattr(m, axis.key) or o.quality > m.quality)
            for o in points)
        if not dominated:
            frontier.append(m)
    return sorted(frontier, key=lambda m: getattr(m, axis.key), reverse=not axis.lower_is_better)


@dataclass(frozen=True)
class Recommendation:
    model: ModelSummary
    best: ModelSummary
    reason: str


def recommend(models: Sequence[ModelSummary], axis: Axis = AXES["cost"]) -> Recommendation | None:
    """The cheapest model (on the axis) whose quality is not clearly below the best model's.

    "Clearly below" means the best model's point estimate lies above this model's 95% interval.
    """
    rated = [m for m in models if m.quality is not None and getattr(m, axis.key) is not None]
    if not rated:
        return None

    def axis_rank(m: ModelSummary) -> float:  # smaller is better on the axis
        return getattr(m, axis.key) if axis.lower_is_better else -getattr(m, axis.key)

    best = max(rated, key=lambda m: (m.quality, -axis_rank(m)))
    good_enough = [m for m in rated if m is best or (m.quality_high is not None and m.quality_high >= best.quality)]
    # On a tie on the axis prefer the better model (then the best itself): a tie must not pick a worse one.
    pick = min(good_enough, key=lambda m: (axis_rank(m), -m.quality, m is not best))
    noun = axis.label.split(" (")[0]
    better = "lower" if axis.lower_is_better else "higher"
    if pick is best and all(axis_rank(best) <= axis_rank(m) for m in rated):
        reason = (f"{best.model} has the best quality ({best.quality:.0%}) and the "
                  f"{'lowest' if axis.lower_is_better else 'highest'} {noun}")
    elif pick is best:
        reason = (f"{best.model} has the best quality ({best.quality:.0%}) and nothing with a {better} "
                  f"{noun} comes close")
    else:
        reason = (f"{pick.model} scores {pick.quality:.0%}, not clearly below the best "
                  f"({best.model}, {best.quality:.0%}), at a {better} {noun}")
    return Recommendation(pick, best, reason)
