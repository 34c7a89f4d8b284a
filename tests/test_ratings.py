"""People's votes as Bradley-Terry ratings, and how often a judge model agrees with people."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from desktop_app.analysis.ratings import (agreement, bradley_terry, cohen_kappa, people_verdicts,
                                          votes_from_rows)


def simulated_votes(strengths: list[float], count: int, seed: int) -> list[tuple[str, str, float]]:
    """Votes on random pairs, each won as Bradley-Terry says: 1 / (1 + exp(s_j - s_i))."""
    rng = np.random.default_rng(seed)
    pairs = list(itertools.combinations(range(len(strengths)), 2))
    votes = []
    for _ in range(count):
        i, j = pairs[rng.integers(len(pairs))]
        won = rng.random() < 1 / (1 + np.exp(strengths[j] - strengths[i]))
        votes.append((f"model-{i}", f"model-{j}", 1.0 if won else 0.0))
    return votes


def test_bradley_terry_recovers_the_order_and_size_of_known_strengths() -> None:
    truth = [0.9, -1.2, 0.3, 1.5, -0.6, -0.9]  # already averaging 0
    ratings = bradley_terry(simulated_votes(truth, 3000, seed=1), n=200)
    assert [r.model for r in ratings] == [f"model-{i}" for i in np.argsort(truth)[::-1]]
    for r in ratings:
        assert r.strength == pytest.approx(truth[int(r.model.split("-")[1])], abs=0.15)
        assert r.low < r.strength < r.high
    assert sum(r.votes for r in ratings) == 2 * 3000
    assert sum(r.wins for r in ratings) == 3000
    assert [r.elo for r in ratings] == sorted((r.elo for r in ratings), reverse=True)


def test_bradley_terry_intervals_cover_the_true_strengths_at_about_95_percent() -> None:
    truth = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    covered = checked = 0
    for simulation in range(40):
        for r in bradley_terry(simulated_votes(list(truth), 400, seed=100 + simulation), seed=simulation, n=400):
            covered += r.low <= truth[int(r.model.split("-")[1])] <= r.high
            checked += 1
    assert checked == 200
    assert 0.89 <= covered / checked <= 0.99


def test_ties_and_both_bad_count_half_a_win_and_a_clean_sweep_stays_finite() -> None:
    rows = [{"left_model": "a", "right_model": "b", "outcome": o} for o in ("left", "right", "tie", "both_bad")]
    assert votes_from_rows(rows) == [("a", "b", 1.0), ("a", "b", 0.0), ("a", "b", 0.5), ("a", "b", 0.5)]
    even = bradley_terry(votes_from_rows(rows), n=100)
    assert [r.strength for r in even] == pytest.approx([0.0, 0.0], abs=1e-9)
    assert {r.model: r.wins for r in even} == {"a": 2.0, "b": 2.0}
    # Three wins and a tie: 3.5 to 0.5. The win every time does not make an infinite strength.
    sweep = bradley_terry([("a", "b", 1.0)] * 3 + [("b", "a", 0.5)], n=100)
    assert [r.model for r in sweep] == ["a", "b"]
    assert {r.model: r.wins for r in sweep} == {"a": 3.5, "b": 0.5}
    assert 0 < sweep[0].strength < 3 and np.isfinite(sweep[0].high)
    assert bradley_terry([]) == []
    # Seeded: the same votes give the same intervals.
    assert bradley_terry([("a", "b", 1.0), ("b", "a", 1.0), ("a", "b", 1.0)], seed=4, n=50) == \
        bradley_terry([("a", "b", 1.0), ("b", "a", 1.0), ("a", "b", 1.0)], seed=4, n=50)


def test_cohen_kappa_against_a_hand_computed_table() -> None:
    # 60 pairs, 43 agreed; chance (30*25 + 20*20 + 10*15) / 60^2 = 13/36;
    # kappa = (43/60 - 13/36) / (1 - 13/36) = 2304/4140.
    table = {"first": {"first": 20, "second": 5, "tie": 5},
             "second": {"first": 3, "second": 15, "tie": 2},
             "tie": {"first": 2, "second": 0, "tie": 8}}
    assert cohen_kappa(table) == pytest.approx(2304 / 4140) == pytest.approx(0.5565, abs=1e-4)
    # Agreeing no more than chance is 0; always the same single category has no kappa.
    assert cohen_kappa({"x": {"x": 25, "y": 25}, "y": {"x": 25, "y": 25}}) == pytest.approx(0.0)
    assert cohen_kappa({"x": {"x": 9, "y": 0}, "y": {"x": 0, "y": 0}}) is None


def test_agreement_matches_the_same_case_and_pair_whatever_the_sides() -> None:
    judge = [("c1", "big", "small", "big"),  # the judge prefers big on c1
             ("c2", "big", "small", "tie"),
             ("c3", "small", "big", "small"),
             ("c4", "big", "small", "big")]
    people = [("c1", "small", "big", "big"),  # agrees, the sides shown the other way round
              ("c1", "big", "small", "small"),  # a second person disagrees
              ("c2", "small", "big", "tie"),  # agrees (tie)
              ("c3", "big", "small", "small"),  # agrees
              ("c4", "big", "small", "tie"),  # disagrees
              ("c9", "big", "small", "big")]  # the judge never saw c9: not counted
    result = agreement(judge, people, "judge-x")
    assert (result.judge, result.pairs, result.agreed) == ("judge-x", 5, 3)
    assert result.rate == pytest.approx(0.6)
    # Sorted pair (big, small): judge first, first, tie, second, first; people first, second, tie, second, tie.
    assert result.table["first"] == {"first": 1, "second": 1, "tie": 1}
    assert result.table["tie"]["tie"] == 1 and result.table["second"]["second"] == 1
    # Chance: judge 3/5 first, 1/5 second, 1/5 tie; people 1/5, 2/5, 2/5 -> 3/25 + 2/25 + 2/25 = 7/25.
    assert result.kappa == pytest.approx((0.6 - 7 / 25) / (1 - 7 / 25)) == pytest.approx(4 / 9)
    assert agreement([], people).rate is None


def test_a_runs_votes_and_pair_judgments_from_the_store(store) -> None:
    store.create_run({"id": "run-v", "kind": "suite", "suite_json": "{}"}, [])
    for case, left, right, outcome in [("c1", "a", "b", "left"), ("c2", "b", "a", "right"),
                                       ("c3", "a", "b", "both_bad"), ("c4", "a", "b", "left")]:
        store.add_vote("run-v", case, left, right, outcome)
    for case, outcome in [("c1", "a"), ("c2", "inconsistent"), ("c3", "tie"), ("c4", "b")]:
        store.add_judgment({"run_id": "run-v", "kind": "pair", "case_id": case, "model_key": "a",
                            "other_model_key": "b", "judge_key": "openai:judge", "rubric_hash": "r",
                            "outcome": outcome})
    verdicts = people_verdicts(store, "run-v")
    assert [r.model for r in verdicts.ratings] == ["a", "b"]
    assert {r.model: r.wins for r in verdicts.ratings} == {"a": 3.5, "b": 0.5}
    # People: a, a, tie, a. Judge: a, tie (inconsistent), tie, b -> agree on c1 and c3.
    (judged,) = verdicts.agreements
    assert (judged.judge, judged.pairs, judged.agreed) == ("openai:judge", 4, 2)
    assert set(verdicts.to_dict()) == {"ratings", "agreements"} and "elo" in verdicts.to_dict()["ratings"][0]
