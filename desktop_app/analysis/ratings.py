"""People's blind votes as ratings (Bradley-Terry, with bootstrap intervals), and how often a judge
model agrees with people on the same pairs (agreement rate and Cohen's kappa).

Bradley-Terry: model i beats model j with probability 1 / (1 + exp(s_j - s_i)), s the strengths
(log scale, centred so the models average 0; 0.69 apart is 2 to 1 odds). A tie counts half a win to
each side, as Chatbot Arena counts it, and a "both bad" vote is a tie: neither answer was preferred.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from desktop_app.storage.store import Store

# A vote: (model a, model b, a's result), the result 1 when a won, 0 when b won, 0.5 for a tie.
Vote = tuple[str, str, float]
# One verdict on a pair of answers to a case: (case id, model a, model b, winner: a model key or "tie").
PairOutcome = tuple[str, str, str, str]

VOTE_RESULT = {"left": 1.0, "right": 0.0, "tie": 0.5, "both_bad": 0.5}
CATEGORIES = ("first", "second", "tie")  # of a pair in a fixed order (its model keys sorted)
# Each model plays this many virtual tied games against a fixed reference of strength 0: a weak
# prior that keeps a model that won (or lost) every vote at a finite strength.
PRIOR_GAMES = 1.0


@dataclass(frozen=True)
class Rating:
    model: str
    strength: float  # Bradley-Terry log-strength, the models averaging 0
    low: float  # its bootstrap interval (votes resampled)
    high: float
    votes: int
    wins: float  # ties count half

    @property
    def elo(self) -> float:
        """The strength on the familiar Elo scale (400 points = 10 to 1 odds), the average at 1000."""
        return 1000 + 400 * self.strength / math.log(10)


@dataclass(frozen=True)
class Agreement:
    judge: str
    pairs: int  # people's votes on pairs the judge also compared
    agreed: int
    rate: float | None  # agreed / pairs
    kappa: float | None  # Cohen's kappa; None when chance alone would agree every time
    table: dict[str, dict[str, int]] = field(default_factory=dict)  # judge's category -> people's -> count


@dataclass(frozen=True)
class PeopleVerdicts:
    ratings: list[Rating]
    agreements: list[Agreement]

    def to_dict(self) -> dict[str, Any]:
        return {"ratings": [{**asdict(r), "elo": r.elo} for r in self.ratings],
                "agreements": [asdict(a) for a in self.agreements]}


# Bradley-Terry --------------------------------------------------------------------------------------

def bradley_terry(votes: Sequence[Vote], seed: int = 0, n: int = 1000, level: float = 0.95) -> list[Rating]:
    """Every voted model's strength and its percentile-bootstrap interval (votes resampled `n` times),
    strongest first."""
    models = sorted({m for a, b, _ in votes for m in (a, b)})
    if not votes:
        return []
    index = {m: i for i, m in enumerate(models)}
    k, count = len(models), len(votes)
    first = np.array([index[a] for a, _, _ in votes])
    second = np.array([index[b] for _, b, _ in votes])
    result = np.array([float(r) for _, _, r in votes])
    if np.any((result < 0) | (result > 1)) or np.any(first == second):
        raise ValueError("a vote is between two different models, its result 0, 0.5 or 1")
    # Per vote: the wins it gives each model, and the game it adds to its pair (both directions).
    wins_of = np.zeros((count, k))
    np.add.at(wins_of, (np.arange(count), first), result)
    np.add.at(wins_of, (np.arange(count), second), 1 - result)
    games_of = np.zeros((count, k * k))
    np.add.at(games_of, (np.arange(count), first * k + second), 1.0)
    np.add.at(games_of, (np.arange(count), second * k + first), 1.0)
    rng = np.random.default_rng(seed)
    weights = np.vstack([np.ones(count), rng.multinomial(count, np.full(count, 1 / count), size=n)])
    strengths = _fit(weights @ wins_of, (weights @ games_of).reshape(-1, k, k))
    alpha = 1 - level
    lows, highs = np.quantile(strengths[1:], [alpha / 2, 1 - alpha / 2], axis=0)
    played = games_of.reshape(count, k, k).sum(axis=(0, 2))
    won = wins_of.sum(axis=0)
    ratings = [Rating(m, float(strengths[0, i]), float(lows[i]), float(highs[i]), int(played[i]), float(won[i]))
               for i, m in enumerate(models)]
    return sorted(ratings, key=lambda r: -r.strength)


def _fit(wins: np.ndarray, games: np.ndarray, tolerance: float = 1e-10, most: int = 100) -> np.ndarray:
    """Centred log-strengths for each row of (wins: rows x k, games: rows x k x k), all rows at once.

    The maximum of the Bradley-Terry likelihood, PRIOR_GAMES tied games against a reference of
    strength 0 added to every model, by Newton's method: the log-likelihood is concave and the
    prior makes it strictly so, so a few steps reach the maximum a thousand resamples share. (The
    same maximum as Hunter's 2004 MM iteration, which needs hundreds of slower steps.)
    """
    rows, k = wins.shape
    theta = np.zeros((rows, k))
    target = wins + PRIOR_GAMES / 2  # each model's wins, its prior half win included
    eye = np.eye(k)
    for _ in range(most):
        chance = 1 / (1 + np.exp(theta[:, None, :] - theta[:, :, None]))  # [r, i, j]: i beats j
        against_reference = 1 / (1 + np.exp(-theta))
        gradient = target - (games * chance).sum(axis=2) - PRIOR_GAMES * against_reference
        information = games * chance * (1 - chance)  # off the diagonal: -d2L / dtheta_i dtheta_j
        hessian = information - eye * (information.sum(axis=2)
                                       + PRIOR_GAMES * against_reference * (1 - against_reference))[:, :, None]
        step = np.linalg.solve(hessian, -gradient[:, :, None])[:, :, 0]
        largest = np.abs(step).max(axis=1, keepdims=True)
        theta += step / np.maximum(1.0, largest)  # at most 1 a step: never overshoots far from the start
        if largest.max() < tolerance:
            break
    return theta - theta.mean(axis=1, keepdims=True)


def votes_from_rows(rows: Iterable[dict[str, Any]]) -> list[Vote]:
    """Stored votes (left, right, tie, both_bad) as Bradley-Terry votes."""
    return [(r["left_model"], r["right_model"], VOTE_RESULT[r["outcome"]]) for r in rows]


# Agreement --------------------------------------------------------------------------------------

def _item(case_id: str, a: str, b: str, winner: str) -> tuple[tuple[str, str, str], str]:
    """The pair in a fixed order and the verdict as a category of it: first, second or tie."""
    x, y = sorted((a, b))
    category = "first" if winner == x else "second" if winner == y else "tie"
    return (str(case_id), x, y), category


def agreement(judge: Iterable[PairOutcome], people: Iterable[PairOutcome], judge_name: str = "judge") -> Agreement:
    """How often people's votes match the judge's verdict on the same case and pair of models.

    Categories are the pair's first model (in sorted order) winning, the second, or a tie; a judge
    that changed its verdict when the answers swapped places ("inconsistent") and a person's "both
    bad" are ties: neither answer preferred. Every person's vote on a pair the judge compared is
    one rating pair; a pair several people voted on counts as many times. Cohen's kappa is
    (observed - chance) / (1 - chance), chance from each side's own share of each category.
    """
    verdicts = dict(_item(*outcome) for outcome in judge)
    table = {j: {p: 0 for p in CATEGORIES} for j in CATEGORIES}
    for outcome in people:
        key, category = _item(*outcome)
        if key in verdicts:
            table[verdicts[key]][category] += 1
    total = sum(sum(row.values()) for row in table.values())
    agreed = sum(table[c][c] for c in CATEGORIES)
    return Agreement(judge_name, total, agreed, agreed / total if total else None, cohen_kappa(table), table)


def cohen_kappa(table: dict[str, dict[str, int]]) -> float | None:
    """Cohen's kappa of a square table of counts (rows one rater's categories, columns the other's)."""
    categories = list(table)
    total = sum(sum(row.values()) for row in table.values())
    if total == 0:
        return None
    observed = sum(table[c].get(c, 0) for c in categories) / total
    chance = sum(sum(table[c].values()) / total * sum(table[r].get(c, 0) for r in categories) / total
                 for c in categories)
    return None if chance >= 1 - 1e-12 else (observed - chance) / (1 - chance)


# A stored run ---------------------------------------------------------------------------------------

def people_verdicts(store: Store, run_id: str, seed: int = 0) -> PeopleVerdicts:
    """A run's votes as ratings, and each judge's agreement with them on the pairs it compared."""
    from desktop_app.analysis.stats import stable_seed

    run_id = store.resolve_run_id(run_id)
    vote_rows = store.votes(run_id)
    people = [(r["case_id"], r["left_model"], r["right_model"],
               {"left": r["left_model"], "right": r["right_model"]}.get(r["outcome"], "tie")) for r in vote_rows]
    by_judge: dict[str, list[PairOutcome]] = {}
    for j in store.judgments(run_id, "pair"):
        if j.get("error") or not j.get("outcome"):
            continue
        winner = j["outcome"] if j["outcome"] in (j["model_key"], j["other_model_key"]) else "tie"
        by_judge.setdefault(j["judge_key"], []).append((j["case_id"], j["model_key"], j["other_model_key"], winner))
    return PeopleVerdicts(bradley_terry(votes_from_rows(vote_rows), seed=stable_seed(run_id, seed)),
                          [agreement(outcomes, people, judge) for judge, outcomes in sorted(by_judge.items())])
