"""The `modelscout` command as a user runs it: a real subprocess, a real data folder. Follow-up commands
that only read what a test's process wrote run in this process (`modelscout_here`), without a second start."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import modelscout_here, small_model_verdict
from tests.ggufs import write_tiny_gguf
from tests.unprivileged import NOBODY, as_ordinary_user, is_root, open_folder

REQUIRED_INSPECT_KEYS = {"path", "name", "architecture", "parameters", "quantization", "file_size",
                         "context_length", "layers", "has_chat_template", "fit"}
REQUIRED_MODEL_KEYS = {"model", "cases", "passed", "quality", "errors", "tokens_per_second",
                       "time_to_first_token_ms", "cost_per_answer_usd"}


def modelscout(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELSCOUT_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          env=env, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def stored_runs(home: Path) -> int:
    db = home / "modelscout.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from runs").fetchone()[0]


def test_inspect_reports_the_demo_model(demo_model: Path, modelscout_home: Path) -> None:
    data = json.loads(modelscout("models", "inspect", str(demo_model), "--json", home=modelscout_home).stdout)
    assert REQUIRED_INSPECT_KEYS <= data.keys()
    assert (data["architecture"], data["quantization"], data["layers"]) == ("llama", "Q4_1", 30)
    assert data["has_chat_template"] is True and data["file_size"] == 98_362_432
    assert data["fit"]["verdict"] == small_model_verdict() and data["fit"]["estimated_bytes"] > data["file_size"]
    text = modelscout_here("models", "inspect", str(demo_model), check=True).stdout
    assert "Q4_1" in text and "fit" in text


def test_list_finds_project_and_added_folders(demo_model: Path, modelscout_home: Path, tmp_path: Path) -> None:
    extra = tmp_path / "mine"
    extra.mkdir()
    write_tiny_gguf(extra / "tiny.gguf")
    listed = json.loads(modelscout("models", "list", "--folder", str(extra), "--json",
                                   home=modelscout_home).stdout)
    by_path = {Path(m["path"]).resolve(): m for m in listed}
    assert by_path[demo_model.resolve()]["source"] == "project"
    assert by_path[(extra / "tiny.gguf").resolve()]["source"] == "folder"
    assert by_path[(extra / "tiny.gguf").resolve()]["fit"]["verdict"] == small_model_verdict()


def test_quantize_makes_a_loadable_variant(demo_model: Path, modelscout_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo.Q4_0.gguf"
    modelscout("models", "quantize", str(demo_model), "--type", "q4_0", "--out", str(out), home=modelscout_home)
    data = json.loads(modelscout_here("models", "inspect", str(out), "--json", check=True).stdout)
    assert data["quantization"] == "Q4_0" and data["file_size"] < demo_model.stat().st_size
    assert not list(tmp_path.glob(".*.part")), "no partial file is left behind"


def test_run_then_results_then_resume(demo_model: Path, modelscout_home: Path, small_suite: Path) -> None:
    # In this process (the same code as `python -m desktop_app`): the killed-run test below and
    # tests/test_faults_processes.py run `run` in real processes.
    proc = modelscout_here("run", "--suite", str(small_suite), "--model", str(demo_model), "--max-tokens", "24",
                           "--json", home=modelscout_home, check=True)
    data = json.loads(proc.stdout)
    assert "[3/3]" in proc.stderr, "progress goes to stderr"
    run_id = data["run_id"]
    assert len(data["models"]) == 1 and REQUIRED_MODEL_KEYS <= data["models"][0].keys()
    model = data["models"][0]
    assert model["cases"] == 3 and model["errors"] == 0 and 0 <= model["quality"] <= 1
    assert model["tokens_per_second"] > 0 and model["cost_per_answer_usd"] > 0

    results = json.loads(modelscout_here("results", run_id, "--json", check=True).stdout)
    assert results["run_id"] == run_id and results["models"] == data["models"]
    table = modelscout_here("results", run_id[:4], check=True).stdout
    assert "SmolLM2-135M-Instruct.Q4_1" in table and "quality" in table
    resumed = modelscout_here("run", "--resume", run_id, home=modelscout_home)
    assert resumed.returncode == 0 and run_id in resumed.stdout
    assert run_id in modelscout_here("runs", check=True).stdout


def _bad_inputs(tmp_path: Path, demo_model: Path) -> dict[str, tuple[Path, str]]:
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("<html>not a model</html>")
    empty = tmp_path / "empty.gguf"
    empty.touch()
    truncated = tmp_path / "truncated.gguf"
    with demo_model.open("rb") as src:
        truncated.write_bytes(src.read(3_000_000))
    folder = tmp_path / "folder.gguf"
    folder.mkdir()
    alien = write_tiny_gguf(tmp_path / "alien.gguf", architecture="notarealarch")
    return {"not gguf": (not_gguf, "not a GGUF file"), "empty": (empty, "empty"),
            "truncated": (truncated, "truncated"), "folder": (folder, "folder"),
            "missing": (tmp_path / "missing.gguf", "does not exist"),
            "unknown architecture": (alien, "does not know the model architecture")}


# One case of each kind through a fresh interpreter (what a terminal shows: exit code, one line, no traceback);
# the others through cli.main in this process, which answers the same in a fraction of the time.
REAL_PROCESS = {"missing", "no model"}


@pytest.mark.parametrize("case", ["not gguf", "empty", "truncated", "folder", "missing", "unknown architecture"])
def test_bad_model_files_get_one_clear_line(case: str, demo_model: Path, modelscout_home: Path,
                                           tmp_path: Path, small_suite: Path) -> None:
    path, words = _bad_inputs(tmp_path, demo_model)[case]
    run = modelscout if case in REAL_PROCESS else modelscout_here
    proc = run("run", "--suite", str(small_suite), "--model", str(demo_model), "--model", str(path),
               home=modelscout_home, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("modelscout: error:")]
    assert len(errors) == 1, proc.stderr
    # Lower-case words may be capitalised in the message; words with capitals ("GGUF") must stand as written.
    assert words in (errors[0].lower() if words.islower() else errors[0]), errors[0]
    assert str(path.name) in errors[0]
    assert stored_runs(modelscout_home) == 0, "nothing is stored for a refused run"
    if case != "unknown architecture":  # inspect reads only metadata, which is valid there
        inspect = modelscout_here("models", "inspect", str(path))
        assert inspect.returncode == 1 and "Traceback" not in inspect.stderr
        assert inspect.stderr.startswith("modelscout: error:") and inspect.stderr.count("\n") == 1


@pytest.mark.skipif(os.name != "posix", reason="only POSIX systems make a chmod 000 file unreadable")
def test_unreadable_model_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process (as root, in a child that has become `nobody`, whom the chmod refuses)."""
    from desktop_app import cli

    def inspect(path: Path) -> str:
        """`modelscout models inspect PATH`: its exit code, then what it wrote to stderr."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(["models", "inspect", str(path)])
        return f"{code}\n{err.getvalue()}"

    with open_folder(tmp_path) as folder:
        home = folder / "home"
        home.mkdir()
        if is_root():
            os.chown(home, NOBODY, NOBODY)
        monkeypatch.setenv("MODELSCOUT_HOME", str(home))
        readable = write_tiny_gguf(folder / "readable.gguf")
        assert inspect(readable).startswith("0\n")  # and every module the command needs is imported now
        locked = folder / "locked.gguf"
        locked.write_bytes(readable.read_bytes())
        locked.chmod(0)
        code, stderr = as_ordinary_user(lambda: inspect(locked)).split("\n", 1)
    assert code == "1" and "Traceback" not in stderr, stderr
    assert stderr.startswith("modelscout: error:") and "permission" in stderr.lower() and "locked.gguf" in stderr


@pytest.mark.parametrize("problem", ["missing suite", "malformed suite", "context too large", "no model"])
def test_bad_run_requests_change_nothing(problem: str, demo_model: Path, modelscout_home: Path,
                                         tmp_path: Path, small_suite: Path) -> None:
    malformed = tmp_path / "bad.jsonl"
    malformed.write_text('{"id": "a", "prompt": "hi"}\n{"id": "b", "promt": "typo"}\n')
    args = {
        "missing suite": ["--suite", str(tmp_path / "nope.jsonl"), "--model", str(demo_model)],
        "malformed suite": ["--suite", str(malformed), "--model", str(demo_model)],
        "context too large": ["--suite", str(small_suite), "--model", str(demo_model),
                              "--context", "100000000"],
        "no model": ["--suite", str(small_suite)],
    }[problem]
    run = modelscout if problem in REAL_PROCESS else modelscout_here
    proc = run("run", *args, home=modelscout_home, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("modelscout: error:") and proc.stderr.count("\n") == 1, proc.stderr
    if problem == "malformed suite":
        assert "bad.jsonl line 2" in proc.stderr and "promt" in proc.stderr
    if problem == "context too large":
        assert "does not fit this machine" in proc.stderr
    assert stored_runs(modelscout_home) == 0


def test_results_for_an_unknown_run(modelscout_home: Path) -> None:
    proc = modelscout("results", "ffffffff", home=modelscout_home, check=False)
    assert proc.returncode == 1 and "no run with id 'ffffffff'" in proc.stderr


def test_a_run_killed_midway_resumes_without_losing_answers(demo_model: Path, modelscout_home: Path,
                                                           small_suite: Path) -> None:
    env = {**os.environ, "MODELSCOUT_HOME": str(modelscout_home)}
    proc = subprocess.Popen([sys.executable, "-m", "desktop_app", "run", "--suite", str(small_suite),
                             "--model", str(demo_model), "--max-tokens", "48"],
                            stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:  # progress lines: kill the process right after the first stored answer
        if line.startswith("[1/3]"):
            proc.kill()
            break
    proc.wait(timeout=60)
    with sqlite3.connect(modelscout_home / "modelscout.db") as conn:
        (run_id,) = conn.execute("select id from runs").fetchone()
        kept = conn.execute("select count(*) from results where run_id = ?", [run_id]).fetchone()[0]
    assert 1 <= kept < 3
    resumed = modelscout_here("run", "--resume", run_id, "--json", home=modelscout_home, check=True)
    assert f"resuming: {kept} of 3 answers already stored" in resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["status"] == "complete" and data["models"][0]["answered"] == 3
