"""Bootstrap intervals, paired differences, exact McNemar and the cases a decision needs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop_app.analysis.stats import (bootstrap_mean, cases_to_decide, mcnemar_exact, mcnemar_exact_p,
                                        paired_difference, stable_seed, unseen_share)


@pytest.mark.parametrize("size", [10, 40])
def test_the_bootstrap_interval_covers_the_true_mean_at_about_95_percent(size: int) -> None:
    # Skewed scores (Beta(2, 5), mean 2/7): 600 seeded samples, each with its own interval.
    rng = np.random.default_rng(2024)
    truth = 2 / 7
    covered = 0
    for i in range(600):
        mean, low, high = bootstrap_mean(rng.beta(2, 5, size), seed=i, n=1000)
        assert low <= mean <= high
        covered += low <= truth <= high
    assert 0.92 <= covered / 600 <= 0.975  # 95% nominal; a plain percentile interval gets ~0.90 at 10


def test_the_interval_narrows_as_cases_grow_like_one_over_root_n() -> None:
    rng = np.random.default_rng(7)
    values = rng.uniform(0, 1, 1600)
    width = {n: bootstrap_mean(values[:n], seed=1).high - bootstrap_mean(values[:n], seed=1).low for n in (100, 1600)}
    assert width[100] / width[1600] == pytest.approx(4, rel=0.15)
    # About 2 x 1.96 x sd / sqrt(n).
    assert width[1600] == pytest.approx(2 * 1.96 * values.std(ddof=1) / 40, rel=0.1)


def test_the_same_seed_gives_the_same_interval_and_the_seed_is_stable() -> None:
    values = [0.0, 1.0, 1.0, 0.5, 0.25, 1.0, 0.0, 1.0]
    assert bootstrap_mean(values, seed=3) == bootstrap_mean(values, seed=3)
    assert bootstrap_mean(values, seed=3) != bootstrap_mean(values, seed=4)
    # A hash of text that is the same in every process and on every machine (not Python's hash()).
    assert stable_seed("run-1", "model-a") == stable_seed("run-1", "model-a") == 12860465686133653403
    assert stable_seed("run-1", "model-a") != stable_seed("run-1a", "model-")
    with pytest.raises(ValueError):
        bootstrap_mean([])


def test_scores_that_all_agree_still_leave_room_for_unseen_cases() -> None:
    # Three passes out of three are no certainty: the exact binomial bound, 0.025 ** (1/3), not 1.
    assert bootstrap_mean([1.0, 1.0, 1.0]) == (1.0, 1.0, 1.0)
    mean, low, high = bootstrap_mean([1.0, 1.0, 1.0], bounds=(0.0, 1.0))
    assert (mean, high) == (1.0, 1.0) and low == pytest.approx(0.025 ** (1 / 3))
    # 72 identical paired differences rule out a 5-point drop; 71 do not yet (about 3.7 / n).
    assert unseen_share(72) < 0.05 < unseen_share(71)
    assert bootstrap_mean([0.0] * 72, bounds=(-1.0, 1.0)).low > -0.05
    assert bootstrap_mean([0.0] * 71, bounds=(-1.0, 1.0)).low < -0.05
    # Where the data vary enough, the bound changes nothing.
    varied = [0.0, 1.0] * 50
    assert bootstrap_mean(varied, seed=5, bounds=(0.0, 1.0)) == bootstrap_mean(varied, seed=5)


def test_the_paired_difference_uses_only_shared_cases() -> None:
    a = {"c1": 1.0, "c2": 1.0, "c3": 0.0, "c4": 1.0, "only-a": 0.0}
    b = {"c1": 1.0, "c2": 0.0, "c3": 0.0, "c4": 0.0, "only-b": 1.0}
    diff = paired_difference(a, b, seed=0)
    assert diff.n == 4 and diff.mean == pytest.approx(0.5)
    assert diff.sd == pytest.approx(math.sqrt(1 / 3))  # differences 0, 1, 0, 1
    assert diff.low < 0.5 < diff.high
    # The dicts' order does not change the resamples.
    assert paired_difference(dict(reversed(a.items())), b, seed=0) == diff
    with pytest.raises(ValueError):
        paired_difference({"x": 1.0}, {"y": 1.0})


def test_pairing_tells_a_small_steady_difference_from_noise_that_separate_intervals_cannot() -> None:
    # 300 cases of very different difficulty; B scores 4 points below A on every case, give or take 2.
    rng = np.random.default_rng(11)
    difficulty = rng.uniform(0.1, 0.9, 300)
    a = {f"c{i}": float(d) for i, d in enumerate(difficulty)}
    b = {f"c{i}": float(d - 0.04 + rng.normal(0, 0.02)) for i, d in enumerate(difficulty)}
    a_alone, b_alone = bootstrap_mean(list(a.values())), bootstrap_mean(list(b.values()))
    assert a_alone.low < b_alone.high  # apart, their intervals overlap: it looks like noise
    diff = paired_difference(b, a, seed=1)
    assert diff.high < 0 and diff.mean == pytest.approx(-0.04, abs=0.005)  # paired: B is worse
    # The bootstrap alone is this sure; the unseen-case bound (a case unlike all 300 may yet come) widens
    # it to about 1.2 points either side, still clear of 0.
    alone = paired_difference(b, a, seed=1, bounds=None)
    assert alone.high - alone.low < 0.01 < diff.high - diff.low < 0.03


def test_exact_mcnemar_against_the_hand_computed_binomial() -> None:
    # b = 10 cases only A passes, c = 2 only B passes: p = 2 * sum_{k<=2} C(12, k) / 2^12 = 158/4096.
    assert mcnemar_exact_p(10, 2) == pytest.approx(158 / 4096) == pytest.approx(0.0386, abs=1e-4)
    assert mcnemar_exact_p(2, 10) == mcnemar_exact_p(10, 2)
    assert mcnemar_exact_p(0, 0) == 1.0 and mcnemar_exact_p(3, 3) == 1.0
    assert mcnemar_exact_p(6, 0) == pytest.approx(2 / 64)
    # From per-case pass/fail: concordant cases do not count, nor cases only one model has.
    a = {f"c{i}": i < 10 or 12 <= i < 20 for i in range(30)}
    b = {f"c{i}": 10 <= i < 20 for i in range(30)}
    b["extra"] = True
    assert mcnemar_exact(a, b) == pytest.approx(158 / 4096)


def test_cases_to_decide_is_where_the_interval_clears_the_tolerance() -> None:
    # sd 0.3, mean 0, mark -0.05: (1.96 * 0.3 / 0.05)^2 = 138.3 -> 139 cases, 3 more for the t widening.
    assert cases_to_decide(0.0, 0.3, -0.05, bounds=None) == 142
    assert cases_to_decide(-0.05, 0.3, -0.05) is None  # right on the mark: no number decides
    assert cases_to_decide(0.0, 0.0, -0.05) == 72  # identical differences: the unseen share alone
    # Differences of mean -0.01 and sd 0.2: a little past the estimate the interval clears -0.05, a little
    # short of it, not.
    needed = cases_to_decide(-0.01, 0.2, -0.05)
    assert math.ceil((1.96 * 0.2 / 0.04) ** 2) <= needed <= math.ceil((1.96 * 0.2 / 0.04) ** 2) + 4

    def low_end(n: int) -> float:
        noise = np.random.default_rng(n).normal(size=n)
        differences = -0.01 + 0.2 * (noise - noise.mean()) / noise.std(ddof=1)  # exactly that mean and sd
        return bootstrap_mean(differences, seed=1, bounds=(-1.0, 1.0)).low

    assert low_end(int(needed * 1.1)) > -0.05 > low_end(int(needed * 0.8))
    # The other way: a clearly worse mean decides with fewer cases the further it is from the mark.
    assert cases_to_decide(-0.3, 0.3, -0.05) < cases_to_decide(-0.1, 0.3, -0.05)


def test_exact_mcnemar_stays_exact_and_fast_with_many_discordant_cases() -> None:
    # 24,500 discordant cases: the exact binomial coefficients have thousands of digits; summing
    # them took seconds per call and froze the Tradeoff screen on a 100,000-answer run.
    import time

    started = time.perf_counter()
    p = mcnemar_exact_p(12_000, 12_500)
    assert time.perf_counter() - started < 0.5
    # Normal approximation with continuity correction: z = (500 - 1) / sqrt(24500)
    assert p == pytest.approx(math.erfc((500 - 1) / math.sqrt(24_500) / math.sqrt(2)), rel=0.02)
    assert mcnemar_exact_p(200, 260) == pytest.approx(
        2 * sum(math.comb(460, k) for k in range(201)) / 2 ** 460, rel=1e-9)


@pytest.mark.parametrize("kind", ["pass/fail", "paired differences", "fractions"])
def test_whole_number_scores_resample_to_the_very_same_means(kind: str) -> None:
    """Pass/fail scores and their paired differences are resampled as one-byte integers (an eighth of the memory
    to gather, a few times faster on 25,000 cases): the means are the ones the general way gives, to the last
    bit, so every interval stays what it was. Other scores take the general way."""
    from desktop_app.analysis.stats import _as_small_integers, _resampled_means

    rng = np.random.default_rng(11)
    for k in (1, 3, 40, 2_501, 25_000):  # 25,000: more resamples than one chunk holds
        values = {"pass/fail": (rng.random(k) < 0.7).astype(float),
                  "paired differences": rng.integers(-1, 2, size=k).astype(float),
                  "fractions": np.round(rng.random(k), 2) + 0.001}[kind]
        assert (_as_small_integers(values) is None) == (kind == "fractions")
        draws = np.random.default_rng(5)
        rows = max(1, 4_000_000 // k)  # resamples per chunk: 160 of 25,000 cases, so 400 take three chunks
        expected = np.concatenate([values[draws.integers(0, k, size=(min(rows, 400 - start), k))].mean(axis=1)
                                   for start in range(0, 400, rows)])
        assert np.array_equal(_resampled_means(values, 5, 400), expected)
