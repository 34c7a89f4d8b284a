"""The benchmarks' own tools: the big-vocabulary model generator and the native llama.cpp anchor."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import big_vocab_model, native

PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."


def test_the_big_vocab_tokenizer_has_262144_distinct_tokens_and_builds_whole_words() -> None:
    tokens, types, merges = big_vocab_model.tokenizer()
    assert (len(tokens), len(set(tokens)), len(types)) == (262144, 262144, 262144)
    assert {"Ġlighthouse", "Write", "Ġbottle"} <= set(tokens)
    made = {left + right for left, right in (m.split(" ") for m in merges)}
    assert made <= set(tokens)


def test_a_model_from_the_big_vocab_generator_round_trips_english_and_generates_visible_tokens(
        tmp_path: Path) -> None:
    """Same tokenizer and chat template as the 262k model, small enough to load in a moment."""
    import llama_cpp

    path = big_vocab_model.write_f16(tmp_path / "small-vocab.gguf", layers=1, hidden=64, ff=128, heads=4,
                                     kv_heads=1, context=256, vocab_size=4096)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, n_threads=1, verbose=False)
    try:
        assert llm.n_vocab() == 4096
        tokens = llm.tokenize(PROMPT.encode(), add_bos=False)
        assert llm.detokenize(tokens).decode() == PROMPT
        assert len(tokens) == len(PROMPT.split()) + 1  # one token per word, and the full stop
        chunks = [chunk["choices"][0]["delta"].get("content") for chunk in llm.create_chat_completion(
            messages=[{"role": "user", "content": "Hello"}], max_tokens=8, temperature=0.0, stream=True)]
        assert len([text for text in chunks if text]) == 8  # a stream sees text for every generated token
    finally:
        llm.close()


def test_native_tools_are_looked_up_per_installed_version_in_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCOUT_BENCH_CACHE", str(tmp_path))
    assert native.find() is None
    bin_dir = tmp_path / f"llama.cpp-{native.installed_version()}" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in native.TOOLS:
        (bin_dir / tool).write_text("#!/bin/sh\n")
        (bin_dir / tool).chmod(0o755)
    assert native.find() == {tool: bin_dir / tool for tool in native.TOOLS}


def test_a_failing_build_step_says_which_step_in_one_line() -> None:
    with pytest.raises(native.NativeError, match=r"^cmake configure failed \(exit \d+\): [^\n]+$"):
        native._run(["cmake", "-S", "/nonexistent-source", "-B", "/nonexistent-build"], "cmake configure")
    with pytest.raises(native.NativeError, match="no-such-compiler-xyz not found; install it"):
        native._run(["no-such-compiler-xyz"], "cmake build")


@pytest.mark.model
def test_llama_bench_and_batched_bench_figures_are_parsed(demo_model: Path) -> None:
    if native.find() is None:
        pytest.skip(reason="llama-bench is not built here: run benchmarks/native.py --build (minutes, once)")
    single = native.llama_bench(demo_model, threads=1, n_prompt=8, n_gen=4, reps=1)
    assert single["tg"] > 0 and single["pp"] > 0
    rows = native.batched_bench(demo_model, threads=1, n_prompt=8, n_gen=4, parallel=(1, 2), n_ctx=256)
    assert [row["pl"] for row in rows] == [1, 2]
    assert all(row["speed_tg"] > 0 and row["speed"] > 0 for row in rows)
