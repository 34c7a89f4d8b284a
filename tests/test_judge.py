"""A model as judge: MT-Bench-style prompts and verdicts, through real OpenAI-compatible servers on loopback."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from desktop_app.costing.prices import ApiPricing, PriceOverride
from desktop_app.providers.api import ApiModelSpec
from desktop_app.providers.registry import api_provider
from desktop_app.scoring.judge import (
    DEFAULT_MAX_TOKENS,
    api_pricer,
    combine_pair,
    judge_pair,
    judge_single,
    judgment_hash,
    pair_prompt,
    pair_requests,
    parse_pair,
    parse_single,
    resolve_rubric,
    single_prompt,
)
from desktop_app.suites.loader import Case
from tests.servers import Fault, FaultProxy, ScriptedJudge

CASE = Case(id="capital", prompt="What is the capital of France?", system="Answer in one word.",
            rubric="Full marks only when the answer names Paris.")
PAIRS = [("Paris", "London"), ("London", "Paris"), ("Paris.", "It is Paris, of course."), ("Lyon", "Rome")]


def judge_of(server: Any, **spec: Any):
    return api_provider(ApiModelSpec("openai-compatible", "scripted-judge", server.base_url,
                                     **{"max_retries": 0, **spec}))


@pytest.fixture
def scripted():
    servers: list[ScriptedJudge] = []

    def start(reply: Any) -> ScriptedJudge:
        servers.append(ScriptedJudge(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def section(text: str, name: str) -> str:
    """What a judge prompt shows between `[The Start of NAME]` and `[The End of NAME]`."""
    return text.split(f"[The Start of {name}]\n", 1)[1].split(f"\n[The End of {name}]", 1)[0]


def prefers_paris(body: dict[str, Any]) -> str:
    """A judge that reads the answers, not their positions: the one naming Paris is better."""
    prompt = body["messages"][-1]["content"]
    a = "paris" in section(prompt, "Assistant A's Answer").lower()
    b = "paris" in section(prompt, "Assistant B's Answer").lower()
    verdict = "C" if a == b else "A" if a else "B"
    return f"Only one answer names the right city. Final verdict: [[{verdict}]]"


# Verdicts ---------------------------------------------------------------------------------------

def test_parse_single_takes_the_last_rating_in_range() -> None:
    assert parse_single("Accurate and brief. Rating: [[8]]") == 8
    assert parse_single("[[7.5]]") == 7.5
    assert parse_single("Rating: [[ 9 / 10 ]]") == 9
    assert parse_single("At first I thought [[3]], but on reflection it is right. Rating: [[9]]") == 9
    assert parse_single("Rating: [[10]]") == 10 and parse_single("[[1]]") == 1
    for unreadable in ("Rating: [[11]]", "[[0]]", "Rating: [[N]]", "[[rating]]", "I give it 8/10.",
                       "Rating: [8]", "", "[[8]] was my first thought; honestly [[12]]"):
        assert parse_single(unreadable) is None, unreadable


def test_parse_pair_takes_the_last_verdict_not_the_format_echoed_back() -> None:
    assert parse_pair("A is clearer. [[A]]") == "A"
    assert parse_pair("One might say [[A]], but B is correct. [[B]]") == "B"
    assert parse_pair("Both are equally good: [[c]]") == "C"
    echo = 'output "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.'
    assert parse_pair(echo) is None
    assert parse_pair(echo + " My verdict: [[B]]") == "B"
    assert parse_pair("Assistant A is better.") is None and parse_pair("[[D]]") is None


def test_combine_pair_gives_a_win_only_when_it_survives_the_swap() -> None:
    table = {("A", "B"): "X", ("B", "A"): "Y", ("A", "A"): "inconsistent", ("B", "B"): "inconsistent",
             ("C", "C"): "tie", ("A", "C"): "tie", ("C", "B"): "tie", ("B", "C"): "tie", ("C", "A"): "tie"}
    for (first, second), outcome in table.items():
        assert combine_pair(first, second) == outcome, (first, second)
    # A judge loyal to one position says the same letter in both orders: never a win.
    for letter in "ABC":
        assert combine_pair(letter, letter) in ("tie", "inconsistent")
    with pytest.raises(ValueError):
        combine_pair("A", None)  # type: ignore[arg-type]


# Prompts ----------------------------------------------------------------------------------------

def test_prompts_show_the_rubric_question_system_prompt_and_reference() -> None:
    request = single_prompt(CASE, "Paris", CASE.rubric, reference="Paris")
    text = request.messages[-1]["content"]
    assert request.sampling.temperature == 0 and request.sampling.max_tokens == DEFAULT_MAX_TOKENS
    assert "[[" in text and "1 to 10" in text and CASE.rubric in text and CASE.prompt in text
    assert CASE.system in text and request.messages[0]["role"] == "system" != CASE.system
    assert section(text, "Reference Answer") == "Paris" and section(text, "Assistant's Answer") == "Paris"
    # A judge that repeats the instruction back has not given a rating.
    assert parse_single(text) is None
    plain = single_prompt(Case(id="q", prompt="Say hi."), "hi", max_tokens=64)
    assert "Reference Answer" not in plain.messages[-1]["content"]
    assert "Grading Criteria" not in plain.messages[-1]["content"] and plain.sampling.max_tokens == 64
    assert "Reference Answer" in single_prompt(CASE, "4", reference=4.0).messages[-1]["content"]

    pair = pair_prompt(CASE, "Paris", "London", CASE.rubric, reference="Paris").messages[-1]["content"]
    assert section(pair, "Assistant A's Answer") == "Paris" and section(pair, "Assistant B's Answer") == "London"
    assert '"[[A]]"' in pair and '"[[B]]"' in pair and '"[[C]]"' in pair and CASE.rubric in pair
    assert parse_pair(pair) is None  # nor has one that repeats the pairwise format
    first, second = pair_requests(CASE, "Paris", "London")
    assert section(second.messages[-1]["content"], "Assistant A's Answer") == "London"
    assert first != second


def test_the_rubric_is_the_checks_then_the_cases_then_the_suites() -> None:
    bare = Case(id="q", prompt="p")
    assert resolve_rubric(CASE, "suite rubric", "check rubric") == "check rubric"
    assert resolve_rubric(CASE, "suite rubric") == CASE.rubric
    assert resolve_rubric(bare, "suite rubric") == "suite rubric"
    assert resolve_rubric(bare) is None


# Pairwise judging -------------------------------------------------------------------------------

def test_a_judge_that_always_answers_A_gives_no_wins(scripted) -> None:
    server = scripted("Assistant A is better. [[A]]")
    provider = judge_of(server)
    outcomes = [judge_pair(provider, CASE, x, y, CASE.rubric) for x, y in PAIRS]
    for judged in outcomes:
        assert judged.ok, judged.error
        assert (judged.verdict, judged.swapped_verdict, judged.outcome) == ("A", "A", "inconsistent")
        assert judged.winner("model-x", "model-y") == "inconsistent"
    # Each pair was asked twice, the second time with the answers' order swapped.
    prompts = server.user_texts()
    assert len(prompts) == 2 * len(PAIRS)
    for (x, y), first, second in zip(PAIRS, prompts[::2], prompts[1::2], strict=True):
        assert (section(first, "Assistant A's Answer"), section(first, "Assistant B's Answer")) == (x, y)
        assert (section(second, "Assistant A's Answer"), section(second, "Assistant B's Answer")) == (y, x)
    assert all(body["temperature"] == 0 and body["max_tokens"] == DEFAULT_MAX_TOKENS for body in server.seen)


def test_a_judge_that_reads_the_answers_gives_real_wins_priced_apart(scripted) -> None:
    server = scripted(prefers_paris)
    spec = ApiModelSpec("openai-compatible", "scripted-judge", server.base_url, max_retries=0)
    price = api_pricer(ApiPricing(spec, PriceOverride(input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)))
    provider = api_provider(spec)
    judged = [judge_pair(provider, CASE, x, y, price=price) for x, y in PAIRS]
    assert [j.outcome for j in judged] == ["X", "Y", "tie", "tie"]
    assert [(j.verdict, j.swapped_verdict) for j in judged] == [("A", "B"), ("B", "A"), ("C", "C"), ("C", "C")]
    assert judged[0].winner("model-x", "model-y") == "model-x" and judged[1].winner("mx", "my") == "my"
    first = judged[0]
    assert len(first.results) == 2 and all(r.ok for r in first.results)
    assert first.reasons == tuple(r.text for r in first.results) and "[[A]]" in first.reasons[0]
    assert "[X as assistant A, Y as assistant B]" in first.reason and first.reasons[1] in first.reason
    # The judge's own tokens and cost, counted from its two calls (the server's usage, not estimates).
    assert first.prompt_tokens == sum(r.prompt_tokens for r in first.results) > 0
    assert first.completion_tokens == sum(r.completion_tokens for r in first.results) > 0
    expected = (first.prompt_tokens * 1.0 + first.completion_tokens * 2.0) / 1e6
    assert first.cost_usd == pytest.approx(expected) and len(first.cost_detail["calls"]) == 2
    assert first.wall_time_ms > 0
    # The same judge and the same prompts hash the same, before anything is asked.
    assert first.request_hash == judgment_hash(provider.identity(), *pair_requests(CASE, "Paris", "London"))
    assert first.request_hash != judged[1].request_hash


def test_an_unreadable_pair_verdict_is_an_error_with_the_text_kept(scripted) -> None:
    text = "Both answers have merit; assistant A is a little better."
    server = scripted(text)
    judged = judge_pair(judge_of(server), CASE, "Paris", "London")
    assert judged.error and "[[A]], [[B]] or [[C]]" in judged.error and "X as A" in judged.error
    assert judged.outcome is None and judged.verdict is None and judged.reasons == (text,)
    assert judged.error_kind == "permanent"
    assert len(server.seen) == 1  # no outcome can come of it: the swapped order is not paid for


def test_a_failed_judge_call_is_an_error_row_with_its_kind(scripted) -> None:
    server = scripted("[[A]]")
    proxy = FaultProxy(server.base_url)
    try:
        proxy.plan(Fault(status=401))
        refused = judge_pair(judge_of(proxy), CASE, "Paris", "London")
        assert refused.error and "401" in refused.error and refused.error_kind == "permanent"
        assert refused.outcome is None and len(refused.results) == 1 and not server.seen
        proxy.plan(Fault(status=503))
        busy = judge_single(judge_of(proxy), CASE, "Paris")
        assert busy.error and "503" in busy.error and busy.error_kind == "transient"
        assert busy.score is None and busy.verdict is None
    finally:
        proxy.stop()


def test_a_cancel_stops_the_judgment_before_the_swapped_order(scripted) -> None:
    cancel = threading.Event()

    def reply(body: dict[str, Any]) -> str:
        cancel.set()  # the user cancels while the judge answers
        return "[[A]]"

    server = scripted(reply)
    judged = judge_pair(judge_of(server), CASE, "Paris", "London", cancel=cancel)
    assert judged.cancelled and judged.error and judged.outcome is None
    assert len(server.seen) == 1


# Single-answer grading --------------------------------------------------------------------------

def test_a_single_rating_maps_to_the_0_to_1_scale(scripted) -> None:
    text = "The answer names Paris, as the rubric asks, in one word. Rating: [[8]]"
    server = scripted(text)
    provider = judge_of(server)
    judged = judge_single(provider, CASE, "Paris", reference="Paris", max_tokens=100)
    assert judged.ok and judged.verdict == 8 and judged.score == pytest.approx(7 / 9)
    assert judged.reason == text and judged.judge == provider.label
    sent = server.user_texts()[0]
    assert CASE.rubric in sent and section(sent, "Reference Answer") == "Paris"  # the case's rubric by default
    assert server.seen[0]["max_tokens"] == 100 and server.seen[0]["temperature"] == 0
    assert judged.request_hash == judgment_hash(provider.identity(), judged.request)
    assert judged.completion_tokens == judged.results[0].completion_tokens > 0
    assert judged.cost_usd is None  # not priced without a price: the caller prices the results
    for text, score in (("[[1]]", 0.0), ("Perfect. Rating: [[10]]", 1.0), ("[[5.5]]", 0.5)):
        server.reply = text
        assert judge_single(provider, CASE, "Paris").score == pytest.approx(score)


def test_an_unreadable_rating_is_an_error_not_a_zero(scripted) -> None:
    text = "A fine answer; I would give it eight out of ten."
    server = scripted(text)
    provider = judge_of(server)
    judged = judge_single(provider, CASE, "Paris")
    assert not judged.ok and judged.score is None and judged.verdict is None
    assert "[[rating]]" in judged.error and judged.reason == text and judged.error_kind == "permanent"
    server.reply = "Excellent. Rating: [[11]]"
    out_of_range = judge_single(provider, CASE, "Paris")
    assert out_of_range.score is None and "[[11]]" in out_of_range.error
    server.reply = "This answer needs a long look before any rating can be given. " * 5 + "Rating: [[9]]"
    cut = judge_single(provider, CASE, "Paris", max_tokens=8)
    assert cut.score is None and "max_tokens" in cut.error and cut.results[0].finish_reason == "length"
    assert cut.reason == cut.results[0].text != ""


# A real model as judge --------------------------------------------------------------------------

@pytest.mark.model
def test_the_demo_model_as_judge_gives_a_rating_or_an_error_keeping_its_text(llama_server) -> None:
    provider = api_provider(ApiModelSpec("openai-compatible", llama_server.alias, llama_server.base_url,
                                         max_retries=1), key=llama_server.api_key)
    judged = judge_single(provider, CASE, "Paris", reference="Paris", max_tokens=48)
    result = judged.results[0]
    assert result.ok and result.finish_reason in ("stop", "length") and result.completion_tokens > 0
    assert judged.reason == result.text
    if judged.ok:
        assert 1 <= judged.verdict <= 10 and 0 <= judged.score <= 1
    else:  # a 135M model may not follow the format: an error that keeps what it wrote
        assert "[[rating]]" in judged.error and judged.score is None and judged.reason.strip()
