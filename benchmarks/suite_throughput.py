"""A suite's answers per minute on one local model: one case at a time against several decoded together.

The same suite (the demo suite's cases, 64 tokens each unless told otherwise) runs through the real runner
and worker three times in one process: with `parallel=1` (one case at a time), then twice with the
automatic setting (as many cases at once as memory allows). Each run is timed end to end from `execute`
to its end, prompts included, model load left out (each run's own ModelLoaded time is subtracted, and
printed). It prints answers per minute for both settings and their ratio; how many batched answers are
identical to the one-at-a-time answers, and whether the two batched runs agree answer for answer; and
the pass rate of each setting on the suite's checks with McNemar's exact test on the paired cases, so a
change in quality beyond noise shows.

Goals (issue 11): >= 1.5x for the demo model, >= 2.5x for a model with a large vocabulary (for one
without a real one at hand: `python benchmarks/big_vocab_model.py /tmp/big.gguf`).

    .venv/bin/python benchmarks/suite_throughput.py [--model PATH ...] [--cases 23] [--max-tokens 64]
                                                    [--threads N] [--parallel N] [--kv-split]

Uses a throwaway data folder. Figures taken on a busy machine are not comparable: the load average is
printed before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
SUITE = ROOT / "resources" / "suites" / "demo.jsonl"


def timed_run(runner, suite, model: Path, sampling, parallel: int | None, threads: int | None) -> dict:
    from desktop_app.runner import events as ev

    run_id = runner.create_run(suite, [runner.spec_for(model, threads=threads)], sampling, parallel=parallel)
    load_ms = 0.0
    started = time.perf_counter()
    for event in runner.execute(run_id, reuse=False):
        if isinstance(event, ev.ModelLoaded):
            load_ms += event.load_ms
        elif isinstance(event, ev.RunFinished) and event.status != "complete":
            raise SystemExit(f"run {run_id} ended {event.status}: {event.reason}")
    seconds = time.perf_counter() - started - load_ms / 1000
    rows = {r["case_id"]: r for r in runner.store.results(run_id)}
    return {"seconds": seconds, "load_s": load_ms / 1000, "rows": rows,
            "parallel": next(iter(rows.values()))["parallel"],
            "tokens": sum(r["completion_tokens"] or 0 for r in rows.values())}


def bench(model: Path, cases: int, max_tokens: int, threads: int | None, parallel: int | None) -> None:
    from desktop_app.analysis.stats import mcnemar_counts, mcnemar_exact_p
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings
    from desktop_app.storage.store import Store
    from desktop_app.suites import Suite, load_suite

    full = load_suite(SUITE)
    # The cases' own token limits are dropped: every answer may write max_tokens.
    suite = Suite.from_dict({**full.to_dict(), "cases": [{**c.to_dict(), "max_tokens": None}
                                                         for c in full.cases[:cases]]})
    sampling = Sampling(max_tokens=max_tokens)
    with tempfile.TemporaryDirectory() as home:
        os.environ["MODELSCOUT_HOME"] = home
        store = Store(Path(home) / "runs.db")
        runner = Runner(store, Settings())
        one = timed_run(runner, suite, model, sampling, 1, threads)
        batched = timed_run(runner, suite, model, sampling, parallel, threads)
        again = timed_run(runner, suite, model, sampling, parallel, threads)
        store.close()
    n = len(suite.cases)
    per_minute = {name: n / run["seconds"] * 60 for name, run in (("one", one), ("batched", batched), ("again", again))}
    same_as_one = sum(one["rows"][c]["text"] == batched["rows"][c]["text"] for c in one["rows"])
    reproduced = sum(batched["rows"][c]["text"] == again["rows"][c]["text"] for c in batched["rows"])
    passed_one = {c: bool(r["grade_passed"]) for c, r in one["rows"].items() if r["grade_passed"] is not None}
    passed_batched = {c: bool(r["grade_passed"]) for c, r in batched["rows"].items()
                      if r["grade_passed"] is not None}
    only_one, only_batched = mcnemar_counts(passed_one, passed_batched)
    print(f"\n{model.name}: {n} cases, up to {max_tokens} tokens each, threads {threads or 'default'}")
    for name, run in (("parallel 1", one), (f"parallel {batched['parallel']} (auto)" if parallel is None
                                             else f"parallel {batched['parallel']}", batched),
                      ("  same again", again)):
        key = {"parallel 1": "one", "  same again": "again"}.get(name, "batched")
        print(f"  {name:<22} {run['seconds']:7.1f} s  {per_minute[key]:7.1f} answers/min  "
              f"{run['tokens'] / run['seconds']:7.1f} tok/s overall  (load {run['load_s']:.1f} s, not counted)")
    print(f"  ratio batched / one at a time: {per_minute['batched'] / per_minute['one']:.2f}x "
          f"(second batched run: {per_minute['again'] / per_minute['one']:.2f}x)")
    print(f"  answers identical to one at a time: {same_as_one} of {n}; "
          f"two batched runs identical: {reproduced} of {n}")
    print(f"  passed: one at a time {sum(passed_one.values())}/{len(passed_one)}, batched "
          f"{sum(passed_batched.values())}/{len(passed_batched)}; McNemar exact p = "
          f"{mcnemar_exact_p(only_one, only_batched):.3f} ({only_one} pass only one at a time, "
          f"{only_batched} only batched)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", type=Path, help="a GGUF file (default: the demo model)")
    parser.add_argument("--cases", type=int, default=23, help="cases of the demo suite to run (at most 23)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, help="CPU threads (default: ModelScout's, one per core)")
    parser.add_argument("--parallel", type=int, help="cases at once for the batched runs (default: automatic)")
    parser.add_argument("--kv-split", action="store_true",
                        help="a KV cache stream per sequence instead of one unified cache (to compare)")
    args = parser.parse_args()
    if args.kv_split:
        os.environ["MODELSCOUT_KV_UNIFIED"] = "0"  # read by the worker processes this starts
        print("KV cache: one stream per sequence (kv_unified = false)")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for model in args.model or [DEMO]:
        bench(model, args.cases, args.max_tokens, args.threads, args.parallel)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
