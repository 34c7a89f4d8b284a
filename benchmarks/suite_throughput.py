"""A suite's answers per minute on one local model: one case at a time against several decoded together.

The same suite (the demo suite's cases unless told otherwise, up to 64 tokens each) runs through the real
runner and worker in rounds: each round one case at a time (`parallel=1`), then with the automatic setting
(as many cases at once as memory allows), so a shared machine's drift falls on both sides of each round's
ratio; the median over the rounds is the figure. Each run is timed end to end from `execute` to its end,
prompts included, model load left out (each run's own ModelLoaded time is subtracted). It prints answers per
minute and the ratio of each round; how many batched answers are identical to the one-at-a-time answers, and
whether every run of a setting repeats its answers; and the pass rate of each setting on the suite's checks
with McNemar's exact test on the paired cases, so a change in quality beyond noise shows.

Goals (issue 11): >= 1.5x for the demo model, >= 2.5x for a model with a large vocabulary (for one
without a real one at hand: `python benchmarks/big_vocab_model.py /tmp/big.gguf`).

What batching can gain depends on the suite. A prompt is read at the same cost per token one case at a time
or many at once (on a CPU both are bound by arithmetic), while generation gains from sharing each read of the
weights: the demo suite's short answers (about 20 tokens after a 24-token prompt) leave less to gain than
`--suite benchmarks/suites/writing.jsonl`, whose answers all run to the limit. `--native` runs
llama.cpp's own llama-batched-bench at the suite's mean shapes (new prompt tokens and tokens written per
case, one sequence against as many as the batched run used) and prints its ratio beside ModelScout's:
the most those shapes allow on this machine (benchmarks/native.py builds the tool).

    .venv/bin/python benchmarks/suite_throughput.py [--model PATH ...] [--suite PATH] [--cases N]
                                                    [--max-tokens 64] [--threads N] [--parallel N]
                                                    [--rounds 2] [--kv-split] [--native]

Uses a throwaway data folder. Figures taken on a busy machine are not comparable: the load average is
printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def bench(model: Path, suite_path: Path, cases: int, max_tokens: int, threads: int | None, parallel: int | None,
          rounds: int, native: bool) -> None:
    """`rounds` rounds, each one case at a time then batched (then llama-batched-bench with --native), so a
    shared machine's drift falls on both sides of every ratio; the medians are the figures."""
    from desktop_app.analysis.stats import mcnemar_counts, mcnemar_exact_p
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings
    from desktop_app.storage.store import Store
    from desktop_app.suites import Suite, load_suite

    full = load_suite(suite_path)
    # The cases' own token limits are dropped: every answer may write max_tokens.
    suite = Suite.from_dict({**full.to_dict(), "cases": [{**c.to_dict(), "max_tokens": None}
                                                         for c in full.cases[:cases]]})
    n = len(suite.cases)
    sampling = Sampling(max_tokens=max_tokens)
    print(f"\n{model.name}: {n} cases of {suite_path.name}, up to {max_tokens} tokens each, "
          f"threads {threads or 'default'}, {rounds} rounds")
    ones, batches, ratios, natives = [], [], [], []
    with tempfile.TemporaryDirectory() as home:
        os.environ["MODELSCOUT_HOME"] = home
        store = Store(Path(home) / "runs.db")
        runner = Runner(store, Settings())
        for number in range(1, rounds + 1):
            one = timed_run(runner, suite, model, sampling, 1, threads)
            batched = timed_run(runner, suite, model, sampling, parallel, threads)
            ones.append(one)
            batches.append(batched)
            ratios.append(ratio := one["seconds"] / batched["seconds"])
            line = (f"  round {number}: parallel 1 {one['seconds']:5.1f} s ({n / one['seconds'] * 60:6.1f} "
                    f"answers/min, {one['tokens'] / one['seconds']:5.1f} tok/s), parallel {batched['parallel']} "
                    f"{batched['seconds']:5.1f} s ({n / batched['seconds'] * 60:6.1f} answers/min, "
                    f"{batched['tokens'] / batched['seconds']:5.1f} tok/s): {ratio:.2f}x")
            if native:
                natives.append(native_ratio(model, one, batched, threads))
                line += f"; llama-batched-bench {natives[-1][0]:.2f}x"
            print(line, flush=True)
        store.close()
    setting = f"parallel {batches[0]['parallel']}" + (" (auto)" if parallel is None else "")
    print(f"  median ratio, {setting} / one at a time: {statistics.median(ratios):.2f}x "
          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; load not counted: "
          f"{statistics.median(b['load_s'] for b in batches):.1f} s)")
    if natives:
        native_median = statistics.median(r for r, _ in natives)
        print(f"  llama-batched-bench at the mean shapes ({natives[0][1]}): median {native_median:.2f}x; "
              f"ModelScout reaches {statistics.median(ratios) / native_median:.2f} of it")
    one, batched = ones[0], batches[0]
    same_as_one = sum(one["rows"][c]["text"] == batched["rows"][c]["text"] for c in one["rows"])
    reproduced = all(b["rows"][c]["text"] == batched["rows"][c]["text"] for b in batches for c in b["rows"])
    ones_reproduced = all(o["rows"][c]["text"] == one["rows"][c]["text"] for o in ones for c in o["rows"])
    repeats = (f"; every batched run identical to the first: {'yes' if reproduced else 'NO'}; every "
               f"one-at-a-time run too: {'yes' if ones_reproduced else 'NO'}" if rounds > 1 else "")
    print(f"  answers identical to one at a time: {same_as_one} of {n}{repeats}")
    passed_one = {c: bool(r["grade_passed"]) for c, r in one["rows"].items() if r["grade_passed"] is not None}
    passed_batched = {c: bool(r["grade_passed"]) for c, r in batched["rows"].items()
                      if r["grade_passed"] is not None}
    only_one, only_batched = mcnemar_counts(passed_one, passed_batched)
    print(f"  passed: one at a time {sum(passed_one.values())}/{len(passed_one)}, batched "
          f"{sum(passed_batched.values())}/{len(passed_batched)}; McNemar exact p = "
          f"{mcnemar_exact_p(only_one, only_batched):.3f} ({only_one} pass only one at a time, "
          f"{only_batched} only batched)")


def native_ratio(model: Path, one: dict, batched: dict, threads: int | None) -> tuple[float, str]:
    """llama-batched-bench at the one-at-a-time run's mean shapes: its end-to-end ratio for `parallel`
    sequences against one (answers per minute, as above), and the shapes in words."""
    from benchmarks import native
    from desktop_app.models.hardware import probe

    rows = one["rows"].values()
    n_prompt = round(sum((r["prompt_tokens"] or 0) - (r["cached_tokens"] or 0) for r in rows) / len(rows))
    n_gen = max(1, round(sum(r["completion_tokens"] or 0 for r in rows) / len(rows)))
    parallel = batched["parallel"]
    threads = threads or probe().default_threads
    figures = {row["pl"]: row for row in native.batched_bench(model, threads, n_prompt, n_gen, (1, parallel))}
    return (parallel * figures[1]["t"] / figures[parallel]["t"],
            f"{n_prompt}-token prompts, {n_gen} tokens each, {parallel} sequences against one, {threads} threads")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", type=Path, help="a GGUF file (default: the demo model)")
    parser.add_argument("--suite", type=Path, default=SUITE, help="the suite to run (default: the demo suite)")
    parser.add_argument("--cases", type=int, default=23, help="run the suite's first N cases (default: 23)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, help="CPU threads (default: ModelScout's, one per core)")
    parser.add_argument("--parallel", type=int, help="cases at once for the batched runs (default: automatic)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of one at a time then batched; the median ratio is the figure (default 2)")
    parser.add_argument("--native", action="store_true",
                        help="also run llama-batched-bench at the suite's mean shapes and print its ratio")
    parser.add_argument("--kv-split", action="store_true",
                        help="a KV cache stream per sequence instead of one unified cache (to compare)")
    args = parser.parse_args()
    if args.kv_split:
        os.environ["MODELSCOUT_KV_UNIFIED"] = "0"  # read by the worker processes this starts
        print("KV cache: one stream per sequence (kv_unified = false)")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for model in args.model or [DEMO]:
        bench(model, args.suite, args.cases, args.max_tokens, args.threads, args.parallel, args.rounds,
              args.native)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
