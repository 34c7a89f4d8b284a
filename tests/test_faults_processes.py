"""Faults end cleanly: a killed or interrupted `modelscout run` takes its llama.cpp worker along without a
word in the terminal, and a run another live process is running is not run twice. Real processes, the
real demo model, a real data folder."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from tests.conftest import is_worker

NOISE = ("Traceback", "BrokenPipeError", "KeyboardInterrupt", "leaked semaphore", "resource_tracker")


def long_answer_suite(path: Path) -> Path:
    """Cases whose answers run on for hundreds of tokens, so a run is caught mid-answer."""
    header = {"suite": {"name": "long answers", "version": "1"}}
    cases = [{"id": f"essay-{i}", "prompt": f"Write a long, detailed essay about {topic}, in many paragraphs."}
             for i, topic in enumerate(["the history of Rome", "how bread is made", "the oceans", "trains"])]
    path.write_text("\n".join(json.dumps(x) for x in [header, *cases]) + "\n", encoding="utf-8")
    return path


def _default_sigint() -> None:
    # A test started from a shell that ignores SIGINT would hand that on; the CLI must see a real Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(home: Path, stderr: Path, *args: str) -> subprocess.Popen:
    """`modelscout ...` in its own session (its own process group, as a terminal's foreground job is),
    its stderr, and its workers', in one file."""
    env = {**os.environ, "MODELSCOUT_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "desktop_app", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=stderr.open("w"), start_new_session=True,
                            preexec_fn=_default_sigint)  # noqa: PLW1509 (the test starts no threads first)


def wait_for(condition, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    output = log.read_text(encoding="utf-8", errors="replace") if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{output}")


def gone(pid: int) -> bool:
    """Ended (a zombie not yet reaped has ended too)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def helpers_of(pid: int) -> tuple[psutil.Process | None, list[psutil.Process]]:
    """The llama.cpp worker a CLI process runs (generating, when it has used CPU time), and every child."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None, []
    workers = [c for c in children if is_worker(c)]
    return (workers[0] if len(workers) == 1 else None), children


def generating_worker(proc: subprocess.Popen, log: Path) -> tuple[psutil.Process, list[psutil.Process]]:
    """Wait until the run's model is loaded and its worker is answering; the worker and all children."""
    wait_for(lambda: "loaded " in log.read_text(encoding="utf-8", errors="replace"), 120, "the model to load",
             proc, log)

    def found() -> tuple[psutil.Process, list[psutil.Process]] | None:
        worker, children = helpers_of(proc.pid)
        return (worker, children) if worker else None

    worker, children = wait_for(found, 10, "the worker process", proc, log)
    start = sum(worker.cpu_times()[:2])
    wait_for(lambda: sum(worker.cpu_times()[:2]) > start + 0.3, 30, "the worker to generate", proc, log)
    return worker, children


def run_row(home: Path) -> dict:
    with sqlite3.connect(home / "modelscout.db") as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("select * from runs order by created_at desc limit 1").fetchone())


def answers(home: Path, run_id: str) -> int:
    with sqlite3.connect(home / "modelscout.db") as conn:
        return conn.execute("select count(*) from results where run_id = ?", [run_id]).fetchone()[0]


def assert_quiet(log: Path) -> None:
    text = log.read_text(encoding="utf-8", errors="replace")
    for word in NOISE:
        assert word not in text, f"{word!r} in the terminal:\n{text}"


# Workers end with their parent ------------------------------------------------------------------------

def test_a_killed_run_takes_its_worker_along_without_a_word(demo_model: Path, modelscout_home: Path,
                                                          tmp_path: Path) -> None:
    log = tmp_path / "stderr.txt"
    proc = start_cli(modelscout_home, log, "run", "--suite", str(long_answer_suite(tmp_path / "long.jsonl")),
                     "--model", str(demo_model), "--max-tokens", "1000")
    try:
        worker, children = generating_worker(proc, log)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        wait_for(lambda: gone(worker.pid), 2.0, f"worker {worker.pid} to end after its parent was killed")
        # The resource tracker too, so whatever it had to say is in the log by now.
        wait_for(lambda: all(gone(c.pid) for c in children), 5.0, "every helper process to end")
        assert_quiet(log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ctrl_c_stops_the_run_and_its_worker_quietly(demo_model: Path, modelscout_home: Path,
                                                     tmp_path: Path) -> None:
    log = tmp_path / "stderr.txt"
    proc = start_cli(modelscout_home, log, "run", "--suite", str(long_answer_suite(tmp_path / "long.jsonl")),
                     "--model", str(demo_model), "--max-tokens", "1000")
    try:
        _, children = generating_worker(proc, log)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        assert proc.wait(timeout=30) == 130
        wait_for(lambda: all(gone(c.pid) for c in children), 5.0, "the worker and its helpers to end")
        assert_quiet(log)
        text = log.read_text(encoding="utf-8")
        row = run_row(modelscout_home)
        assert row["status"] == "interrupted" and row["owner_pid"] is None
        assert f"resume with: modelscout run --resume {row['id']}" in text
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


WORKER_OFF_THE_MAIN_THREAD = textwrap.dedent("""
    import sys, threading, time
    from desktop_app.providers.base import Request, Sampling
    from desktop_app.providers.local import LocalModelSpec, LocalProvider

    def answer():  # as the app does: the model loaded and asked on a worker thread, kept in a pool
        provider = LocalProvider(LocalModelSpec(sys.argv[1], n_ctx=1024, n_threads=1))
        provider.load()
        print(provider.pid, flush=True)
        for _ in provider.stream(Request.chat("Write a long essay about the oceans.",
                                              sampling=Sampling(max_tokens=1000))):
            pass

    if __name__ == "__main__":
        threading.Thread(target=answer, daemon=True).start()
        time.sleep(600)
""")


def test_a_worker_started_off_the_main_thread_also_leaves_with_its_parent(demo_model: Path, tmp_path: Path) -> None:
    """The app loads models on worker threads, where Linux's parent-death signal cannot be used (it fires
    when the starting thread ends): the worker's own watch on its parent has to do it."""
    script = tmp_path / "host.py"
    script.write_text(WORKER_OFF_THE_MAIN_THREAD, encoding="utf-8")
    log = tmp_path / "stderr.txt"
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, str(script), str(demo_model)], stdout=subprocess.PIPE, text=True,
                            stderr=log.open("w"), start_new_session=True, cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    try:
        worker = psutil.Process(int(proc.stdout.readline()))
        start = sum(worker.cpu_times()[:2])
        wait_for(lambda: sum(worker.cpu_times()[:2]) > start + 0.3, 30, "the worker to generate", proc, log)
        children = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        wait_for(lambda: gone(worker.pid), 2.0, f"worker {worker.pid} to end after its parent was killed")
        wait_for(lambda: all(gone(c.pid) for c in children), 5.0, "every helper process to end")
        assert_quiet(log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# One run, one process ---------------------------------------------------------------------------------

def test_a_run_another_process_is_running_is_not_resumed_or_offered(demo_model: Path, modelscout_home: Path,
                                                                   tmp_path: Path) -> None:
    from desktop_app.storage.store import Store
    from desktop_app.ui.runs import unfinished_runs

    log = tmp_path / "stderr.txt"
    proc = start_cli(modelscout_home, log, "run", "--suite", str(long_answer_suite(tmp_path / "long.jsonl")),
                     "--model", str(demo_model), "--max-tokens", "1000")
    try:
        generating_worker(proc, log)  # caught mid-answer
        before = run_row(modelscout_home)
        assert before["status"] == "running" and before["owner_pid"] == proc.pid
        kept = answers(modelscout_home, before["id"])

        second = subprocess.run([sys.executable, "-m", "desktop_app", "run", "--resume", before["id"][:5]],
                                capture_output=True, text=True, timeout=120, check=False,
                                env={**os.environ, "MODELSCOUT_HOME": str(modelscout_home)})
        assert second.returncode == 2, second.stderr
        started = time.strftime("%H:%M", time.localtime(psutil.Process(proc.pid).create_time()))
        refusal = (f"modelscout: error: run {before['id']} is still running in process {proc.pid} on this "
                   f"machine (started {started}); wait for it to finish or stop that process first")
        assert second.stderr.strip().splitlines() == [refusal]
        after = run_row(modelscout_home)
        assert (after["status"], after["owner_pid"], after["status_reason"]) == ("running", proc.pid, None)
        assert answers(modelscout_home, before["id"]) >= kept

        # The app's Resume list: not while its owner lives; once the owner is gone (killed), it is.
        store = Store(modelscout_home / "modelscout.db")
        try:
            assert before["id"] not in [r.id for r in unfinished_runs(store)]
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            offered = unfinished_runs(store)
            assert [r.id for r in offered] == [before["id"]] and offered[0].left_running
            assert store.live_owner_elsewhere(before["id"]) is None
        finally:
            store.close()
        assert "internal error" not in log.read_text(encoding="utf-8")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
