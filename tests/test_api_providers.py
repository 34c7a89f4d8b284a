"""API providers against real servers on loopback: llama-cpp-python's OpenAI-compatible server,
a fault-injecting proxy in front of it, and a server speaking Anthropic's streaming events."""

from __future__ import annotations

import dataclasses
import random
import threading
import time

import pytest

from desktop_app import keys
from desktop_app.errors import UserError
from desktop_app.providers.api import (
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_OVERHEAD_TOKENS,
    ApiModelSpec,
    Backoff,
    estimate_prompt_tokens,
    parse_model_ref,
    redact,
    retry_after_seconds,
)
from desktop_app.providers.base import Request, Result, Sampling, Token
from desktop_app.providers.registry import api_provider
from tests.servers import FakeAnthropic, Fault, FaultProxy

QUICK = Backoff(base_s=0.05, cap_s=0.2)
PROMPT = "Name three colours of the rainbow."


def collect(provider, request: Request, cancel: threading.Event | None = None) -> tuple[list[str], Result]:
    tokens, result = [], None
    for item in provider.stream(request, cancel):
        if isinstance(item, Token):
            tokens.append(item.text)
        else:
            assert result is None, "exactly one result ends a stream"
            result = item
    assert result is not None
    return tokens, result


def compatible(server_url: str, key: str, **spec) -> object:
    provider = api_provider(ApiModelSpec("openai-compatible", "demo", server_url, **spec), key=key)
    provider.backoff = QUICK
    return provider


@pytest.fixture
def proxy(llama_server):
    proxy = FaultProxy(llama_server.base_url)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def anthropic_server(llama_server):
    server = FakeAnthropic(llama_server)
    yield server
    server.stop()


# Model references ----------------------------------------------------------------------------

def test_model_refs_parse_to_specs_and_paths_stay_paths() -> None:
    assert parse_model_ref("openai:gpt-4o-mini") == ApiModelSpec("openai", "gpt-4o-mini")
    assert parse_model_ref("anthropic:claude-sonnet-4-5").ref == "anthropic:claude-sonnet-4-5"
    spec = parse_model_ref("openai-compatible:qwen2.5:7b@http://127.0.0.1:11434/v1/")
    assert (spec.model, spec.base_url, spec.key_name) == ("qwen2.5:7b", "http://127.0.0.1:11434/v1",
                                                          "127.0.0.1:11434")
    assert not spec.needs_key and ApiModelSpec("openai-compatible", "m", "https://openrouter.ai/api/v1").needs_key
    assert parse_model_ref("models/x.gguf") is None and parse_model_ref(r"C:\models\x.gguf") is None
    with pytest.raises(UserError, match="needs its server"):
        parse_model_ref("openai-compatible:demo")
    with pytest.raises(UserError, match="not an http"):
        parse_model_ref("openai-compatible:demo@ftp://x")
    with pytest.raises(UserError, match="model name is empty"):
        parse_model_ref("openai:")


def test_retry_after_reads_seconds_dates_and_milliseconds() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < retry_after_seconds({"retry-after": http_date}) <= 30
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None


def test_backoff_draws_full_jitter_and_retry_after_wins_when_longer() -> None:
    rng = random.Random(8)
    backoff = Backoff(base_s=1, cap_s=8)
    for attempt, ceiling in enumerate((1, 2, 4, 8, 8, 8)):
        draws = [backoff.delay(attempt, rng=rng) for _ in range(2000)]
        assert all(0 <= d <= ceiling for d in draws)
        # Uniform over the whole range, not its upper half (equal jitter): a quarter fall in each quarter.
        for quarter in range(4):
            share = sum(quarter * ceiling / 4 <= d < (quarter + 1) * ceiling / 4 for d in draws) / len(draws)
            assert 0.2 < share < 0.3, (attempt, quarter, share)
        assert sum(draws) / len(draws) == pytest.approx(ceiling / 2, rel=0.06)
    assert Backoff().delay(0, retry_after_s=7, rng=rng) == 7
    short = [backoff.delay(3, retry_after_s=0.5, rng=rng) for _ in range(200)]
    assert all(0.5 <= d <= 8 for d in short) and max(short) > 4, "a shorter Retry-After does not cut the wait"


def test_redact_hides_the_key_and_anything_shaped_like_one() -> None:
    text = redact("Incorrect API key provided: sk-proj-abc123XYZ789. Also secret-value-1 here",
                  "secret-value-1")
    assert "abc123" not in text and "secret-value-1" not in text and text.count("[key hidden]") == 2


# OpenAI and compatible servers ------------------------------------------------------------------

def test_compatible_server_streams_tokens_with_usage_and_timings(llama_server) -> None:
    provider = compatible(llama_server.base_url, llama_server.api_key)
    request = Request.chat("Write a long story about a lighthouse.", system="You are a writer.",
                           sampling=Sampling(max_tokens=24))
    tokens, result = collect(provider, request)

    assert result.ok and result.finish_reason == "length" and len(tokens) > 3
    assert result.text == "".join(tokens)
    # llama.cpp's server sends no usage in a stream: one chunk is one token. Check that against the
    # counts the same server reports for the same request without streaming.
    reported = llama_server.chat({"messages": [dict(m) for m in request.messages], "max_tokens": 24,
                                  "temperature": 0})["usage"]
    assert result.completion_tokens == reported["completion_tokens"] == 24
    assert result.usage["completion_tokens_counted_from_chunks"] is True
    assert result.usage["prompt_tokens_estimated"] is True
    assert result.prompt_tokens >= reported["prompt_tokens"], "the estimate errs high"
    assert 0 < result.time_to_first_token_ms < result.wall_time_ms
    assert result.generation_tokens_per_second > 0
    provider.close()


def test_stop_strings_and_the_token_limit_end_the_answer(llama_server) -> None:
    provider = compatible(llama_server.base_url, llama_server.api_key)
    _, long = collect(provider, Request.chat("Count from 1 to 30, separated by commas.",
                                             sampling=Sampling(max_tokens=8)))
    assert long.finish_reason == "length" and long.completion_tokens == 8
    _, stopped = collect(provider, Request.chat("Count from 1 to 30, separated by commas.",
                                                sampling=Sampling(max_tokens=60, stop=("5",))))
    assert stopped.ok and "5" not in stopped.text and stopped.finish_reason == "stop"


def test_more_stop_strings_than_the_api_takes_are_all_honoured(llama_server, proxy) -> None:
    prompt, sampling = "List the days of the week, one per line.", Sampling(max_tokens=60)
    full = llama_server.chat({"messages": [{"role": "user", "content": prompt}], "max_tokens": 60,
                              "temperature": 0})["choices"][0]["message"]["content"]
    # The first four never occur; the sixth, spanning several tokens, comes before the fifth.
    stops = ("Zebra", "Quartz", "Xylophone", "@@@", "Saturday", "day, Thurs")
    assert all(s not in full for s in stops[:4]) and full.index(stops[5]) < full.index(stops[4])
    provider = compatible(proxy.base_url, llama_server.api_key)
    tokens, result = collect(provider, Request.chat(prompt, sampling=dataclasses.replace(sampling, stop=stops)))

    assert result.ok and result.finish_reason == "stop"
    assert result.text == "".join(tokens) == full[:full.index("day, Thurs")], "nothing past the stop is streamed"
    assert proxy.seen[-1]["body"]["stop"] == list(stops[:4]), "the API takes at most four"
    # Reading ends at the stop: the rest of the answer is left unread on the stream (then closed).
    holder: dict = {}
    request = Request.chat(prompt, sampling=dataclasses.replace(sampling, stop=stops))
    assert "".join(chunk.text for chunk in provider._open(request, set(), holder)) == result.text
    assert next(iter(holder["stream"]), None) is not None
    holder["stream"].close()
    provider.close()


TOKENIZER_SAMPLES = {
    "japanese": "日本の首都はどこですか？東京について詳しく説明してください。",
    "chinese": "请用中文解释量子计算的基本原理，以及它与经典计算的区别。",
    "korean": "한국의 수도는 어디입니까? 서울에 대해 설명해 주세요.",
    "emoji": "Rate these 😀😃😄😁😆😅🤣😂🙂🙃 and 👨‍👩‍👧‍👦 🏳️‍🌈 🇳🇴 ✨🔥💯",
    "python": "def fib(n: int) -> int:\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "javascript": "const x={a:1,b:[2,3],c:{d:'e'}};if(x.a!==1){throw new Error(`bad ${x.a}`)}",
    "digits": "3.14159265358979323846264338327950288419716939937510 2718281828459045",
    "hash": "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "mixed": "The word 日本 means Japan 🇯🇵; in code: `x = \"東京\"  # Tokyo` costs ¥1,000.",
}


@pytest.mark.parametrize("name", TOKENIZER_SAMPLES)
def test_the_prompt_estimate_never_counts_below_a_real_tokenizer(llama_server, name: str) -> None:
    """The demo model's small, English-leaning vocabulary splits CJK, emoji and code finely."""
    text = TOKENIZER_SAMPLES[name]
    real = len(llama_server.tokenize(text))
    alone = estimate_prompt_tokens(Request(({"role": "user", "content": text},)))
    assert alone - MESSAGE_OVERHEAD_TOKENS - REPLY_OVERHEAD_TOKENS >= real
    # And a whole request against what the server counts through its chat template.
    request = Request.chat(text, system="Answer briefly.")
    reported = llama_server.chat({"messages": [dict(m) for m in request.messages], "max_tokens": 1,
                                  "temperature": 0})["usage"]["prompt_tokens"]
    assert estimate_prompt_tokens(request) >= reported


def test_the_openai_provider_finds_its_key_in_the_keychain(llama_server) -> None:
    keys.store("openai", llama_server.api_key)
    provider = api_provider(ApiModelSpec("openai", "demo", llama_server.base_url))
    tokens, result = collect(provider, Request.chat(PROMPT, sampling=Sampling(max_tokens=12)))
    assert result.ok and tokens
    assert provider.identity() == {"provider": "openai", "model": "demo", "base_url": llama_server.base_url}
    assert provider.list_models() == ["demo"]


def test_cancel_returns_at_once_even_while_the_server_is_silent(llama_server, proxy) -> None:
    provider = compatible(proxy.base_url, llama_server.api_key)
    proxy.plan(Fault(delay_s=5))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.perf_counter()
    tokens, result = collect(provider, Request.chat(PROMPT), cancel)
    assert result.finish_reason == "cancelled" and not tokens
    assert time.perf_counter() - started < 1.0

    cancel = threading.Event()
    seen: list[str] = []
    for item in provider.stream(Request.chat("Write a long story.", sampling=Sampling(max_tokens=200)), cancel):
        if isinstance(item, Token):
            seen.append(item.text)
            if len(seen) == 3:
                cancel.set()
        else:
            result = item
    assert result.finish_reason == "cancelled" and result.text == "".join(seen)


# Faults -----------------------------------------------------------------------------------------

def test_429_waits_as_long_as_retry_after_asks_then_succeeds(llama_server, proxy) -> None:
    provider = compatible(proxy.base_url, llama_server.api_key)
    proxy.plan(Fault(status=429, headers={"Retry-After": "1"}))
    _, result = collect(provider, Request.chat(PROMPT, sampling=Sampling(max_tokens=8)))
    assert result.ok and len(proxy.seen) == 2
    assert proxy.seen[1]["at"] - proxy.seen[0]["at"] >= 1.0


def test_server_errors_are_retried_with_backoff_up_to_the_limit(llama_server, proxy) -> None:
    provider = compatible(proxy.base_url, llama_server.api_key, max_retries=2)
    proxy.plan(Fault(status=500), Fault(status=503))
    _, result = collect(provider, Request.chat(PROMPT, sampling=Sampling(max_tokens=8)))
    assert result.ok and len(proxy.seen) == 3

    proxy.reset()
    proxy.plan(Fault(status=500), Fault(status=502), Fault(status=500))
    _, result = collect(provider, Request.chat(PROMPT, sampling=Sampling(max_tokens=8)))
    assert result.finish_reason == "error" and len(proxy.seen) == 3
    assert "server failed (500) after 3 tries" in result.error


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_not_retried(llama_server, proxy, status: int) -> None:
    provider = compatible(proxy.base_url, llama_server.api_key)
    proxy.plan(Fault(status=status, body={"error": {"message": "the server says no"}}))
    _, result = collect(provider, Request.chat(PROMPT))
    assert result.finish_reason == "error" and len(proxy.seen) == 1
    assert f"({status})" in result.error and "the server says no" in result.error


def test_a_wrong_key_says_where_to_set_it_and_never_shows_the_key(llama_server, proxy) -> None:
    wrong = "sk-wrong-key-0123456789abcdef"
    provider = compatible(proxy.base_url, wrong)
    _, result = collect(provider, Request.chat(PROMPT))
    assert len(proxy.seen) == 1, "a refused key is not retried"
    assert "API key was refused (401)" in result.error and "modelscout keys set 127.0.0.1:" in result.error
    assert wrong not in result.error and "given explicitly" in result.error


def test_a_connection_dropped_mid_stream_keeps_the_partial_answer(llama_server, proxy) -> None:
    provider = compatible(proxy.base_url, llama_server.api_key)
    proxy.plan(Fault(drop_after_bytes=1500))
    tokens, result = collect(provider, Request.chat("Write a long story about a fox.",
                                                    sampling=Sampling(max_tokens=120)))
    assert tokens and result.text == "".join(tokens)
    assert result.finish_reason == "error" and "broke mid-answer" in result.error
    assert "partial answer is kept" in result.error
    assert len(proxy.seen) == 1, "an answer already streaming is not asked for (and paid for) twice"


def test_a_response_slower_than_the_timeout_fails_then_a_retry_can_succeed(llama_server, proxy) -> None:
    provider = compatible(proxy.base_url, llama_server.api_key, timeout_s=1, max_retries=0)
    proxy.plan(Fault(delay_s=3))
    started = time.perf_counter()
    _, result = collect(provider, Request.chat(PROMPT))
    assert result.finish_reason == "error" and "no response within 1 s" in result.error
    # Given up before the 3 s the server takes (with room for a busy machine), not after it.
    assert time.perf_counter() - started < 2.9

    patient = compatible(proxy.base_url, llama_server.api_key, timeout_s=1, max_retries=1)
    proxy.reset()
    proxy.plan(Fault(delay_s=3))
    _, result = collect(patient, Request.chat(PROMPT, sampling=Sampling(max_tokens=8)))
    assert result.ok and len(proxy.seen) == 2


def test_an_unreachable_server_is_a_plain_connection_error() -> None:
    provider = compatible("http://127.0.0.1:9/v1", "k", max_retries=1)
    _, result = collect(provider, Request.chat(PROMPT))
    assert "cannot connect after 2 tries" in result.error and "server is running" in result.error


def test_an_unsupported_sampling_parameter_is_dropped_and_recorded(llama_server, proxy) -> None:
    provider = compatible(proxy.base_url, llama_server.api_key)
    proxy.plan(Fault(status=400, body={"error": {"message": "Unsupported value: 'temperature' does not "
                                                             "support 0 with this model."}}))
    _, result = collect(provider, Request.chat(PROMPT, sampling=Sampling(max_tokens=8)))
    assert result.ok and result.usage["dropped_parameters"] == ["temperature"]
    assert "temperature" in proxy.seen[0]["body"] and "temperature" not in proxy.seen[1]["body"]


def test_requests_to_one_endpoint_are_bounded(llama_server, proxy) -> None:
    results: list[Result] = []

    def ask() -> None:
        provider = compatible(proxy.base_url, llama_server.api_key, max_concurrency=2)
        results.append(collect(provider, Request.chat(PROMPT, sampling=Sampling(max_tokens=4)))[1])

    proxy.plan(*[Fault(delay_s=0.4) for _ in range(5)])
    threads = [threading.Thread(target=ask) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.ok for r in results) and len(results) == 5
    assert proxy.max_in_flight == 2


# Anthropic --------------------------------------------------------------------------------------

def anthropic(server: FakeAnthropic, key: str | None = None, **spec) -> object:
    provider = api_provider(ApiModelSpec("anthropic", server.models[0], server.base_url, **spec),
                            key=key or server.api_key)
    provider.backoff = QUICK
    return provider


def test_anthropic_streams_messages_events_with_usage(anthropic_server, llama_server) -> None:
    provider = anthropic(anthropic_server)
    request = Request.chat(PROMPT, system="Answer briefly.", sampling=Sampling(max_tokens=40))
    tokens, result = collect(provider, request)
    reported = llama_server.chat({"messages": [dict(m) for m in request.messages], "max_tokens": 1})
    assert result.ok and len(tokens) > 2 and result.text == "".join(tokens)
    assert anthropic_server.seen[-1]["body"]["system"] == "Answer briefly."
    assert result.prompt_tokens == reported["usage"]["prompt_tokens"], "system and user prompt both counted"
    assert result.completion_tokens == anthropic_server.last_output_tokens
    assert result.usage["input_tokens"] == result.prompt_tokens
    assert "completion_tokens_counted_from_chunks" not in result.usage
    headers = anthropic_server.seen[-1]["headers"]
    sent_key = headers.get("x-api-key") or headers["authorization"].removeprefix("Bearer ")
    assert sent_key == anthropic_server.api_key and headers["anthropic-version"]
    assert provider.list_models() == ["claude-loopback-1"]


def test_anthropic_token_limit_and_faults(anthropic_server) -> None:
    provider = anthropic(anthropic_server)
    _, result = collect(provider, Request.chat("Write a long story.", sampling=Sampling(max_tokens=6)))
    assert result.finish_reason == "length" and result.completion_tokens == 6

    anthropic_server.plan("overloaded", "rate_limited")
    started = time.perf_counter()
    _, result = collect(provider, Request.chat(PROMPT, sampling=Sampling(max_tokens=8)))
    assert result.ok and time.perf_counter() - started >= 1.0, "Retry-After: 1 was honoured"

    anthropic_server.plan("error_mid_stream")
    tokens, result = collect(provider, Request.chat("Write a long story about a fox.",
                                                    sampling=Sampling(max_tokens=60)))
    assert tokens and result.text == "".join(tokens) and result.finish_reason == "error"
    assert "Overloaded" in result.error and "partial answer is kept" in result.error

    wrong = anthropic(anthropic_server, key="sk-ant-wrong-000000000")
    _, result = collect(wrong, Request.chat(PROMPT))
    assert "refused (401)" in result.error and "sk-ant-wrong" not in result.error


def test_a_missing_key_for_a_public_endpoint_says_how_to_set_it() -> None:
    provider = api_provider(ApiModelSpec("anthropic", "claude-sonnet-4-5"))
    _, result = collect(provider, Request.chat(PROMPT))
    assert result.finish_reason == "error"
    assert "no API key for anthropic" in result.error and "ANTHROPIC_API_KEY" in result.error


def test_usage_from_a_server_that_reports_it_is_taken_as_reported() -> None:
    """llama.cpp's server sends no usage in a stream; OpenAI does, in a last chunk with no choices."""
    from openai.types import CompletionUsage
    from openai.types.chat import ChatCompletionChunk

    from desktop_app.providers.openai_api import _usage

    chunk = ChatCompletionChunk.model_validate({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini", "choices": [],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280,
                  "prompt_tokens_details": {"cached_tokens": 1024}}})
    assert isinstance(chunk.usage, CompletionUsage)
    usage = _usage(chunk.usage)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (1200, 80, 1024)
    assert usage.raw["total_tokens"] == 1280
