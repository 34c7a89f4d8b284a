"""A model as judge: MT-Bench-style prompts, verdict parsing, and one thin call through any Provider.

Single-answer grading asks for a rating `[[N]]` from 1 to 10 (mapped to 0..1); pairwise judging asks
for `[[A]]`, `[[B]]` or `[[C]]` (a tie) twice, the second time with the answers' order swapped, and
a win must survive the swap, so a judge that prefers a position can never hand out a win. A verdict
that cannot be read is an error for that judgment, with the judge's text kept, never a zero.

Nothing here stores or prices on its own: a judgment keeps the judge's Results (and prices them when
given a `price` callable), so its cost is counted apart from the answers it judges.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from desktop_app.costing.prices import ApiPricing, Cost
from desktop_app.providers.base import Provider, Request, Result, Sampling
from desktop_app.suites.loader import Case

DEFAULT_MAX_TOKENS = 512  # room for a short explanation before the verdict
VERDICTS = ("A", "B", "C")
OUTCOMES = ("X", "Y", "tie", "inconsistent")

# What the pipeline passes to price each of the judge's calls, e.g. api_pricer(ApiPricing(spec)).
Pricer = Callable[[Result], Cost]

JUDGE_SYSTEM = "You are a careful, impartial judge of the answers AI assistants give."

_SINGLE_INSTRUCTION = (
    "Act as an impartial judge and assess the quality of the answer an AI assistant gave to the user "
    "question shown below. {criteria} Start with a short explanation of your assessment. Be as objective "
    "as possible. After your explanation, you must rate the answer on a scale of 1 (worst) to 10 (best), "
    "writing the rating in double square brackets in exactly this format: \"Rating: [[N]]\", where N is "
    "your whole number from 1 to 10.")
_SINGLE_CRITERIA = ("Consider how helpful, relevant, accurate and detailed the answer is, and how well it "
                    "follows the user's instructions.")
_SINGLE_REFERENCE_CRITERIA = (
    "Judge its correctness and helpfulness. You are given a reference answer, which is correct, and the "
    "assistant's answer. Compare the assistant's answer with the reference answer and point out any "
    "mistakes.")

_PAIR_INSTRUCTION = (
    "Act as an impartial judge and compare the answers two AI assistants gave to the user question shown "
    "below. Choose the assistant whose answer follows the user's instructions and answers the question "
    "better. {criteria} Start by comparing the two answers and give a short explanation. Do not let the "
    "order in which the answers are shown influence you, do not let their length sway you, and do not "
    "favour either assistant's name. Be as objective as possible. After your explanation, give your final "
    "verdict in exactly this format: \"[[A]]\" if assistant A is better, \"[[B]]\" if assistant B is "
    "better, and \"[[C]]\" for a tie.")
_PAIR_CRITERIA = "Consider how helpful, relevant, accurate and detailed each answer is."
_PAIR_REFERENCE_CRITERIA = (
    "Judge their correctness and helpfulness. You are given a reference answer, which is correct: compare "
    "both assistants' answers with it and point out any mistakes.")
_RUBRIC_CRITERIA = "Grade by the criteria given under [Grading Criteria]{also}."
_RUBRIC_ALSO_REFERENCE = ", and compare with the reference answer, which is correct"


# Prompts ----------------------------------------------------------------------------------------

def judge_sampling(max_tokens: int = DEFAULT_MAX_TOKENS) -> Sampling:
    """Temperature 0: the same answers get the same verdict, so a judgment can be reused."""
    return Sampling(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0)


def resolve_rubric(case: Case, suite_rubric: str | None = None, check_rubric: str | None = None) -> str | None:
    """The rubric a judgment uses: the check's own, else the case's, else the suite's."""
    for rubric in (check_rubric, case.rubric, suite_rubric):
        if rubric and rubric.strip():
            return rubric.strip()
    return None


def _criteria(rubric: str | None, reference: str | None, plain: str, with_reference: str) -> str:
    if rubric:
        return _RUBRIC_CRITERIA.format(also=_RUBRIC_ALSO_REFERENCE if reference is not None else "")
    return with_reference if reference is not None else plain


def _context(case: Case, rubric: str | None, reference: str | None) -> list[str]:
    """The sections every judge prompt shares: criteria, the case's system prompt, question, reference."""
    sections = []
    if rubric:
        sections.append(f"[Grading Criteria]\n{rubric}")
    if case.system:
        sections.append(f"[System Prompt Given to the Assistant]\n{case.system}")
    sections.append(f"[User Question]\n{case.prompt}")
    if reference is not None:
        sections.append(f"[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]")
    return sections


def _reference_text(reference: str | float | None) -> str | None:
    if reference is None:
        return None
    return reference if isinstance(reference, str) else str(reference)


def single_prompt(case: Case, answer: str, rubric: str | None = None, reference: str | float | None = None,
                  max_tokens: int = DEFAULT_MAX_TOKENS) -> Request:
    """MT-Bench single-answer grading (single-v1; single-math-v1 when a reference is given).
    `rubric` None: the case's own, if it has one."""
    rubric = resolve_rubric(case, check_rubric=rubric)
    reference = _reference_text(reference)
    instruction = _SINGLE_INSTRUCTION.format(
        criteria=_criteria(rubric, reference, _SINGLE_CRITERIA, _SINGLE_REFERENCE_CRITERIA))
    sections = [f"[Instruction]\n{instruction}", *_context(case, rubric, reference),
                f"[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"]
    return Request.chat("\n\n".join(sections), system=JUDGE_SYSTEM, sampling=judge_sampling(max_tokens))


def pair_prompt(case: Case, answer_a: str, answer_b: str, rubric: str | None = None,
                reference: str | float | None = None, max_tokens: int = DEFAULT_MAX_TOKENS) -> Request:
    """MT-Bench pairwise judging (pair-v2; pair-math-v1 when a reference is given).
    `rubric` None: the case's own, if it has one."""
    rubric = resolve_rubric(case, check_rubric=rubric)
    reference = _reference_text(reference)
    instruction = _PAIR_INSTRUCTION.format(
        criteria=_criteria(rubric, reference, _PAIR_CRITERIA, _PAIR_REFERENCE_CRITERIA))
    sections = [f"[Instruction]\n{instruction}", *_context(case, rubric, reference),
                f"[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]",
                f"[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"]
    return Request.chat("\n\n".join(sections), system=JUDGE_SYSTEM, sampling=judge_sampling(max_tokens))


# Verdicts ---------------------------------------------------------------------------------------

_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*(?:/\s*10\s*)?\]\]")
# A verdict followed by `if ...` or `for a tie` is the format repeated back from the instruction
# (small models often echo it), not a verdict.
_PAIR_VERDICT = re.compile(r"\[\[\s*([ABC])\s*\]\](?![\"'\u201d]?\s*(?:if\b|for a tie\b))", re.IGNORECASE)


def _last_rating(text: str) -> str | None:
    matches = _RATING.findall(text or "")
    return matches[-1] if matches else None


def parse_single(text: str) -> float | None:
    """The judge's last `[[N]]` with 1 <= N <= 10 (`[[7]]`, `Rating: [[7.5]]`, `[[7/10]]`), else None.

    The last one counts: a judge may quote a rating while explaining, its verdict comes at the end.
    A whole rating comes back as an int."""
    raw = _last_rating(text)
    if raw is None:
        return None
    value = float(raw)
    if not 1 <= value <= 10:
        return None
    return int(value) if value.is_integer() else value


def rating_score(rating: float) -> float:
    """A 1..10 rating on the 0..1 scale every scorer uses: 1 -> 0, 10 -> 1."""
    return (rating - 1) / 9


def parse_pair(text: str) -> str | None:
    """The judge's last verdict `[[A]]`, `[[B]]` or `[[C]]` (a tie), else None."""
    matches = _PAIR_VERDICT.findall(text or "")
    return matches[-1].upper() if matches else None


def combine_pair(first: str, second: str) -> str:
    """One outcome from both orders: `first` asked with X as A and Y as B, `second` with Y as A, X as B.

    X wins only when both verdicts pick X (A, then B); Y only when both pick Y (B, then A). Two
    verdicts for the same position (A and A, B and B) contradict each other: "inconsistent", the mark
    of a judge swayed by position. A tie in either order makes the outcome a tie: a win must hold in
    both orders, and MT-Bench also counts a pair that is not won both ways as a tie.
    """
    for verdict in (first, second):
        if verdict not in VERDICTS:
            raise ValueError(f"a pairwise verdict is A, B or C, not {verdict!r}")
    if first == "C" or second == "C":
        return "tie"
    if first == second:
        return "inconsistent"
    return "X" if first == "A" else "Y"


# Judgments --------------------------------------------------------------------------------------

class _JudgeCalls:
    """What a judgment's calls add up to; `error` and `results` are the judgment's own fields."""

    error: str | None
    results: tuple[Result, ...]

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def cancelled(self) -> bool:
        """Stopped by the caller's cancel: not a judgment to store; judging again asks again."""
        return any(r.finish_reason == "cancelled" for r in self.results)

    @property
    def prompt_tokens(self) -> int | None:
        return _total(r.prompt_tokens for r in self.results)

    @property
    def completion_tokens(self) -> int | None:
        return _total(r.completion_tokens for r in self.results)

    @property
    def wall_time_ms(self) -> float | None:
        return _total(r.wall_time_ms for r in self.results)


@dataclass(frozen=True)
class Judgment(_JudgeCalls):
    """One answer graded by a judge; an unreadable verdict or a failed call is `error`, not a zero."""

    judge: str  # the judge's label
    verdict: float | None  # the rating 1..10 as the judge wrote it
    score: float | None  # 0..1: (verdict - 1) / 9
    reason: str  # the judge's whole text, also when its verdict could not be read
    error: str | None
    error_kind: str | None  # "transient" (trying again may help) or "permanent"
    request: Request
    results: tuple[Result, ...]  # the judge's calls, for pricing and timings
    identity: dict[str, Any]  # the judge's identity (what its verdict depends on besides the request)
    request_hash: str  # identity + the prompt sent: an identical judgment can be reused
    cost_usd: float | None = None  # set when a price callable was given; None: not priced or unknown
    cost_detail: dict[str, Any] = field(default_factory=dict)

    kind = "single"


@dataclass(frozen=True)
class PairJudgment(_JudgeCalls):
    """Two answers to one case, X and Y, judged in both orders; `outcome` is X, Y, tie or inconsistent."""

    judge: str
    verdict: str | None  # A, B or C, asked with X as A
    swapped_verdict: str | None  # A, B or C, asked with Y as A (None when not asked)
    outcome: str | None  # "X", "Y", "tie" or "inconsistent"; None on error
    reasons: tuple[str, ...]  # the judge's text for each order asked
    error: str | None
    error_kind: str | None
    requests: tuple[Request, ...]  # X as A, then Y as A
    results: tuple[Result, ...]  # one per order asked: the second is not asked when the first fails
    identity: dict[str, Any]
    request_hash: str  # identity + both prompts
    cost_usd: float | None = None
    cost_detail: dict[str, Any] = field(default_factory=dict)

    kind = "pair"

    @property
    def reason(self) -> str:
        """Both texts, each under the order it was asked in."""
        headings = ("[X as assistant A, Y as assistant B]", "[Y as assistant A, X as assistant B]")
        return "\n\n".join(f"{heading}\n{text}" for heading, text in zip(headings, self.reasons))

    def winner(self, x_key: str, y_key: str) -> str | None:
        """The outcome in model keys, as stored: the winner's key, "tie" or "inconsistent"."""
        return {"X": x_key, "Y": y_key}.get(self.outcome or "", self.outcome)


def _total(values: Iterable[float | None]) -> Any:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def judgment_hash(identity: dict[str, Any], *requests: Request) -> str:
    """Identical judge + identical prompt(s) means an identical verdict is expected (temperature 0)."""
    canonical = json.dumps({"judge": identity, "requests": [r.to_dict() for r in requests]}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def api_pricer(pricing: ApiPricing) -> Pricer:
    """Price a judge's call as an answer of that API model is priced."""
    def price(result: Result) -> Cost:
        return pricing.cost(result.prompt_tokens or 0, result.completion_tokens or 0, result.cached_tokens or 0,
                            result.billed_seconds)
    return price


def _priced(results: tuple[Result, ...], price: Pricer | None) -> tuple[float | None, dict[str, Any]]:
    """The judge's cost over its calls; unknown when any call's price is."""
    if price is None or not results:
        return None, {}
    costs = [price(result) for result in results]
    if len(costs) == 1:
        return costs[0].usd, dict(costs[0].detail)
    usd = None if any(c.usd is None for c in costs) else sum(c.usd for c in costs)  # type: ignore[misc]
    return usd, {"kind": "judge_calls", "calls": [{"usd": c.usd, **c.detail} for c in costs]}


def _ask(provider: Provider, request: Request, cancel: threading.Event | None) -> Result:
    """The judge's Result for one prompt (tokens are not needed, only the whole text)."""
    result = None
    for item in provider.stream(request, cancel):
        if isinstance(item, Result):
            result = item
    if result is None:  # a provider that broke the contract: still an error row, not a crash
        return Result(finish_reason="error", error=f"{provider.label} ended without a result",
                      error_kind="transient")
    return result


def _call_error(provider: Provider, result: Result) -> tuple[str, str] | None:
    if result.finish_reason == "cancelled":
        return "cancelled before the judge finished; judging again asks again", "transient"
    if result.error:
        return f"the judge {provider.label} failed: {result.error}", result.error_kind or "transient"
    return None


def _cut_short(result: Result, max_tokens: int) -> str:
    if result.finish_reason == "length":
        return (f"; it stopped at its limit of {max_tokens} tokens before giving one: raise the judge's "
                f"max_tokens")
    return ""


def judge_single(provider: Provider, case: Case, answer: str, rubric: str | None = None,
                 reference: str | float | None = None, cancel: threading.Event | None = None, *,
                 max_tokens: int = DEFAULT_MAX_TOKENS, price: Pricer | None = None) -> Judgment:
    """Grade one answer with the judge; `rubric` as resolve_rubric gives it (None: the case's)."""
    request = single_prompt(case, answer, rubric, reference, max_tokens)
    identity = provider.identity()
    result = _ask(provider, request, cancel)
    verdict = score = None
    failed = _call_error(provider, result)
    if failed is None:
        verdict = parse_single(result.text)
        if verdict is None:
            wrote = _last_rating(result.text)
            seen = f" (its last was [[{wrote}]], outside 1 to 10)" if wrote is not None else ""
            why = f"the judge's answer has no [[rating]] from 1 to 10{seen}{_cut_short(result, max_tokens)}"
            failed = (f"{why}; its text is kept", "permanent")
        else:
            score = rating_score(verdict)
    cost, detail = _priced((result,), price)
    return Judgment(judge=provider.label, verdict=verdict, score=score, reason=result.text,
                    error=failed[0] if failed else None, error_kind=failed[1] if failed else None,
                    request=request, results=(result,), identity=identity,
                    request_hash=judgment_hash(identity, request), cost_usd=cost, cost_detail=detail)


def pair_requests(case: Case, x: str, y: str, rubric: str | None = None, reference: str | float | None = None,
                  max_tokens: int = DEFAULT_MAX_TOKENS) -> tuple[Request, Request]:
    """The two prompts of a pairwise judgment: X as A first, then Y as A (for judgment_hash before asking)."""
    return (pair_prompt(case, x, y, rubric, reference, max_tokens),
            pair_prompt(case, y, x, rubric, reference, max_tokens))


def judge_pair(provider: Provider, case: Case, x: str, y: str, rubric: str | None = None,
               reference: str | float | None = None, cancel: threading.Event | None = None, *,
               max_tokens: int = DEFAULT_MAX_TOKENS, price: Pricer | None = None) -> PairJudgment:
    """Judge answers X and Y to one case, in both orders, and combine the two verdicts."""
    requests = pair_requests(case, x, y, rubric, reference, max_tokens)
    identity = provider.identity()
    results: list[Result] = []
    verdicts: list[str | None] = []
    failed = None
    for order, request in zip(("X as A", "Y as A"), requests, strict=True):
        result = _ask(provider, request, cancel)
        results.append(result)
        failed = _call_error(provider, result)
        if failed is None:
            verdicts.append(parse_pair(result.text))
            if verdicts[-1] is None:
                why = f"the judge's answer has no verdict [[A]], [[B]] or [[C]] (asked with {order})"
                failed = (f"{why}{_cut_short(result, max_tokens)}; its text is kept", "permanent")
        if failed:
            break  # no outcome can come of it: the other order is not paid for
    outcome = combine_pair(verdicts[0], verdicts[1]) if failed is None else None  # type: ignore[arg-type]
    verdicts += [None] * (2 - len(verdicts))
    done = tuple(results)
    cost, detail = _priced(done, price)
    return PairJudgment(judge=provider.label, verdict=verdicts[0], swapped_verdict=verdicts[1], outcome=outcome,
                        reasons=tuple(r.text for r in done), error=failed[0] if failed else None,
                        error_kind=failed[1] if failed else None, requests=requests, results=done,
                        identity=identity, request_hash=judgment_hash(identity, *requests), cost_usd=cost,
                        cost_detail=detail)
