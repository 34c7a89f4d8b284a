"""`--self-test`, as the packaged app runs it (packaging/check.py runs the frozen one): a real model in
its worker process, a real store in a throwaway folder, every screen rendered offscreen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app import selftest

ROOT = Path(__file__).resolve().parent.parent


def self_test(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELSCOUT_HOME": str(home / "user-data"), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "desktop_app", "--self-test", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_self_test_checks_each_part_on_a_real_model_and_leaves_nothing(demo_model: Path,
                                                                           tmp_path: Path) -> None:
    proc = self_test("--model", str(demo_model), home=tmp_path)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = [line.split()[1] for line in lines if line.startswith("ok ")]
    assert steps == ["python", "llama.cpp", "graders", "licences", "model", "store", "screens"], lines
    assert "answered 2 cases in its worker process" in proc.stdout
    assert all(name in proc.stdout for name in ("Models", "Compare", "Suites", "Results", "Tradeoff", "Vote",
                                                "Settings"))
    assert lines[-1].startswith("self-test passed in ")
    assert "Traceback" not in proc.stderr and "propagateSizeHints" not in proc.stderr
    assert not (tmp_path / "user-data").exists(), "the self-test wrote into the user's data folder"


def test_a_self_test_without_a_usable_model_fails_in_one_line(tmp_path: Path, modelscout_home: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    proc = self_test("--model", str(tmp_path / "missing.gguf"), home=tmp_path)  # a real process once
    assert proc.returncode == 2
    assert proc.stdout.strip() == (f"FAIL model: {tmp_path / 'missing.gguf'} is not a file; give a small GGUF "
                                   f"model with --model")
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("not a model")
    # The same code in this process: what it prints, and the user's data folder it leaves as it found it.
    assert selftest.main(["--model", str(not_gguf), "--no-screens"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    fail = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1 and fail[0].startswith(f"FAIL model worker: {not_gguf}: not a GGUF file"), fail
    assert out.splitlines()[-1].startswith("self-test failed in ")
    assert os.environ["MODELSCOUT_HOME"] == str(modelscout_home)
