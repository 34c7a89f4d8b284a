"""Make lower-bit variants of a local GGUF model with llama.cpp's own quantizer."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.models.gguf_meta import read_metadata

# llama.cpp's llama_ftype ids for the types that need no importance matrix (the IQ types do).
QUANT_TYPES: dict[str, int] = {
    "F16": 1, "BF16": 32, "Q8_0": 7, "Q6_K": 18, "Q5_K_M": 17, "Q5_K_S": 16, "Q5_1": 9, "Q5_0": 8,
    "Q4_K_M": 15, "Q4_K_S": 14, "Q4_1": 3, "Q4_0": 2, "Q3_K_L": 13, "Q3_K_M": 12, "Q3_K_S": 11,
    "Q2_K": 10, "Q2_K_S": 21,
}
# Approximate bits per weight, only to show progress while the output file grows.
_BITS = {"F16": 16, "BF16": 16, "Q8_0": 8.5, "Q6_K": 6.6, "Q5_K_M": 5.7, "Q5_K_S": 5.5, "Q5_1": 6,
         "Q5_0": 5.5, "Q4_K_M": 4.9, "Q4_K_S": 4.6, "Q4_1": 5, "Q4_0": 4.5, "Q3_K_L": 4.3,
         "Q3_K_M": 3.9, "Q3_K_S": 3.5, "Q2_K": 3.4, "Q2_K_S": 3.2}


class QuantizeError(UserError):
    pass


def default_output(source: Path, qtype: str) -> Path:
    """`<model>.<TYPE>.gguf` in the user's models folder, where discovery lists it."""
    stem = source.stem
    for name in QUANT_TYPES:  # SmolLM2-135M-Instruct.Q4_1 -> SmolLM2-135M-Instruct
        for sep in (".", "-", "_"):
            if stem.upper().endswith(sep + name):
                stem = stem[: -len(name) - 1]
    return paths.user_models_dir() / f"{stem}.{qtype}.gguf"


def quantize(source: str | os.PathLike, qtype: str, out: str | os.PathLike | None = None, *,
             threads: int | None = None, on_progress: Callable[[float], None] | None = None) -> Path:
    """Write a `qtype` variant of `source`; the output appears whole or not at all."""
    qtype = qtype.upper()
    if qtype not in QUANT_TYPES:
        raise QuantizeError(f"unknown quantization type {qtype!r}; choose one of {', '.join(QUANT_TYPES)}")
    source = Path(source)
    info = read_metadata(source)  # a clear error for a missing or broken file, before any work
    target = Path(out) if out else default_output(source, qtype)
    if target.resolve() == source.resolve():
        raise QuantizeError(f"the output {target} is the input itself; choose another --out path")
    if target.exists():
        raise QuantizeError(f"{target} already exists; delete it or choose another --out path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QuantizeError(f"cannot create the folder for {target}: {exc.strerror}") from None
    partial = target.with_name(f".{target.name}.part")
    log = target.with_name(f".{target.name}.log")
    expected_bytes = max(1, int(info.parameters * _BITS[qtype] / 8))

    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_quantize_in_child,
                       args=(str(source), str(partial), QUANT_TYPES[qtype], threads or 0, str(log), sender),
                       name="llama-quantize", daemon=True)
    proc.start()
    sender.close()
    try:
        while proc.is_alive() and not receiver.poll(0.2):
            if on_progress and partial.exists():
                on_progress(min(0.99, partial.stat().st_size / expected_bytes))
        proc.join()
        code = receiver.recv() if receiver.poll() else None
    except BaseException:  # including a cancel raised from on_progress
        proc.kill()
        proc.join()
        partial.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
        raise
    said = _last_line(log)
    log.unlink(missing_ok=True)
    if code != 0:
        partial.unlink(missing_ok=True)
        why = f"llama.cpp returned {code}" if code is not None else f"the quantizer crashed ({proc.exitcode})"
        raise QuantizeError(f"could not quantize {source} to {qtype}: {why}{': ' + said if said else ''}; "
                            f"check that the file loads and that the disk has room")
    os.replace(partial, target)
    if on_progress:
        on_progress(1.0)
    return target


def _last_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def _quantize_in_child(source: str, partial: str, ftype: int, threads: int, log: str, conn: object) -> None:
    # llama.cpp prints a line per tensor from native code: send it to a log, not the user's terminal.
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    params.allow_requantize = True  # most GGUFs users have are quantized already
    code = llama_cpp.llama_model_quantize(source.encode(), partial.encode(), params)
    conn.send(code)  # type: ignore[attr-defined]
