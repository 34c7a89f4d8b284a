"""Whether the installed llama.cpp can open a model at all, so a file it cannot load is never rated as fitting.

llama.cpp does not publish the architectures it knows, so the answer comes from llama.cpp itself: a
throwaway process opens one file of each architecture not seen before, reading only its vocabulary
(well under a second). What it learns is remembered per llama.cpp build: for an architecture (in
memory and in the cache folder: a file of a known architecture is never opened again) and, for any
other refusal, per file in the model catalog (until the file changes).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from desktop_app import paths
from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.fit import Fit, will_not_load
from desktop_app.models.gguf_meta import ModelInfo

UNKNOWN_ARCHITECTURE = "unknown model architecture"
# Architectures llama.cpp has known since 2024, long before the llama-cpp-python this app pins (0.3.36):
# taken as known without starting a process to ask (most libraries hold nothing else).
LONG_KNOWN = frozenset({"llama", "gemma", "gemma2", "qwen2", "qwen2moe", "phi2", "phi3", "starcoder2",
                        "falcon", "gpt2", "mpt", "stablelm", "command-r", "deepseek2", "granite", "olmo"})

_lock = threading.Lock()  # several screens scan at once: one check process at a time, its answer shared
_architectures: dict[str, dict[str, bool]] = {}  # build -> architecture -> whether llama.cpp knows it
checks_run = 0  # check processes started by this process (tests read it to see the caches at work)


def load_problems(infos: Sequence[ModelInfo], catalog: ModelCatalog | None = None) -> dict[str, str]:
    """path -> why this llama.cpp will not load it, for each model it cannot open (the rest are absent).

    Starts at most two short processes, and only for architectures (or files) this build has not been
    asked about; call it off the UI thread.
    """
    if not infos:
        return {}
    from desktop_app.providers.llama_caps import build_id
    from desktop_app.providers.local import llama_cpp_version

    version = llama_cpp_version()
    build = build_id(version)
    with _lock:
        known = _known_architectures(build)
        pending = [info for info in infos if _answer(info, known, build, catalog, version) is _ASK]
        # One file of each new architecture first: its answer settles the other files of that architecture.
        first: dict[str, ModelInfo] = {}
        for info in pending:
            first.setdefault(info.architecture, info)
        heard = _ask(list(first.values()), known, build, catalog)
        heard |= _ask([info for info in pending if info.architecture not in known and info.path not in heard],
                      known, build, catalog)
        problems: dict[str, str] = {}
        for info in infos:
            error = heard.get(info.path)
            if error and UNKNOWN_ARCHITECTURE not in error:  # about this file, not its architecture
                problems[info.path] = error
                continue
            answer = _answer(info, known, build, catalog, version)
            if isinstance(answer, str):
                problems[info.path] = answer
        if catalog is not None:
            catalog.save()
        return problems


def rate_loadability(infos: Sequence[ModelInfo], fits: Sequence[Fit],
                     catalog: ModelCatalog | None = None) -> list[Fit]:
    """Each model's fit, with the verdict "will not load" where this llama.cpp cannot open the file."""
    problems = load_problems(infos, catalog)
    return [will_not_load(fit, problems[info.path]) if info.path in problems else fit
            for info, fit in zip(infos, fits)]


def unknown_architecture_reason(architecture: str, version: str) -> str:
    shown = repr(architecture) if architecture else "(the file names none)"
    return (f"this llama.cpp (llama-cpp-python {version}) does not know the model architecture {shown}, so "
            f"the model will not load; update llama-cpp-python (newer llama.cpp versions add architectures) "
            f"or pick another model")


# --- what is known ----------------------------------------------------------------------------

_ASK = object()  # nothing is known yet about this file: llama.cpp has to be asked


def _answer(info: ModelInfo, known: dict[str, bool], build: str, catalog: ModelCatalog | None,
            version: str) -> str | None | object:
    """Why the model will not load, None when it will (as far as is known), or _ASK."""
    supported = known.get(info.architecture, True if info.architecture in LONG_KNOWN else None)
    if supported is False:
        return unknown_architecture_reason(info.architecture, version)
    if catalog is not None:
        remembered, error = catalog.load_check(info.path, build)
        if remembered:
            return error
    return None if supported else _ASK  # a file of a known architecture is not opened just to rate it


def _ask(batch: list[ModelInfo], known: dict[str, bool], build: str,
         catalog: ModelCatalog | None) -> dict[str, str | None]:
    """Ask llama.cpp about each file in one throwaway process and remember what it says; path -> error."""
    global checks_run
    if not batch:
        return {}
    from desktop_app.providers.local import check_loadable

    checks_run += 1
    verdicts = check_loadable([info.path for info in batch])
    changed = False
    for info in batch:
        error = verdicts.get(info.path)
        if error is None or UNKNOWN_ARCHITECTURE in error:
            changed |= known.get(info.architecture) != (error is None)
            known[info.architecture] = error is None
        if catalog is not None and "crashed" not in (error or ""):  # a crash may pass: ask again next time
            catalog.remember_load_check(info.path, build, error if error and UNKNOWN_ARCHITECTURE not in error
                                        else None)
    if changed:
        _save_architectures(known, build)
    return {info.path: verdicts.get(info.path) for info in batch}


def _known_architectures(build: str) -> dict[str, bool]:
    """This build's architectures as far as known: from memory, else from the cache folder."""
    known = _architectures.get(build)
    if known is None:
        known = {}
        try:
            data = json.loads(_cache_file(build).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            known = {str(k): v for k, v in data.items() if isinstance(v, bool)}
        _architectures[build] = known
    return known


def _cache_file(build: str) -> Path:
    return paths.cache_dir() / f"llama-architectures-{build}.json"


def _save_architectures(known: dict[str, bool], build: str) -> None:
    """Write what is known to the cache folder (a read-only folder only means asking again next time)."""
    target = _cache_file(build)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for old in target.parent.glob("llama-architectures-*.json"):  # answers about builds no longer here
            if old != target:
                old.unlink(missing_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".llama-architectures-", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(known, handle, sort_keys=True)
        os.replace(temp, target)
    except OSError:
        pass
