"""Figures that mean what they say: threads, a busy machine, models sharing it, reuse and resume.

Each test runs the real demo models and a real SQLite file; a busy machine is real busy processes.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from desktop_app import cli, paths
from desktop_app.analysis.projection import ModelProjection, Volume, order_note, project
from desktop_app.analysis.summary import ModelSummary, summarize
from desktop_app.costing.energy import EnergyMeter
from desktop_app.models.catalog import ModelCatalog
from desktop_app.providers.base import Sampling, request_hash
from desktop_app.providers.local import LocalProvider, llama_cpp_version, load_error_kind
from desktop_app.runner import events as ev
from desktop_app.runner.machine import MachineLedger
from desktop_app.runner.planning import request_for
from desktop_app.runner.runner import Runner
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.suites import load_suite

SAMPLING = Sampling(max_tokens=16)
PHYSICAL_CORES = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1


def runner_for(store: Store, **settings) -> Runner:
    return Runner(store, Settings(context_size=1024, **settings), ModelCatalog())


def run(runner: Runner, suite_path: Path, models: list[Path], **execute) -> tuple[str, list]:
    specs = [runner.spec_for(m) for m in models]
    run_id = runner.create_run(load_suite(suite_path), specs, SAMPLING)
    return run_id, list(runner.execute(run_id, **execute))


# Threads -------------------------------------------------------------------------------------

def test_local_models_use_every_physical_core_by_default_and_each_answer_says_how_many(
        store: Store, small_suite: Path, smol_tiny: Path) -> None:
    runner = runner_for(store)  # no thread setting: what a new user gets
    spec = runner.spec_for(smol_tiny)
    assert spec.n_threads == PHYSICAL_CORES and spec.adapt_threads  # the most: fewer while cores are busy
    run_id, events = run(runner, small_suite, [smol_tiny])
    assert events[-1].status == "complete"
    # What llama.cpp decoded with: every core on a quiet machine, fewer while other programs held cores
    # (tests/test_threads.py holds one busy on purpose); never a number it did not use.
    used = [r["threads"] for r in store.results(run_id)]
    assert all(1 <= threads <= PHYSICAL_CORES for threads in used), used
    assert summarize(store, run_id).models[0].threads == statistics.mode(used)

    explicit = runner_for(store, threads=1)
    assert explicit.spec_for(smol_tiny).n_threads == 1


# A busy machine ------------------------------------------------------------------------------

@pytest.fixture
def busy_machine():
    """Other programs keeping half the CPUs busy, at a normal priority."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(max(1, (psutil.cpu_count() or 2) // 2))]
    time.sleep(0.3)
    yield
    for proc in spinners:
        proc.kill()
        proc.wait()


def test_answers_measured_while_other_programs_keep_the_cpu_busy_are_flagged_and_left_out(
        small_suite: Path, demo_model: Path, busy_machine, capsys, tmp_path: Path) -> None:
    store = Store(paths.database_path())  # the user's store, so the command line reads it too
    # One thread beside the busy half of the CPUs: llama.cpp's threads wait for each other, so with
    # every core asked for and one taken, an answer takes a minute instead of a second.
    runner = runner_for(store, threads=1)
    two_cases = tmp_path / "two.jsonl"
    two_cases.write_text("\n".join(small_suite.read_text(encoding="utf-8").splitlines()[:3]) + "\n",
                         encoding="utf-8")
    run_id = runner.create_run(load_suite(two_cases), [runner.spec_for(demo_model)], Sampling(max_tokens=8))
    list(runner.execute(run_id))
    rows = store.results(run_id)
    assert rows and all(r["under_load"] == 1 for r in rows)
    assert all(r["other_cpu_share"] > 0.3 for r in rows), [r["other_cpu_share"] for r in rows]  # half, less noise
    assert all(r["load_average"] is not None for r in rows)

    summary = summarize(store, run_id).models[0]
    assert summary.under_load == len(rows)
    assert any("other programs kept the CPU busy" in note for note in summary.measurement_notes)

    # Once one answer was measured on a quiet machine, the busy ones are left out of speed and cost.
    quiet = rows[0]
    with store.transaction():
        store.db["results"].update(quiet["id"], {"under_load": 0, "generation_tokens_per_second": 123.0,
                                                 "batch_tokens_per_second": 123.0, "completion_tokens": 11})
    summary = summarize(store, run_id).models[0]
    assert summary.tokens_per_second == pytest.approx(123.0)
    assert summary.measured_answers == 1
    assert summary.cost_per_answer_usd == pytest.approx(quiet["cost_usd"])
    assert len(rows) == 2
    assert "1 answer measured while other programs kept the CPU busy is left out of speed and cost" in \
        summary.measurement_notes

    # The command line says so too.
    capsys.readouterr()
    assert cli.main(["results", run_id]) == 0
    out = capsys.readouterr().out
    assert "tok/s" in out and "*" in out and "other programs kept the CPU busy" in out
    store.close()


# Sharing the machine -------------------------------------------------------------------------

def test_the_ledger_splits_time_and_energy_between_answers_in_flight() -> None:
    ledger = MachineLedger(EnergyMeter(100.0, powercap=Path("/nonexistent")))  # 100 W, configured
    started = time.perf_counter()
    a = ledger.begin(None)
    time.sleep(0.2)
    b = ledger.begin(None)
    time.sleep(0.2)
    first = ledger.end(a)
    time.sleep(0.2)
    second = ledger.end(b)
    elapsed = time.perf_counter() - started
    # Alone 0.2 s, then half of 0.2 s: 0.3 s each, and together what the machine drew.
    assert first.machine_seconds == pytest.approx(0.3, abs=0.03)
    assert second.machine_seconds == pytest.approx(0.3, abs=0.03)
    assert first.joules + second.joules == pytest.approx(100.0 * elapsed, rel=0.02)
    assert first.sharing == second.sharing == 1


def test_models_answering_side_by_side_share_the_machines_cost_and_say_so(
        store: Store, small_suite: Path, demo_model: Path, demo_variant: Path) -> None:
    runner = runner_for(store, device_watts=50.0)
    started = time.perf_counter()
    run_id, events = run(runner, small_suite, [demo_model, demo_variant], concurrent=True)
    elapsed = time.perf_counter() - started
    assert events[-1].status == "complete"
    rows = store.results(run_id)
    assert any(r["sharing"] == 1 for r in rows)
    # Split, the answers' shares add up to at most the time the run took, not twice it.
    assert sum(r["machine_seconds"] for r in rows) <= elapsed
    if EnergyMeter(50.0).source != "rapl":
        assert sum(r["energy_joules"] for r in rows) <= 50.0 * elapsed * 1.01
    shared = [r for r in rows if r["sharing"]]
    assert all(json.loads(r["cost_json"])["shared_with"] == 1 for r in shared)
    assert all(r["threads"] == max(1, PHYSICAL_CORES // 2) for r in rows)
    for model in summarize(store, run_id).models:
        assert any("2 local models shared the CPU" in note for note in model.measurement_notes)


def test_a_suite_run_measures_each_local_model_alone(store: Store, small_suite: Path, demo_model: Path,
                                                      demo_variant: Path) -> None:
    runner = runner_for(store)
    started = time.perf_counter()
    run_id, events = run(runner, small_suite, [demo_model, demo_variant])
    elapsed = time.perf_counter() - started
    rows = store.results(run_id)
    assert len(rows) == 6 and {r["sharing"] for r in rows} == {0}
    for model in {r["model_key"] for r in rows}:
        # Alone, a model's cases (decoded together) share its time: their shares add up to the batch's
        # time (at least the longest answer's: all three start at once), not three times it.
        batch = [r for r in rows if r["model_key"] == model]
        assert {r["parallel"] for r in batch} == {3}
        longest = max(r["wall_time_ms"] for r in batch) / 1000
        assert 0.9 * longest <= sum(r["machine_seconds"] for r in batch)
    assert sum(r["machine_seconds"] for r in rows) <= elapsed, "one model after the other, each alone"
    assert not any("shared" in n for m in summarize(store, run_id).models for n in m.measurement_notes)


# Reuse ---------------------------------------------------------------------------------------

def test_reused_answers_keep_text_and_grade_and_say_where_their_figures_come_from(
        store: Store, small_suite: Path, smol_tiny: Path) -> None:
    one_thread = runner_for(store, threads=1)
    first, _ = run(one_thread, small_suite, [smol_tiny])
    original = store.results(first)
    store.set_human_label(original[0]["id"], 1)

    two_threads = runner_for(store, threads=2)
    second, events = run(two_threads, small_suite, [smol_tiny])
    assert [e.reused for e in events if isinstance(e, ev.CaseFinished)] == [True] * len(original)
    reused = store.results(second)
    by_case = {r["case_id"]: r for r in reused}
    for old in original:
        new = by_case[old["case_id"]]
        assert new["text"] == old["text"] and new["grade_passed"] == old["grade_passed"]
        assert new["reused_from"] == old["id"] and new["measured_in_run"] == first
        assert new["threads"] == 1  # the measurement's own conditions, not this run's
    assert by_case[original[0]["case_id"]]["human_label"] is None, \
        "a person's verdict belongs to the run it was given in"
    notes = summarize(store, second).models[0].measurement_notes
    assert any(f"measured in run {first} under other settings" in n for n in notes)

    # Reused from a run with the same threads and hardware: its figures stand, and say where from.
    third, _ = run(one_thread, small_suite, [smol_tiny])
    rows = store.results(third)
    assert {r["reused_from"] for r in rows} == {r["id"] for r in original}, "reuse points at the measurement"
    notes = summarize(store, third).models[0].measurement_notes
    assert any(f"reused from run {first} (same threads and hardware)" in n for n in notes)
    assert not any("other settings" in n for n in notes)


def test_a_resume_after_upgrading_llama_cpp_does_not_reuse_the_old_versions_answers(
        store: Store, small_suite: Path, smol_tiny: Path) -> None:
    runner = runner_for(store, threads=2)
    suite = load_suite(small_suite)
    spec = runner.spec_for(smol_tiny)
    earlier, _ = run(runner, small_suite, [smol_tiny])
    # Pretend the earlier answers came from an older llama.cpp, and the next run was planned then too.
    old_identity = {**LocalProvider(spec, sha256=ModelCatalog().sha256(smol_tiny)).identity(),
                    "llama_cpp": "0.3.1"}
    with store.transaction():
        for row, case in zip(store.results(earlier), suite.cases):
            store.db["results"].update(row["id"], {"request_hash": request_hash(old_identity,
                                                                                request_for(case, SAMPLING))})
    run_id = runner.create_run(suite, [spec], SAMPLING)
    with store.transaction():
        store.db.execute("update run_models set identity_json = ? where run_id = ?",
                         [json.dumps(old_identity), run_id])
    events = list(runner.execute(run_id))
    assert not any(e.reused for e in events if isinstance(e, ev.CaseFinished))
    for row in store.results(run_id):
        assert json.loads(row["identity_json"])["llama_cpp"] == llama_cpp_version()
        assert row["reused_from"] is None


# Resume finishes the work --------------------------------------------------------------------

def test_a_failed_load_for_lack_of_memory_is_retried_on_resume_a_bad_file_is_not() -> None:
    assert load_error_kind("cannot load x: the llama.cpp worker crashed with SIGKILL (often the system "
                           "running out of memory)") == "transient"
    assert load_error_kind("cannot load x: llama.cpp failed (failed to allocate CPU buffer)") == "transient"
    assert load_error_kind("cannot load x: unknown model architecture 'foo'") == "permanent"


# The projection and the plot ---------------------------------------------------------------

def test_the_plot_and_the_projection_price_with_the_same_settings(demo_run_db, tmp_path: Path) -> None:
    database, run_id = demo_run_db  # a stored run of the demo models: pricing it needs no new answers
    store = Store(shutil.copy(database, tmp_path / "runs.db"))
    cheap, dear = Settings(electricity_usd_per_kwh=0.10), Settings(electricity_usd_per_kwh=0.40)
    plot_cheap = summarize(store, run_id, cheap).models[0].cost_per_answer_usd
    plot_dear = summarize(store, run_id, dear).models[0].cost_per_answer_usd
    assert plot_dear == pytest.approx(4 * plot_cheap)
    volume = Volume(1000, 500, 250)
    assert project(store, run_id, dear, volume).models[0].usd_per_request == pytest.approx(
        4 * project(store, run_id, cheap, volume).models[0].usd_per_request)
    store.close()


def _summary(name: str, cost: float, prompt_tps: float, tps: float, local: bool = True) -> ModelSummary:
    return ModelSummary(model=name, provider="llama.cpp" if local else "openai", path=None, quantization=None,
                        file_size=None, cases=10, answered=10, graded=10, passed=5, quality=0.5,
                        quality_low=0.2, quality_high=0.8, errors=0, tokens_per_second=tps,
                        time_to_first_token_ms=100, wall_time_ms=500, completion_tokens=1000,
                        prompt_tokens=200, peak_memory_bytes=None, cost_usd=cost * 10,
                        cost_per_answer_usd=cost, cost_per_million_tokens_usd=None,
                        prompt_tokens_per_second=prompt_tps)


def test_the_projection_says_in_one_line_when_and_why_it_orders_models_otherwise_than_the_plot() -> None:
    # The suite's answers are long and its prompts short; A writes fast, B reads prompts fast.
    a, b = _summary("A", 1e-5, prompt_tps=100, tps=200), _summary("B", 2e-5, prompt_tps=2000, tps=50)
    volume = Volume(100, input_tokens=4000, output_tokens=50)  # prompt-heavy requests
    projected = [ModelProjection("A", True, 40.0, 4e-4, 1.2, None, None),
                 ModelProjection("B", True, 3.0, 3e-5, 0.09, None, None)]
    note = order_note([a, b], projected, volume, Settings())
    assert "ranks B cheaper than A, unlike the plot" in note
    assert "prompt-heavier requests favour B" in note and "4,000 in, 50 out" in note
    same_order = [ModelProjection("A", True, 1.0, 1e-5, 0.03, None, None),
                  ModelProjection("B", True, 2.0, 2e-5, 0.06, None, None)]
    assert order_note([a, b], same_order, volume, Settings()) == ""
