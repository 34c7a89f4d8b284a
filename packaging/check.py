"""Check the packaged app as a user's machine would run it: `make package` runs this after packaging/build.py.

Each run of the frozen executable gets a bare environment (`env -i` with only what a desktop session has:
HOME, USER, PATH without any virtualenv, LANG; DISPLAY when there is one), so nothing of the build's
Python can leak in:
1. `modelscout --help` (the CLI);
2. `modelscout --self-test --model FILE.gguf`: llama.cpp's library, the model in its worker process, a
   temporary store written and read, every screen rendered (offscreen) - within 60 s, one line per step;
3. time to window: from starting the executable to its window shown (median of 3; goal <= 2.5 s), on
   the X display when there is one, else offscreen.

    .venv/bin/python packaging/check.py [--model local_models/SmolLM2-135M-Instruct.Q4_1.gguf]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXECUTABLE = ROOT / "dist" / "ModelScout" / ("modelscout.exe" if sys.platform == "win32" else "modelscout")
DEMO = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
SELF_TEST_LIMIT_S = 60
WINDOW_GOAL_S = 2.5


def bare_environment(home: str) -> dict[str, str]:
    """What a desktop session gives a program it starts, and nothing from this build."""
    env = {"HOME": home, "USER": os.environ.get("USER", "user"), "PATH": "/usr/local/bin:/usr/bin:/bin",
           "LANG": "C.UTF-8"}
    for name in ("DISPLAY", "XAUTHORITY", "XDG_RUNTIME_DIR", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEMO)
    args = parser.parse_args()
    if not EXECUTABLE.exists():
        print(f"{EXECUTABLE} is missing: run `make package` first", file=sys.stderr)
        return 2
    failures = 0
    with tempfile.TemporaryDirectory(prefix="modelscout-package-check-") as home:
        env = bare_environment(home)
        failures += not check_help(env)
        failures += not check_self_test(env, args.model.resolve())
        failures += not check_time_to_window(env)
    print("package check: " + ("PASS" if not failures else f"FAIL ({failures} failed)"))
    return 1 if failures else 0


def check_help(env: dict[str, str]) -> bool:
    proc = subprocess.run([str(EXECUTABLE), "--help"], check=False, env=env, capture_output=True, text=True, timeout=60)
    ok = proc.returncode == 0 and "usage: modelscout" in proc.stdout
    print(f"{'ok  ' if ok else 'FAIL'} cli: `modelscout --help` exit {proc.returncode}")
    return ok


def check_self_test(env: dict[str, str], model: Path) -> bool:
    started = time.perf_counter()
    try:
        proc = subprocess.run([str(EXECUTABLE), "--self-test", "--model", str(model)], env=env, text=True,
                              capture_output=True, check=False, timeout=SELF_TEST_LIMIT_S + 30)
    except subprocess.TimeoutExpired:
        print(f"FAIL self-test: still running after {SELF_TEST_LIMIT_S + 30} s")
        return False
    seconds = time.perf_counter() - started
    for line in proc.stdout.splitlines():
        print(f"     | {line}")
    ok = proc.returncode == 0 and seconds <= SELF_TEST_LIMIT_S
    print(f"{'ok  ' if ok else 'FAIL'} self-test: exit {proc.returncode} in {seconds:.1f} s "
          f"(limit {SELF_TEST_LIMIT_S} s)")
    if not ok and proc.stderr.strip():
        print("     stderr: " + proc.stderr.strip()[-2000:])
    return ok


def check_time_to_window(env: dict[str, str]) -> bool:
    env = dict(env, MODELSCOUT_STARTUP_PROBE="1")
    if "DISPLAY" not in env and "WAYLAND_DISPLAY" not in env:
        env["QT_QPA_PLATFORM"] = "offscreen"
    times = []
    for _ in range(3):
        started = time.perf_counter()
        proc = subprocess.run([str(EXECUTABLE)], env=env, capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0 or "window shown" not in proc.stdout:
            print(f"FAIL time to window: exit {proc.returncode}, {proc.stderr.strip()[-500:]}")
            return False
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    ok = median <= WINDOW_GOAL_S
    where = env.get("QT_QPA_PLATFORM") or f"DISPLAY={env.get('DISPLAY')}"
    print(f"{'ok  ' if ok else 'FAIL'} time to window: median {median:.2f} s of "
          f"{', '.join(f'{t:.2f}' for t in times)} ({where}; goal <= {WINDOW_GOAL_S} s)")
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
