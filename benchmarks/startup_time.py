"""Desktop app start-up time: from launching `python -m desktop_app` to its window being shown.

Each run launches a fresh process with MODELSCOUT_STARTUP_PROBE=1, which makes the app print
"window shown after X s" (counted from the import of desktop_app.ui.app) once the window is shown
and the event loop is running, then quit. Two figures per run:

- wall: from spawning the process to that line arriving, which is what a user feels;
- in-app: the app's own figure (no interpreter start-up, no `desktop_app` package import).

The floor in the same run: a bare PySide6 app showing an empty QWidget, timed the same way.
Goal: the window is on screen within 1.5 s (median wall time).

    .venv/bin/python benchmarks/startup_time.py [--runs 5] [--budget 1.5]

Offscreen unless DISPLAY is set (then a real X server). All runs share one throwaway data folder,
after one uncounted warm-up run, so the figures are those of a second start, not of a first install.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE_LINE = re.compile(r"window shown after ([0-9.]+) s")

# The floor: what any PySide6 app pays to import Qt, start a QApplication and show a window.
BARE_QT_APP = """
import time
started = time.perf_counter()
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
window = QWidget()
window.resize(1240, 780)
window.show()
QTimer.singleShot(0, lambda: (print(f"window shown after {time.perf_counter() - started:.3f} s", flush=True),
                              app.quit()))
app.exec()
"""


def launch(command: list[str], env: dict[str, str], timeout: float = 60.0) -> tuple[float, float]:
    """(wall seconds from spawn to the probe line, the process's own figure)."""
    spawned = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, bufsize=1)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if match := PROBE_LINE.search(line):
                wall = time.perf_counter() - spawned
                process.wait(timeout)
                return wall, float(match.group(1))
        process.wait(timeout)
        errors = process.stderr.read() if process.stderr else ""
        raise SystemExit(f"{' '.join(command)} exited {process.returncode} without the probe line:\n{errors}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def describe(name: str, runs: list[tuple[float, float]]) -> str:
    walls = [wall for wall, _ in runs]
    inside = [own for _, own in runs]
    return (f"{name:<22} wall median {statistics.median(walls):5.2f} s  worst {max(walls):5.2f} s   "
            f"in-process median {statistics.median(inside):5.2f} s  worst {max(inside):5.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.5, help="seconds to a shown window (median wall)")
    args = parser.parse_args()

    env = {**os.environ, "MODELSCOUT_STARTUP_PROBE": "1", "PYTHONUNBUFFERED": "1"}
    if not os.environ.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    platform = env.get("QT_QPA_PLATFORM") or f"X server {os.environ['DISPLAY']}"
    app_command = [sys.executable, "-m", "desktop_app"]
    bare_command = [sys.executable, "-c", BARE_QT_APP]

    with tempfile.TemporaryDirectory(prefix="modelscout-startup-") as home:
        env["MODELSCOUT_HOME"] = home
        launch(app_command, env)  # warm-up: fills the OS file cache and the app's first-start files
        launch(bare_command, env)
        app_runs, bare_runs = [], []
        for _ in range(args.runs):  # interleaved, so that machine load hits both alike
            bare_runs.append(launch(bare_command, env))
            app_runs.append(launch(app_command, env))

    print(f"Start-up time, {args.runs} runs each ({platform}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]})")
    print(describe("bare PySide6 window", bare_runs))
    print(describe("ModelScout window", app_runs))
    app_median = statistics.median(wall for wall, _ in app_runs)
    bare_median = statistics.median(wall for wall, _ in bare_runs)
    print(f"ModelScout costs {app_median - bare_median:+.2f} s over the bare PySide6 floor (median wall).")
    verdict = "PASS" if app_median <= args.budget else "FAIL"
    worst = max(wall for wall, _ in app_runs)
    print(f"{verdict}: window shown in {app_median:.2f} s (median; worst {worst:.2f} s); "
          f"goal: within {args.budget:.1f} s")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
