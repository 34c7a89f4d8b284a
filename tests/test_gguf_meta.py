"""Tests for the fast GGUF metadata reader, on real files written in tmp_path and the demo model."""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import gguf
import pytest

from desktop_app.models.gguf_meta import (
    FILE_TYPE_NAMES,
    GGML_TYPES,
    GGUFError,
    ModelInfo,
    read_chat_template,
    read_metadata,
)
from tests.ggufs import write_big_vocab_gguf, write_tiny_gguf
from tests.unprivileged import as_ordinary_user, open_folder

TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}<|assistant|>"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("tiny") / "tiny.gguf", chat_template=TEMPLATE, license="apache-2.0")


@pytest.fixture(scope="module")
def big_vocab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_big_vocab_gguf(tmp_path_factory.mktemp("big") / "big-vocab.gguf")


def tiny_parameters(vocab: int, n_layer: int, n_embd: int, n_head: int, n_head_kv: int) -> int:
    head = n_embd // n_head
    n_ff = 2 * n_embd
    per_layer = 2 * n_embd + 2 * n_embd * n_embd + 2 * n_head_kv * head * n_embd + 3 * n_ff * n_embd
    return 2 * vocab * n_embd + n_layer * per_layer + n_embd


# --- good files ---------------------------------------------------------------------------------


@pytest.mark.model
def test_demo_model_matches_what_llama_cpp_reads(demo_model: Path) -> None:
    """The engine that runs the model is the reference (gguf's own reader, checked on small files below,
    takes 5 s to walk this file's 49,152-token vocabulary)."""
    import ctypes

    import llama_cpp

    info = read_metadata(demo_model)
    llama = llama_cpp.Llama(str(demo_model), n_ctx=16, n_threads=1, verbose=False)
    try:
        model = llama._model.model
        description = ctypes.create_string_buffer(128)
        llama_cpp.llama_model_desc(model, description, len(description))
        assert info.parameters == llama_cpp.llama_model_n_params(model)
        assert (info.context_length, info.layers, info.embedding_size) == (
            llama_cpp.llama_model_n_ctx_train(model), llama_cpp.llama_model_n_layer(model),
            llama_cpp.llama_model_n_embd(model))
        assert (info.attention_heads, info.kv_heads) == (llama_cpp.llama_model_n_head(model),
                                                          llama_cpp.llama_model_n_head_kv(model))
        assert info.vocab_size == llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model))
        assert description.value.decode().split() == [info.architecture, description.value.decode().split()[1],
                                                       info.quantization]
    finally:
        llama.close()
    with demo_model.open("rb") as file:
        magic, version, tensor_count = struct.unpack("<4sIQ", file.read(16))
    assert (magic, info.gguf_version, info.tensor_count) == (b"GGUF", version, tensor_count) and version == 3
    assert 130_000_000 < info.parameters < 140_000_000
    assert (info.architecture, info.quantization, info.head_size) == ("llama", "Q4_1", 64)
    assert info.has_chat_template
    assert info.file_size == demo_model.stat().st_size
    assert "im_start" in (read_chat_template(demo_model) or "")


def test_tiny_model_fields(tiny: Path) -> None:
    info = read_metadata(tiny)
    assert info == ModelInfo(
        path=str(tiny.resolve()),
        file_size=tiny.stat().st_size,
        name="tiny-test",
        architecture="llama",
        parameters=tiny_parameters(64, 2, 32, 4, 2),
        quantization="F32",  # no general.file_type: the dominant tensor type
        context_length=256,
        layers=2,
        embedding_size=32,
        attention_heads=4,
        kv_heads=2,
        head_size=8,
        vocab_size=64,
        has_chat_template=True,
        license="apache-2.0",
        gguf_version=3,
        tensor_count=1 + 9 * 2 + 2,
    )
    assert read_chat_template(tiny) == TEMPLATE


def test_relative_path_is_made_absolute(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tiny.parent)
    assert read_metadata(tiny.name).path == str(tiny)


@pytest.mark.parametrize(
    ("file_type", "expected"),
    [(0, "F32"), (1, "F16"), (3, "Q4_1"), (7, "Q8_0"), (15, "Q4_K_M"), (18, "Q6_K"), (32, "BF16"), (4, "F32")],
)
def test_quantization_from_file_type(tmp_path: Path, file_type: int, expected: str) -> None:
    # 4 is a retired llama_ftype: the name then comes from the tensors.
    assert read_metadata(write_tiny_gguf(tmp_path / "m.gguf", file_type=file_type)).quantization == expected


def test_optional_fields_and_fallbacks(tmp_path: Path) -> None:
    path = write_tiny_gguf(
        tmp_path / "my-model.gguf",
        extra_kv={"general.name": None, "llama.attention.head_count_kv": None, "llama.context_length": None},
    )
    info = read_metadata(path)
    assert info.name == "my-model"
    assert info.kv_heads == info.attention_heads == 4
    assert info.context_length is None
    assert info.has_chat_template is False
    assert info.license is None
    assert read_chat_template(path) is None


def test_explicit_keys_win(tmp_path: Path) -> None:
    path = write_tiny_gguf(
        tmp_path / "m.gguf",
        extra_kv={
            "general.parameter_count": 7_000_000_000,
            "llama.attention.key_length": 128,
            "llama.vocab_size": 99,
            "tokenizer.chat_template": "   ",
        },
    )
    info = read_metadata(path)
    assert (info.parameters, info.head_size, info.vocab_size) == (7_000_000_000, 128, 99)
    assert info.has_chat_template is False


def test_per_layer_head_counts_take_the_maximum(tmp_path: Path) -> None:
    path = write_tiny_gguf(
        tmp_path / "m.gguf",
        n_layer=3,
        extra_kv={"llama.attention.head_count": [4, 8, 4], "llama.attention.head_count_kv": [0, 2, 1]},
    )
    info = read_metadata(path)
    assert (info.attention_heads, info.kv_heads) == (8, 2)


def test_unknown_architecture_is_still_read(tmp_path: Path) -> None:
    info = read_metadata(write_tiny_gguf(tmp_path / "m.gguf", architecture="notarealarch", n_layer=3))
    assert (info.architecture, info.layers, info.embedding_size) == ("notarealarch", 3, 32)


def test_to_dict_round_trips_through_json(tiny: Path) -> None:
    info = read_metadata(tiny)
    assert ModelInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info


def test_big_vocab_is_read(big_vocab: Path) -> None:
    info = read_metadata(big_vocab)  # its speed is measured in benchmarks/metadata_speed.py
    assert info.vocab_size == 262144
    assert info.quantization == "Q8_0"
    assert info.parameters == 8 * 4 + 8


def test_big_vocab_writer_makes_a_file_gguf_reader_accepts(tmp_path: Path) -> None:
    path = write_big_vocab_gguf(tmp_path / "b.gguf", vocab_size=500, merges=300)
    reader = gguf.GGUFReader(path)
    assert len(reader.fields["tokenizer.ggml.tokens"].data) == 500
    assert len(reader.fields["tokenizer.ggml.merges"].data) == 300
    assert read_metadata(path).parameters == sum(int(t.n_elements) for t in reader.tensors)


def test_tables_match_the_gguf_package() -> None:
    for quant_type in gguf.GGMLQuantizationType:
        block_size, type_size = gguf.GGML_QUANT_SIZES[quant_type]
        assert GGML_TYPES[quant_type.value] == (quant_type.name, block_size, type_size)
    for file_type in gguf.LlamaFileType:
        if file_type.name == "GUESSED":
            continue
        assert FILE_TYPE_NAMES[file_type.value] == file_type.name.removeprefix("MOSTLY_").removeprefix("ALL_")


def test_reader_does_not_import_numpy_or_gguf() -> None:
    code = "import sys, desktop_app.models.gguf_meta; print(sorted({'numpy', 'gguf'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_tiny_model_loads_and_generates_in_llama_cpp(tmp_path: Path) -> None:
    import llama_cpp
    path = write_tiny_gguf(tmp_path / "tiny.gguf", chat_template=TEMPLATE)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=128, verbose=False)
    try:
        result = llm.create_completion("hello", max_tokens=5)
        assert result["usage"]["completion_tokens"] >= 1
        assert llm.n_vocab() == 64
    finally:
        llm.close()


# --- bad input ----------------------------------------------------------------------------------


def expect_error(path: Path, *fragments: str) -> str:
    with pytest.raises(GGUFError) as caught:
        read_metadata(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.gguf", "no such file")


def test_folder(tmp_path: Path) -> None:
    expect_error(tmp_path, "is a folder")


@pytest.mark.skipif(os.name != "posix", reason="only POSIX systems make a chmod 000 file unreadable")
def test_unreadable_file(tiny: Path, tmp_path: Path) -> None:
    with open_folder(tmp_path) as folder:
        path = folder / "locked.gguf"
        path.write_bytes(tiny.read_bytes())
        path.chmod(0)
        message = as_ordinary_user(lambda: expect_error(path, "permission denied"))
    assert message.startswith(str(path))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.gguf"
    path.touch()
    expect_error(path, "empty (0 bytes)")


@pytest.mark.parametrize(
    ("start", "looks_like"),
    [
        (b"PK\x03\x04" + b"\0" * 60, "zip archive"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "HTML"),
        (struct.pack("<Q", 40) + b'{"__metadata__": {}}' + b" " * 30, "safetensors"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\n", "Git LFS pointer"),
        (b"\x80\x02}q\x00" + b"\0" * 40, "pickle"),
        (b"tjgg" + b"\0" * 40, "GGML"),
        (b"hello world, this is text", "unknown format"),
    ],
)
def test_not_gguf_says_what_it_looks_like(tmp_path: Path, start: bytes, looks_like: str) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(start)
    expect_error(path, "not a GGUF file", looks_like, "convert_hf_to_gguf.py")


def patched(tiny: Path, tmp_path: Path, offset: int, data: bytes) -> Path:
    content = bytearray(tiny.read_bytes())
    content[offset : offset + len(data)] = data
    path = tmp_path / "patched.gguf"
    path.write_bytes(bytes(content))
    return path


def test_version_2_is_read(tiny: Path, tmp_path: Path) -> None:
    # v2 differs from v3 only in allowing big-endian files; the layout is the same.
    info = read_metadata(patched(tiny, tmp_path, 4, struct.pack("<I", 2)))
    assert (info.gguf_version, info.layers) == (2, 2)


def test_version_1_is_rejected(tiny: Path, tmp_path: Path) -> None:
    expect_error(patched(tiny, tmp_path, 4, struct.pack("<I", 1)), "version 1 is too old")


def test_future_version_is_rejected(tiny: Path, tmp_path: Path) -> None:
    expect_error(patched(tiny, tmp_path, 4, struct.pack("<I", 4)), "version 4 is not supported")


def test_big_endian_is_rejected(tiny: Path, tmp_path: Path) -> None:
    expect_error(patched(tiny, tmp_path, 4, struct.pack(">I", 3)), "big-endian")


def test_absurd_kv_count_does_not_allocate(tiny: Path, tmp_path: Path) -> None:
    expect_error(patched(tiny, tmp_path, 16, struct.pack("<Q", 2**40)), str(2**40), "metadata entries")


def test_absurd_tensor_count(tiny: Path, tmp_path: Path) -> None:
    expect_error(patched(tiny, tmp_path, 8, struct.pack("<Q", 2**40)), str(2**40), "tensors")


def test_absurd_key_length(tiny: Path, tmp_path: Path) -> None:
    expect_error(patched(tiny, tmp_path, 24, struct.pack("<Q", 2**62)), "truncated", "metadata entry 0")


def test_absurd_string_array_length(tmp_path: Path) -> None:
    path = write_big_vocab_gguf(tmp_path / "b.gguf", vocab_size=10, merges=10)
    content = path.read_bytes()
    count_at = content.index(b"tokenizer.ggml.tokens") + len("tokenizer.ggml.tokens") + 8
    assert struct.unpack_from("<Q", content, count_at)[0] == 10
    expect_error(patched(path, tmp_path, count_at, struct.pack("<Q", 2**61)), "truncated", "tokenizer.ggml.tokens")


def test_truncated_header(tiny: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny.read_bytes()[:10])
    expect_error(path, "truncated", "GGUF header")


def test_truncated_tensor_data(tiny: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny.read_bytes()[:-1])
    expect_error(path, "truncated", f"need {tiny.stat().st_size} bytes")


def test_every_truncation_point_gives_a_gguf_error(tmp_path: Path) -> None:
    tiny = write_tiny_gguf(tmp_path / "small.gguf", vocab_size=41, n_layer=1)
    content = tiny.read_bytes()
    path = tmp_path / "cut.gguf"
    header_end = content.index(b"output.weight") + 64
    seen_kinds = set()
    # Cuts all through the header (every byte up to 64, then every third), and a few in the tensor data.
    for length in [*range(1, 64), *range(64, header_end, 3), *range(header_end, len(content), 997)]:
        path.write_bytes(content[:length])
        message = expect_error(path, "truncated")
        for kind in ("GGUF header", "metadata", "tensor '", "need"):
            if kind in message:
                seen_kinds.add(kind)
    assert seen_kinds == {"GGUF header", "metadata", "tensor '", "need"}


def test_corrupted_bytes_never_raise_anything_but_gguf_error(tmp_path: Path) -> None:
    tiny = write_tiny_gguf(tmp_path / "small.gguf", vocab_size=41, n_layer=1)
    content = tiny.read_bytes()
    header_end = content.index(b"output.weight") + 40
    rng = random.Random(1234)
    path = tmp_path / "bad.gguf"
    for _ in range(500):
        broken = bytearray(content)
        for _ in range(rng.randint(1, 4)):
            broken[rng.randrange(4, header_end)] = rng.randrange(256)
        path.write_bytes(bytes(broken))
        try:
            read_metadata(path)
        except GGUFError:
            pass
