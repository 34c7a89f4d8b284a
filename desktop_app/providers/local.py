"""A GGUF model served by llama.cpp in its own worker process (one per loaded model), answering one
request or a batch of them at a time."""

from __future__ import annotations

import hashlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import psutil

from desktop_app.providers import llama_worker, worker_process
from desktop_app.providers.base import Admitted, ProviderError, Request, Result, Token
from desktop_app.versions import installed_version


def llama_cpp_version() -> str:
    """The installed llama-cpp-python version, without importing the native library."""
    return installed_version("llama-cpp-python")


@dataclass(frozen=True)
class LocalModelSpec:
    path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    # n_threads is the most: fewer while other programs keep cores busy (Settings' threads left automatic).
    adapt_threads: bool = False
    n_gpu_layers: int = 0
    n_batch: int = 512
    # None: the file's own chat template (ChatML when it has none); else one of llama.cpp's built-in
    # template names (chatml, llama3, gemma, ...) or "completion" (the prompt as plain text).
    chat_template: str | None = None
    # Requests decoded together (continuous batching); 1 answers one at a time. Part of an answer's
    # identity: batched kernels change the last bits of the logits, so greedy answers may differ.
    n_parallel: int = 1
    # KV cells the batch shares (each request still gets at most n_ctx); None: n_ctx x n_parallel.
    n_ctx_batch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocalModelSpec:
        return cls(**data)


class LocalProvider:
    """Hosts one model in a worker process; one request, or one batch of requests, at a time."""

    def __init__(self, spec: LocalModelSpec, label: str | None = None, sha256: str | None = None) -> None:
        self.spec = spec
        self.label = label or Path(spec.path).name
        self.sha256 = sha256
        self.load_info: dict[str, Any] = {}
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Any = None
        self._cancel_sent = False  # the worker was told to stop the answer under way
        self._lock = threading.Lock()  # a llama.cpp context takes one request at a time
        self._identity: dict[str, Any] | None = None

    # Lifecycle ----------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def pid(self) -> int | None:
        """The worker process's id while one runs."""
        return self._proc.pid if self._proc is not None else None

    def load(self) -> None:
        if self.loaded:
            return
        check_chat_template(self.spec)
        ctx = worker_process.context()
        parent_conn, child_conn = ctx.Pipe()
        started = time.perf_counter()
        # A cancel is a message on the pipe, not a multiprocessing Event: an Event's semaphores are
        # registered with the resource tracker, which warns of "leaked semaphores" when the app is killed.
        proc = worker_process.start(ctx, llama_worker.main, (child_conn, self.spec.to_dict()),
                                    f"llama-worker {self.label}")
        child_conn.close()
        self._proc, self._conn = proc, parent_conn
        try:
            kind, payload = self._receive()
        except _WorkerDied as died:
            self._reset()
            raise ProviderError(f"cannot load {self.spec.path}: the llama.cpp worker {died}") from None
        if kind == "load_error":
            self.close()
            raise ProviderError(_load_error_message(self.spec.path, payload))
        if kind == "spec_error":  # the file is fine; the settings asked for something llama.cpp lacks
            self.close()
            raise ProviderError(payload)
        self.load_info = {**payload, "load_ms": (time.perf_counter() - started) * 1000}

    def close(self) -> None:
        if self._proc is None:
            return
        try:
            self._conn.send(("close",))
        except (OSError, ValueError):
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._reset()

    def _reset(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def memory_bytes(self) -> int | None:
        """Resident memory of the worker now (the loaded model and its context)."""
        if not self.loaded:
            return None
        try:
            return psutil.Process(self._proc.pid).memory_info().rss
        except psutil.Error:
            return None

    def identity(self) -> dict[str, Any]:
        # Made once per provider (the template is read from the file); sha256 may be learnt later.
        if self._identity is None or self._identity["sha256"] != self.sha256:
            self._identity = {"provider": "llama.cpp", "sha256": self.sha256, "n_ctx": self.spec.n_ctx,
                              "n_gpu_layers": self.spec.n_gpu_layers, "llama_cpp": llama_cpp_version(),
                              "chat_template": template_identity(self.spec),
                              "parallel": self.spec.n_parallel,
                              "generation": llama_worker.GENERATION_VERSION}
        return dict(self._identity)

    # Answers ------------------------------------------------------------------------------

    def stream(self, request: Request, cancel: threading.Event | None = None) -> Iterator[Token | Result]:
        for _, item in self.stream_many([request], cancel):
            if not isinstance(item, Admitted):
                yield item

    def stream_many(self, requests: Sequence[Request],
                    cancel: threading.Event | None = None) -> Iterator[tuple[int, Admitted | Token | Result]]:
        """Answer several requests, up to `n_parallel` of them decoded together: yields (index,
        Admitted) when request `index` starts, (index, Token) as it writes and (index, Result) when it
        ends. A cancel ends the answers under way as "cancelled" and skips those not started; a
        worker that dies ends the answers under way with an error (their text so far kept) and skips
        the rest, so the caller can load the model again and go on."""
        with self._lock:
            started = time.perf_counter()
            try:
                self.load()
            except ProviderError as exc:
                for index in range(len(requests)):
                    yield index, Result(finish_reason="error", error=str(exc), wall_time_ms=_ms_since(started),
                                        error_kind=load_error_kind(str(exc)))
                return
            self._cancel_sent = False
            finished = False
            parts: dict[int, list[str]] = {}
            admitted_at: dict[int, float] = {}
            try:
                self._conn.send(("generate", [request.to_dict() for request in requests]))
                while True:
                    message = self._receive(cancel)
                    kind = message[0]
                    if kind == "token":
                        parts[message[1]].append(message[2])
                        yield message[1], Token(message[2])
                    elif kind == "admitted":
                        parts[message[1]], admitted_at[message[1]] = [], time.perf_counter()
                        yield message[1], Admitted()
                    elif kind == "done":
                        parts.pop(message[1], None)
                        yield message[1], Result.from_dict(message[2])
                    elif kind == "failed":  # the batch broke: what was under way ends with its reason
                        for index in sorted(parts):
                            yield index, Result(text="".join(parts[index]), finish_reason="error",
                                                error=message[1], error_kind="transient",
                                                wall_time_ms=_ms_since(admitted_at[index]))
                        parts.clear()
                    elif kind == "idle":
                        finished = True
                        return
            except (_WorkerDied, OSError) as died:
                finished = True
                self._reset()
                for index in sorted(parts):
                    yield index, Result(text="".join(parts[index]), finish_reason="error",
                                        wall_time_ms=_ms_since(admitted_at[index]),
                                        error=f"the llama.cpp worker for {self.label} {died}; "
                                              f"the answer so far is kept", error_kind="transient")
            finally:
                if not finished:  # the caller stopped listening: stop the worker and drain its reply
                    self._drain()

    def _drain(self) -> None:
        self._send_cancel()
        try:
            while self._receive()[0] != "idle":
                pass
        except (_WorkerDied, OSError):
            self._reset()

    def _send_cancel(self) -> None:
        """Ask the worker to stop the answer under way (once); it reads the pipe between tokens."""
        if self._cancel_sent:
            return
        self._cancel_sent = True
        try:
            self._conn.send(("cancel",))
        except (OSError, ValueError):
            pass  # the worker is gone: receiving says so

    def _receive(self, cancel: threading.Event | None = None) -> tuple[Any, ...]:
        conn, proc = self._conn, self._proc
        while True:
            if cancel is not None and cancel.is_set():
                self._send_cancel()
            if conn.poll():
                try:
                    return conn.recv()
                except EOFError:
                    raise _WorkerDied(_describe_exit(proc)) from None
            ready = wait([conn, proc.sentinel], timeout=0.05)
            if proc.sentinel in ready and not conn.poll():
                proc.join(timeout=1)
                raise _WorkerDied(_describe_exit(proc))


def check_loadable(model_paths: list[str]) -> dict[str, str | None]:
    """Ask llama.cpp, in one throwaway process, whether it can open each model; path -> error or None.

    Reading only the vocabulary takes well under a second even for large models, and catches an
    architecture this llama.cpp does not know before a run is planned around it.
    """
    ctx = worker_process.context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = worker_process.start(ctx, llama_worker.check_main, (sender, list(model_paths)), "llama-check")
    sender.close()
    verdicts: dict[str, str | None] = {}
    try:
        while (item := receiver.recv()) is not None:
            path, reason = item
            verdicts[path] = None if reason is None else _load_error_message(path, reason)
    except EOFError:
        pass  # the checker crashed on the next model: that model is the one that fails
    proc.join(timeout=5)
    for path in model_paths:
        verdicts.setdefault(path, f"cannot load {path}: llama.cpp crashed while opening it "
                                  f"({_describe_exit(proc)}); the file is probably damaged")
    return verdicts


def load_error_kind(message: str) -> str:
    """A load that failed for lack of memory (or a worker killed) may pass later; a bad file will not."""
    lowered = message.lower()
    if any(word in lowered for word in ("memory", "alloc", "sigkill", "crashed", "stopped answering")):
        return "transient"
    return "permanent"


def template_identity(spec: LocalModelSpec) -> str:
    """The prompt format a spec's answers are made with, as part of their identity: the chosen name, or
    for the file's own template a hash of its text (a re-packed file may carry another one)."""
    if spec.chat_template is not None:
        return spec.chat_template
    from desktop_app.models.gguf_meta import GGUFError, read_chat_template

    try:
        text = read_chat_template(spec.path)
    except (GGUFError, OSError):
        return "unreadable"  # the load fails anyway, and no answer is stored under this identity
    if not text or not text.strip():
        return "chatml-fallback"
    return "gguf:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def check_chat_template(spec: LocalModelSpec) -> None:
    """Refuse a chat template name this llama.cpp does not have, before a worker is started for it."""
    name = spec.chat_template
    if name is None or name == llama_worker.COMPLETION:
        return
    from desktop_app.providers.llama_caps import capabilities

    known = list(capabilities().chat_templates)
    if known and name not in known:  # no list: llama.cpp would not start, and the load says why
        raise ProviderError(llama_worker.unknown_template_message(name, spec.path, known))


class _WorkerDied(Exception):
    pass


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _describe_exit(proc: Any) -> str:
    proc.join(timeout=1)
    code = proc.exitcode
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (often the system running out of memory)" if name == "SIGKILL" else ""
        return f"crashed with {name}{hint}"
    return f"exited unexpectedly with code {code}"


def _load_error_message(path: str, reason: str) -> str:
    reason = reason.strip() or "llama.cpp gave no reason"
    if "unknown model architecture" in reason:
        return (f"cannot load {path}: {reason}. This llama.cpp ({llama_cpp_version()}) does not support "
                f"that architecture; update llama-cpp-python or pick another model")
    return (f"cannot load {path}: llama.cpp failed ({reason}). The file may be damaged or incomplete; "
            f"download it again or pick another model")
