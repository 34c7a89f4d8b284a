"""Generation speed on a busy machine: ModelScout's automatic threads against a fixed thread count.

llama.cpp's threads meet at a barrier after every operation; when another program holds a core, a fixed
count of one thread per core collapses (the threads wait for the busy core). With threads left automatic,
the worker decodes with the cores other programs leave free (desktop_app/providers/threads.py). This runs
the same answer with both, on a quiet machine and with busy-loop processes holding one core, then all.

    .venv/bin/python benchmarks/busy_machine.py [--model PATH] [--tokens 96] [--busy-tokens 16] [--repeats 2]

Prints tok/s and the threads each answer decoded with, and the ratio automatic / fixed per scenario.
Take it on an otherwise quiet machine: the busy processes are the only load it should see.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPT = "Write a long story about a cat and a dog who live in a small town."


def answer(model: Path, threads: int, adapt: bool, tokens: int) -> tuple[float, int]:
    """(tok/s, threads) of one answer from a fresh worker."""
    from desktop_app.providers.base import Request, Result, Sampling
    from desktop_app.providers.local import LocalModelSpec, LocalProvider

    provider = LocalProvider(LocalModelSpec(path=str(model), n_ctx=1024, n_threads=threads, adapt_threads=adapt))
    try:
        provider.load()
        time.sleep(0.6)  # the automatic count's first look covers the machine, not the load
        request = Request.chat(PROMPT, sampling=Sampling(max_tokens=tokens))
        result = [item for item in provider.stream(request) if isinstance(item, Result)][-1]
        if result.error:
            raise SystemExit(result.error)
        return result.generation_tokens_per_second or 0.0, result.threads or 0
    finally:
        provider.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEMO)
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--busy-tokens", type=int, default=16,
                        help="tokens per answer while cores are busy (a fixed count crawls: 0.3 tok/s was seen)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    import psutil

    from desktop_app.models.hardware import probe

    cores = probe().default_threads
    cpus = psutil.cpu_count() or 1
    print(f"{args.model.name}; {cores} cores, {cpus} CPUs; fixed = {cores} threads (one per core)")
    print(f"{'machine':<24} {'automatic tok/s':>16} {'threads':>8} {'fixed tok/s':>12} {'ratio':>6}")
    for name, busy in (("quiet", 0), ("1 CPU busy elsewhere", 1), (f"{cpus} CPUs busy elsewhere", cpus)):
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(0.3)
            tokens = args.busy_tokens if busy else args.tokens
            auto = [answer(args.model, cores, True, tokens) for _ in range(args.repeats)]
            fixed = [answer(args.model, cores, False, tokens) for _ in range(args.repeats)]
        finally:
            for hog in hogs:
                hog.kill()
        a = statistics.median(speed for speed, _ in auto)
        f = statistics.median(speed for speed, _ in fixed)
        used = "/".join(sorted({str(t) for _, t in auto}))
        print(f"{name:<24} {a:16.1f} {used:>8} {f:12.1f} {a / f if f else float('nan'):6.2f}", flush=True)
    return 0


if __name__ == "__main__":  # the model workers are spawned processes: they re-import this module
    raise SystemExit(main())
