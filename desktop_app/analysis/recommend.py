"""The recommendation: the cheapest model shown not worse than the best by more than a tolerance.

Each model is compared with the best on the cases both answered (a paired bootstrap of the
per-case score differences; exact McNemar where every score is pass/fail). With d the mean
difference (model minus best) and [low, high] its 95% interval:

    good_enough  low > -tolerance     shown not worse by more than the tolerance
    worse        high < -tolerance    shown worse by more than the tolerance
    undecided    otherwise            the cases so far cannot tell

The best is the model of highest mean quality among those that meet the user's limits (ties go to
the cheaper on the axis). The recommendation is the cheapest good_enough model cheaper than the
best; when there is none, the best. When no cheaper model is good enough but some are undecided,
the data cannot decide yet: the best is recommended meanwhile, with an estimate of how many more
cases would decide (stats.cases_to_decide, from the spread of the paired differences).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.analysis.stats import (
    PairedDifference,
    cases_to_decide,
    mcnemar_exact,
    paired_difference,
    stable_seed,
)
from desktop_app.analysis.summary import ModelSummary, RunSummary
from desktop_app.analysis.tradeoff import AXES, Axis
from desktop_app.errors import UserError
from desktop_app.units import format_bytes, format_usd, format_usd_per_1k

if TYPE_CHECKING:
    from desktop_app.analysis.projection import Projection, Volume
    from desktop_app.models.hardware import Hardware
    from desktop_app.settings import Settings
    from desktop_app.storage.store import Store

DEFAULT_TOLERANCE = 0.05
DEFAULT_REQUESTS_PER_DAY = 1000.0
VERDICTS = ("best", "good_enough", "worse", "undecided")


@dataclass(frozen=True)
class ModelVerdict:
    model: str
    quality: float | None
    quality_low: float | None
    quality_high: float | None
    cost_per_answer_usd: float | None
    difference_to_best: float | None  # mean of (this model's score - the best's) over shared cases
    difference_low: float | None  # its 95% paired bootstrap interval
    difference_high: float | None
    verdict: str  # best, good_enough, worse or undecided
    cases_compared: int = 0
    p_value: float | None = None  # exact McNemar, where both are pass/fail on every shared case
    more_cases_needed: int | None = None  # undecided: about how many more shared cases would decide
    wall_time_ms: float | None = None
    tokens_per_second: float | None = None
    excluded: str | None = None  # why the user's limits rule it out, in words
    monthly_usd: float | None = None  # at the projection's volume


@dataclass(frozen=True)
class Recommendation:
    run_id: str | None
    recommended: str | None  # a model key; None when no model can be recommended
    decided: bool  # False: cheaper models might be good enough, the cases so far cannot tell
    reason: str  # one paragraph in plain words
    more_cases_needed: int | None
    models: list[ModelVerdict]
    best: str | None = None
    tolerance: float = DEFAULT_TOLERANCE
    axis: str = "cost"
    requests_per_day: float | None = None  # the volume the monthly figures are at
    monthly_savings_usd: float | None = None  # the recommended model against the best, at that volume
    limits: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def verdict(self, model: str) -> ModelVerdict:
        return next(m for m in self.models if m.model == model)


def recommend(summary: RunSummary | Sequence[ModelSummary], tolerance: float = DEFAULT_TOLERANCE,
              axis: str | Axis = "cost", max_latency_ms: float | None = None,
              min_tokens_per_second: float | None = None, must_fit: bool = False,
              projection: Projection | None = None, level: float = 0.95) -> Recommendation:
    """Verdicts for every model against the best, and the model to use (see the module's words).

    `axis` is a key of tradeoff.AXES ("cost", "latency", ...); `projection` (at the user's volume)
    adds the monthly saving to the reason. A model whose fit was not checked counts as fitting.
    """
    if not 0 <= tolerance < 1:
        raise UserError(f"the tolerance is a share of the score between 0 and 1 (0.05 for 5 points), "
                        f"not {tolerance:g}")
    axis = AXES[axis] if isinstance(axis, str) else axis
    run_id = summary.run["id"] if isinstance(summary, RunSummary) else None
    models = list(summary.models if isinstance(summary, RunSummary) else summary)
    monthly = {p.model: p.monthly_usd for p in projection.models} if projection is not None else {}
    limits = {"max_latency_ms": max_latency_ms, "min_tokens_per_second": min_tokens_per_second,
              "must_fit": must_fit}
    common = {"run_id": run_id, "tolerance": tolerance, "axis": _axis_name(axis), "limits": limits,
              "requests_per_day": projection.volume.requests_per_day if projection is not None else None}
    excluded = {m.model: why for m in models if (why := _excluded(m, max_latency_ms, min_tokens_per_second, must_fit))}
    rated = [m for m in models if m.quality is not None]
    eligible = [m for m in rated if m.model not in excluded]

    def rank(m: ModelSummary) -> float:  # smaller is better on the axis; unknown last
        value = getattr(m, axis.key)
        if value is None:
            return math.inf
        return value if axis.lower_is_better else -value

    if not eligible:
        verdicts = [_verdict(m, None, None, "undecided", excluded, monthly) for m in models]
        if not rated:
            reason = "No answer of this run is graded yet, so there is nothing to recommend."
        else:
            reason = ("No graded model meets your limits, so none is recommended: "
                      + _excluded_text(rated, excluded) + ".")
        # Nothing graded: nothing decided yet. Limits that rule out every model: more cases change nothing.
        return Recommendation(recommended=None, decided=bool(rated), reason=reason, more_cases_needed=None,
                              models=verdicts, **common)

    best = min(eligible, key=lambda m: (-m.quality, rank(m)))
    verdicts = []
    for m in models:
        if m is best:
            verdicts.append(_verdict(m, None, None, "best", excluded, monthly))
        elif m.quality is None:
            verdicts.append(_verdict(m, None, None, "undecided", excluded, monthly))
        else:
            verdicts.append(_compare(m, best, tolerance, level, run_id, excluded, monthly))
    by_name = {v.model: v for v in verdicts}
    if best.quality == 0:
        reason = ("No model scored above 0 on any case, so none is recommended: try a larger model, or check "
                  "the suite's expected answers.")
        return Recommendation(recommended=None, decided=True, reason=reason, more_cases_needed=None,
                              models=verdicts, best=best.model, **common)

    cheaper = sorted((m for m in eligible if m is not best and rank(m) < rank(best)),
                     key=lambda m: (rank(m), -m.quality))
    good = [m for m in cheaper if by_name[m.model].verdict == "good_enough"]
    pick = good[0] if good else best
    undecided = [m for m in cheaper if by_name[m.model].verdict == "undecided" and rank(m) < rank(pick)]
    decided = bool(good) or not undecided
    more = None if decided else _more_cases(undecided, by_name, tolerance)
    savings = None
    if pick is not best and monthly.get(pick.model) is not None and monthly.get(best.model) is not None:
        savings = monthly[best.model] - monthly[pick.model]
    words = _Words(axis, tolerance, by_name, best, projection, monthly)
    if pick is not best:
        reason = words.good_enough(pick, undecided)
    elif undecided:
        reason = words.undecided(undecided, more)
    else:
        reason = words.best_stands(cheaper, eligible, limited=bool(excluded))
    if excluded:
        reason += f" Left out by your limits: {_excluded_text(models, excluded)}."
    return Recommendation(recommended=pick.model, decided=decided, reason=reason, more_cases_needed=more,
                          models=verdicts, best=best.model, monthly_savings_usd=savings, **common)


def recommend_run(store: Store, run_id: str, settings: Settings, volume: Volume | None = None,
                  this_machine: Hardware | None = None, **options: Any) -> Recommendation:
    """recommend() over a stored run, priced under `settings`, its savings at `volume` (1,000 requests
    a day unless given); with `this_machine`, local models are checked against it (for must_fit)."""
    from desktop_app.analysis.projection import Volume, project
    from desktop_app.analysis.summary import summarize

    summary = summarize(store, run_id, settings, this_machine)
    projection = project(store, summary.run["id"], settings, volume or Volume(DEFAULT_REQUESTS_PER_DAY),
                         summary=summary)  # priced under the same settings: no second pass over every answer
    return recommend(summary, projection=projection, **options)


# Comparing with the best ---------------------------------------------------------------------------

def _compare(m: ModelSummary, best: ModelSummary, tolerance: float, level: float, run_id: str | None,
             excluded: dict[str, str], monthly: dict[str, float | None]) -> ModelVerdict:
    compared = _paired(m, best, level, run_id)
    if compared is None:
        return _verdict(m, None, None, "undecided", excluded, monthly)
    diff, p_value = compared
    if diff.low > -tolerance:
        verdict = "good_enough"
    elif diff.high < -tolerance:
        verdict = "worse"
    else:
        verdict = "undecided"
    more = None
    if verdict == "undecided":
        total = cases_to_decide(diff.mean, diff.sd, -tolerance, level)
        more = None if total is None else max(1, total - diff.n)
    return _verdict(m, diff, p_value, verdict, excluded, monthly, more)


# Pairs already compared, the latest last: (run id, model, best, level) -> (the two models' scores, what came of it).
_COMPARED: OrderedDict[tuple[Any, ...], tuple[dict[str, float], dict[str, float], Any]] = OrderedDict()
_COMPARED_KEPT = 32
_COMPARED_LOCK = threading.Lock()  # the app weighs runs on worker threads


def _paired(m: ModelSummary, best: ModelSummary, level: float,
            run_id: str | None) -> tuple[PairedDifference, float | None] | None:
    """The paired difference of m's scores from the best's and, where every shared score is pass/fail, the exact
    McNemar p-value; None when they share no case.

    Remembered for the same two sets of scores (the very same objects: a summary's never change): a new volume,
    tolerance or axis weighs the same summary again, and each comparison is a bootstrap over every case.
    """
    key = (run_id, m.model, best.model, level)
    with _COMPARED_LOCK:
        kept = _COMPARED.get(key)
        if kept is not None and kept[0] is m.case_scores and kept[1] is best.case_scores:
            _COMPARED.move_to_end(key)
            return kept[2]
    ours, theirs = m.case_scores, best.case_scores
    shared = [c for c in ours if c in theirs]  # in the run's order: see stats._common
    compared = None
    if shared:
        diff = paired_difference(ours, theirs, seed=stable_seed(run_id, m.model, best.model), level=level)
        p_value = None
        if all(ours[c] in (0.0, 1.0) and theirs[c] in (0.0, 1.0) for c in shared):
            p_value = mcnemar_exact({c: ours[c] == 1.0 for c in shared}, {c: theirs[c] == 1.0 for c in shared})
        compared = (diff, p_value)
    with _COMPARED_LOCK:
        _COMPARED[key] = (ours, theirs, compared)
        _COMPARED.move_to_end(key)
        while len(_COMPARED) > _COMPARED_KEPT:
            _COMPARED.popitem(last=False)
    return compared


def _verdict(m: ModelSummary, diff: Any, p_value: float | None, verdict: str, excluded: dict[str, str],
             monthly: dict[str, float | None], more: int | None = None) -> ModelVerdict:
    best = verdict == "best"
    return ModelVerdict(
        model=m.model, quality=m.quality, quality_low=m.quality_low, quality_high=m.quality_high,
        cost_per_answer_usd=m.cost_per_answer_usd,
        difference_to_best=0.0 if best else diff.mean if diff else None,
        difference_low=0.0 if best else diff.low if diff else None,
        difference_high=0.0 if best else diff.high if diff else None,
        verdict=verdict, cases_compared=len(m.case_scores) if best else diff.n if diff else 0, p_value=p_value,
        more_cases_needed=more, wall_time_ms=m.wall_time_ms, tokens_per_second=m.tokens_per_second,
        excluded=excluded.get(m.model), monthly_usd=monthly.get(m.model))


def _more_cases(undecided: list[ModelSummary], by_name: dict[str, ModelVerdict], tolerance: float) -> int | None:
    """More cases until the recommendation is decided, if the differences stay as observed.

    A model whose mean difference is above -tolerance would turn good enough: the first of them to
    do so decides (the fewest cases). If every one is below, all must be shown worse (the most).
    """
    verdicts = [by_name[m.model] for m in undecided]
    hopeful = [v.more_cases_needed for v in verdicts
               if v.difference_to_best is not None and v.difference_to_best > -tolerance]
    if hopeful:
        known = [n for n in hopeful if n is not None]
        return min(known) if known else None
    needed = [v.more_cases_needed for v in verdicts]
    return None if not needed or any(n is None for n in needed) else max(needed)


def _excluded(m: ModelSummary, max_latency_ms: float | None, min_tokens_per_second: float | None,
              must_fit: bool) -> str | None:
    if must_fit and m.fits is False:
        return "does not fit this machine"
    if max_latency_ms is not None:
        if m.wall_time_ms is None:
            return "no time per answer measured"
        if m.wall_time_ms > max_latency_ms:
            return f"{m.wall_time_ms:,.0f} ms per answer, over {max_latency_ms:,.0f} ms"
    if min_tokens_per_second is not None:
        if m.tokens_per_second is None:
            return "no generation speed measured"
        if m.tokens_per_second < min_tokens_per_second:
            return f"{m.tokens_per_second:,.1f} tokens/s, under {min_tokens_per_second:,.1f}"
    return None


def _excluded_text(models: Sequence[ModelSummary], excluded: dict[str, str]) -> str:
    return "; ".join(f"{m.model} ({excluded[m.model]})" for m in models if m.model in excluded)


def _axis_name(axis: Axis) -> str:
    return next((name for name, a in AXES.items() if a == axis), axis.key)


# Words ------------------------------------------------------------------------------------------

def _points(x: float) -> str:
    """A difference in score points (a score of 1 is 100 points): 2.5, 12, 0."""
    text = f"{abs(x) * 100:.1f}".removesuffix(".0")
    return "0" if text == "0" else text


def _points_noun(x: float) -> str:
    return f"{_points(x)} point{'' if _points(x) == '1' else 's'}"


def _signed(x: float) -> str:
    text = _points(x)
    return text if text == "0" else f"{'+' if x > 0 else '-'}{text}"


class _Words:
    """The paragraph's sentences."""

    def __init__(self, axis: Axis, tolerance: float, by_name: dict[str, ModelVerdict], best: ModelSummary,
                 projection: Projection | None, monthly: dict[str, float | None]) -> None:
        self.axis, self.by_name, self.best, self.projection, self.monthly = axis, by_name, best, projection, monthly
        self.noun = axis.label.split(" (")[0]
        self.lower = "lower" if axis.lower_is_better else "higher"
        self.tolerance = _points_noun(tolerance)

    def value(self, m: ModelSummary) -> str:
        """The model's value on the axis, without its unit (see unit())."""
        value = getattr(m, self.axis.key)
        if value is None:
            return "unknown"
        if self.axis.key == "cost_per_answer_usd":
            return format_usd_per_1k(value)
        if self.axis.key == "wall_time_ms":
            return f"{value:,.0f} ms"
        if self.axis.key == "tokens_per_second":
            return f"{value:,.1f}"
        if self.axis.key == "file_size":
            return format_bytes(value)
        return f"{value:g}"

    def unit(self) -> str:
        return {"cost_per_answer_usd": " per 1,000 answers", "wall_time_ms": " per answer",
                "tokens_per_second": " tokens/s"}.get(self.axis.key, "")

    def against(self, m: ModelSummary) -> str:
        return f"{self.value(m)} against {self.value(self.best)}{self.unit()}"

    def difference(self, m: ModelSummary) -> str:
        v = self.by_name[m.model]
        return (f"{_signed(v.difference_to_best)} points, 95% interval {_signed(v.difference_low)} to "
                f"{_signed(v.difference_high)}, over {v.cases_compared} case{'s' if v.cases_compared != 1 else ''}")

    def the_best(self) -> str:
        return f"{self.best.model}, the best model at {self.best.quality:.0%}"

    def good_enough(self, pick: ModelSummary, undecided: list[ModelSummary]) -> str:
        v = self.by_name[pick.model]
        direction = "below" if v.difference_to_best < 0 else "above"
        score = ("the same as" if _points(v.difference_to_best) == "0"
                 else f"{_points_noun(v.difference_to_best)} {direction}")
        text = (f"{pick.model} is recommended: on the {v.cases_compared} cases both answered it scores "
                f"{score} {self.the_best()} (95% interval of the difference {_signed(v.difference_low)} to "
                f"{_signed(v.difference_high)} points), so it is shown not worse by more than your tolerance of "
                f"{self.tolerance}, and it has a {self.lower} {self.noun} ({self.against(pick)}).")
        text += self.savings(pick)
        if undecided:
            names = ", ".join(m.model for m in undecided)
            more = [self.by_name[m.model].more_cases_needed for m in undecided]
            known = [n for n in more if n is not None]
            text += (f" {names}, with a {self.lower} {self.noun} still, may be good enough too, but the cases "
                     f"so far cannot tell" + (f" (about {min(known):,} more cases would)" if known else "") + ".")
        if v.p_value is not None and v.p_value < 0.05 and v.difference_to_best < 0:
            text += (f" It is worse than the best beyond chance (exact McNemar p = {v.p_value:.2g}), but by "
                     f"less than your tolerance.")
        return text

    def undecided(self, undecided: list[ModelSummary], more: int | None) -> str:
        several = len(undecided) > 1
        names = ", ".join(f"{m.model} ({self.difference(m)})" for m in undecided[:3])
        if len(undecided) > 3:
            names += f" and {len(undecided) - 3} more"
        text = (f"The data cannot decide yet. {names} {'have' if several else 'has'} a {self.lower} "
                f"{self.noun} than {self.the_best()}, and {'are' if several else 'is'} neither shown within "
                f"your tolerance of {self.tolerance} nor shown worse by more. Meanwhile {self.best.model} "
                f"is recommended.")
        if more is not None:
            text += (f" About {more:,} more case{'s' if more != 1 else ''}, answered by both, would likely "
                     f"decide, if the differences stay as they are so far.")
        else:
            text += " The difference sits right at your tolerance: more cases may still not decide it."
        return text

    def best_stands(self, cheaper: list[ModelSummary], eligible: list[ModelSummary], limited: bool) -> str:
        best = self.best
        if len(eligible) == 1:
            if limited:
                return (f"{best.model} is recommended: it is the only graded model that meets your limits "
                        f"({best.quality:.0%}).")
            return (f"{best.model} is recommended: it is the only graded model to weigh "
                    f"({best.quality:.0%}). Add models to the run to see which is good enough for less.")
        if not cheaper:
            return (f"{best.model} is recommended: it has the best quality ({best.quality:.0%}) and the "
                    f"{'lowest' if self.axis.lower_is_better else 'highest'} {self.noun} "
                    f"({self.value(best)}{self.unit()}).")
        shown = "; ".join(f"{m.model}: {self.difference(m)}" for m in cheaper[:3])
        if len(cheaper) > 3:
            shown += f"; and {len(cheaper) - 3} more"
        return (f"{best.model} is recommended: it has the best quality ({best.quality:.0%}), and every model "
                f"with a {self.lower} {self.noun} is shown worse by more than your tolerance of "
                f"{self.tolerance} ({shown}).")

    def savings(self, pick: ModelSummary) -> str:
        if self.projection is None:
            return ""
        ours, theirs = self.monthly.get(pick.model), self.monthly.get(self.best.model)
        if ours is None or theirs is None:
            return ""
        volume = self.projection.volume.requests_per_day
        text = (f" At {volume:,.0f} requests a day it would cost about {format_usd(ours)} a month against "
                f"{format_usd(theirs)} for {self.best.model}")
        if theirs > ours:
            return text + f": {format_usd(theirs - ours)} a month saved."
        return text + " (at your requests' sizes the projection does not find it cheaper)."
