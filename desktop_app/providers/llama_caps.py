"""What the installed llama.cpp can do (GPU offload, built-in chat templates), asked once per build.

llama.cpp is only imported inside worker processes, so the question goes to a short-lived one; the
answer is cached in the cache folder under the build's identity (llama-cpp-python's version and its
native libraries) and read from there after.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shlex
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from desktop_app import paths
from desktop_app.versions import installed_version


@dataclass(frozen=True)
class LlamaCapabilities:
    version: str  # llama-cpp-python's
    gpu_offload: bool  # built with a GPU backend (CUDA, Metal, Vulkan, ROCm...) that can take layers
    chat_templates: tuple[str, ...]  # llama.cpp's built-in template names: chatml, llama3, gemma, ...
    system_info: str = ""
    error: str = ""  # why llama.cpp could not be asked; then gpu_offload is a guess (False)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "chat_templates": list(self.chat_templates)}


# GPU backends llama.cpp can be built with: (what it is for, the CMake switch).
GPU_BACKENDS: dict[str, tuple[str, str]] = {
    "cuda": ("CUDA (NVIDIA, needs the CUDA toolkit)", "-DGGML_CUDA=on"),
    "metal": ("Metal (Apple)", "-DGGML_METAL=on"),
    "vulkan": ("Vulkan (most GPUs, needs the Vulkan SDK)", "-DGGML_VULKAN=on"),
    "rocm": ("ROCm (AMD)", "-DGGML_HIP=on"),
}


def gpu_build_command(backend: str = "cuda") -> str:
    """The command that rebuilds the installed llama-cpp-python version with `backend` switched on."""
    flag = GPU_BACKENDS.get(backend, GPU_BACKENDS["cuda"])[1]
    # This app's own Python, so the build lands where the app looks; --no-deps and the exact version,
    # so the rebuild upgrades neither llama-cpp-python nor numpy on the way.
    python = "python" if getattr(sys, "frozen", False) else sys.executable
    pip = (f"-m pip install --force-reinstall --no-deps --no-cache-dir "
           f"llama-cpp-python=={installed_version('llama-cpp-python')}")
    if os.name == "nt":  # cmd.exe
        return f'set "CMAKE_ARGS={flag}" && "{python}" {pip}'
    return f'CMAKE_ARGS="{flag}" {shlex.quote(python)} {pip}'


def gpu_build_steps(backend: str | None = None) -> str:
    """How to rebuild llama-cpp-python for the GPU: the command for `backend` (CUDA if unknown), then the rest."""
    first = backend if backend in GPU_BACKENDS else "cuda"
    others = ", ".join(f"{flag} for {what}" for name, (what, flag) in GPU_BACKENDS.items() if name != first)
    return (f"To use the GPU, rebuild llama-cpp-python with {GPU_BACKENDS[first][0]} and restart ModelScout:\n"
            f"{gpu_build_command(first)}\nOther backends: {others}.")


def gpu_build_hint(backend: str | None = None) -> str:
    """Why models run on the CPU and how to change that, for Models and Settings to show when a GPU is
    found but the installed llama.cpp cannot offload."""
    return ("The installed llama-cpp-python was built for the CPU only, so models run on the CPU. "
            + gpu_build_steps(backend))


_cached: tuple[str, LlamaCapabilities] | None = None  # (build id, its capabilities)
_lock = threading.Lock()


def capabilities() -> LlamaCapabilities:
    """The installed llama.cpp's capabilities: from memory, the cache file, or a throwaway process."""
    global _cached
    with _lock:
        version = installed_version("llama-cpp-python")
        build = build_id(version)
        if _cached is not None and _cached[0] == build:
            return _cached[1]
        cache = paths.cache_dir() / f"llama-capabilities-{build}.json"
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            caps = LlamaCapabilities(version, bool(data["gpu_offload"]), tuple(data["chat_templates"]),
                                     str(data.get("system_info", "")))
        except (OSError, ValueError, KeyError, TypeError):
            caps = _ask(version)
            if not caps.error:  # a failure is remembered for this process only: it may be passing
                _write_cache(cache, caps)
        _cached = (build, caps)
        return caps


def build_id(version: str) -> str:
    """The version plus the size and time of llama.cpp's native libraries, which change when the same
    version is rebuilt with a GPU backend (as gpu_build_hint says to do); a few stat calls."""
    package = _llama_package()
    if package is None:
        return version
    stamps: list[str] = []
    for folder in (package / "lib", package):
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith((".so", ".dylib", ".dll")) or ".so." in entry.name:
                try:
                    stat = entry.stat()
                except OSError:
                    continue
                stamps.append(f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    digest = hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:12]
    return f"{version}-{digest}"


def _llama_package() -> Path | None:
    try:
        spec = importlib.util.find_spec("llama_cpp")  # finds the package without importing it
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _write_cache(cache: Path, caps: LlamaCapabilities) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        for old in cache.parent.glob("llama-capabilities-*.json"):  # answers about builds no longer here
            old.unlink(missing_ok=True)
        cache.write_text(json.dumps(caps.to_dict()), encoding="utf-8")
    except OSError:
        pass  # a read-only cache folder: ask again next time


def _ask(version: str) -> LlamaCapabilities:
    from desktop_app.providers import llama_worker, worker_process

    ctx = worker_process.context()
    receiver, sender = ctx.Pipe(duplex=False)
    try:  # a worker that leaves quietly with its parent and ignores the terminal's Ctrl-C
        proc = worker_process.start(ctx, llama_worker.capabilities_main, (sender,), "llama-capabilities")
    except OSError as exc:
        return LlamaCapabilities(version, False, (), error=f"could not start a process to ask llama.cpp: {exc}")
    finally:
        sender.close()
    answered = False
    try:
        answered = receiver.poll(60)  # also true when the process died: then recv raises EOFError
        data = receiver.recv() if answered else None
    except (EOFError, OSError):
        data = None
    finally:
        receiver.close()
    proc.join(timeout=5)
    if proc.is_alive():
        proc.kill()
        proc.join(timeout=5)
    if not data:  # llama.cpp would not even start: say it cannot offload, list no templates
        why = f"exited with code {proc.exitcode}" if answered else "did not answer in 60 s"
        return LlamaCapabilities(version, False, (), error=f"llama.cpp could not be asked: its process {why}")
    return LlamaCapabilities(version, bool(data["gpu_offload"]), tuple(data["chat_templates"]),
                             str(data.get("system_info", "")))
