"""The model library the screens show: discovered GGUF files with metadata and a fit verdict."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.discovery import discover
from desktop_app.models.fit import Fit, estimate_fit
from desktop_app.models.gguf_meta import GGUFError, ModelInfo
from desktop_app.models.hardware import Hardware
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


def scan_library(settings: Settings, catalog: ModelCatalog, hardware: Hardware) -> list[LibraryEntry]:
    """Discover and describe every model (slow on a cold cache: call it off the UI thread)."""
    found = discover([*settings.model_folders, *settings.model_files])
    entries = []
    for model, info in zip(found, catalog.infos([m.path for m in found])):
        if isinstance(info, GGUFError):
            entries.append(LibraryEntry(model.path, model.source, model.label, None, None, str(info)))
        else:
            fit = estimate_fit(info, hardware, context=settings.context_size, gpu_layers=settings.gpu_layers)
            entries.append(LibraryEntry(model.path, model.source, model.label, info, fit, None))
    return entries
