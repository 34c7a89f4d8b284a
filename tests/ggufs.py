"""Tiny GGUF files for tests: a random-weight llama that llama.cpp loads, and a big-vocabulary header."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np

# Merges that build a few common words out of single characters.
_BASE_WORDS_MERGES = [
    ("h", "e"),
    ("l", "l"),
    ("he", "ll"),
    ("hell", "o"),
    ("Ġ", "t"),
    ("Ġt", "he"),
    ("i", "n"),
    ("e", "r"),
    ("a", "n"),
    ("o", "n"),
    ("r", "e"),
    ("a", "t"),
]
_TOKEN_NORMAL, _TOKEN_CONTROL, _TOKEN_UNUSED = 1, 3, 5


def _byte_level_chars() -> list[str]:
    """GPT-2's byte -> printable character table, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def _tiny_bpe_vocab(vocab_size: int) -> tuple[list[str], list[int], list[str]]:
    """Tokens, token types and merges of a small GPT-2-style byte-level BPE tokenizer."""
    byte_chars = _byte_level_chars()
    tokens = ["<|endoftext|>", byte_chars[ord("\n")], byte_chars[ord(" ")]]
    tokens += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens += [left + right for left, right in _BASE_WORDS_MERGES]
    if vocab_size < len(tokens):
        raise ValueError(f"vocab_size must be at least {len(tokens)} for the tiny tokenizer")
    known = set(tokens)
    tokens += [c for c in byte_chars if c not in known][: vocab_size - len(tokens)]
    extra = vocab_size - len(tokens)
    tokens += [f"<|unused_{i}|>" for i in range(extra)]
    types = [_TOKEN_CONTROL] + [_TOKEN_NORMAL] * (len(tokens) - 1 - extra) + [_TOKEN_UNUSED] * extra
    merges = [f"{left} {right}" for left, right in _BASE_WORDS_MERGES]
    return tokens, types, merges


def write_tiny_gguf(
    path: str | Path,
    *,
    architecture: str = "llama",
    name: str = "tiny-test",
    chat_template: str | None = None,
    vocab_size: int = 64,
    n_layer: int = 2,
    n_embd: int = 32,
    n_head: int = 4,
    n_head_kv: int = 2,
    context_length: int = 256,
    file_type: int | None = None,
    license: str | None = None,
    extra_kv: dict[str, Any] | None = None,
) -> Path:
    """A random-weight llama-shaped model (F32) that llama.cpp loads and generates nonsense with.

    `extra_kv` adds or replaces metadata (a value of None removes a key); ints are written as
    uint32 (int64 when out of range), floats as float32, lists as arrays of their first item's type.
    """
    path = Path(path)
    head_size = n_embd // n_head
    n_ff = 2 * n_embd
    tokens, token_types, merges = _tiny_bpe_vocab(vocab_size)
    T = gguf.GGUFValueType
    arch = architecture
    kv: dict[str, tuple[Any, Any]] = {
        "general.name": (name, T.STRING),
        f"{arch}.context_length": (context_length, T.UINT32),
        f"{arch}.embedding_length": (n_embd, T.UINT32),
        f"{arch}.block_count": (n_layer, T.UINT32),
        f"{arch}.feed_forward_length": (n_ff, T.UINT32),
        f"{arch}.rope.dimension_count": (head_size, T.UINT32),
        f"{arch}.attention.head_count": (n_head, T.UINT32),
        f"{arch}.attention.head_count_kv": (n_head_kv, T.UINT32),
        f"{arch}.attention.layer_norm_rms_epsilon": (1e-5, T.FLOAT32),
        "tokenizer.ggml.model": ("gpt2", T.STRING),
        "tokenizer.ggml.pre": ("default", T.STRING),
        "tokenizer.ggml.tokens": (tokens, T.ARRAY),
        "tokenizer.ggml.token_type": (token_types, T.ARRAY),
        "tokenizer.ggml.merges": (merges, T.ARRAY),
        "tokenizer.ggml.bos_token_id": (0, T.UINT32),
        "tokenizer.ggml.eos_token_id": (0, T.UINT32),
    }
    if file_type is not None:
        kv["general.file_type"] = (file_type, T.UINT32)
    if license is not None:
        kv["general.license"] = (license, T.STRING)
    if chat_template is not None:
        kv["tokenizer.chat_template"] = (chat_template, T.STRING)
    for key, value in (extra_kv or {}).items():
        if value is None:
            kv.pop(key, None)
        else:
            kv[key] = (value, _value_type(value))

    writer = gguf.GGUFWriter(str(path), arch)
    for key, (value, value_type) in kv.items():
        if value_type == T.ARRAY:
            writer.add_array(key, value)
        else:
            writer.add_key_value(key, value, value_type)

    rng = np.random.default_rng(0)

    def weights(rows: int, cols: int) -> np.ndarray:
        return rng.normal(0.0, 0.02, size=(rows, cols)).astype(np.float32)

    ones = np.ones(n_embd, dtype=np.float32)
    writer.add_tensor("token_embd.weight", weights(vocab_size, n_embd))
    for i in range(n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", ones)
        writer.add_tensor(f"blk.{i}.attn_q.weight", weights(n_head * head_size, n_embd))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weights(n_head_kv * head_size, n_embd))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weights(n_head_kv * head_size, n_embd))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weights(n_embd, n_head * head_size))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", ones)
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weights(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weights(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weights(n_embd, n_ff))
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", weights(vocab_size, n_embd))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _value_type(value: Any) -> Any:
    T = gguf.GGUFValueType
    if isinstance(value, bool):
        return T.BOOL
    if isinstance(value, int):
        return T.UINT32 if 0 <= value < 2**32 else T.INT64
    if isinstance(value, float):
        return T.FLOAT32
    if isinstance(value, str):
        return T.STRING
    if isinstance(value, (list, tuple)):
        return T.ARRAY
    raise TypeError(f"cannot write {type(value).__name__} as GGUF metadata")


# --- a metadata-heavy file, written directly (GGUFWriter packs 500k strings one call at a time) ---


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _kv_string(key: str, value: str) -> bytes:
    return _gguf_string(key) + struct.pack("<I", 8) + _gguf_string(value)


def _kv_u32(key: str, value: int) -> bytes:
    return _gguf_string(key) + struct.pack("<II", 4, value)


def _kv_string_array(key: str, values: list[str]) -> bytes:
    body = b"".join([struct.pack("<Q", len(b)) + b for b in (v.encode() for v in values)])
    return _gguf_string(key) + struct.pack("<IIQ", 9, 8, len(values)) + body


def _kv_numeric_array(key: str, array: np.ndarray, item_type: int) -> bytes:
    return _gguf_string(key) + struct.pack("<IIQ", 9, item_type, len(array)) + array.tobytes()


def write_big_vocab_gguf(path: str | Path, vocab_size: int = 262144, merges: int = 250000) -> Path:
    """A valid GGUF v3 with a huge tokenizer (tokens, scores, types, merges) and two tiny F32 tensors.

    Only the metadata is realistic: it is for timing metadata readers, not for loading in llama.cpp.
    """
    path = Path(path)
    tokens = [f"tok{i}" if i % 3 else f"▁word{i}ing" for i in range(vocab_size)]
    merge_list = [f"tok{i} tok{i + 1}" for i in range(merges)]
    kvs = [
        _kv_string("general.architecture", "llama"),
        _kv_string("general.name", "big-vocab-test"),
        _kv_u32("general.file_type", 7),
        _kv_u32("llama.context_length", 131072),
        _kv_u32("llama.embedding_length", 8),
        _kv_u32("llama.block_count", 1),
        _kv_u32("llama.attention.head_count", 2),
        _kv_u32("llama.attention.head_count_kv", 1),
        _kv_string("tokenizer.ggml.model", "gpt2"),
        _kv_string_array("tokenizer.ggml.tokens", tokens),
        _kv_numeric_array("tokenizer.ggml.scores", np.zeros(vocab_size, dtype=np.float32), 6),
        _kv_numeric_array("tokenizer.ggml.token_type", np.ones(vocab_size, dtype=np.int32), 5),
        _kv_string_array("tokenizer.ggml.merges", merge_list),
        _kv_string("tokenizer.chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}"),
    ]
    tensors = [("token_embd.weight", (8, 4)), ("output_norm.weight", (8,))]
    infos = []
    offset = 0
    for name, dims in tensors:
        infos.append(_gguf_string(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, 0, offset))
        offset += int(np.prod(dims)) * 4
        offset = (offset + 31) // 32 * 32
    header = struct.pack("<4sIQQ", b"GGUF", 3, len(tensors), len(kvs))
    meta = header + b"".join(kvs) + b"".join(infos)
    padding = b"\0" * ((32 - len(meta) % 32) % 32)
    with open(path, "wb") as file:
        file.write(meta + padding + b"\0" * offset)
    return path


# --- copies of a real model, rewritten byte by byte (the gguf package's writer takes many seconds) ---


_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF value type -> bytes


def _skip_value(data: bytes, pos: int, value_type: int) -> int:
    """The position after one GGUF value of `value_type` starting at `pos`."""
    if value_type == 8:  # string
        return pos + 8 + struct.unpack_from("<Q", data, pos)[0]
    if value_type == 9:  # array
        item_type, count = struct.unpack_from("<IQ", data, pos)
        pos += 12
        if item_type in _SCALAR_SIZES:
            return pos + count * _SCALAR_SIZES[item_type]
        for _ in range(count):
            pos = _skip_value(data, pos, item_type)
        return pos
    return pos + _SCALAR_SIZES[value_type]


@dataclass(frozen=True)
class _Tensor:
    name: str
    dims: tuple[int, ...]  # innermost first, as ggml lists them
    type: int  # a gguf.GGMLQuantizationType value
    offset: int  # from the start of the data section


@dataclass(frozen=True)
class _Layout:
    """A GGUF file taken apart: its metadata entries (key, value type, raw value bytes), its tensors, and
    where their infos and data begin."""

    data: bytes
    version: int
    entries: list[tuple[str, int, bytes]]
    tensors: list[_Tensor]
    infos: tuple[int, int]  # the tensor infos' byte range
    data_start: int
    alignment: int


def _layout(source: str | Path) -> _Layout:
    data = Path(source).read_bytes()
    magic, version, tensor_count, kv_count = struct.unpack_from("<4sIQQ", data, 0)
    if magic != b"GGUF":
        raise ValueError(f"{source} is not a GGUF file")
    pos = 24
    entries: list[tuple[str, int, bytes]] = []
    for _ in range(kv_count):
        (length,) = struct.unpack_from("<Q", data, pos)
        key = data[pos + 8:pos + 8 + length].decode()
        (value_type,) = struct.unpack_from("<I", data, pos + 8 + length)
        start = pos + 12 + length
        pos = _skip_value(data, start, value_type)
        entries.append((key, value_type, data[start:pos]))
    values = {key: raw for key, _, raw in entries}
    alignment = struct.unpack("<I", values["general.alignment"])[0] if "general.alignment" in values else 32
    infos_start = pos
    tensors = []
    for _ in range(tensor_count):
        (length,) = struct.unpack_from("<Q", data, pos)
        name = data[pos + 8:pos + 8 + length].decode()
        pos += 8 + length
        (n_dims,) = struct.unpack_from("<I", data, pos)
        dims = struct.unpack_from(f"<{n_dims}Q", data, pos + 4)
        tensor_type, offset = struct.unpack_from("<IQ", data, pos + 4 + 8 * n_dims)
        pos += 4 + 8 * n_dims + 4 + 8
        tensors.append(_Tensor(name, dims, tensor_type, offset))
    return _Layout(data, version, entries, tensors, (infos_start, pos), -(-pos // alignment) * alignment, alignment)


def _write(layout: _Layout, target: str | Path, entries: list[tuple[str, int, bytes]],
           tensor_data: bytes | bytearray | None = None) -> Path:
    """The file of `layout` with these metadata entries (and this tensor data, else its own), realigned."""
    out = bytearray(struct.pack("<4sIQQ", b"GGUF", layout.version, len(layout.tensors), len(entries)))
    for key, value_type, raw in entries:
        out += _gguf_string(key) + struct.pack("<I", value_type) + raw
    out += layout.data[layout.infos[0]:layout.infos[1]]
    out += bytes(-len(out) % layout.alignment)
    target = Path(target)
    with open(target, "wb") as file:
        file.write(out)
        file.write(memoryview(layout.data)[layout.data_start:] if tensor_data is None else tensor_data)
    return target


def copy_gguf_without(source: str | Path, target: str | Path, remove: tuple[str, ...]) -> Path:
    """Copy a GGUF, all its metadata and tensors byte for byte, except the keys in `remove` (e.g. a base
    model: the demo model without its chat template). The metadata is rewritten in place of the old and
    the tensor data copied as it is, realigned: what the gguf package's gguf_new_metadata.py script
    writes, in a fraction of the seconds its writer takes."""
    layout = _layout(source)
    return _write(layout, target, [entry for entry in layout.entries if entry[0] not in remove])


def copy_gguf_with_architecture(source: str | Path, target: str | Path, architecture: str) -> Path:
    """Copy a GGUF byte for byte but for its architecture: `general.architecture` and every `<arch>.` key
    renamed, as a model of an architecture this llama.cpp has never heard of would be written.

    The metadata is rewritten in place of the old (tensor infos and data copied as they are, the data
    realigned), which takes a fraction of a second where the gguf package's writer takes many.
    """
    layout = _layout(source)
    old = next(raw for key, _, raw in layout.entries if key == "general.architecture")[8:].decode()
    entries = []
    for key, value_type, raw in layout.entries:
        if key == "general.architecture":
            raw = _gguf_string(architecture)
        elif key.startswith(f"{old}."):
            key = f"{architecture}.{key[len(old) + 1:]}"
        entries.append((key, value_type, raw))
    return _write(layout, target, entries)



def tiny_copy_with_tokenizer(source: str | Path, target: str | Path, **shape: int) -> Path:
    """A tiny random-weight llama (write_tiny_gguf's, shaped by `shape`) that speaks through `source`'s
    tokenizer and chat template, copied byte for byte: it reads and writes the same tokens as the model at
    `source` and formats its prompts the same way, at a sliver of the cost of a prompt."""
    donor = _layout(source)
    borrowed = [entry for entry in donor.entries if entry[0].startswith("tokenizer.")]
    (count,) = struct.unpack_from("<Q", next(raw for key, _, raw in borrowed if key == "tokenizer.ggml.tokens"), 4)
    body = write_tiny_gguf(Path(target).with_suffix(".body.gguf"), vocab_size=count, **shape)
    layout = _layout(body)
    entries = [entry for entry in layout.entries if not entry[0].startswith("tokenizer.")] + borrowed
    try:
        return _write(layout, target, entries)
    finally:
        body.unlink()
