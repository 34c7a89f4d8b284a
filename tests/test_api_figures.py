"""API answers whose figures can be trusted: empty answers are failures, resume retries what may pass,
the cost cap holds for every price and for cancelled answers, and latency counts from the request.

The API is llama.cpp's own OpenAI-compatible server on loopback, behind a proxy that injects faults.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest

from desktop_app.analysis.summary import summarize
from desktop_app.errors import UserError
from desktop_app.models.catalog import ModelCatalog
from desktop_app.providers.base import Sampling
from desktop_app.runner import events as ev
from desktop_app.runner.api_execution import pinned
from desktop_app.runner.runner import Runner
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.suites import load_suite
from tests.servers import Fault, FaultProxy

SAMPLING = Sampling(max_tokens=24)
PRICE = {"input_usd_per_mtok": 0.5, "output_usd_per_mtok": 1.5}


@pytest.fixture
def proxy(llama_server, monkeypatch):
    from desktop_app import keys

    proxy = FaultProxy(llama_server.base_url)
    monkeypatch.setenv(keys.env_var(keys.name_for_url(proxy.base_url)), llama_server.api_key)
    yield proxy
    proxy.stop()


def api_runner(store: Store, ref: str, price: dict | None = PRICE, **settings) -> Runner:
    overrides = {ref: price} if price else {}
    return Runner(store, Settings(threads=1, context_size=1024, price_overrides=overrides, **settings),
                  ModelCatalog())


def one_case(suite_path: Path, tmp_path: Path, n: int = 1) -> Path:
    lines = suite_path.read_text(encoding="utf-8").splitlines()
    path = tmp_path / f"cases-{n}.jsonl"
    path.write_text("\n".join(lines[: 1 + n]) + "\n", encoding="utf-8")
    return path


def start(runner: Runner, suite: Path, ref: str, **create) -> str:
    return runner.create_run(load_suite(suite), [runner.spec_for(ref)], SAMPLING, **create)


def test_an_empty_answer_is_retried_and_never_counted_as_an_answer(store: Store, proxy: FaultProxy,
                                                                   small_suite: Path, tmp_path: Path) -> None:
    ref = f"openai-compatible:demo@{proxy.base_url}"
    suite = one_case(small_suite, tmp_path)
    runner = api_runner(store, ref, api_max_retries=1)
    proxy.plan(Fault(empty=True))  # once: the retry gets a real answer
    run_id = start(runner, suite, ref)
    list(runner.execute(run_id))
    (row,) = store.results(run_id)
    assert row["error"] is None and row["text"] and row["completion_tokens"] > 0
    assert len(proxy.seen) == 2

    proxy.reset()
    proxy.plan(Fault(empty=True), Fault(empty=True))  # every try empty
    run_id = start(runner, suite, ref)
    events = list(runner.execute(run_id, reuse=False))
    (row,) = store.results(run_id)
    assert "empty answer" in row["error"] and row["error_kind"] == "transient"
    assert row["grade_passed"] is None, "an empty answer is not graded as a wrong one"
    assert summarize(store, run_id).models[0].errors == 1
    assert store.reusable_result(row["request_hash"])["id"] != row["id"], "never reused: the earlier answer is"
    assert events[-1].status == "failed" and "every answer failed" in events[-1].reason


def test_resume_retries_answers_that_failed_for_a_passing_reason(store: Store, proxy: FaultProxy,
                                                                 small_suite: Path) -> None:
    ref = f"openai-compatible:demo@{proxy.base_url}"
    runner = api_runner(store, ref, api_max_retries=0)
    proxy.plan(Fault(status=503))  # the first request: the server is overloaded
    run_id = start(runner, small_suite, ref)
    finished = list(runner.execute(run_id))[-1]
    assert finished.status == "incomplete" and "resume to retry" in finished.reason
    assert store.run(run_id)["status_reason"] == finished.reason
    failed = [r for r in store.results(run_id) if r["error"]]
    assert len(failed) == 1 and failed[0]["error_kind"] == "transient"

    events = list(runner.execute(run_id))  # a resume
    assert events[0].total == 3 and events[0].done == 2
    assert events[-1].status == "complete"
    rows = store.results(run_id)
    assert len(rows) == 3 and all(r["error"] is None for r in rows)


def test_a_refused_request_is_not_retried_by_resume(store: Store, proxy: FaultProxy, small_suite: Path,
                                                    tmp_path: Path) -> None:
    ref = f"openai-compatible:demo@{proxy.base_url}"
    runner = api_runner(store, ref, api_max_retries=0)
    proxy.plan(Fault(status=400, body={"error": {"message": "bad request"}}))
    run_id = start(runner, one_case(small_suite, tmp_path), ref)
    assert list(runner.execute(run_id))[-1].status == "failed"
    assert store.results(run_id)[0]["error_kind"] == "permanent"
    events = list(runner.execute(run_id))
    assert events[0].done == events[0].total == 1 and len(proxy.seen) == 1


def test_a_cancelled_answer_is_charged_for_what_streamed_and_a_resume_adds_to_it(
        store: Store, proxy: FaultProxy, small_suite: Path, tmp_path: Path) -> None:
    ref = f"openai-compatible:demo@{proxy.base_url}"
    runner = api_runner(store, ref)
    run_id = start(runner, one_case(small_suite, tmp_path), ref, max_cost_usd=1.0)
    cancel = threading.Event()
    for event in runner.execute(run_id, cancel):
        if isinstance(event, ev.TokenStreamed):
            cancel.set()  # after the first token
    (row,) = store.results(run_id)
    assert row["finish_reason"] == "cancelled" and row["error_kind"] == "transient"
    assert row["completion_tokens"] >= 1 and row["cost_usd"] > 0
    assert store.api_spend(run_id) == pytest.approx(row["cost_usd"])

    list(runner.execute(run_id))  # resume: answered in full, the cancelled attempt still counted
    (done,) = store.results(run_id)
    assert done["error"] is None and done["prior_attempts_usd"] == pytest.approx(row["cost_usd"])
    assert store.api_spend(run_id) == pytest.approx(row["cost_usd"] + done["cost_usd"])


def test_a_model_priced_by_the_hour_reserves_its_longest_answer_under_a_cap(
        store: Store, proxy: FaultProxy, small_suite: Path) -> None:
    ref = f"openai-compatible:demo@{proxy.base_url}"
    # $3,600 an hour is $1 a second; an answer may take 10 s: each request may cost $11 with the slack.
    runner = api_runner(store, ref, price={"usd_per_hour": 3600.0}, api_max_answer_s=10.0)
    run_id = start(runner, small_suite, ref, max_cost_usd=5.0)
    events = list(runner.execute(run_id))
    reached = [e for e in events if isinstance(e, ev.BudgetReached)]
    assert reached and reached[0].next_request_usd == pytest.approx(11.0)
    assert proxy.seen == [], "nothing is sent that could go over the cap"


def test_a_capped_run_asks_for_the_price_of_a_model_it_cannot_price(store: Store, proxy: FaultProxy,
                                                                     small_suite: Path) -> None:
    ref = f"openai-compatible:demo@{proxy.base_url}"
    runner = api_runner(store, ref, price=None)
    with pytest.raises(UserError, match="no known price.*prices set"):
        start(runner, small_suite, ref, max_cost_usd=1.0)
    # A run planned without a cap and resumed with one stops that model and says why.
    run_id = start(runner, small_suite, ref)
    events = list(runner.execute(run_id, max_cost_usd=1.0))
    assert any(isinstance(e, ev.PriceNeeded) for e in events)
    assert events[-1].status == "interrupted" and "no known price" in events[-1].reason
    assert proxy.seen == []


def test_latency_and_billing_count_from_the_request_not_the_backoff(store: Store, proxy: FaultProxy,
                                                                    small_suite: Path, tmp_path: Path) -> None:
    ref = f"openai-compatible:demo@{proxy.base_url}"
    runner = api_runner(store, ref, price={"usd_per_hour": 36.0})
    proxy.plan(Fault(status=503, headers={"Retry-After": "1"}))  # a one-second pause before the retry
    run_id = start(runner, one_case(small_suite, tmp_path), ref)
    list(runner.execute(run_id))
    (row,) = store.results(run_id)
    assert row["error"] is None
    billed = json.loads(row["usage_json"])["billed_seconds"]
    assert row["wall_time_ms"] < 1000 and billed < 1.0
    assert row["cost_usd"] == pytest.approx(36.0 * billed / 3600)


def test_api_answers_to_a_moving_alias_are_reused_only_for_a_while(store: Store, proxy: FaultProxy,
                                                                     small_suite: Path, tmp_path: Path) -> None:
    ref = f"openai-compatible:demo@{proxy.base_url}"
    suite = one_case(small_suite, tmp_path)
    runner = api_runner(store, ref, api_reuse_days=7.0)
    first = start(runner, suite, ref)
    list(runner.execute(first))
    (row,) = store.results(first)
    assert row["served_model"], "the model name the server reported is kept"
    assert len(proxy.seen) == 1

    second = start(runner, suite, ref)
    list(runner.execute(second))
    assert store.results(second)[0]["reused_from"] == row["id"] and len(proxy.seen) == 1

    week_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8)).isoformat()
    with store.transaction():
        store.db["results"].update(row["id"], {"created_at": week_ago})
    third = start(runner, suite, ref)
    list(runner.execute(third))
    assert store.results(third)[0]["reused_from"] is None and len(proxy.seen) == 2

    assert pinned("gpt-4o-mini-2024-07-18") and pinned("claude-3-5-haiku-20241022")
    assert not pinned("gpt-4o-mini") and not pinned("claude-sonnet-4-5")
