"""The llama.cpp provider, end to end on the real demo model, in its worker process."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from desktop_app.providers.base import ProviderError, Request, Result, Sampling, Token
from desktop_app.providers.local import LocalModelSpec, LocalProvider, check_loadable
from tests.ggufs import write_tiny_gguf

STORY = "Tell me a long story about a dragon who learns to cook."


def collect(provider: LocalProvider, request: Request, cancel: threading.Event | None = None,
            on_token=None) -> tuple[list[str], Result]:
    tokens: list[str] = []
    results = []
    for item in provider.stream(request, cancel):
        if isinstance(item, Token):
            tokens.append(item.text)
            if on_token:
                on_token(len(tokens))
        else:
            results.append(item)
    assert len(results) == 1, "a stream ends with exactly one result"
    return tokens, results[0]


@pytest.fixture(scope="module")
def provider(demo_model: Path):
    model = LocalProvider(LocalModelSpec(str(demo_model), n_ctx=1024, n_threads=2))
    yield model
    model.close()


@pytest.fixture(scope="module")
def tiny_provider(smol_tiny: Path):
    """The tiny model through the same tokenizer and template, for what does not hang on what answers say
    (repeatability, the cache between requests): the same code paths in a fraction of the time."""
    model = LocalProvider(LocalModelSpec(str(smol_tiny), n_ctx=1024, n_threads=2))
    yield model
    model.close()


def test_streams_tokens_then_a_complete_result(provider: LocalProvider) -> None:
    tokens, result = collect(provider, Request.chat("What is the capital of France?",
                                                    sampling=Sampling(max_tokens=40)))
    assert result.error is None
    assert "".join(tokens) == result.text and result.text.strip()
    assert result.finish_reason in ("stop", "length")
    assert result.prompt_tokens > 10 and 0 < result.completion_tokens <= 40
    assert 0 < result.time_to_first_token_ms < result.wall_time_ms
    assert result.prompt_tokens_per_second > 0 and result.generation_tokens_per_second > 0
    assert result.peak_memory_bytes > 50 * 2**20  # the worker holds the ~94 MiB model


def test_max_tokens_ends_the_answer_with_length(provider: LocalProvider) -> None:
    _, result = collect(provider, Request.chat(STORY, sampling=Sampling(max_tokens=7)))
    assert result.finish_reason == "length"
    assert result.completion_tokens == 7


def test_a_stop_string_cuts_the_answer_where_it_appears(provider: LocalProvider) -> None:
    _, full = collect(provider, Request.chat(STORY, sampling=Sampling(max_tokens=24)))
    words = full.text.split()
    stop = " ".join(words[8:10])  # a phrase from the middle of the greedy answer
    tokens, cut = collect(provider, Request.chat(STORY, sampling=Sampling(max_tokens=24, stop=(stop,))))
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[: full.text.index(stop)]
    assert "".join(tokens) == cut.text, "no part of the stop string was streamed"


def test_answers_do_not_depend_on_the_previous_request(tiny_provider: LocalProvider) -> None:
    first = Request.chat("Name three colours.", sampling=Sampling(max_tokens=24))
    other = Request.chat("What is 2 + 2?", sampling=Sampling(max_tokens=24))
    _, a = collect(tiny_provider, first)
    _, between = collect(tiny_provider, other)
    _, again = collect(tiny_provider, first)
    assert again.text == a.text and between.text != a.text


def test_a_seed_makes_sampling_repeatable(tiny_provider: LocalProvider) -> None:
    sampling = Sampling(temperature=1.0, top_p=0.95, max_tokens=24, seed=1234)
    _, a = collect(tiny_provider, Request.chat(STORY, sampling=sampling))
    _, b = collect(tiny_provider, Request.chat(STORY, sampling=sampling))
    _, other = collect(tiny_provider, Request.chat(STORY, sampling=dataclasses.replace(sampling, seed=4321)))
    assert a.text == b.text and other.text != a.text, "the seed decides the draw"


def test_the_model_is_loaded_once_for_many_requests(provider: LocalProvider) -> None:
    provider.load()
    pid = provider._proc.pid
    for _ in range(2):
        collect(provider, Request.chat("Hi", sampling=Sampling(max_tokens=4)))
    assert provider._proc.pid == pid
    assert provider.memory_bytes() > 50 * 2**20


def test_cancel_stops_within_a_token(provider: LocalProvider) -> None:
    cancel = threading.Event()
    # Greedy: the first words are the same whatever the limit, and the answer runs past 40 tokens.
    _, full = collect(provider, Request.chat(STORY, sampling=Sampling(max_tokens=48)))
    assert full.completion_tokens > 40
    seen = []

    def on_token(n: int) -> None:
        seen.append(n)
        if n == 3:
            cancel.set()

    tokens, result = collect(provider, Request.chat(STORY, sampling=Sampling(max_tokens=120)), cancel, on_token)
    assert result.finish_reason == "cancelled"
    # The worker may have sampled a token or two while the cancel crossed the pipe, never more.
    assert result.completion_tokens <= 3 + 2
    assert full.text.startswith(result.text) and "".join(tokens) == result.text


def test_abandoning_a_stream_leaves_the_worker_ready(provider: LocalProvider) -> None:
    stream = provider.stream(Request.chat(STORY, sampling=Sampling(max_tokens=200)))
    next(stream)
    stream.close()  # the caller walked away mid-answer
    _, result = collect(provider, Request.chat("Hi", sampling=Sampling(max_tokens=4)))
    assert result.error is None


def test_a_crashed_worker_becomes_an_error_and_the_next_request_works(demo_model: Path) -> None:
    model = LocalProvider(LocalModelSpec(str(demo_model), n_ctx=512, n_threads=2))
    try:
        def kill_worker(n: int) -> None:
            if n == 2:
                os.kill(model._proc.pid, signal.SIGKILL)

        tokens, result = collect(model, Request.chat(STORY, sampling=Sampling(max_tokens=200)),
                                 on_token=kill_worker)
        assert result.finish_reason == "error"
        assert "crashed with SIGKILL" in result.error
        assert result.text == "".join(tokens) and len(tokens) >= 2, "the partial answer is kept"
        _, after = collect(model, Request.chat("Hi", sampling=Sampling(max_tokens=4)))
        assert after.error is None and after.completion_tokens > 0
    finally:
        model.close()


def test_a_prompt_longer_than_the_context_is_an_error_row(tiny_model: Path) -> None:
    model = LocalProvider(LocalModelSpec(str(tiny_model), n_ctx=64, n_threads=1))
    try:
        _, result = collect(model, Request.chat("hello " * 600, sampling=Sampling(max_tokens=4)))
        assert result.finish_reason == "error"
        assert re.search(r"the prompt is \d+ tokens, more than the context size of \d+", result.error)
    finally:
        model.close()


def test_a_model_without_chat_template_gets_chatml(tiny_model: Path) -> None:
    model = LocalProvider(LocalModelSpec(str(tiny_model), n_ctx=128, n_threads=1))
    try:
        _, result = collect(model, Request.chat("hello", sampling=Sampling(max_tokens=3)))
        assert result.error is None and result.completion_tokens >= 1
        assert model.load_info["chat_template"].startswith("chatml")
    finally:
        model.close()


def test_an_unknown_architecture_fails_to_load_with_llama_cpps_reason(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "alien.gguf", architecture="notarealarch")
    model = LocalProvider(LocalModelSpec(str(path), n_ctx=128))
    with pytest.raises(ProviderError, match="unknown model architecture: 'notarealarch'"):
        model.load()
    assert not model.loaded
    assert check_loadable([str(path)])[str(path)].startswith(f"cannot load {path}: unknown model architecture")


def test_a_damaged_file_fails_to_load_and_the_stream_says_so(tmp_path: Path, demo_model: Path) -> None:
    damaged = tmp_path / "damaged.gguf"
    with demo_model.open("rb") as src:
        damaged.write_bytes(src.read(4 << 20))  # a download cut short
    model = LocalProvider(LocalModelSpec(str(damaged), n_ctx=128))
    _, result = collect(model, Request.chat("Hi"))
    assert result.finish_reason == "error"
    assert result.error.startswith(f"cannot load {damaged}")


def test_a_cancel_stops_a_long_prompt_in_the_middle_of_its_step(demo_model: Path) -> None:
    """A long prompt is read in llama.cpp steps of up to n_batch tokens (here the whole prompt in one: seconds
    on a CPU): a cancel stops the step part way, not after it."""
    provider = LocalProvider(LocalModelSpec(str(demo_model), n_ctx=1024, n_threads=2, n_batch=1024))
    try:
        provider.load()
        prompt = " ".join(f"Item {n} is a red box." for n in range(16))  # about 150 tokens
        request = Request.chat(prompt + " Which item is blue?", sampling=Sampling(max_tokens=8))
        _, whole = collect(provider, request)  # the same step uncancelled, for its length
        assert whole.prompt_tokens > 120 and whole.time_to_first_token_ms > 300
        cancel = threading.Event()
        timer = threading.Timer(whole.time_to_first_token_ms / 1000 / 4, cancel.set)
        timer.start()
        started = time.perf_counter()
        _, result = collect(provider, request, cancel)
        ended_ms = (time.perf_counter() - started) * 1000
        assert result.finish_reason == "cancelled" and result.completion_tokens == 0
        # Ended long before the step would have: a quarter of its time, then the cancel's way through.
        assert ended_ms < whole.time_to_first_token_ms * 0.6, (ended_ms, whole.time_to_first_token_ms)
        _, after = collect(provider, Request.chat("Say hi.", sampling=Sampling(max_tokens=4)))
        assert after.error is None and after.completion_tokens > 0  # the worker answers on as before
    finally:
        provider.close()
