"""A cache of model metadata and sha256 digests, keyed by path, size and modification time."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
import threading
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from desktop_app import paths
from desktop_app.models.gguf_meta import GGUFError, ModelInfo, check_readable_file, read_metadata

CACHE_FORMAT = 1
HASH_CHUNK_BYTES = 4 * 1024 * 1024
# Below this many uncached files per process, starting processes costs more than it saves.
PARALLEL_MISSES_PER_WORKER = 8


def _read_for_pool(path: str) -> tuple[dict[str, Any] | None, str | None]:
    """read_metadata as plain data, so that it crosses a process boundary."""
    try:
        return read_metadata(path).to_dict(), None
    except GGUFError as exc:
        return None, str(exc)


class ModelCatalog:
    """Remembers `read_metadata` and sha256 results until a file's size or mtime changes.

    `metadata_reads` and `hash_reads` count the files actually read, so callers (and tests)
    can see whether the cache was used.
    """

    def __init__(self, cache_file: Path | None = None) -> None:
        self.cache_file = Path(cache_file) if cache_file is not None else paths.cache_dir() / "models.json"
        self.metadata_reads = 0
        self.hash_reads = 0
        self._lock = threading.RLock()
        self._entries: dict[str, dict[str, Any]] = self._load()
        self._dirty = False

    def info(self, path: str | os.PathLike) -> ModelInfo:
        """The file's metadata, read again only if it changed since it was cached."""
        result = self._info(path)
        self.save()
        return result

    def infos(self, paths_: Iterable[str | os.PathLike]) -> list[ModelInfo | GGUFError]:
        """Metadata for many files (an error in place of each unusable one), saving the cache once.

        Walking a big vocabulary's strings is pure Python; many uncached files are read in parallel
        processes, so a cold library of 50 large-vocabulary models still lists in about a second.
        """
        paths_ = list(paths_)
        results: dict[int, ModelInfo | GGUFError] = {}
        misses: list[tuple[int, str, tuple[int, int]]] = []
        for i, path in enumerate(paths_):
            try:
                key, stamp = self._stamp(path)
                cached = self._cached(key, stamp, "info")
                if cached is not None:
                    results[i] = ModelInfo.from_dict(cached)
                else:
                    misses.append((i, key, stamp))
            except GGUFError as exc:
                results[i] = exc
            except (KeyError, TypeError):  # written by an older version
                misses.append((i, key, stamp))
        workers = min(os.cpu_count() or 1, 4, len(misses) // PARALLEL_MISSES_PER_WORKER)
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                read = list(pool.map(_read_for_pool, [key for _, key, _ in misses], chunksize=4))
        else:
            read = [_read_for_pool(key) for _, key, _ in misses]
        with self._lock:
            for (i, key, stamp), (data, error) in zip(misses, read):
                if error is not None:
                    results[i] = GGUFError(error)
                    continue
                self.metadata_reads += 1
                self._store(key, stamp, "info", data)
                results[i] = ModelInfo.from_dict(data)
        self.save()
        return [results[i] for i in range(len(paths_))]

    def sha256(self, path: str | os.PathLike) -> str:
        """The file's sha256 (hex), computed by streaming the file only when not cached."""
        key, stamp = self._stamp(path)
        cached = self._cached(key, stamp, "sha256")
        if cached is not None:
            return cached
        digest = hashlib.sha256()
        try:
            with open(key, "rb") as file:
                while chunk := file.read(HASH_CHUNK_BYTES):
                    digest.update(chunk)
        except OSError as exc:
            raise GGUFError(f"{key}: cannot read the file to hash it ({exc.strerror or exc}).") from None
        with self._lock:
            self.hash_reads += 1
            # A file rewritten while it was being hashed keeps no (possibly mixed) digest.
            if self._stamp(key)[1] == stamp:
                self._store(key, stamp, "sha256", digest.hexdigest())
        self.save()
        return digest.hexdigest()

    def cached_sha256(self, path: str | os.PathLike) -> str | None:
        """The cached sha256 if the file is unchanged since it was hashed; never reads the file."""
        try:
            key, stamp = self._stamp(path)
        except GGUFError:
            return None
        return self._cached(key, stamp, "sha256")

    def load_check(self, path: str | os.PathLike, build: str) -> tuple[bool, str | None]:
        """(known, error) of llama.cpp opening the file, as remembered for this llama.cpp build; the
        answer is forgotten when the file or the build changes. Never reads the file."""
        try:
            key, stamp = self._stamp(path)
        except GGUFError:
            return False, None
        cached = self._cached(key, stamp, "llama_check")
        if not isinstance(cached, dict) or cached.get("build") != build:
            return False, None
        return True, cached.get("error")

    def remember_load_check(self, path: str | os.PathLike, build: str, error: str | None) -> None:
        """Keep what llama.cpp said about opening the file (None: it opened), until the file or build changes."""
        try:
            key, stamp = self._stamp(path)
        except GGUFError:
            return
        with self._lock:
            self._store(key, stamp, "llama_check", {"build": build, "error": error})

    def save(self) -> None:
        """Write the cache if it changed: to a temporary file, then renamed over the old one."""
        # The lock is held while writing so that two saves cannot land in the wrong order.
        with self._lock:
            if not self._dirty:
                return
            payload = json.dumps({"format": CACHE_FORMAT, "entries": self._entries}, separators=(",", ":"))
            try:
                self.cache_file.parent.mkdir(parents=True, exist_ok=True)
                fd, temp_name = tempfile.mkstemp(prefix=".models-", suffix=".json.tmp",
                                                 dir=self.cache_file.parent)
            except OSError:
                return  # a read-only data folder: the cache lives in memory for this session
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as temp:
                    temp.write(payload)
                os.replace(temp_name, self.cache_file)
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
            self._dirty = False

    def _info(self, path: str | os.PathLike) -> ModelInfo:
        key, stamp = self._stamp(path)
        cached = self._cached(key, stamp, "info")
        if cached is not None:
            try:
                return ModelInfo.from_dict(cached)
            except (KeyError, TypeError):
                pass  # written by an older version: read the file again
        info = read_metadata(key)
        with self._lock:
            self.metadata_reads += 1
            self._store(key, stamp, "info", info.to_dict())
        return info

    @staticmethod
    def _stamp(path: str | os.PathLike) -> tuple[str, tuple[int, int]]:
        key = os.path.abspath(os.fspath(path))
        check_readable_file(key)
        st = os.stat(key)
        return key, (st.st_size, st.st_mtime_ns)

    def _cached(self, key: str, stamp: tuple[int, int], field: str) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or (entry.get("size"), entry.get("mtime_ns")) != stamp:
                return None
            return entry.get(field)

    def _store(self, key: str, stamp: tuple[int, int], field: str, value: Any) -> None:
        entry = self._entries.get(key)
        if entry is None or (entry.get("size"), entry.get("mtime_ns")) != stamp:
            entry = {"size": stamp[0], "mtime_ns": stamp[1]}  # the file changed: forget all of the old entry
            self._entries[key] = entry
        entry[field] = value
        self._dirty = True

    def _load(self) -> dict[str, dict[str, Any]]:
        """The saved entries; a missing, unreadable or corrupt cache counts as empty."""
        try:
            data = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            return {}
        if not isinstance(data.get("entries"), dict):
            return {}
        return {k: v for k, v in data["entries"].items() if isinstance(v, dict)}
