"""Blind pairwise votes for the Vote screen: which pairs of answers to show, in what order, on which side.

No Qt here: the plan is read from the store off the UI thread, and the screen only walks it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from desktop_app.analysis.ratings import PeopleVerdicts, people_verdicts
from desktop_app.analysis.stats import stable_seed
from desktop_app.storage.store import Store

OUTCOMES = ("left", "right", "tie", "both_bad")


@dataclass(frozen=True)
class VotePair:
    """Two answers to one case, as shown: `left` is answer A, `right` is answer B (real model keys, never shown)."""

    case_id: str
    left: str
    right: str

    @property
    def key(self) -> tuple[str, str, str]:
        """The pair whichever side each model is on: a vote on it counts once."""
        return pair_key(self.case_id, self.left, self.right)


def pair_key(case_id: str, a: str, b: str) -> tuple[str, str, str]:
    x, y = sorted((a, b))
    return str(case_id), x, y


@dataclass
class VoteSession:
    """What a person votes on in one run: its cases, the answers, every pair, and those voted already."""

    run: dict[str, Any]
    cases: dict[str, dict[str, Any]]  # case id -> the case as the suite stores it
    answers: dict[tuple[str, str], str]  # (case id, model key) -> answer text
    pairs: list[VotePair]  # every pair, in the order to show them
    voted: set[tuple[str, str, str]] = field(default_factory=set)  # pair keys with a vote already

    @property
    def run_id(self) -> str:
        return self.run["id"]

    def remaining(self) -> list[VotePair]:
        return [p for p in self.pairs if p.key not in self.voted]


def plan_pairs(run_id: str, case_ids: list[str], answered: dict[str, list[str]]) -> list[VotePair]:
    """Every pair of models that both answered a case, ordered so the first pairs cover many cases.

    Cases are taken in a shuffled order, one pair from each in turn (round robin), so a person who
    votes on ten pairs has seen ten different prompts, not one prompt ten times. Each case's pairs are
    shuffled too, so the early pairs also mix the models. The side each answer is shown on is drawn per
    pair. Every draw is seeded by the run and the pair: the same run shows the same pairs on the same
    sides every time it is opened.
    """
    per_case: list[list[VotePair]] = []
    for case_id in case_ids:
        models = sorted(answered.get(case_id, ()))
        pairs = []
        for a, b in combinations(models, 2):
            swap = random.Random(stable_seed(run_id, "vote side", case_id, a, b)).random() < 0.5
            pairs.append(VotePair(case_id, b, a) if swap else VotePair(case_id, a, b))
        random.Random(stable_seed(run_id, "vote pairs", case_id)).shuffle(pairs)
        if pairs:
            per_case.append(pairs)
    random.Random(stable_seed(run_id, "vote cases")).shuffle(per_case)
    ordered = []
    for turn in range(max((len(p) for p in per_case), default=0)):
        ordered.extend(pairs[turn] for pairs in per_case if turn < len(pairs))
    return ordered


def load_session(database: Path, run_id: str) -> VoteSession:
    """A run's voting plan, read with its own connection (call it off the UI thread)."""
    store = Store(database)
    try:
        run = store.run(run_id)
        rows = store.results(run["id"])
        votes = store.votes(run["id"])
        suite_cases = store.suite_cases(run["id"])  # case by case: a large suite never holds the lock long
    finally:
        store.close()
    cases = {case["id"]: case for case in suite_cases}
    answers: dict[tuple[str, str], str] = {}
    answered: dict[str, list[str]] = {}
    for row in rows:
        # Only answers a person can judge: written without error (an empty answer is a poor one, still shown).
        if row["error"] or row["text"] is None or row["case_id"] not in cases:
            continue
        answers[(row["case_id"], row["model_key"])] = row["text"]
        answered.setdefault(row["case_id"], []).append(row["model_key"])
    pairs = plan_pairs(run["id"], list(cases), answered)
    voted = {pair_key(v["case_id"], v["left_model"], v["right_model"]) for v in votes}
    return VoteSession(run, cases, answers, pairs, voted)


@dataclass(frozen=True)
class Ratings:
    """The ratings so far and, per judge, how many pairs it compared in this run."""

    verdicts: PeopleVerdicts
    judge_pairs: dict[str, int]
    votes: int


def load_ratings(database: Path, run_id: str) -> Ratings:
    """Bradley-Terry ratings of a run's votes and each judge's agreement with them (off the UI thread)."""
    store = Store(database)
    try:
        verdicts = people_verdicts(store, run_id)
        judge_pairs: dict[str, int] = {}
        for j in store.judgments(run_id, "pair"):
            if not j.get("error") and j.get("outcome"):
                judge_pairs[j["judge_key"]] = judge_pairs.get(j["judge_key"], 0) + 1
        votes = len(store.votes(run_id))
    finally:
        store.close()
    return Ratings(verdicts, judge_pairs, votes)


def kappa_words(kappa: float | None) -> str:
    """How far to trust a judge whose agreement with people has this Cohen's kappa (Landis and Koch's bands)."""
    if kappa is None:
        return "chance agreement cannot be told apart here, as every verdict fell the same way"
    if kappa < 0:
        return "worse than chance: do not trust its verdicts"
    if kappa < 0.2:
        return "hardly better than chance: do not trust its verdicts"
    if kappa < 0.4:
        return "weakly trustworthy: check its verdicts yourself"
    if kappa < 0.6:
        return "moderately trustworthy"
    if kappa < 0.8:
        return "fairly trustworthy"
    return "trustworthy"


def agreement_sentence(judge: str, agreed: int, pairs: int, kappa: float | None, judged: int = 0) -> str:
    """One plain sentence on a judge's agreement with people's votes."""
    if pairs == 0:
        return (f"The judge {judge} compared {judged} pair{'s' if judged != 1 else ''} of this run; you have not "
                f"voted on any of them yet, so its agreement with you is not known.")
    kappa_text = "kappa not defined" if kappa is None else f"kappa {kappa:.2f}"
    text = (f"The judge {judge} agrees with you on {agreed} of {pairs} pair{'s' if pairs != 1 else ''} "
            f"({kappa_text}): {kappa_words(kappa)}.")
    if pairs < 10:
        text += " Vote on more of its pairs to be surer."
    return text
