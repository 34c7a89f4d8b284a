"""The model library the screens show: discovered GGUF files with metadata and a fit verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.discovery import discover
from desktop_app.models.fit import Fit, estimate_fit
from desktop_app.models.gguf_meta import GGUFError, ModelInfo
from desktop_app.models.hardware import Hardware
from desktop_app.models.loadability import rate_loadability
from desktop_app.settings import Settings


@dataclass(frozen=True)
class LibraryEntry:
    path: Path
    source: str  # project, user, folder, lmstudio, ollama, gpt4all, huggingface, llama.cpp
    label: str
    info: ModelInfo | None
    fit: Fit | None
    error: str | None  # why the file cannot be used

    @property
    def display_name(self) -> str:
        return self.path.stem if self.source in ("project", "user", "folder") else self.label


def scan_library(settings: Settings, catalog: ModelCatalog, hardware: Hardware,
                 progress: Callable[[str], None] | None = None) -> list[LibraryEntry]:
    """Discover and describe every model file: why each unusable one cannot be used, and "will not load"
    where this llama.cpp cannot open it (slow on a cold cache, and may ask llama.cpp in a short process:
    call it off the UI thread). `progress` hears what it is doing, in a few words, as each step starts."""
    say = progress or (lambda _text: None)
    say("looking for models…")
    found = discover([*settings.model_folders, *settings.model_files])
    say(f"reading {len(found)} model file{'s' if len(found) != 1 else ''}…")
    infos = catalog.infos([m.path for m in found])
    readable = [info for info in infos if not isinstance(info, GGUFError)]
    say(f"checking which of {len(readable)} this llama.cpp can load…")
    fits = rate_loadability(readable, [estimate_fit(info, hardware, context=settings.context_size,
                                                    gpu_layers=settings.gpu_layers) for info in readable], catalog)
    fit_of = {info.path: fit for info, fit in zip(readable, fits)}
    entries = []
    for model, info in zip(found, infos):
        if isinstance(info, GGUFError):  # empty, not GGUF, truncated...: listed with the reason
            entries.append(LibraryEntry(model.path, model.source, model.label, None, None, str(info)))
        else:
            entries.append(LibraryEntry(model.path, model.source, model.label, info, fit_of[info.path], None))
    return entries
