"""The local models kept loaded between runs, one worker process each, so a re-run starts at once."""

from __future__ import annotations

import threading
from pathlib import Path

from desktop_app.providers.local import LocalModelSpec, LocalProvider


class ModelPool:
    def __init__(self) -> None:
        self._providers: dict[LocalModelSpec, LocalProvider] = {}
        self._lock = threading.Lock()

    def get(self, spec: LocalModelSpec, label: str | None = None, sha256: str | None = None) -> LocalProvider:
        """The provider for this exact configuration, created (not yet loaded) if needed. A file keeps
        one batching worker at most: its cache is sized for a suite, so the next suite's replaces it."""
        replaced: list[LocalProvider] = []
        with self._lock:
            provider = self._providers.get(spec)
            if provider is None:
                if spec.n_parallel > 1:
                    replaced = [self._providers.pop(other) for other in list(self._providers)
                                if other.path == spec.path and other.n_parallel > 1]
                provider = self._providers[spec] = LocalProvider(spec, label=label, sha256=sha256)
            elif sha256 and not provider.sha256:
                provider.sha256 = sha256
        for old in replaced:
            old.close()
        return provider

    def loaded(self) -> list[LocalProvider]:
        with self._lock:
            return [p for p in self._providers.values() if p.loaded]

    def is_loaded(self, path: str | Path) -> bool:
        target = str(Path(path).resolve())
        return any(p.spec.path == target for p in self.loaded())

    def unload(self, path: str | Path) -> None:
        """Stop every worker serving this file, giving its memory back to the system."""
        target = str(Path(path).resolve())
        with self._lock:
            doomed = [spec for spec in self._providers if spec.path == target]
            providers = [self._providers.pop(spec) for spec in doomed]
        for provider in providers:
            provider.close()

    def close_all(self) -> None:
        with self._lock:
            providers = list(self._providers.values())
            self._providers.clear()
        for provider in providers:
            provider.close()
