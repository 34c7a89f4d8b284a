"""What ModelScout's API provider adds over the official SDK's own streaming loop.

Both talk to the same llama-cpp-python OpenAI-compatible server on loopback (the demo model,
greedy, same request), alternating for several rounds in one run. The provider's extras — the
reader thread that lets a cancel return at once, the retry loop, the endpoint's concurrency
slot — should cost well under a millisecond per answer and nothing per token. Goal: total time
ratio (provider / SDK) within 1.03, time to first token within +5 ms.

    .venv/bin/python benchmarks/api_overhead.py [--rounds 6] [--max-tokens 120]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_app.providers.api import ApiModelSpec  # noqa: E402
from desktop_app.providers.base import Request, Result, Sampling, Token  # noqa: E402
from desktop_app.providers.registry import api_provider  # noqa: E402
from tests.servers import LlamaServer  # noqa: E402

PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."
MODEL = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def sdk_loop(client, max_tokens: int) -> tuple[float, float, int]:
    """The loop a user would write with the openai SDK."""
    started = time.perf_counter()
    first = None
    chunks = 0
    stream = client.chat.completions.create(model="demo", messages=[{"role": "user", "content": PROMPT}],
                                            stream=True, temperature=0.0, max_tokens=max_tokens, seed=0)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter()
            chunks += 1
    total = time.perf_counter() - started
    return (first - started) * 1000, total * 1000, chunks


def provider_loop(provider, max_tokens: int) -> tuple[float, float, int]:
    request = Request.chat(PROMPT, sampling=Sampling(max_tokens=max_tokens))
    started = time.perf_counter()
    first = None
    result = None
    for item in provider.stream(request):
        if isinstance(item, Token):
            first = first or time.perf_counter()
        elif isinstance(item, Result):
            result = item
    total = time.perf_counter() - started
    assert result is not None and result.ok, result
    return (first - started) * 1000, total * 1000, result.completion_tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=120)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import openai

    server = LlamaServer(MODEL, threads=args.threads)
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        provider = api_provider(ApiModelSpec("openai-compatible", "demo", server.base_url), key=server.api_key)
        sdk_loop(client, 8), provider_loop(provider, 8)  # warm both paths and the server's prompt cache
        sdk, ours = [], []
        for _ in range(args.rounds):
            sdk.append(sdk_loop(client, args.max_tokens))
            ours.append(provider_loop(provider, args.max_tokens))
    finally:
        server.stop()
    sdk_ttft, sdk_total = statistics.median(r[0] for r in sdk), statistics.median(r[1] for r in sdk)
    our_ttft, our_total = statistics.median(r[0] for r in ours), statistics.median(r[1] for r in ours)
    tokens = {r[2] for r in sdk + ours}
    print(f"server: llama_cpp.server on loopback, demo model, {args.threads} threads, {args.max_tokens} tokens, "
          f"{args.rounds} rounds (answers of {sorted(tokens)} tokens)")
    print(f"official SDK loop: first token {sdk_ttft:.1f} ms, whole answer {sdk_total:.0f} ms (median)")
    print(f"ModelScout provider: first token {our_ttft:.1f} ms, whole answer {our_total:.0f} ms (median)")
    ratio = our_total / sdk_total
    print(f"ratio (provider / SDK, whole answer): {ratio:.3f}; first token {our_ttft - sdk_ttft:+.1f} ms")
    ok = ratio <= 1.03 and our_ttft - sdk_ttft <= 5
    print("PASS" if ok else "FAIL (goal: ratio <= 1.03, first token within +5 ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
