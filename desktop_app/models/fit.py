"""Estimate whether a GGUF model fits this machine's GPU or RAM at a given context, and why."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import Any

from desktop_app.errors import UserError
from desktop_app.models.gguf_meta import ModelInfo
from desktop_app.models.hardware import Gpu, Hardware
from desktop_app.providers.llama_caps import GPU_BACKENDS
from desktop_app.units import format_bytes

__all__ = ["Fit", "estimate_fit", "will_not_load", "format_bytes", "CACHE_TYPE_BYTES", "DEFAULT_CONTEXT_CAP"]

FULL_GPU = "full_gpu"
PARTIAL_GPU = "partial_gpu"
CPU_ONLY = "cpu_only"
WILL_NOT_FIT = "will_not_fit"
WILL_NOT_LOAD = "will_not_load"  # it would fit, but this llama.cpp cannot open it (e.g. an unknown architecture)

MiB = 1024**2

# With no explicit context, size for at most this many tokens: llama.cpp users rarely allocate a
# model's full (often 128k) training context, and the runner's n_ctx comes from settings anyway.
DEFAULT_CONTEXT_CAP = 4096

# Bytes per cached element for llama.cpp's --cache-type-k/-v choices (a q8_0 block is 34 bytes / 32).
CACHE_TYPE_BYTES: dict[str, float] = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q5_1": 24 / 32,
                                      "q5_0": 22 / 32, "q4_1": 20 / 32, "q4_0": 18 / 32}

# Keep this much of the free RAM or VRAM unused: the OS, other apps and the CUDA context need room.
SAFETY_FRACTION = 0.10
SAFETY_MIN_BYTES = 512 * MiB

# The worker process itself: Python plus llama-cpp-python measured 49 MiB RSS on Linux (CPU build).
RUNTIME_BYTES = 64 * MiB

# Fallbacks for metadata a GGUF file lacks.
FALLBACK_VOCAB = 32_000
FALLBACK_HEAD_SIZE = 128


@dataclass(frozen=True)
class Fit:
    """The verdict and the numbers behind it; all sizes in bytes."""

    verdict: str  # "full_gpu", "partial_gpu", "cpu_only", "will_not_fit" or "will_not_load"
    estimated_bytes: int  # weights + KV cache + overhead
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    available_bytes: int  # the usable RAM or VRAM (after the safety margin) it was compared against
    gpu_layers: int  # layers to offload: 0 for CPU, -1 for "all" when the layer count is unknown
    context: int
    reason: str

    @property
    def fits(self) -> bool:
        """Whether a run can use the model here: it fits in memory and llama.cpp can open it."""
        return self.verdict not in (WILL_NOT_FIT, WILL_NOT_LOAD)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Shape:
    """The model dimensions the estimate uses, with fallbacks filled in and noted."""

    layers: int | None
    heads: int | None
    kv_heads: int | None
    head_size: int | None
    vocab: int
    embedding: int | None
    notes: tuple[str, ...]


def estimate_fit(
    info: ModelInfo,
    hardware: Hardware,
    *,
    context: int | None = None,
    gpu_layers: int = -1,
    cache_type_bytes: float = 2.0,
    batch: int = 512,
    flash_attention: bool = False,
) -> Fit:
    """Estimate memory for `info` at `context` tokens and where it can run on `hardware`.

    gpu_layers: -1 offloads as many layers as fit (all if possible), 0 none, n at most n.
    batch is llama.cpp's micro-batch (n_ubatch), which sizes the compute buffer.
    """
    if (context is not None and context < 1) or batch < 1:
        raise UserError(f"context ({context}) and batch ({batch}) must be at least 1 token; check the run settings.")
    notes: list[str] = []
    if context is None:
        context = min(info.context_length or DEFAULT_CONTEXT_CAP, DEFAULT_CONTEXT_CAP)
        if info.context_length and info.context_length > DEFAULT_CONTEXT_CAP:
            notes.append(f"context defaults to {DEFAULT_CONTEXT_CAP} of the model's {info.context_length} tokens")
    shape = _shape(info)
    notes.extend(shape.notes)

    weights = info.file_size  # mmap'd weights: an upper bound on what stays resident
    kv_cache = kv_cache_bytes(shape, context, cache_type_bytes)
    compute = compute_buffer_bytes(shape, context, batch, flash_attention)
    overhead = compute + RUNTIME_BYTES
    total = weights + kv_cache + overhead
    needs = (
        f"needs {format_bytes(total)} (weights {format_bytes(weights)} + KV cache {format_bytes(kv_cache)} "
        f"at {context} tokens + overhead {format_bytes(overhead)})"
    )

    verdict, layers_on_gpu, available, placement = _place(
        hardware, weights, kv_cache, compute, shape.layers, gpu_layers
    )
    if hardware.cpu_only_build:
        notes.insert(0, cpu_only_build_note(hardware))
    reason = "; ".join([needs, placement, *notes])
    return Fit(
        verdict=verdict,
        estimated_bytes=total,
        weights_bytes=weights,
        kv_cache_bytes=kv_cache,
        overhead_bytes=overhead,
        available_bytes=available,
        gpu_layers=layers_on_gpu,
        context=context,
        reason=reason,
    )


def will_not_load(fit: Fit, why: str) -> Fit:
    """The memory estimate kept (it still says what the model would need), the verdict replaced: this
    llama.cpp cannot open the file, so whether it would fit does not matter to a run."""
    return dataclasses.replace(fit, verdict=WILL_NOT_LOAD, gpu_layers=0, reason=f"{why}; {fit.reason}")


def cpu_only_build_note(hardware: Hardware) -> str:
    """Why a GPU that is here goes unused, and the short way to a build that uses it."""
    flag = GPU_BACKENDS.get(hardware.gpus[0].backend, GPU_BACKENDS["cuda"])[1] if hardware.gpus else ""
    return (f'the installed llama.cpp is a CPU-only build: reinstall llama-cpp-python with CMAKE_ARGS="{flag}" '
            f"for a GPU build")


def kv_cache_bytes(shape: _Shape, context: int, cache_type_bytes: float) -> int:
    """K and V for every layer: layers x kv_heads x head_size x context x bytes x 2."""
    if not (shape.layers and shape.kv_heads and shape.head_size):
        return 0
    return int(shape.layers * shape.kv_heads * shape.head_size * context * cache_type_bytes * 2)


def compute_buffer_bytes(shape: _Shape, context: int, batch: int, flash_attention: bool) -> int:
    """llama.cpp's worst-case compute buffer, reserved once when the context is created.

    ggml-alloc reuses memory between graph stages, so the buffer is the larger of two peaks plus
    the activations: the logits of a full micro-batch (vocab x batch floats), or, without flash
    attention, the attention scores of one layer plus the mask ((heads + 1) x context x batch
    floats). Measured with SmolLM2-135M on llama-cpp-python 0.3.36 (CPU), this formula is within
    5% of the logged "CPU compute buffer size": 98.3 MiB at 512 tokens, 166.4 MiB at 8192,
    326.4 MiB at 16384 (estimates 102.8, 166.8, 326.8).
    """
    logits = shape.vocab * batch * 4
    attention = 0
    if not flash_attention and shape.heads:
        attention = (shape.heads + 1) * context * batch * 4
    hidden = shape.embedding or (shape.heads or 0) * (shape.head_size or 0)
    activations = 6 * batch * hidden * 4  # a few hidden-state-sized f32 tensors live at once
    return max(logits, attention) + activations


def _shape(info: ModelInfo) -> _Shape:
    notes: list[str] = []
    layers, embedding = info.layers, info.embedding_size
    # Both missing is hopeless; one missing follows from the usual transformer count params ~ 12 x layers x embedding^2.
    if layers is None and embedding and info.parameters:
        layers = max(1, round(info.parameters / (12 * embedding**2)))
        notes.append(f"layer count missing, estimated as {layers} from the parameter count")
    if embedding is None and layers and info.parameters:
        embedding = max(64, round(math.sqrt(info.parameters / (12 * layers))))
        notes.append(f"embedding size missing, estimated as {embedding} from the parameter count")

    heads, head_size, kv_heads = info.attention_heads, info.head_size, info.kv_heads
    if head_size is None and embedding and heads:
        head_size = embedding // heads
        notes.append(f"head size missing, taken as embedding / heads = {head_size}")
    if heads is None and embedding:
        head_size = head_size or FALLBACK_HEAD_SIZE
        heads = max(1, embedding // head_size)
        notes.append(f"attention head count missing, assumed {heads} heads of {head_size}")
    if kv_heads is None and heads:
        kv_heads = heads
        notes.append("KV head count missing, assumed equal to the attention heads (no grouped-query attention)")
    if not (layers and kv_heads and head_size):
        notes.append("KV cache not counted: the file lacks the layer count, embedding size or head counts")

    vocab = info.vocab_size
    if not vocab:
        vocab = FALLBACK_VOCAB
        notes.append(f"vocabulary size missing, assumed {FALLBACK_VOCAB}")
    return _Shape(layers, heads, kv_heads, head_size, vocab, embedding, tuple(notes))


def usable(free_bytes: int) -> int:
    """What may be filled of `free_bytes`, keeping max(10%, 512 MiB) of it free."""
    return max(0, int(free_bytes - max(free_bytes * SAFETY_FRACTION, SAFETY_MIN_BYTES)))


def _metal_working_set(ram_total: int) -> int:
    # macOS lets Metal wire about 2/3 of RAM on small Macs and 3/4 on large ones
    # (recommendedMaxWorkingSetSize); llama.cpp's Metal backend stays within it.
    return int(ram_total * (0.75 if ram_total > 36 * 1024**3 else 2 / 3))


def _gpu_budget(gpu: Gpu, hardware: Hardware) -> int:
    if gpu.shares_ram:
        return min(usable(hardware.ram_available), _metal_working_set(hardware.ram_total))
    return usable(gpu.vram_free)


def _place(
    hardware: Hardware, weights: int, kv_cache: int, compute: int, layers: int | None, gpu_layers: int
) -> tuple[str, int, int, str]:
    """Pick full GPU, partial GPU, CPU or nothing; return (verdict, gpu layers, budget, sentence part)."""
    ram_budget = usable(hardware.ram_available)
    ram_text = (
        f"{format_bytes(ram_budget)} usable of {format_bytes(hardware.ram_available)} RAM available "
        f"(keeping {format_bytes(hardware.ram_available - ram_budget)} free)"
    )
    total = weights + kv_cache + compute + RUNTIME_BYTES
    gpu_notes: list[str] = []

    gpu = max(hardware.gpus, key=lambda g: _gpu_budget(g, hardware), default=None)
    if gpu is not None and gpu_layers != 0 and hardware.gpu_offload is not False:
        vram = _gpu_budget(gpu, hardware)
        where = f"{format_bytes(vram)} usable {'unified memory' if gpu.shares_ram else 'VRAM'} on {gpu.name}"
        wants_all = gpu_layers < 0 or (layers is not None and gpu_layers >= layers)
        # Shared memory: everything lives in one pool, so the runtime counts there too.
        on_gpu_all = total if gpu.shares_ram else weights + kv_cache + compute
        if wants_all and on_gpu_all <= vram:
            return FULL_GPU, layers if layers is not None else -1, vram, f"fits entirely in {where}"
        if gpu.shares_ram or not layers:
            gpu_notes.append(f"too big for {where}" if wants_all or gpu.shares_ram else "layer count unknown, so no partial offload")
        else:
            per_layer = (weights + kv_cache) / layers
            cap = layers if wants_all else min(gpu_layers, layers)
            fit_layers = min(cap, max(0, int((vram - compute) // per_layer)))
            on_ram = (layers - fit_layers) * per_layer + compute + RUNTIME_BYTES
            if fit_layers >= 1 and on_ram <= ram_budget:
                asked = "" if wants_all or fit_layers == cap else f" (asked for {gpu_layers})"
                return (
                    PARTIAL_GPU,
                    fit_layers,
                    vram,
                    f"{fit_layers} of {layers} layers fit in {where}{asked}, "
                    f"the other {layers - fit_layers} ({format_bytes(on_ram)} with buffers) in {ram_text}",
                )
            if fit_layers < 1:
                gpu_notes.append(f"not even one layer fits in {where}")
            else:
                gpu_notes.append(
                    f"with {fit_layers} layers in {where} the other {layers - fit_layers} "
                    f"still need {format_bytes(on_ram)} of RAM"
                )
    elif not hardware.gpus:
        gpu_notes.append("no GPU")
    elif hardware.gpu_offload is False:  # llama.cpp would ignore n_gpu_layers: count nothing on the GPU
        gpu_notes.append(f"{' and '.join(g.name for g in hardware.gpus)} unused")
    else:
        gpu_notes.append("GPU offload off")

    if total <= ram_budget:
        return CPU_ONLY, 0, ram_budget, ", ".join([f"fits in {ram_text}", *gpu_notes])
    return WILL_NOT_FIT, 0, ram_budget, ", ".join([f"more than the {ram_text}", *gpu_notes])
