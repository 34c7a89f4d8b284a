"""Probe this machine's RAM, CPU features and GPUs, and whether its llama.cpp can use them, cheaply.

llama.cpp itself is never loaded here: whether it can offload comes from llama_caps (asked once per
build in a throwaway process, cached after).
"""

from __future__ import annotations

import platform
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from desktop_app.units import format_bytes

# Linux /proc/cpuinfo flag -> the name llama.cpp prints in its system info.
_LINUX_X86_FLAGS = {
    "pni": "sse3",  # the kernel calls SSE3 "pni" (Prescott New Instructions)
    "ssse3": "ssse3",
    "avx": "avx",
    "avx2": "avx2",
    "fma": "fma",
    "f16c": "f16c",
    "avx512f": "avx512f",
    "avx512bw": "avx512bw",
    "avx512_vnni": "avx512vnni",
    "amx_tile": "amx",
    "amx_int8": "amx",
    "amx_bf16": "amx",
}
_LINUX_ARM_FEATURES = {
    "asimd": "neon",
    "neon": "neon",  # 32-bit ARM kernels
    "asimddp": "dotprod",
    "sve": "sve",
    "i8mm": "i8mm",
}
# macOS sysctl key or feature word (upper-cased) -> llama.cpp name.
_MACOS_FEATURES = {
    "SSE3": "sse3",
    "SSSE3": "ssse3",
    "AVX1.0": "avx",
    "AVX2": "avx2",
    "FMA": "fma",
    "F16C": "f16c",
    "AVX512F": "avx512f",
    "AVX512BW": "avx512bw",
    "AVX512VNNI": "avx512vnni",
    "HW.OPTIONAL.NEON": "neon",
    "HW.OPTIONAL.ARM.FEAT_DOTPROD": "dotprod",
    "HW.OPTIONAL.ARM.FEAT_I8MM": "i8mm",
    "HW.OPTIONAL.ARM.FEAT_SVE": "sve",
}
# Order in which features are listed, and (reversed) which one summary() names as the best.
FEATURE_ORDER = (
    "sse3", "ssse3", "avx", "f16c", "fma", "avx2", "avx512f", "avx512bw", "avx512vnni", "amx",
    "neon", "dotprod", "i8mm", "sve",
)
_SUMMARY_RANK = ("amx", "avx512vnni", "avx512f", "avx2", "avx", "sse3", "sve", "i8mm", "dotprod", "neon")


@dataclass(frozen=True)
class Gpu:
    """One accelerator llama.cpp can offload to."""

    backend: str  # "cuda" (found through NVML) or "metal" (Apple Silicon)
    name: str
    vram_total: int
    vram_free: int
    driver_version: str | None = None
    shares_ram: bool = False  # unified memory: the "VRAM" is the system RAM

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Gpu:
        return cls(
            backend=str(data.get("backend", "unknown")),
            name=str(data.get("name", "")),
            vram_total=int(data.get("vram_total", 0)),
            vram_free=int(data.get("vram_free", 0)),
            driver_version=data.get("driver_version"),
            shares_ram=bool(data.get("shares_ram", False)),
        )


@dataclass(frozen=True)
class Hardware:
    """What this machine offers a local model; stored with every result, so JSON-ready and stable."""

    system: str
    machine: str
    cpu_name: str
    physical_cores: int
    logical_threads: int
    ram_total: int
    ram_available: int
    cpu_features: tuple[str, ...] = ()
    gpus: tuple[Gpu, ...] = field(default_factory=tuple)
    # Can the installed llama.cpp put layers on a GPU (built with CUDA, Metal...)? None: not asked (no GPU
    # found, an older record, one built by hand) or not answerable, read as "yes" when a GPU is found.
    gpu_offload: bool | None = None

    @property
    def can_offload(self) -> bool:
        """A GPU is here and llama.cpp is not known to be a CPU-only build."""
        return bool(self.gpus) and self.gpu_offload is not False

    @property
    def default_threads(self) -> int:
        """What llama.cpp's own tools use: one thread per physical core (llama-cpp-python's default is
        half the logical CPUs, a third slower on 2 cores)."""
        return max(1, self.physical_cores or self.logical_threads or 1)

    @property
    def cpu_only_build(self) -> bool:
        """A GPU is here but the installed llama.cpp cannot use it."""
        return bool(self.gpus) and self.gpu_offload is False

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "machine": self.machine,
            "cpu_name": self.cpu_name,
            "physical_cores": self.physical_cores,
            "logical_threads": self.logical_threads,
            "ram_total": self.ram_total,
            "ram_available": self.ram_available,
            "cpu_features": list(self.cpu_features),
            "gpus": [gpu.to_dict() for gpu in self.gpus],
            "gpu_offload": self.gpu_offload,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hardware:
        # Tolerant of missing keys, so that results stored by older versions still load.
        return cls(
            system=str(data.get("system", "")),
            machine=str(data.get("machine", "")),
            cpu_name=str(data.get("cpu_name", "")),
            physical_cores=int(data.get("physical_cores", 1)),
            logical_threads=int(data.get("logical_threads", 1)),
            ram_total=int(data.get("ram_total", 0)),
            ram_available=int(data.get("ram_available", 0)),
            cpu_features=tuple(data.get("cpu_features", ())),
            gpus=tuple(Gpu.from_dict(gpu) for gpu in data.get("gpus", ())),
            gpu_offload=None if data.get("gpu_offload") is None else bool(data["gpu_offload"]),
        )

    def summary(self) -> str:
        """One line, e.g. "2 cores / 2 threads, 23.4 GiB RAM (22.9 GiB free), AVX2, no GPU"."""
        parts = [
            f"{self.physical_cores} cores / {self.logical_threads} threads",
            f"{format_bytes(self.ram_total)} RAM ({format_bytes(self.ram_available)} free)",
        ]
        best = next((name for name in _SUMMARY_RANK if name in self.cpu_features), None)
        if best:
            parts.append(best.upper())
        if not self.gpus:
            parts.append("no GPU")
        for gpu in self.gpus:
            if self.gpu_offload is False:
                parts.append(f"{gpu.name} (unused: CPU-only llama.cpp build)")
            elif gpu.shares_ram:
                parts.append(f"{gpu.name} (Metal, unified memory)")
            else:
                parts.append(f"{gpu.name} ({format_bytes(gpu.vram_free)} of {format_bytes(gpu.vram_total)} free)")
        return ", ".join(parts)


def probe() -> Hardware:
    """Describe this machine now (tens of milliseconds; with a GPU, about a second more once per llama.cpp
    build to ask it whether it can offload; never raises for a missing GPU, NVML or llama.cpp)."""
    system = platform.system()
    machine = platform.machine()
    memory = psutil.virtual_memory()
    logical = psutil.cpu_count(logical=True) or 1
    physical = psutil.cpu_count(logical=False) or logical
    cpu_name, features = _cpu_name_and_features(system)
    gpus = list(_nvidia_gpus())
    if system == "Darwin" and machine == "arm64":
        gpus.append(
            Gpu(
                backend="metal",
                name=cpu_name or "Apple GPU",
                vram_total=memory.total,
                vram_free=memory.available,
                shares_ram=True,
            )
        )
    return Hardware(
        system=system,
        machine=machine,
        cpu_name=cpu_name,
        physical_cores=physical,
        logical_threads=logical,
        ram_total=memory.total,
        ram_available=memory.available,
        cpu_features=features,
        gpus=tuple(gpus),
        gpu_offload=_llama_gpu_offload() if gpus else None,  # without a GPU the answer changes nothing
    )


def _llama_gpu_offload() -> bool | None:
    """Whether the installed llama.cpp was built with a GPU backend; None when it could not be asked."""
    from desktop_app.providers import llama_caps

    try:
        caps = llama_caps.capabilities()
    except Exception:  # a probe describes the machine even when llama.cpp is broken
        return None
    return None if caps.error else caps.gpu_offload


def _ordered(found: set[str]) -> tuple[str, ...]:
    return tuple(name for name in FEATURE_ORDER if name in found)


def _cpu_name_and_features(system: str) -> tuple[str, tuple[str, ...]]:
    try:
        if system == "Linux":
            return _linux_cpu(Path("/proc/cpuinfo").read_text(errors="replace"))
        if system == "Darwin":
            return _macos_cpu()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or platform.machine(), ()


def _linux_cpu(cpuinfo: str) -> tuple[str, tuple[str, ...]]:
    """Name and llama.cpp-relevant features from the text of /proc/cpuinfo (x86 or ARM)."""
    name = ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if not name and key in ("model name", "cpu model", "hardware"):
            name = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    found = {_LINUX_X86_FLAGS[f] for f in flags if f in _LINUX_X86_FLAGS}
    found |= {_LINUX_ARM_FEATURES[f] for f in flags if f in _LINUX_ARM_FEATURES}
    return name or platform.processor() or platform.machine(), _ordered(found)


def _macos_cpu() -> tuple[str, tuple[str, ...]]:
    # One sysctl call for everything: the brand string, Intel feature words and Apple's hw.optional flags.
    output = subprocess.run(
        ["sysctl", "machdep.cpu.brand_string", "machdep.cpu.features", "machdep.cpu.leaf7_features", "hw.optional"],
        capture_output=True, text=True, timeout=2, check=False,
    ).stdout
    return _parse_sysctl(output)


def _parse_sysctl(output: str) -> tuple[str, tuple[str, ...]]:
    name = ""
    found: set[str] = set()
    for line in output.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "machdep.cpu.brand_string":
            name = value
        elif key in ("machdep.cpu.features", "machdep.cpu.leaf7_features"):
            found |= {_MACOS_FEATURES[word] for word in value.upper().split() if word in _MACOS_FEATURES}
        elif value == "1" and key.upper() in _MACOS_FEATURES:
            found.add(_MACOS_FEATURES[key.upper()])
        elif value == "1" and re.fullmatch(r"hw\.optional\.(avx2|avx512f|avx512bw|avx512vnni|fma|f16c)_?\d*", key):
            found.add(re.sub(r"_?\d*$", "", key.rsplit(".", 1)[1]))
    return name or platform.machine(), _ordered(found)


def _nvidia_gpus() -> list[Gpu]:
    """NVIDIA GPUs through NVML; no library, no driver or no GPU gives an empty list."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...: no usable NVIDIA GPU here
        return []
    gpus: list[Gpu] = []
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                Gpu(
                    backend="cuda",
                    name=_text(pynvml.nvmlDeviceGetName(handle)),
                    vram_total=int(memory.total),
                    vram_free=int(memory.free),
                    driver_version=driver,
                )
            )
    except Exception:  # a GPU that errors mid-query is reported as absent, not as a crash
        return gpus
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass
    return gpus


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
