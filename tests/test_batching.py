"""Several cases of a suite decoded together by one llama.cpp worker (continuous batching), on the real
demo model: every request answered once, at most `n_parallel` at a time, the shared prompt prefix decoded
once, answers reproducible, cancel and identity honest, energy split so the answers add up."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from desktop_app.errors import UserError
from desktop_app.models.catalog import ModelCatalog
from desktop_app.providers.base import Admitted, Request, Result, Sampling, Token
from desktop_app.providers.local import LocalModelSpec, LocalProvider
from desktop_app.runner import events as ev
from desktop_app.runner.runner import Runner
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.suites import load_suite
from tests.conftest import demo_suite_copy

QUESTIONS = ["What is the capital of France?", "Name three colors.", "What is 2+2?", "Say hello in Spanish.",
             "What is the largest planet?", "Who wrote Hamlet?"]
SHORT = Sampling(max_tokens=12)


@pytest.fixture(scope="module")
def batched(demo_model: Path):
    """The demo model decoding up to 4 requests at once, loaded once for this module."""
    provider = LocalProvider(LocalModelSpec(str(demo_model), n_ctx=512, n_threads=2, n_parallel=4,
                                            n_ctx_batch=1024), label="demo")
    provider.load()
    yield provider
    provider.close()


@pytest.fixture(scope="module")
def tiny_batched(smol_tiny: Path):
    """The tiny model through the demo model's tokenizer, decoding up to 4 requests at once: for what does not
    hang on what the answers say (slots, seeds)."""
    provider = LocalProvider(LocalModelSpec(str(smol_tiny), n_ctx=512, n_threads=2, n_parallel=4,
                                            n_ctx_batch=1024), label="tiny")
    provider.load()
    yield provider
    provider.close()


def collect(provider: LocalProvider, requests: list[Request], cancel: threading.Event | None = None,
            on_token=None) -> tuple[list[tuple[int, object]], dict[int, Result]]:
    events, results = [], {}
    for index, item in provider.stream_many(requests, cancel):
        events.append((index, item))
        if isinstance(item, Result):
            results[index] = item
        elif isinstance(item, Token) and on_token is not None:
            on_token(index)
    return events, results


def test_a_batch_answers_every_request_once_at_most_n_parallel_at_a_time(tiny_batched: LocalProvider) -> None:
    requests = [Request.chat(q, sampling=SHORT) for q in QUESTIONS]
    events, results = collect(tiny_batched, requests)

    assert sorted(results) == list(range(len(QUESTIONS)))
    assert [i for i, item in events if isinstance(item, Result)].__len__() == len(QUESTIONS), "one result each"
    live, most = set(), 0
    for index, item in events:
        if isinstance(item, Admitted):
            live.add(index)
            most = max(most, len(live))
        elif isinstance(item, Token):
            assert index in live, "tokens only between a request's admission and its result"
        elif isinstance(item, Result):
            live.discard(index)
    assert most == 4, "four decoded together, never more"
    for index, result in results.items():
        streamed = "".join(item.text for i, item in events if i == index and isinstance(item, Token))
        assert result.ok and streamed == result.text and result.text.strip()
        assert result.parallel == 4 and result.completion_tokens and result.completion_tokens <= 12
        # The template's header and default system prompt, shared by every request, decoded once.
        assert result.cached_tokens and 4 <= result.cached_tokens < result.prompt_tokens
        assert result.batch_tokens_per_second and result.generation_tokens_per_second
        assert result.busy_seconds and result.busy_seconds > 0
    # The two admitted last waited for a slot: their time to first token counts from their admission.
    assert results[0].queued_ms < results[5].queued_ms


def test_a_batch_gives_the_same_answers_every_time_and_the_right_ones(batched: LocalProvider) -> None:
    requests = [Request.chat(q, "Answer in one short sentence.", sampling=SHORT) for q in QUESTIONS[:4]]
    first = collect(batched, requests)[1]
    second = collect(batched, requests)[1]
    assert [first[i].text for i in range(4)] == [second[i].text for i in range(4)]
    assert "Paris" in first[0].text


def test_each_request_keeps_its_own_seed_whatever_runs_beside_it(tiny_batched: LocalProvider) -> None:
    hot = Sampling(max_tokens=10, temperature=1.0, top_k=40, top_p=0.95, seed=7)
    alone = collect(tiny_batched, [Request.chat("Tell me a fact about cats.", sampling=hot)])[1][0]
    together = collect(tiny_batched, [Request.chat("Tell me a fact about cats.", sampling=hot),
                                      Request.chat("Tell me a fact about cats.", sampling=hot)])[1]
    other_seed = collect(tiny_batched, [Request.chat("Tell me a fact about cats.",
                                                     sampling=Sampling.from_dict({**hot.to_dict(), "seed": 8}))])[1][0]
    assert together[0].text == together[1].text, "the same seed draws the same tokens in one batch"
    assert alone.text and other_seed.text != alone.text, "the seed is the request's own"


def test_a_cancel_ends_the_answers_under_way_and_skips_the_rest(batched: LocalProvider) -> None:
    cancel = threading.Event()
    requests = [Request.chat(q, sampling=Sampling(max_tokens=200)) for q in QUESTIONS]
    started = time.perf_counter()
    events, results = collect(batched, requests, cancel, on_token=lambda _: cancel.set())
    assert time.perf_counter() - started < 30
    admitted = {i for i, item in events if isinstance(item, Admitted)}
    assert admitted == {0, 1, 2, 3}, "those waiting for a slot never start"
    assert set(results) == admitted and all(r.finish_reason == "cancelled" for r in results.values())
    # The worker is ready for the next batch.
    again = collect(batched, [Request.chat("What is 2+2?", sampling=SHORT)])[1]
    assert again[0].ok and again[0].text


def test_a_prompt_too_long_for_one_slot_is_an_error_of_its_own(batched: LocalProvider) -> None:
    long = Request.chat("word " * 600, sampling=SHORT)
    results = collect(batched, [long, Request.chat("What is 2+2?", sampling=SHORT)])[1]
    assert results[0].error_kind == "permanent" and "more than the context size of 512" in results[0].error
    assert results[1].ok


@pytest.fixture
def runner(store: Store) -> Runner:
    return Runner(store, Settings(threads=2, context_size=1024), ModelCatalog())


def test_a_suite_run_decodes_its_cases_together_and_its_energy_adds_up(runner: Runner, store: Store,
                                                                       demo_model: Path, tmp_path: Path) -> None:
    suite = load_suite(demo_suite_copy(tmp_path / "six.jsonl", 6))
    run_id = runner.create_run(suite, [runner.spec_for(demo_model)], Sampling(max_tokens=16))
    spec = store.run_models(run_id)[0]
    started = time.perf_counter()
    events = list(runner.execute(run_id))
    wall = time.perf_counter() - started

    assert '"n_parallel": 6' in spec["spec_json"], "automatic: every case at once when memory allows"
    assert events[-1] == ev.RunFinished(run_id, "complete")
    rows = store.results(run_id)
    assert len(rows) == 6 and all(r["parallel"] == 6 and r["batch_tokens_per_second"] for r in rows)
    # Each answer's share of the decoding time, by tokens: together they are the batch's time, not six times it.
    busy = sum(r["machine_seconds"] for r in rows)
    assert 0.3 * wall < busy <= wall
    assert all(r["energy_joules"] > 0 and r["cost_usd"] > 0 for r in rows)


def test_the_parallel_setting_is_part_of_an_answers_identity(runner: Runner, store: Store, smol_tiny: Path,
                                                             tmp_path: Path) -> None:
    suite = load_suite(demo_suite_copy(tmp_path / "two.jsonl", 2))
    one = runner.create_run(suite, [runner.spec_for(smol_tiny)], SHORT, parallel=1)
    list(runner.execute(one))
    assert {r["parallel"] for r in store.results(one)} == {1}
    again = runner.create_run(suite, [runner.spec_for(smol_tiny)], SHORT, parallel=1)
    assert all(e.reused for e in runner.execute(again) if isinstance(e, ev.CaseFinished))
    batched_run = runner.create_run(suite, [runner.spec_for(smol_tiny)], SHORT, parallel=2)
    finished = [e for e in runner.execute(batched_run) if isinstance(e, ev.CaseFinished)]
    assert finished and not any(e.reused for e in finished), "a one-at-a-time answer is not a batched one"
    assert {r["parallel"] for r in store.results(batched_run)} == {2}


def test_a_parallel_setting_that_cannot_fit_or_is_not_a_number_is_refused(runner: Runner, demo_model: Path,
                                                                         tmp_path: Path) -> None:
    suite = load_suite(demo_suite_copy(tmp_path / "two.jsonl", 2))
    with pytest.raises(UserError, match="--parallel must be 1 or more"):
        runner.create_run(suite, [runner.spec_for(demo_model)], SHORT, parallel=0)
    with pytest.raises(UserError, match="cannot decode 100000 cases at once on this machine"):
        runner.create_run(suite, [runner.spec_for(demo_model)], Sampling(max_tokens=1000), parallel=100_000)
    with pytest.raises(UserError, match="parallel must be from 1 to 256"):
        Settings(parallel=0).validate()


def test_automatic_parallel_takes_a_whole_suite_at_once_up_to_32_and_halves_to_fit(demo_model: Path) -> None:
    """A suite that fits in one batch does not wait on a second batch of a few (23 cases: 1.31x against 1.15x
    as 16 then 7, benchmarks/suite_throughput.py); memory still bounds it."""
    import dataclasses

    from desktop_app.models.fit import SAFETY_MIN_BYTES, estimate_fit
    from desktop_app.models.hardware import probe
    from desktop_app.runner.planning import batched_spec

    info = ModelCatalog().info(demo_model)
    spec = LocalModelSpec(str(demo_model), n_ctx=1024)
    roomy = dataclasses.replace(probe(), gpus=(), ram_total=64 << 30, ram_available=64 << 30)
    assert batched_spec(spec, info, roomy, [300] * 23, None).n_parallel == 23
    wide = batched_spec(spec, info, roomy, [300] * 40, None)
    assert (wide.n_parallel, wide.n_ctx_batch) == (32, 32 * 300)
    # Room for 16 such cases and not 32: half as many.
    sixteen = estimate_fit(info, roomy, context=16 * 300, gpu_layers=0)
    room = sixteen.estimated_bytes + SAFETY_MIN_BYTES + (1 << 20)  # what the estimate keeps free, and a little
    tight = dataclasses.replace(roomy, ram_total=room, ram_available=room)
    assert batched_spec(spec, info, tight, [300] * 40, None).n_parallel == 16
