"""Tests for the model metadata / sha256 cache, on real files in tmp_path."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.gguf_meta import GGUFError, ModelInfo
from tests.ggufs import write_tiny_gguf

DEMO_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


class SaveCountingCatalog(ModelCatalog):
    def __init__(self, cache_file: Path | None = None) -> None:
        self.save_calls = 0
        super().__init__(cache_file)

    def save(self) -> None:
        self.save_calls += 1
        super().save()


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "models.json"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_tiny_gguf(tmp_path / "model.gguf", name="model-aaaa")


def test_info_is_cached_in_memory_and_on_disk(model: Path, cache_file: Path) -> None:
    catalog = ModelCatalog(cache_file)
    first = catalog.info(model)
    assert catalog.info(model) == first
    assert catalog.metadata_reads == 1
    saved = json.loads(cache_file.read_text())
    assert saved["entries"][str(model)]["info"]["name"] == "model-aaaa"

    reopened = ModelCatalog(cache_file)
    assert reopened.info(model) == first
    assert reopened.metadata_reads == 0


def test_same_size_and_mtime_keeps_the_cached_value(model: Path, cache_file: Path, tmp_path: Path) -> None:
    catalog = ModelCatalog(cache_file)
    assert catalog.info(model).name == "model-aaaa"
    other = write_tiny_gguf(tmp_path / "other.gguf", name="model-bbbb")
    assert other.stat().st_size == model.stat().st_size
    stamp = model.stat()
    shutil.copyfile(other, model)
    os.utime(model, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))

    assert catalog.info(model).name == "model-aaaa"  # the cache cannot see this change, by design
    os.utime(model, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))  # touch
    assert catalog.info(model).name == "model-bbbb"
    assert catalog.metadata_reads == 2


def test_rewritten_file_is_read_again(model: Path, cache_file: Path) -> None:
    catalog = ModelCatalog(cache_file)
    assert catalog.info(model).layers == 2
    write_tiny_gguf(model, n_layer=3)
    assert catalog.info(model).layers == 3
    assert ModelCatalog(cache_file).info(model).layers == 3


def test_sha256_is_computed_once_and_forgotten_on_change(model: Path, cache_file: Path) -> None:
    catalog = ModelCatalog(cache_file)
    assert catalog.cached_sha256(model) is None
    expected = hashlib.sha256(model.read_bytes()).hexdigest()
    assert catalog.sha256(model) == expected
    assert catalog.sha256(model) == expected
    assert catalog.hash_reads == 1
    assert ModelCatalog(cache_file).cached_sha256(model) == expected

    write_tiny_gguf(model, n_layer=1)
    assert catalog.cached_sha256(model) is None
    assert catalog.sha256(model) == hashlib.sha256(model.read_bytes()).hexdigest()
    assert catalog.hash_reads == 2


def test_listing_does_not_hash_and_keeps_hash_with_info(model: Path, cache_file: Path) -> None:
    catalog = ModelCatalog(cache_file)
    catalog.infos([model])
    assert catalog.hash_reads == 0
    assert catalog.cached_sha256(model) is None
    digest = catalog.sha256(model)
    catalog.info(model)
    assert catalog.metadata_reads == 1
    assert catalog.cached_sha256(model) == digest


def test_infos_lists_many_models_and_saves_once(tmp_path: Path, cache_file: Path) -> None:
    source = write_tiny_gguf(tmp_path / "source.gguf")
    paths = []
    for i in range(50):
        path = tmp_path / f"copy-{i}.gguf"
        os.link(source, path)
        paths.append(path)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"<html>not found</html>")

    catalog = SaveCountingCatalog(cache_file)
    results = catalog.infos([*paths, broken, tmp_path / "missing.gguf"])
    assert catalog.save_calls == 1
    assert all(isinstance(r, ModelInfo) for r in results[:50])
    assert [r.path for r in results[:50]] == [str(p) for p in paths]
    assert isinstance(results[50], GGUFError) and "HTML" in str(results[50])
    assert isinstance(results[51], GGUFError) and "no such file" in str(results[51])
    assert len(json.loads(cache_file.read_text())["entries"]) == 50

    warm = SaveCountingCatalog(cache_file)
    assert warm.infos(paths) == results[:50]
    assert warm.metadata_reads == 0


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"[1, 2]", b'{"format": 1, "entries": []}', b'{"format": 99, "entries": {}}', b"\xff\xfe"],
)
def test_corrupt_cache_is_ignored_and_replaced(model: Path, cache_file: Path, content: bytes) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(content)
    catalog = ModelCatalog(cache_file)
    assert catalog.info(model).name == "model-aaaa"
    assert json.loads(cache_file.read_text())["format"] == 1


def test_stale_entry_shape_is_read_again(model: Path, cache_file: Path) -> None:
    ModelCatalog(cache_file).info(model)
    data = json.loads(cache_file.read_text())
    del data["entries"][str(model)]["info"]["vocab_size"]
    cache_file.write_text(json.dumps(data))
    catalog = ModelCatalog(cache_file)
    assert catalog.info(model).vocab_size == 64
    assert catalog.metadata_reads == 1


def test_save_leaves_no_temporary_files(model: Path, cache_file: Path) -> None:
    catalog = ModelCatalog(cache_file)
    catalog.info(model)
    catalog.sha256(model)
    assert [p.name for p in cache_file.parent.iterdir()] == ["models.json"]


def test_default_cache_file_is_in_the_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCOUT_HOME", str(tmp_path / "home"))
    assert ModelCatalog().cache_file == tmp_path / "home" / "cache" / "models.json"


def test_bad_paths_raise_gguf_error(tmp_path: Path, cache_file: Path) -> None:
    catalog = ModelCatalog(cache_file)
    with pytest.raises(GGUFError, match="no such file"):
        catalog.info(tmp_path / "missing.gguf")
    with pytest.raises(GGUFError, match="is a folder"):
        catalog.sha256(tmp_path)
    assert catalog.cached_sha256(tmp_path / "missing.gguf") is None


def test_threads_share_one_catalog(tmp_path: Path, cache_file: Path) -> None:
    models = [write_tiny_gguf(tmp_path / f"m{i}.gguf", name=f"model-{i}", n_layer=1 + i % 3) for i in range(8)]
    catalog = ModelCatalog(cache_file)
    errors: list[BaseException] = []

    def work(path: Path) -> None:
        try:
            for _ in range(5):
                catalog.info(path)
                catalog.sha256(path)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(m,)) for m in models for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entries = json.loads(cache_file.read_text())["entries"]
    assert sorted(entries) == sorted(str(m) for m in models)
    for m in models:
        assert entries[str(m)]["sha256"] == hashlib.sha256(m.read_bytes()).hexdigest()
        assert entries[str(m)]["info"]["name"] == m.stem.replace("m", "model-")


@pytest.mark.model
def test_demo_model_sha256(cache_file: Path, demo_model: Path) -> None:
    catalog = ModelCatalog(cache_file)
    assert catalog.sha256(demo_model) == DEMO_SHA256
    assert ModelCatalog(cache_file).cached_sha256(demo_model) == DEMO_SHA256


def test_many_uncached_files_are_read_in_parallel_with_the_same_results(tmp_path: Path) -> None:
    from desktop_app.models.catalog import PARALLEL_MISSES_PER_WORKER

    files = [write_tiny_gguf(tmp_path / f"m{i}.gguf", name=f"model {i}")
             for i in range(2 * PARALLEL_MISSES_PER_WORKER)]
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"PK\x03\x04 not a model")
    files.insert(5, broken)
    catalog = ModelCatalog(tmp_path / "cache.json")
    listed = catalog.infos(files)
    assert isinstance(listed[5], GGUFError) and "broken.gguf" in str(listed[5])
    assert [i.name for i in listed if not isinstance(i, GGUFError)] == [f"model {i}" for i in range(16)]
    assert catalog.metadata_reads == 16
    again = ModelCatalog(tmp_path / "cache.json")
    assert [str(x) if isinstance(x, GGUFError) else x for x in again.infos(files)] == \
           [str(x) if isinstance(x, GGUFError) else x for x in listed]
    assert again.metadata_reads == 0
