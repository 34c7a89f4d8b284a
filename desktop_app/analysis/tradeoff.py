"""Quality against cost: the axes a model is weighed on and the Pareto frontier (the recommendation
is analysis.recommend)."""

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
