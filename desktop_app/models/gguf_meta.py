"""Read a GGUF model's metadata (architecture, size, quantization, shape) without loading its weights."""

from __future__ import annotations

import mmap
import os
import stat
import struct
from dataclasses import asdict, dataclass, fields
from itertools import repeat
from pathlib import Path
from typing import Any

from desktop_app.errors import UserError

# The gguf package's enums would give these names, but `import gguf` pulls in numpy and took
# 150-350 ms here (gguf 0.19, numpy 2.4), far over a ~30 ms budget, so the small tables are
# copied from gguf 0.19; tests/test_gguf_meta.py checks them against the installed package.

# llama.cpp's llama_ftype (general.file_type) -> the name users know.
FILE_TYPE_NAMES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
}

# ggml tensor type id -> (name, elements per block, bytes per block).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_TENSOR_DIMS = 4  # GGML_MAX_DIMS
# Numeric arrays up to this length are kept (per-layer head counts); longer ones are skipped.
MAX_KEPT_ARRAY = 4096

# GGUF value types.
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL = range(8)
_STRING, _ARRAY, _UINT64, _INT64, _FLOAT64 = 8, 9, 10, 11, 12
_SCALAR_FORMATS: dict[int, str] = {
    _UINT8: "B",
    _INT8: "b",
    _UINT16: "H",
    _INT16: "h",
    _UINT32: "I",
    _INT32: "i",
    _FLOAT32: "f",
    _BOOL: "?",
    _UINT64: "Q",
    _INT64: "q",
    _FLOAT64: "d",
}
_SCALAR_STRUCTS = {t: struct.Struct("<" + f) for t, f in _SCALAR_FORMATS.items()}
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_HEADER = struct.Struct("<4sIQQ")
_KV_FIXED_MIN = 8 + 4 + 1  # key length, value type, smallest value
_TENSOR_INFO_MIN = 8 + 4 + 4 + 8  # name length, n_dims, type, offset


class GGUFError(UserError):
    """A file that is missing, unreadable or not a GGUF model this app can read."""


@dataclass(frozen=True)
class ModelInfo:
    path: str
    file_size: int
    name: str
    architecture: str
    parameters: int
    quantization: str
    context_length: int | None
    layers: int | None
    embedding_size: int | None
    attention_heads: int | None
    kv_heads: int | None
    head_size: int | None
    vocab_size: int | None
    has_chat_template: bool
    license: str | None
    gguf_version: int
    tensor_count: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelInfo:
        return cls(**{f.name: d[f.name] for f in fields(cls)})


@dataclass
class _Header:
    version: int
    tensor_count: int
    metadata: dict[str, Any]
    string_array_lengths: dict[str, int]
    parameters: int
    dominant_type: str
    data_end: int
    data_start: int = 0  # where the tensor data begins


class _Truncated(Exception):
    """Raised inside the parser when a read runs past the end; turned into a GGUFError."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def read_metadata(path: str | os.PathLike) -> ModelInfo:
    """Read a GGUF file's metadata and tensor table; raises GGUFError for anything unusable."""
    abs_path = os.path.abspath(os.fspath(path))
    header, file_size = _read_header(abs_path)
    meta = header.metadata
    arch = _as_str(meta.get("general.architecture")) or ""

    def arch_int(key: str) -> int | None:
        return _as_int(meta.get(f"{arch}.{key}"))

    attention_heads = arch_int("attention.head_count")
    kv_heads = arch_int("attention.head_count_kv") or attention_heads
    embedding_size = arch_int("embedding_length")
    head_size = arch_int("attention.key_length")
    if head_size is None and embedding_size and attention_heads:
        head_size = embedding_size // attention_heads
    vocab_size = arch_int("vocab_size") or header.string_array_lengths.get("tokenizer.ggml.tokens")
    parameters = _as_int(meta.get("general.parameter_count")) or header.parameters
    file_type = _as_int(meta.get("general.file_type"))
    # A file type this table does not know (a retired or newer one) falls back to the tensors' own type.
    quantization = FILE_TYPE_NAMES.get(file_type) if file_type is not None else None
    template = meta.get("tokenizer.chat_template")
    return ModelInfo(
        path=abs_path,
        file_size=file_size,
        name=_as_str(meta.get("general.name")) or Path(abs_path).stem,
        architecture=arch,
        parameters=parameters,
        quantization=quantization or header.dominant_type,
        context_length=arch_int("context_length"),
        layers=arch_int("block_count"),
        embedding_size=embedding_size,
        attention_heads=attention_heads,
        kv_heads=kv_heads,
        head_size=head_size,
        vocab_size=vocab_size,
        has_chat_template=isinstance(template, str) and bool(template.strip()),
        license=_as_str(meta.get("general.license")),
        gguf_version=header.version,
        tensor_count=header.tensor_count,
    )


def read_chat_template(path: str | os.PathLike) -> str | None:
    """The model's built-in chat template (Jinja text), or None when it has none."""
    header, _ = _read_header(os.path.abspath(os.fspath(path)))
    template = header.metadata.get("tokenizer.chat_template")
    return template if isinstance(template, str) and template.strip() else None


def check_readable_file(path: str | os.PathLike) -> int:
    """Raise GGUFError unless `path` is an existing, readable, non-empty file; return its size."""
    where = os.fspath(path)
    try:
        st = os.stat(where)
    except FileNotFoundError:
        raise GGUFError(f"{where}: no such file. Check the path, or pick the model file again.") from None
    except PermissionError:
        raise GGUFError(f"{where}: permission denied. Give your user read access to the file.") from None
    except OSError as exc:
        raise GGUFError(f"{where}: cannot read the file ({exc.strerror}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise GGUFError(f"{where}: is a folder, not a model file. Choose the .gguf file inside it.")
    if st.st_size == 0:
        raise GGUFError(f"{where}: the file is empty (0 bytes). Download or convert the model again.")
    if not os.access(where, os.R_OK):
        raise GGUFError(f"{where}: permission denied. Give your user read access to the file.")
    return st.st_size


def _read_header(path: str) -> tuple[_Header, int]:
    check_readable_file(path)
    try:
        with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as view:
            size = len(view)
            try:
                header = _parse(view, path)
            except _Truncated as exc:
                raise GGUFError(
                    f"{path}: the file is truncated ({exc.what} runs past the end of its {size} bytes). "
                    "It is probably an incomplete download or copy; download or convert it again."
                ) from None
            except (struct.error, IndexError, ValueError, OverflowError) as exc:
                raise GGUFError(f"{path}: the GGUF header is corrupt ({exc}). Download or convert it again.") from None
    except PermissionError:
        raise GGUFError(f"{path}: permission denied. Give your user read access to the file.") from None
    except (OSError, ValueError) as exc:
        raise GGUFError(f"{path}: cannot read the file ({getattr(exc, 'strerror', None) or exc}).") from None
    if header.data_end > size:
        raise GGUFError(
            f"{path}: the file is truncated: its tensors need {header.data_end} bytes but the file has "
            f"{size}. It is probably an incomplete download or copy; download or convert it again."
        )
    return header, size


def _parse(buf: mmap.mmap, path: str) -> _Header:
    size = len(buf)
    if size < len(GGUF_MAGIC) and GGUF_MAGIC.startswith(buf[:size]):
        raise _Truncated("the GGUF header")
    if buf[:4] != GGUF_MAGIC:
        raise GGUFError(f"{path}: not a GGUF file ({_describe_start(buf[:64])}). {_CONVERT_HINT}")
    if size < _HEADER.size:
        raise _Truncated("the GGUF header")
    _, version, tensor_count, kv_count = _HEADER.unpack_from(buf, 0)
    if version not in SUPPORTED_VERSIONS:
        raise GGUFError(f"{path}: {_describe_version(buf)}")
    pos = _HEADER.size
    if kv_count * _KV_FIXED_MIN > size - pos:
        raise GGUFError(
            f"{path}: the header claims {kv_count} metadata entries, more than a {size}-byte file can hold; "
            "the file is corrupt or truncated. Download or convert it again."
        )
    if tensor_count * _TENSOR_INFO_MIN > size - pos:
        raise GGUFError(
            f"{path}: the header claims {tensor_count} tensors, more than a {size}-byte file can hold; "
            "the file is corrupt or truncated. Download or convert it again."
        )

    metadata: dict[str, Any] = {}
    string_array_lengths: dict[str, int] = {}
    for index in range(kv_count):
        key, pos = _read_string(buf, pos, f"the key of metadata entry {index}")
        value_type, pos = _read_u32(buf, pos, f"the type of metadata '{key}'")
        if value_type == _ARRAY:
            item_type, pos = _read_u32(buf, pos, f"the array type of metadata '{key}'")
            count, pos = _read_u64(buf, pos, f"the array length of metadata '{key}'")
            if item_type == _STRING:
                pos = _skip_strings(buf, pos, count, f"the string array '{key}'")
                string_array_lengths[key] = count
            elif item_type in _SCALAR_FORMATS:
                item = _SCALAR_STRUCTS[item_type]
                end = pos + count * item.size
                if end > size:
                    raise _Truncated(f"the array '{key}'")
                if count <= MAX_KEPT_ARRAY:
                    metadata[key] = list(struct.unpack_from(f"<{count}{_SCALAR_FORMATS[item_type]}", buf, pos))
                pos = end
            else:
                raise ValueError(f"metadata '{key}' is an array of unsupported type {item_type}")
        elif value_type == _STRING:
            metadata[key], pos = _read_string(buf, pos, f"the value of metadata '{key}'")
        elif value_type in _SCALAR_STRUCTS:
            item = _SCALAR_STRUCTS[value_type]
            if pos + item.size > size:
                raise _Truncated(f"the value of metadata '{key}'")
            (metadata[key],) = item.unpack_from(buf, pos)
            pos += item.size
        else:
            raise ValueError(f"metadata '{key}' has unknown value type {value_type}")

    parameters = 0
    bytes_by_type: dict[str, int] = {}
    data_size = 0
    for index in range(tensor_count):
        name, pos = _read_string(buf, pos, f"the name of tensor {index}")
        n_dims, pos = _read_u32(buf, pos, f"tensor '{name}'")
        if n_dims > MAX_TENSOR_DIMS:
            raise ValueError(f"tensor '{name}' has {n_dims} dimensions, more than {MAX_TENSOR_DIMS}")
        if pos + 8 * n_dims + 12 > size:
            raise _Truncated(f"tensor '{name}'")
        dims = struct.unpack_from(f"<{n_dims}Q", buf, pos)
        pos += 8 * n_dims
        ggml_type, offset = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        elements = 1
        for dim in dims:
            elements *= dim
        parameters += elements
        type_name, block_size, type_size = GGML_TYPES.get(ggml_type, (f"type {ggml_type}", 0, 0))
        # An unknown (newer) type has an unknown size: it is left out of the truncation check.
        nbytes = elements // block_size * type_size if block_size else 0
        bytes_by_type[type_name] = bytes_by_type.get(type_name, 0) + nbytes
        data_size = max(data_size, offset + nbytes)

    alignment = _as_int(metadata.get("general.alignment")) or DEFAULT_ALIGNMENT
    data_start = (pos + alignment - 1) // alignment * alignment
    dominant = max(bytes_by_type.items(), key=lambda item: item[1])[0] if bytes_by_type else "unknown"
    return _Header(
        version=version,
        tensor_count=tensor_count,
        metadata=metadata,
        string_array_lengths=string_array_lengths,
        parameters=parameters,
        dominant_type=dominant,
        data_end=data_start + data_size if tensor_count else pos,
        data_start=data_start,
    )


def _read_u32(buf: mmap.mmap, pos: int, what: str) -> tuple[int, int]:
    if pos + 4 > len(buf):
        raise _Truncated(what)
    return _U32.unpack_from(buf, pos)[0], pos + 4


def _read_u64(buf: mmap.mmap, pos: int, what: str) -> tuple[int, int]:
    if pos + 8 > len(buf):
        raise _Truncated(what)
    return _U64.unpack_from(buf, pos)[0], pos + 8


def _read_string(buf: mmap.mmap, pos: int, what: str) -> tuple[str, int]:
    length, pos = _read_u64(buf, pos, what)
    end = pos + length
    if end > len(buf):
        raise _Truncated(what)
    return buf[pos:end].decode("utf-8", errors="replace"), end


def _skip_strings(buf: mmap.mmap, pos: int, count: int, what: str) -> int:
    """Walk past `count` length-prefixed strings without decoding them (the hot loop for vocabularies)."""
    size = len(buf)
    if count * 8 > size - pos:
        raise _Truncated(what)
    unpack_length = _U64.unpack_from
    try:
        for _ in repeat(None, count):
            pos += 8 + unpack_length(buf, pos)[0]
    except struct.error:
        raise _Truncated(what) from None
    if pos > size:
        raise _Truncated(what)
    return pos


def _as_int(value: Any) -> int | None:
    """A scalar int, or the largest value of a per-layer int array; None otherwise."""
    if isinstance(value, list):
        ints = [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
        return max(ints) if ints else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_CONVERT_HINT = (
    "ModelScout runs GGUF models; convert a Hugging Face model with llama.cpp's convert_hf_to_gguf.py "
    "or download a .gguf release of it."
)


def _describe_start(start: bytes) -> str:
    """Say what a non-GGUF file looks like, from its first bytes."""
    shown = repr(start[:8])
    text = start.lstrip().lower()
    if start.startswith(b"PK\x03\x04"):
        kind = "a zip archive, e.g. a PyTorch checkpoint or a compressed download"
    elif text.startswith((b"<!doctype html", b"<html")) or b"<html" in text:
        kind = "an HTML web page; the download probably saved an error or login page"
    elif start.startswith(b"version https://git-lfs"):
        kind = "a Git LFS pointer; fetch the real file with `git lfs pull`"
    elif len(start) >= 10 and start[8:10] == b'{"':
        kind = "a safetensors file"
    elif start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        kind = "a Python pickle, e.g. a PyTorch .bin checkpoint"
    elif start[:4] in (b"lmgg", b"fmgg", b"tjgg"):
        kind = "an old GGML/GGJT model from before GGUF; llama.cpp's convert_llama_ggml_to_gguf.py converts it"
    elif text.startswith((b"{", b"[")):
        kind = "a JSON file"
    elif start[:2] == b"\x1f\x8b":
        kind = "a gzip archive; unpack it first"
    else:
        kind = "an unknown format"
    return f"it starts with {shown}, which looks like {kind}"


def _describe_version(buf: mmap.mmap) -> str:
    version_le = _U32.unpack_from(buf, 4)[0]
    version_be = struct.unpack_from(">I", buf, 4)[0]
    if version_be in (1, 2, 3):
        return (
            f"a big-endian GGUF (version {version_be}), made for big-endian machines such as s390x. "
            "ModelScout reads little-endian GGUF files; get the standard (little-endian) file or convert it again."
        )
    if version_le == 1:
        return "GGUF version 1 is too old to read. Convert the model again with a current llama.cpp."
    return (
        f"GGUF version {version_le} is not supported (ModelScout reads versions 2 and 3). "
        "Update ModelScout, or convert the model with a llama.cpp release that writes version 3."
    )
