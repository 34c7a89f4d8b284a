"""The runner on real models and a real SQLite file: store as it goes, resume, reuse, survive failures."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import psutil
import pytest

from desktop_app.errors import UserError
from desktop_app.models.catalog import ModelCatalog
from desktop_app.providers.base import ProviderError, Sampling
from desktop_app.runner import events as ev
from desktop_app.runner.runner import Runner
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.suites import load_suite
from tests.conftest import is_worker
from tests.ggufs import write_tiny_gguf

SAMPLING = Sampling(max_tokens=24)


@pytest.fixture
def runner(store: Store) -> Runner:
    return Runner(store, Settings(threads=2, context_size=1024), ModelCatalog())


def drain(runner: Runner, run_id: str, **kwargs) -> list:
    return list(runner.execute(run_id, **kwargs))


def test_a_run_stores_every_answer_with_what_reproduces_it(runner: Runner, store: Store, small_suite: Path,
                                                          demo_model: Path, demo_variant: Path) -> None:
    suite = load_suite(small_suite)
    run_id = runner.create_run(suite, [runner.spec_for(demo_model), runner.spec_for(demo_variant)], SAMPLING)
    events = drain(runner, run_id)

    assert isinstance(events[0], ev.RunStarted) and events[0].total == 6
    assert events[-1] == ev.RunFinished(run_id, "complete")
    finished = [e for e in events if isinstance(e, ev.CaseFinished)]
    assert [e.done for e in finished] == [1, 2, 3, 4, 5, 6]
    assert sum(isinstance(e, ev.ModelLoading) for e in events) == 2, "each model loads once per run"
    streamed = "".join(e.text for e in events if isinstance(e, ev.TokenStreamed)
                       and e.case_id == finished[0].case_id and e.model_key == finished[0].model_key)
    assert streamed == finished[0].row["text"]

    rows = store.results(run_id)
    assert len(rows) == 6
    for row in rows:
        assert row["error"] is None and row["text"]
        assert row["completion_tokens"] > 0 and row["time_to_first_token_ms"] > 0
        assert row["grade_passed"] in (0, 1) and 0 <= row["grade_score"] <= 1 and row["grade_reason"]
        assert row["energy_joules"] > 0 and row["cost_usd"] > 0
        assert json.loads(row["request_json"])["sampling"]["seed"] == 0
    run = store.run(run_id)
    assert run["status"] == "complete" and run["llama_cpp_version"] == "0.3.36"
    assert json.loads(run["hardware_json"])["ram_total"] > 0
    assert json.loads(run["suite_json"])["version"] == suite.version
    models = store.run_models(run_id)
    assert [m["model_key"] for m in models] == ["SmolLM2-135M-Instruct.Q4_1", demo_variant.stem]
    identity = json.loads(models[0]["identity_json"])
    assert identity["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert json.loads(models[0]["metadata_json"])["quantization"] == "Q4_1"


def test_an_interrupted_run_resumes_where_it_stopped(store: Store, small_suite: Path, smol_tiny: Path) -> None:
    # One case at a time: batched, the third case can finish in the same step as the second, before the
    # cancel is seen (then the run is rightly complete).
    runner = Runner(store, Settings(threads=2, context_size=1024, parallel=1), ModelCatalog())
    run_id = runner.create_run(load_suite(small_suite), [runner.spec_for(smol_tiny)], SAMPLING)
    cancel = threading.Event()
    first = []
    for event in runner.execute(run_id, cancel):
        first.append(event)
        if isinstance(event, ev.CaseFinished) and event.done == 2:
            cancel.set()
    assert first[-1].status == "interrupted"
    assert store.run(run_id)["status"] == "interrupted"
    assert len(store.results(run_id)) == 2

    second = drain(runner, run_id)
    assert second[0] == ev.RunStarted(run_id, 3, 2)
    assert [e.done for e in second if isinstance(e, ev.CaseFinished)] == [3]
    assert second[-1].status == "complete"
    assert sorted(r["case_id"] for r in store.results(run_id)) == sorted(
        c.id for c in load_suite(small_suite).cases)


def test_identical_requests_reuse_stored_answers_without_loading(runner: Runner, store: Store,
                                                                 small_suite: Path, smol_tiny: Path) -> None:
    suite = load_suite(small_suite)
    first = runner.create_run(suite, [runner.spec_for(smol_tiny)], SAMPLING)
    drain(runner, first)
    second = runner.create_run(suite, [runner.spec_for(smol_tiny)], SAMPLING)
    events = drain(runner, second)
    assert not any(isinstance(e, ev.ModelLoading) for e in events)
    old = {r["case_id"]: r for r in store.results(first)}
    for row in store.results(second):
        assert row["reused_from"] == old[row["case_id"]]["id"]
        assert row["text"] == old[row["case_id"]]["text"]

    changed = runner.create_run(suite, [runner.spec_for(smol_tiny)], Sampling(max_tokens=24, seed=5))
    assert any(isinstance(e, ev.ModelLoading) for e in drain(runner, changed)), "a new seed is a new request"


def test_a_model_that_fails_to_load_becomes_error_rows_and_the_others_go_on(
        runner: Runner, store: Store, small_suite: Path, demo_model: Path, tmp_path: Path) -> None:
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    run_id = runner.create_run(load_suite(small_suite), [runner.spec_for(tiny), runner.spec_for(demo_model)],
                               SAMPLING)
    tiny.write_bytes(tiny.read_bytes()[:2000])  # damaged after planning, before loading
    events = drain(runner, run_id)
    failed = [e for e in events if isinstance(e, ev.ModelFailed)]
    assert len(failed) == 1 and "tiny" in failed[0].model_key
    rows = store.results(run_id)
    assert [r["error"] is not None for r in rows] == [True] * 3 + [False] * 3
    assert events[-1].status == "complete"


def test_a_worker_crash_is_an_error_on_that_case_and_the_run_goes_on(
        runner: Runner, store: Store, small_suite: Path, demo_model: Path) -> None:
    # One case at a time: the crash takes only the answer under way (in a batch it takes all in flight).
    run_id = runner.create_run(load_suite(small_suite), [runner.spec_for(demo_model)], Sampling(max_tokens=48),
                               parallel=1)
    killed = False
    for event in runner.execute(run_id):
        if isinstance(event, ev.TokenStreamed) and not killed:
            for child in psutil.Process().children(recursive=True):
                if is_worker(child):  # not the resource tracker or the fork server
                    child.kill()
            killed = True
    rows = store.results(run_id)
    assert len(rows) == 3
    assert "crashed with SIGKILL" in rows[0]["error"]
    assert rows[1]["error"] is None and rows[2]["error"] is None, "the worker restarts for the next case"


def test_planning_refuses_bad_models_before_storing_anything(runner: Runner, store: Store, small_suite: Path,
                                                             demo_model: Path, tmp_path: Path) -> None:
    suite = load_suite(small_suite)
    alien = write_tiny_gguf(tmp_path / "alien.gguf", architecture="notarealarch")
    with pytest.raises(ProviderError, match="does not know the model architecture 'notarealarch'"):
        runner.create_run(suite, [runner.spec_for(demo_model), runner.spec_for(alien)], SAMPLING)
    with pytest.raises(UserError, match="does not fit this machine at a context of 100000000"):
        runner.create_run(suite, [runner.spec_for(demo_model, context=100_000_000)], SAMPLING)
    with pytest.raises(UserError, match="no model"):
        runner.create_run(suite, [], SAMPLING)
    assert store.runs() == []


def test_side_by_side_runs_both_models_at_once_and_keeps_pooled_models_loaded(
        store: Store, small_suite: Path, demo_model: Path, demo_variant: Path) -> None:
    from desktop_app.providers.pool import ModelPool

    pool = ModelPool()
    runner = Runner(store, Settings(context_size=1024), ModelCatalog(), pool=pool)
    try:
        suite = load_suite(small_suite)
        run_id = runner.create_run(suite, [runner.spec_for(demo_model), runner.spec_for(demo_variant)],
                                   SAMPLING, kind="compare")
        events = drain(runner, run_id, concurrent=True)
        keys = [e.model_key for e in events if isinstance(e, ev.TokenStreamed)]
        first_done = next(i for i, e in enumerate(events) if isinstance(e, ev.CaseFinished))
        assert len(set(keys[:first_done])) == 2, "both models stream before either finishes a case"
        assert events[-1].status == "complete" and len(store.results(run_id)) == 6
        assert [e.done for e in events if isinstance(e, ev.CaseFinished)] == [1, 2, 3, 4, 5, 6]
        assert len(pool.loaded()) == 2, "the app's pool keeps models loaded after the run"
        pids = {p._proc.pid for p in pool.loaded()}
        # The same comparison again, with new answers to give (a shorter limit): the loaded workers answer.
        again = runner.create_run(suite, [runner.spec_for(demo_model), runner.spec_for(demo_variant)],
                                  Sampling(max_tokens=8), kind="compare")
        assert not any(isinstance(e, ev.ModelLoading) for e in drain(runner, again, concurrent=True)), "no reload"
        assert {p._proc.pid for p in pool.loaded()} == pids
    finally:
        pool.close_all()
    assert pool.loaded() == []


def test_stopping_a_side_by_side_run_stops_every_model(store: Store, small_suite: Path, demo_model: Path,
                                                      demo_variant: Path) -> None:
    runner = Runner(store, Settings(context_size=1024), ModelCatalog())
    run_id = runner.create_run(load_suite(small_suite), [runner.spec_for(demo_model),
                                                          runner.spec_for(demo_variant)], Sampling(max_tokens=200))
    cancel = threading.Event()
    events = []
    for event in runner.execute(run_id, cancel, concurrent=True):
        events.append(event)
        if isinstance(event, ev.TokenStreamed) and not cancel.is_set():
            cancel.set()
    assert events[-1].status == "interrupted"
    assert not [p for p in psutil.Process().children(recursive=True) if is_worker(p)
                and p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
