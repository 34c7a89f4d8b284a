"""Intervals and tests for per-case scores: bootstrap means, paired differences, exact McNemar.

Everything is seeded: the same scores and seed give the same interval, run after run.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Mapping, Sequence
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

# Resampled values drawn at once (rows x cases): bounds memory for large suites, keeps it vectorised.
_CHUNK = 4_000_000


class Interval(NamedTuple):
    mean: float
    low: float
    high: float


class PairedDifference(NamedTuple):
    mean: float  # mean of a - b over the cases both have
    low: float
    high: float
    n: int  # cases both have
    sd: float  # sample standard deviation of the per-case differences (0 for one case)


def stable_seed(*parts: object) -> int:
    """A seed from text (a run id, a model key): the same on every machine and every Python run,
    unlike hash()."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def unseen_share(n: int, level: float = 0.95) -> float:
    """The largest share of cases unlike all n seen that the data still allow, at `level` (two-sided).

    n cases, none at the other extreme: the exact binomial bound 1 - ((1 - level) / 2) ** (1 / n),
    about 3.7 / n at 95% (the "rule of three" one-sided).
    """
    return 1.0 - ((1.0 - level) / 2.0) ** (1.0 / n)


def bootstrap_mean(values: Sequence[float] | np.ndarray, seed: int = 0, n: int = 2000, level: float = 0.95,
                   bounds: tuple[float, float] | None = None) -> Interval:
    """The mean and its percentile-bootstrap interval at `level`.

    For small samples the interval is widened as `_small_sample_widening` says, which brings its
    coverage near the nominal level from a handful of values up.

    With `bounds` (the values are known to lie within them, as scores in 0..1 do), the interval is
    never narrower than `unseen_share` allows: k cases that all agree cannot rule out a few cases in
    a hundred at the bound, so 3 passes out of 3 do not make a certainty. Without this, identical
    values would give an interval of width 0 and any difference would look decided.
    """
    data = np.asarray(values, dtype=float)
    k = data.size
    if k == 0:
        raise ValueError("no values to take the mean of")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    mean = float(data.mean())
    means = _resampled_means(data, seed, n)
    alpha = 1.0 - level
    q_low, q_high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    widen = _small_sample_widening(k, level)
    low = mean - (mean - float(q_low)) * widen
    high = mean + (float(q_high) - mean) * widen
    if bounds is not None:
        lowest, highest = bounds
        share = unseen_share(k, level)
        low = max(lowest, min(low, mean - share * (mean - lowest)))
        high = min(highest, max(high, mean + share * (highest - mean)))
    return Interval(mean, low, high)


def _resampled_means(data: np.ndarray, seed: int, n: int) -> np.ndarray:
    """The means of n resamples of `data` (each as many values, drawn with replacement), seeded."""
    k = data.size
    rng = np.random.default_rng(seed)
    means = np.empty(n)
    rows = max(1, _CHUNK // k)
    small = _as_small_integers(data)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        picks = rng.integers(0, k, size=(stop - start, k))
        if small is None:
            means[start:stop] = data[picks].mean(axis=1)
        else:  # the same means, bit for bit: these sums are exact either way
            means[start:stop] = small[picks].sum(axis=1, dtype=np.int64) / k
    return means


def _as_small_integers(data: np.ndarray) -> np.ndarray | None:
    """The values as one-byte integers when each is a whole number from -127 to 127 (pass/fail scores and
    their paired differences), else None.

    Resampling gathers k values per resample: one byte each instead of eight moves an eighth of the memory, and
    the sum of whole numbers is exact in either type, so the means are the same to the last bit (float64 sums
    stay exact below 2**53).
    """
    if data.size == 0 or not np.all((data >= -127) & (data <= 127) & (data == np.floor(data))):
        return None
    return data.astype(np.int8)


def _student_t_quantile(p: float, df: int) -> float:
    """Student's t quantile by its Cornish-Fisher expansion around the normal's (Abramowitz and
    Stegun 26.7.5): within 0.3% of the exact value from 3 degrees of freedom up, at the 97.5% point."""
    z = NormalDist().inv_cdf(p)
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3)
            + (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / (92160 * df ** 4))


def _small_sample_widening(k: int, level: float) -> float:
    """How much wider than the plain percentile interval to make it for k values (1 for k < 3).

    The percentile bootstrap of a mean is as narrow as a normal interval with the plug-in variance:
    too narrow by sqrt(k / (k - 1)) (the variance's k - 1) and by t / z (the spread is estimated),
    so it covers about 90% instead of 95% at 10 values. Widening by both (Hesterberg's "expanded
    percentile" interval, applied to the spread) restores it.
    """
    if k < 3:
        return 1.0
    p = 1 - (1 - level) / 2
    return math.sqrt(k / (k - 1)) * _student_t_quantile(p, k - 1) / NormalDist().inv_cdf(p)


def _common(a: Mapping[Hashable, object], b: Mapping[Hashable, object]) -> list[Hashable]:
    """The keys both have, in a fixed order (by their text): the same resamples whatever the dicts' order.

    Kept in a's order first, then sorted: a run's per-case scores come in the suite's order, which is most often
    sorted already, and sorting a sorted list is one pass. A set's order would make it a full sort of every case,
    one long call that holds Python's lock (80 ms on 25,000 cases), and the app's window waits for it.
    """
    shared = [key for key in a if key in b]
    shared.sort(key=str)
    return shared


def paired_difference(a: Mapping[Hashable, float], b: Mapping[Hashable, float], seed: int = 0, n: int = 2000,
                      level: float = 0.95, bounds: tuple[float, float] | None = (-1.0, 1.0)) -> PairedDifference:
    """Mean of a[case] - b[case] over the cases both have, with a paired bootstrap interval.

    Resampling cases (not each model's scores apart) keeps what the two share: a hard case is hard
    for both, so the difference is far surer than the two models' own intervals suggest. `bounds`
    are the differences' (scores in 0..1 differ by -1..1); see bootstrap_mean.
    """
    cases = _common(a, b)
    if not cases:
        raise ValueError("the two have no case in common")
    differences = np.array([a[c] - b[c] for c in cases], dtype=float)
    interval = bootstrap_mean(differences, seed=seed, n=n, level=level, bounds=bounds)
    sd = float(differences.std(ddof=1)) if differences.size > 1 else 0.0
    return PairedDifference(interval.mean, interval.low, interval.high, int(differences.size), sd)


def mcnemar_counts(pass_a: Mapping[Hashable, bool], pass_b: Mapping[Hashable, bool]) -> tuple[int, int]:
    """(cases only a passes, cases only b passes), over the cases both have."""
    cases = _common(pass_a, pass_b)
    only_a = sum(1 for c in cases if pass_a[c] and not pass_b[c])
    only_b = sum(1 for c in cases if pass_b[c] and not pass_a[c])
    return only_a, only_b


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts: under "no difference" each of the
    b + c discordant cases goes either way with probability 1/2, so it is a binomial test."""
    total = only_a + only_b
    if total == 0:
        return 1.0
    # Summed in log space: with tens of thousands of discordant cases the exact binomial
    # coefficients are integers of thousands of digits (seconds per call); their logs are not.
    log_half = total * math.log(0.5)
    logs = [_log_comb(total, k) + log_half for k in range(min(only_a, only_b) + 1)]
    peak = max(logs)
    tail = math.exp(peak) * math.fsum(math.exp(x - peak) for x in logs)
    return min(1.0, 2 * tail)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def mcnemar_exact(pass_a: Mapping[Hashable, bool], pass_b: Mapping[Hashable, bool]) -> float:
    """Exact McNemar p-value of two models' pass/fail on the same cases (the chance of discordant
    cases this lopsided or more if neither model were better)."""
    return mcnemar_exact_p(*mcnemar_counts(pass_a, pass_b))


def cases_to_decide(mean: float, sd: float, mark: float, level: float = 0.95,
                    bounds: tuple[float, float] | None = (-1.0, 1.0)) -> int | None:
    """How many paired cases in all would put the interval of the mean difference clear of `mark`
    (minus the tolerance) on the side the mean is on, if the differences kept the observed mean
    and spread. None when the mean sits on the mark: no number of cases would decide it then.

    Normal approximation: the interval's half-width is z * sd / sqrt(N), so it clears the mark when
    N > (z * sd / |mean - mark|)^2, a few more for the small-sample widening. With `bounds` (see
    bootstrap_mean) the half-width is also at least the unseen share times the distance to the far
    bound, which alone decides when every difference so far was the same:
    N > ln(alpha / 2) / ln(1 - |mean - mark| / that distance).
    """
    gap = abs(mean - mark)
    if gap < 1e-12:
        return None
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    needed = 1
    if sd > 0:
        needed = max(3, math.ceil((z * sd / gap) ** 2))
        # The interval bootstrap_mean gives is a little wider at small n (see _small_sample_widening).
        while z * sd * _small_sample_widening(needed, level) / math.sqrt(needed) >= gap:
            needed += 1
    if bounds is not None:
        far = mean - bounds[0] if mean > mark else bounds[1] - mean
        ratio = gap / far if far > 0 else 1.0
        if ratio < 1:
            needed = max(needed, math.floor(math.log((1 - level) / 2) / math.log(1 - ratio)) + 1)
    return max(needed, 2)
