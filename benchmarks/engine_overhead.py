"""Generation speed through ModelScout's provider (worker process + pipe) vs a plain llama-cpp-python loop.

Same model, prompt, thread count and greedy sampling, alternating the two for several rounds in one
run. Goal: the provider keeps at least 0.97 of the plain loop's generation tokens per second.

Then once more with the defaults each side gives a user who sets nothing: llama-cpp-python's own
(half the logical CPUs) against ModelScout's (Settings() through the runner: one thread per
physical core, the default context), so a default that leaves the CPU half idle shows up here.

The native anchor: in the same rounds, llama.cpp's own `llama-bench` generates as many tokens on the
same model with ModelScout's default thread count, and the ratio ModelScout defaults / llama-bench tg
is printed (goal >= 0.95). `llama-bench` comes from the llama.cpp sources vendored in the sdist of the
installed llama-cpp-python, built once into ~/.cache/modelscout-bench (about 6 minutes on 2 cores the
first time; see benchmarks/native.py for how), so it measures exactly the engine ModelScout runs.

    .venv/bin/python benchmarks/engine_overhead.py [--model PATH] [--rounds 5] [--max-tokens 200] [--no-native]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import native  # noqa: E402
from desktop_app.providers.base import Request, Result, Sampling, Token  # noqa: E402
from desktop_app.providers.local import LocalModelSpec, LocalProvider  # noqa: E402

PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."
SYSTEM = "You are a helpful assistant."


def plain_loop(llm, max_tokens: int) -> tuple[float, float, int]:
    """The loop a user would write: create_chat_completion(stream=True), one chunk per token."""
    llm.reset()  # like the provider: the whole prompt is evaluated for every answer, no cached prefix
    started = time.perf_counter()
    first = last = None
    tokens = 0
    for chunk in llm.create_chat_completion(
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
            stream=True, temperature=0.0, max_tokens=max_tokens, seed=0):
        if chunk["choices"][0]["delta"].get("content"):
            last = time.perf_counter()
            first = first or last
            tokens += 1
    return (first - started) * 1000, (tokens - 1) / (last - first), tokens


def provider_loop(provider: LocalProvider, max_tokens: int) -> tuple[float, float, int]:
    request = Request.chat(PROMPT, SYSTEM, Sampling(max_tokens=max_tokens))
    started = time.perf_counter()
    first = last = None
    result = None
    for item in provider.stream(request):
        if isinstance(item, Token):
            last = time.perf_counter()
            first = first or last
        elif isinstance(item, Result):
            result = item
    assert result is not None and result.error is None, result
    # Measured from the consumer's side of the pipe, like the plain loop: what the user sees.
    return (first - started) * 1000, (result.completion_tokens - 1) / (last - first), result.completion_tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--no-native", action="store_true", help="skip the llama-bench anchor (no build)")
    args = parser.parse_args()
    if not args.no_native and native.find() is None:
        print("building llama-bench from llama-cpp-python's sdist first (about 6 minutes on 2 cores)...")
        native.ensure()

    import llama_cpp

    llm = llama_cpp.Llama(model_path=args.model, n_ctx=2048, n_threads=args.threads,
                          n_threads_batch=args.threads, verbose=False)
    provider = LocalProvider(LocalModelSpec(args.model, n_ctx=2048, n_threads=args.threads))
    provider.load()
    plain_loop(llm, 16)  # warm both up: first calls page in weights
    provider_loop(provider, 16)

    plain, ours = [], []
    for _ in range(args.rounds):
        plain.append(plain_loop(llm, args.max_tokens))
        ours.append(provider_loop(provider, args.max_tokens))
    provider.close()
    defaults, anchor = user_defaults(args.model, args.max_tokens, args.rounds, not args.no_native)

    def row(name: str, runs: list[tuple[float, float, int]]) -> tuple[float, float]:
        ttft = statistics.median(r[0] for r in runs)
        tps = statistics.median(r[1] for r in runs)
        print(f"{name:<28} {tps:8.1f} tok/s {ttft:8.1f} ms   tokens per answer {runs[0][2]}")
        return ttft, tps

    print(f"model {Path(args.model).name}, {args.threads} threads, greedy, {args.max_tokens} max tokens, "
          f"{args.rounds} rounds alternating, medians:")
    plain_ttft, plain_tps = row("plain llama-cpp-python loop", plain)
    ours_ttft, ours_tps = row("ModelScout provider", ours)
    ratio = ours_tps / plain_tps
    print(f"generation tokens/s ratio (provider / plain): {ratio:.3f}  goal >= 0.97  "
          f"{'PASS' if ratio >= 0.97 else 'FAIL'}")
    print(f"time to first token: provider {ours_ttft - plain_ttft:+.1f} ms vs plain")
    print("with the defaults a user gets (no thread or context setting), medians:")
    for name, (threads, runs) in defaults.items():
        row(f"{name} ({threads} thr)", runs)
    (_, plain_default), (_, ours_default) = defaults.values()
    default_ratio = statistics.median(r[1] for r in ours_default) / statistics.median(r[1] for r in plain_default)
    print(f"generation tokens/s ratio, defaults (ModelScout / llama-cpp-python): {default_ratio:.3f}")
    if anchor:
        ours_tps = statistics.median(r[1] for r in ours_default)
        native_tps = statistics.median(anchor)
        native_ratio = ours_tps / native_tps
        print(f"native anchor: llama-bench tg{args.max_tokens} ({defaults['ModelScout defaults'][0]} thr) "
              f"{native_tps:.1f} tok/s (runs {', '.join(f'{t:.1f}' for t in anchor)}), "
              f"ModelScout defaults {ours_tps:.1f} tok/s")
        print(f"generation tokens/s ratio (ModelScout defaults / llama-bench tg): {native_ratio:.3f}  "
              f"goal >= 0.95  {'PASS' if native_ratio >= 0.95 else 'FAIL'}")
    return 0 if ratio >= 0.97 else 1


def native_tg(model: str, threads: int, n_gen: int) -> float:
    """One llama-bench generation run (after its own warm-up), tok/s: the speed with no Python at all."""
    return native.llama_bench(model, threads=threads, n_prompt=0, n_gen=n_gen, reps=1)["tg"]


def user_defaults(model: str, max_tokens: int, rounds: int,
                  with_native: bool = True) -> tuple[dict[str, tuple[int, list]], list[float]]:
    """Both sides as a user who sets nothing gets them, and llama-bench on ModelScout's thread count in
    the same rounds (so a load from elsewhere on the machine falls on all three alike)."""
    import llama_cpp

    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings

    llm = llama_cpp.Llama(model_path=model, verbose=False)
    spec = Runner(None, Settings()).spec_for(model)
    provider = LocalProvider(spec)
    provider.load()
    plain_loop(llm, 16)
    provider_loop(provider, 16)
    plain, ours, anchor = [], [], []
    for _ in range(rounds):
        plain.append(plain_loop(llm, max_tokens))
        ours.append(provider_loop(provider, max_tokens))
        if with_native:
            anchor.append(native_tg(model, spec.n_threads, max_tokens))
    provider.close()
    plain_threads = llm.context_params.n_threads
    llm.close()
    return {"llama-cpp-python defaults": (plain_threads, plain),
            "ModelScout defaults": (spec.n_threads, ours)}, anchor


if __name__ == "__main__":
    raise SystemExit(main())
