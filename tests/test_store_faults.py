"""The store under faults: a read-only data folder or database, a run owned by another process, and more
runs than fit on one screen. Real SQLite files, real `modelscout` processes."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from desktop_app.storage.store import RunInUse, Store, StoreError, dumps
from tests.conftest import SUITES, modelscout_here

ROOT = Path(__file__).resolve().parent.parent


def modelscout(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, check=False, env={**os.environ, "MODELSCOUT_HOME": str(home)})


def stored_run(store: Store, run_id: str = "feedc0de", suite: str = "demo", created_at: str | None = None,
               model: str = "smol", answered: int = 4) -> str:
    """A finished run of one local model on four cases, as the runner stores one."""
    cases = [{"id": f"c{i}", "prompt": "?"} for i in range(4)]
    store.create_run({"id": run_id, "kind": "suite", "suite_name": suite, "suite_version": "1",
                      "suite_json": dumps({"name": suite, "version": "1", "cases": cases}), "hardware_json": "{}",
                      **({"created_at": created_at} if created_at else {})},
                     [{"model_key": model, "provider": "llama.cpp", "path": f"/models/{model}.gguf",
                       "spec_json": dumps({"path": f"/models/{model}.gguf", "n_ctx": 1024}),
                       "metadata_json": dumps({})}])
    for case in cases[:answered]:
        store.add_result({"run_id": run_id, "model_key": model, "case_id": case["id"], "text": "x",
                          "finish_reason": "stop", "prompt_tokens": 10, "completion_tokens": 5,
                          "wall_time_ms": 100.0, "generation_tokens_per_second": 50.0, "cost_usd": 1e-6,
                          "grade_passed": 1, "grade_score": 1.0})
    store.set_run_status(run_id, "complete")
    return run_id


def folder_with_a_run(home: Path) -> str:
    store = Store(home / "modelscout.db")
    try:
        return stored_run(store)
    finally:
        store.close()  # the last connection: SQLite folds the WAL back in and removes it


@contextmanager
def read_only(*targets: Path):
    """Make folders and files read-only for this process. Root writes through permission bits, so as root
    the files are made immutable (chattr +i), which stops root too."""
    if sys.platform == "win32":
        pytest.skip("Windows has no read-only folders by permission bits; this checks POSIX permissions")
    if getattr(os, "geteuid", lambda: 1)() == 0:
        chattr = shutil.which("chattr")
        if chattr is None:
            pytest.skip("running as root, where permission bits do not stop writes, and chattr (to make the "
                        "folder immutable instead) is not installed")
        made = subprocess.run([chattr, "+i", *map(str, targets)], capture_output=True, text=True, check=False)
        if made.returncode != 0:
            pytest.skip(f"running as root, where permission bits do not stop writes, and chattr +i failed "
                        f"here ({made.stderr.strip()}): this file system or container cannot make files immutable")
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", *map(str, targets)], check=True)
        return
    modes = {t: t.stat().st_mode for t in targets}
    for target in targets:
        target.chmod(0o555 if target.is_dir() else 0o444)
    try:
        yield
    finally:
        for target, mode in modes.items():
            target.chmod(mode)


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# A read-only data folder or database ----------------------------------------------------------------------

def test_reading_commands_work_on_a_read_only_data_folder(modelscout_home: Path) -> None:
    run_id = folder_with_a_run(modelscout_home)
    before = sorted(p.name for p in modelscout_home.iterdir())
    with read_only(modelscout_home, modelscout_home / "modelscout.db"):
        listed = modelscout(modelscout_home, "runs")  # a real process; the others in this one, the same code
        assert listed.returncode == 0 and run_id in listed.stdout, listed.stderr
        results = modelscout_here("results", run_id, home=modelscout_home)
        assert results.returncode == 0 and "smol" in results.stdout and "4/4" in results.stdout, results.stderr
        for args in (["project", run_id, "--requests-per-day", "100"], ["recommend", run_id],
                     ["runs", "--json"], ["score", "--help"]):
            proc = modelscout_here(*args, home=modelscout_home)
            assert proc.returncode == 0 and "Traceback" not in proc.stderr, (args, proc.stderr)
        assert sorted(p.name for p in modelscout_home.iterdir()) == before


def test_writing_commands_on_a_read_only_data_folder_say_so_in_one_line(modelscout_home: Path,
                                                                        demo_model: Path) -> None:
    run_id = folder_with_a_run(modelscout_home)
    with read_only(modelscout_home, modelscout_home / "modelscout.db"):
        resume = modelscout(modelscout_home, "run", "--resume", run_id)  # a real process, then this one
        new = modelscout_here("run", "--suite", str(SUITES / "demo.jsonl"), "--model", str(demo_model),
                              home=modelscout_home)
        for proc in (resume, new):
            assert proc.returncode == 1, proc.stderr
            assert one_line(proc) == (
                f"modelscout: error: the data folder {modelscout_home} is read-only: make it writable, or choose "
                f"a writable data folder (Settings > Data folder, or the MODELSCOUT_HOME environment variable)")


def test_a_read_only_database_file_is_read_and_refuses_writes_in_words(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store = Store(path)
    run_id = stored_run(store)
    store.close()
    with read_only(path):
        store = Store(path)
        try:
            assert store.read_only and str(path) in store.read_only
            assert [r["id"] for r in store.runs()] == [run_id] and len(store.results(run_id)) == 4
            with pytest.raises(StoreError, match=f"the database {path} is read-only: make it writable"):
                store.set_run_status(run_id, "interrupted")
            with pytest.raises(StoreError, match="is read-only"):
                store.claim_run(run_id)
        finally:
            store.close()
    reopened = Store(path)
    assert reopened.run(run_id)["status"] == "complete"
    reopened.close()


def test_a_data_folder_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    home = parent / "home"
    with read_only(parent):
        proc = modelscout(home, "runs")
    assert proc.returncode == 1
    line = one_line(proc)
    assert line.startswith("modelscout: error: cannot create the ") and str(home) in line
    assert "point MODELSCOUT_HOME at a writable folder" in line


def test_a_read_only_database_that_needs_an_update_says_so(modelscout_home: Path) -> None:
    folder_with_a_run(modelscout_home)
    import sqlite3

    with sqlite3.connect(modelscout_home / "modelscout.db") as conn:  # as an older ModelScout left it
        conn.execute("delete from _migrations where name = 'm006_run_owner'")
    conn.close()
    with read_only(modelscout_home, modelscout_home / "modelscout.db"):
        proc = modelscout(modelscout_home, "runs")
    assert proc.returncode == 1
    assert one_line(proc) == (
        f"modelscout: error: the database {modelscout_home / 'modelscout.db'} was written by an older ModelScout "
        f"and needs an update before it can be read, but the data folder {modelscout_home} is read-only: make it "
        f"writable, or choose a writable data folder (Settings > Data folder, or the MODELSCOUT_HOME environment "
        f"variable)")


# Who runs a run -------------------------------------------------------------------------------------------

def owned_by(store: Store, run_id: str, pid: int, host: str, started: float, heartbeat: dt.datetime) -> None:
    store.db.execute("update runs set status = 'running', owner_pid = ?, owner_host = ?, owner_started = ?, "
                     "heartbeat_at = ? where id = ?", [pid, host, started, heartbeat.isoformat(), run_id])
    store.db.conn.commit()


def test_a_run_owned_on_another_machine_is_refused_until_its_heartbeat_goes_stale(store: Store) -> None:
    run_id = stored_run(store, answered=2)
    now = dt.datetime.now(dt.timezone.utc)
    owned_by(store, run_id, 4242, "another-machine", 1.0e9, now - dt.timedelta(seconds=5))
    with pytest.raises(RunInUse) as refused:
        store.claim_run(run_id)
    assert refused.value.exit_code == 2
    assert str(refused.value).startswith(f"run {run_id} is still running in process 4242 on another-machine "
                                         f"(last heard from ")
    assert store.run_owner(run_id).pid == 4242 and store.run(run_id)["status"] == "running"

    owned_by(store, run_id, 4242, "another-machine", 1.0e9, now - dt.timedelta(seconds=120))
    store.claim_run(run_id)
    owner = store.run_owner(run_id)
    assert (owner.pid, owner.host) == (os.getpid(), socket.gethostname()) and owner.is_this_process


def test_an_owner_on_this_machine_counts_while_its_process_lives(store: Store, tmp_path: Path) -> None:
    import psutil

    run_id = stored_run(store, answered=2)
    stale = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)  # a heartbeat means nothing here
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = psutil.Process(sleeper.pid).create_time()
        owned_by(store, run_id, sleeper.pid, socket.gethostname(), started, stale)
        with pytest.raises(RunInUse, match=f"still running in process {sleeper.pid} on this machine"):
            store.claim_run(run_id)
        # The same pid with another start time is another process (a recycled pid): not the owner.
        owned_by(store, run_id, sleeper.pid, socket.gethostname(), started - 3600, stale)
        assert store.live_owner_elsewhere(run_id) is None
        owned_by(store, run_id, sleeper.pid, socket.gethostname(), started, stale)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert store.live_owner_elsewhere(run_id) is None
    store.claim_run(run_id)
    store.set_run_status(run_id, "interrupted")
    assert store.run_owner(run_id) is None  # stopped: nobody owns it


def test_the_heartbeat_moves_only_for_the_owner(store: Store) -> None:
    run_id = stored_run(store, answered=2)
    old = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    owned_by(store, run_id, 4242, "another-machine", 1.0e9, old)
    store.heartbeat(run_id)
    assert store.run_owner(run_id).heartbeat_at == old.isoformat()
    store.claim_run(run_id)
    first = store.run_owner(run_id).heartbeat_at
    store.heartbeat(run_id)
    assert store.run_owner(run_id).heartbeat_at >= first > old.isoformat()


# More runs than one screen --------------------------------------------------------------------------------

def many_runs(store: Store, count: int = 60) -> list[str]:
    """Runs of two suites and two models, created a minute apart; newest first."""
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    ids = []
    for i in range(count):
        ids.append(stored_run(store, f"{i:04d}beef", suite="Demo" if i % 2 else "support_tickets",
                              created_at=(start + dt.timedelta(minutes=i)).isoformat(),
                              model="smol-q4" if i % 3 else "qwen-7b", answered=1))
    return ids[::-1]


def test_runs_page_through_all_of_them_and_search(store: Store) -> None:
    ids = many_runs(store)
    assert [r["id"] for r in store.runs()] == ids[:50]  # the old call still works
    pages = [r["id"] for offset in range(0, 60, 25) for r in store.runs(limit=25, offset=offset)]
    assert pages == ids and [r["id"] for r in store.runs(limit=None)] == ids
    assert store.count_runs() == 60

    assert [r["id"] for r in store.runs(search="0042")] == ["0042beef"]  # an id prefix
    assert store.count_runs("beef") == 0  # the id is matched from its start only
    demo = store.runs(limit=None, search="demo")  # a suite's name, any case
    assert len(demo) == store.count_runs("demo") == 30 and {r["suite_name"] for r in demo} == {"Demo"}
    qwen = store.runs(limit=None, search="QWEN")  # a model's label
    assert store.count_runs("qwen") == len(qwen) == 20
    assert store.count_runs("support_") == 30 and store.count_runs("support%") == 0  # wildcards are text
    assert store.count_runs("/models/smol-q4.gguf") == 40  # a model's file
    assert store.runs(search="nothing like it") == [] and store.count_runs("  ") == 60


def test_the_runs_command_says_when_it_shows_only_some(modelscout_home: Path) -> None:
    store = Store(modelscout_home / "modelscout.db")
    ids = many_runs(store)
    store.close()

    # What the command prints, run in this process (the tests above start real ones).
    default = modelscout_here("runs")
    assert default.returncode == 0
    assert [line.split()[0] for line in default.stdout.splitlines()[2:]] == ids[:50]
    assert default.stderr.strip() == "showing 50 of 60 runs; --all or --limit N for more"

    few = modelscout_here("runs", "--limit", "5")
    assert len(few.stdout.splitlines()) == 2 + 5
    assert few.stderr.strip() == "showing 5 of 60 runs; --all or --limit N for more"

    every = modelscout_here("runs", "--all")
    assert [line.split()[0] for line in every.stdout.splitlines()[2:]] == ids and every.stderr == ""

    found = modelscout_here("runs", "--search", "qwen", "--limit", "3")
    assert len(found.stdout.splitlines()) == 2 + 3
    assert found.stderr.strip() == "showing 3 of 20 runs; --all or --limit N for more"


def test_a_run_is_owned_while_it_runs_its_heartbeat_renewed_and_released_at_the_end(
        store: Store, small_suite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's side: it claims the run, renews the heartbeat as events flow and lets go when it stops.
    The model is an API server on a loopback port nobody listens on, so every answer fails at once."""
    from desktop_app.models.catalog import ModelCatalog
    from desktop_app.providers.base import Sampling
    from desktop_app.runner import runner as runner_module
    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings
    from desktop_app.suites import load_suite

    with socket.socket() as probe:  # a port that was free a moment ago: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(runner_module, "HEARTBEAT_SECONDS", 0.0)  # beat on every event
    runner = Runner(store, Settings(api_max_retries=0, api_timeout_s=5), ModelCatalog())
    nobody_listening = runner.spec_for(f"openai-compatible:m@http://127.0.0.1:{port}/v1")
    run_id = runner.create_run(load_suite(small_suite), [nobody_listening], Sampling(max_tokens=8))
    store.db.execute("update runs set heartbeat_at = '2020-01-01T00:00:00+00:00' where id = ?", [run_id])
    store.db.conn.commit()

    events = runner.execute(run_id)
    next(events)  # RunStarted: claimed by this process
    assert store.run_owner(run_id).is_this_process
    next(events)
    assert store.run_owner(run_id).heartbeat_at > "2020-01-01T00:00:00+00:00"
    finished = list(events)[-1]
    assert finished.status == "failed" and store.run_owner(run_id) is None
