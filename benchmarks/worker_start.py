"""How long a model worker takes to start (until its model is loaded) and to go away again.

On Linux ModelScout forks workers from a server process that imported llama.cpp's bindings once
(providers/worker_process.py); the baseline, measured in the same run, is a fresh interpreter per worker
(spawn), which is what macOS and Windows use. Each start loads the model, each stop waits for the process
to end. The first fork-server start includes starting the server, so it is printed apart.

    .venv/bin/python benchmarks/worker_start.py [--model PATH] [--rounds 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_app.providers import worker_process  # noqa: E402
from desktop_app.providers.local import LocalModelSpec, LocalProvider  # noqa: E402

DEMO = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def start_and_stop(model: Path) -> tuple[float, float]:
    provider = LocalProvider(LocalModelSpec(path=str(model), n_ctx=1024, n_threads=2))
    started = time.perf_counter()
    provider.load()
    loaded = time.perf_counter()
    provider.close()
    return loaded - started, time.perf_counter() - loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEMO)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    forked = worker_process.context
    spawned = lambda: multiprocessing.get_context("spawn")  # noqa: E731 - the baseline's context
    if forked().get_start_method() != "forkserver":
        print("this platform starts every worker with spawn: nothing to compare")
        return 0
    first = start_and_stop_with(forked, args.model)
    times: dict[str, list[tuple[float, float]]] = {"spawn": [], "forkserver": []}
    for _ in range(args.rounds):  # alternating, so a change in the machine's load falls on both alike
        times["spawn"].append(start_and_stop_with(spawned, args.model))
        times["forkserver"].append(start_and_stop_with(forked, args.model))
    print(f"{args.model.name}, {args.rounds} rounds alternating, medians:")
    print(f"  first fork-server start (starts the server too): load {first[0] * 1000:.0f} ms")
    medians = {}
    for name, pairs in times.items():
        load, stop = (statistics.median(p[i] for p in pairs) for i in (0, 1))
        medians[name] = load + stop
        print(f"  {name:<10}  ready {load * 1000:6.0f} ms   gone {stop * 1000:5.0f} ms   in all {(load + stop) * 1000:6.0f} ms")
    print(f"start and stop, fork server / spawn: {medians['forkserver'] / medians['spawn']:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


def start_and_stop_with(context, model: Path) -> tuple[float, float]:
    worker_process.context = context  # LocalProvider asks worker_process for its context at each start
    return start_and_stop(model)


if __name__ == "__main__":
    raise SystemExit(main())
