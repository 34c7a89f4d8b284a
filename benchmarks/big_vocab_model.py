"""A random-weight Q4_K_M GGUF with a 262,144-token vocabulary: the per-token costs of a 270M model.

Models like Gemma 3 270M spend most of each generated token on the output layer (640 × 262,144
weights) and on handing a 262k-float logits row around, not on their few small layers. This writes a
llama-architecture model of that shape — hidden 640, tied input/output embeddings, a handful of
layers — with random weights (F16) using the gguf package, then quantizes it to Q4_K_M with
llama.cpp's own quantizer (the output embedding becomes Q6_K, as in a real Q4_K_M file). Its
llama-bench tg lands near a real 270M model's (84 tok/s on 2 cores here), so the speed of a loop
that copies or samples whole logits rows shows up as it would with the real thing. It answers
nonsense, quickly.

The tokenizer is a GPT-2-style byte-level BPE: all 256 byte characters, merges that build common
English words, Gemma-style turn markers with a matching chat template, and filler word tokens up to
262,144 entries — every token decodes to visible text, so a stream counts each generated token.

    .venv/bin/python benchmarks/big_vocab_model.py OUT.gguf [--layers 6] [--hidden 640] [--ff 2048]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import gguf
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VOCAB_SIZE = 262144
CONTROL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
PAD, EOS, BOS, UNK, START_OF_TURN, END_OF_TURN = range(len(CONTROL_TOKENS))
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{{ m['content'] }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
# Words the tokenizer builds by merges, so English prompts become word-sized tokens as with a real vocabulary.
_WORDS_TEXT = """the of and to in is that it for on with as was at by be this are from or an have not but
they which you all one were we there their has been had what when who will would more can if out
about so up said do into time some them other could than first then its also after new now only
write detailed story lighthouse keeper who finds message bottle answer question explain short
helpful assistant please give list name three why how many what where number day year word
first second best good small large water light house sea ship night morning letter found read
hello world"""
WORDS = _WORDS_TEXT.split()
_TOKEN_NORMAL, _TOKEN_CONTROL = 1, 3


def byte_level_chars() -> list[str]:
    """GPT-2's byte -> printable character table, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def tokenizer(vocab_size: int = VOCAB_SIZE) -> tuple[list[str], list[int], list[str]]:
    """Tokens, token types and merges: bytes, word merges (with and without a leading space), filler."""
    tokens = list(CONTROL_TOKENS) + byte_level_chars()
    merges = word_merges([spelled for word in WORDS
                          for spelled in (word, "Ġ" + word, word.capitalize(), "Ġ" + word.capitalize())])
    tokens += [left + right for left, right in merges]
    filler = (f"Ġw{i}" for i in range(vocab_size))  # decodes to " w123": visible, never built by merges
    tokens += [t for t, _ in zip(filler, range(vocab_size - len(tokens)))]
    types = [_TOKEN_CONTROL] * len(CONTROL_TOKENS) + [_TOKEN_NORMAL] * (len(tokens) - len(CONTROL_TOKENS))
    return tokens, types, [f"{left} {right}" for left, right in merges]


def word_merges(words: list[str]) -> list[tuple[str, str]]:
    """BPE training until every word is one token: applying the merges in order rebuilds each word whole."""
    pieces = [list(word) for word in dict.fromkeys(words)]
    merges: list[tuple[str, str]] = []
    while True:
        counts: dict[tuple[str, str], int] = {}
        for word in pieces:
            for pair in itertools.pairwise(word):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            return merges
        best = max(counts, key=counts.get)  # first-seen among equals: deterministic
        merges.append(best)
        for i, word in enumerate(pieces):
            merged, j = [], 0
            while j < len(word):
                if j + 1 < len(word) and (word[j], word[j + 1]) == best:
                    merged.append(word[j] + word[j + 1])
                    j += 2
                else:
                    merged.append(word[j])
                    j += 1
            pieces[i] = merged


def write_f16(path: Path, *, layers: int, hidden: int, ff: int, heads: int, kv_heads: int,
              context: int, vocab_size: int = VOCAB_SIZE, seed: int = 0) -> Path:
    """The random-weight model in F16 (norms F32), llama architecture, output tied to the input embedding."""
    tokens, types, merges = tokenizer(vocab_size)
    head_dim = hidden // heads
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("big-vocab-random-270m-like")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(context)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(EOS)
    writer.add_eot_token_id(END_OF_TURN)
    writer.add_pad_token_id(PAD)
    writer.add_unk_token_id(UNK)
    writer.add_add_bos_token(True)
    writer.add_chat_template(CHAT_TEMPLATE)

    rng = np.random.default_rng(seed)

    def weights(rows: int, cols: int) -> np.ndarray:
        return rng.standard_normal((rows, cols), dtype=np.float32).astype(np.float16) * np.float16(0.02)

    ones = np.ones(hidden, dtype=np.float32)
    writer.add_tensor("token_embd.weight", weights(len(tokens), hidden))  # no output.weight: tied, as in Gemma
    for i in range(layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", ones)
        writer.add_tensor(f"blk.{i}.attn_q.weight", weights(heads * head_dim, hidden))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weights(kv_heads * head_dim, hidden))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weights(kv_heads * head_dim, hidden))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weights(hidden, heads * head_dim))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", ones)
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weights(ff, hidden))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weights(ff, hidden))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weights(hidden, ff))
    writer.add_tensor("output_norm.weight", ones)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_big_vocab_model(out: str | Path, *, layers: int = 6, hidden: int = 640, ff: int = 2048,
                          heads: int = 4, kv_heads: int = 1, context: int = 8192, qtype: str = "Q4_K_M") -> Path:
    """Write the F16 model to a temporary file and quantize it to `out` (`qtype`; F16 keeps it as is)."""
    from desktop_app.models.quantize import quantize

    out = Path(out)
    with tempfile.TemporaryDirectory(dir=out.parent) as work:
        f16 = write_f16(Path(work) / "big-vocab.F16.gguf", layers=layers, hidden=hidden, ff=ff, heads=heads,
                        kv_heads=kv_heads, context=context)
        if qtype.upper() == "F16":
            f16.replace(out)
        else:
            quantize(f16, qtype, out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the GGUF to write (must not exist)")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=640)
    parser.add_argument("--ff", type=int, default=2048)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=1)
    parser.add_argument("--qtype", default="Q4_K_M")
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists():
        print(f"error: {out} already exists; delete it or choose another path", file=sys.stderr)
        return 1
    started = time.monotonic()
    write_big_vocab_model(out, layers=args.layers, hidden=args.hidden, ff=args.ff, heads=args.heads,
                          kv_heads=args.kv_heads, qtype=args.qtype)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.0f} MB) in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
