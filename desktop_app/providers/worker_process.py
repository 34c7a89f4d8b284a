"""Starting llama.cpp's worker processes so that they end with the process that started them, quietly.

A worker is a helper of one app or CLI process: the terminal's Ctrl-C is for that process to handle (it
stops its workers itself), and when that process dies (kill -9, a crash) its workers have no one to
answer, so they leave at once, without a traceback or a warning in the user's terminal.

On Linux workers are forked from a server process that imported llama.cpp's bindings once (the first
worker starts it); elsewhere each is a fresh interpreter. Either way a worker sees the environment of the
moment it was started, and leaves without Python's slow shutdown once its work is done.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import wait
from typing import Any

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PR_SET_NAME = 15
# What a forked worker finds already imported: the bindings and numpy take about 0.3 s to import, the
# same again as loading a small model.
PRELOAD = ["desktop_app.providers.llama_worker", "llama_cpp"]


def context() -> Any:
    """The multiprocessing context workers start from.

    Linux (the packaged app too: PyInstaller starts the server from the executable): a fork server, a
    single-threaded process that has only imported PRELOAD (no model, no thread pool), so forking it is
    safe and a worker is ready in the time its model takes to load. Elsewhere a fresh interpreter each
    (spawn): fork is unsafe in a process with threads and native state, and macOS's frameworks are not
    fork-safe at all.
    """
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def start(ctx: Any, target: Callable[..., None], args: tuple[Any, ...], name: str) -> Any:
    """Start `target(*args)` in a new daemon process of `ctx` and return the process.

    SIGINT is blocked in the starting thread while the child is created, so the child is born deaf to
    Ctrl-C (a blocked signal stays blocked across fork and exec) until it ignores SIGINT for good; a
    Ctrl-C in those milliseconds waits for the parent instead of being lost (a fork server started here
    inherits the block, and so do its children). Linux's parent-death signal fires when the *thread* that
    started a child ends, so a spawned child is told to use it only when started from the main thread
    (whose end is the process's end); a fork server's child always (its parent is the server, which ends
    with this process). The watch thread covers every case.
    """
    forked = ctx.get_start_method() == "forkserver"
    death_signal = forked or threading.current_thread() is threading.main_thread()
    # A fork server's children would otherwise see the environment of the moment the server started.
    environment = dict(os.environ) if forked else None
    proc = ctx.Process(target=_child, args=(target, args, death_signal, environment, name.split()[0]), name=name,
                       daemon=True)
    with _sigint_blocked():
        proc.start()
    return proc


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):  # Windows: the child ignores Ctrl-C from its first line
        yield
        return
    # Started first, outside the block: starting it unblocks SIGINT again when it is done.
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _child(target: Callable[..., None], args: tuple[Any, ...], parent_death_signal: bool,
           environment: dict[str, str] | None = None, kind: str = "") -> None:
    """The worker's first code: stop listening to Ctrl-C, watch the parent, run `target`; a pipe that
    breaks means the parent is gone (or stopped listening), and the worker leaves without a word. Done,
    it leaves at once too: everything it had to say went through its pipe, and Python's shutdown
    (collecting every module) would only keep the app waiting for it. On Linux `ps` and `top` show it by
    its `kind` ("llama-worker"), not as one more python."""
    os_parent = os.getppid()
    ignore_interrupts()
    if kind and sys.platform.startswith("linux"):
        _prctl(_PR_SET_NAME, kind.encode()[:15])
    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    watch_parent(parent_death_signal, os_parent)
    try:
        target(*args)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass
    leave()


def ignore_interrupts() -> None:
    """Ctrl-C reaches every process of the terminal's foreground group; the parent handles it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # also drops a Ctrl-C that came while it was blocked
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def watch_parent(parent_death_signal: bool = False, os_parent: int | None = None) -> None:
    """Leave the moment the parent process ends.

    Every platform: a thread waits on the parent's sentinel (a pipe multiprocessing keeps open in the
    parent, so it reads as closed when the parent dies; a process handle on Windows), which needs no
    polling and works while llama.cpp's native code holds the main thread. Linux, when allowed: the
    kernel also kills the worker with its parent process (PR_SET_PDEATHSIG), even if Python could not
    run: the app itself, or the fork server that ends with it. `os_parent` is that process's id as the
    worker first saw it.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if parent_death_signal and sys.platform.startswith("linux"):
        _set_parent_death_signal()
        if os.getppid() != (os_parent or parent.pid):  # the parent died before the signal was armed
            leave()
    threading.Thread(target=_leave_when_ended, args=(parent.sentinel,), name="parent-watch", daemon=True).start()


def _set_parent_death_signal() -> None:
    _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))  # without prctl the watch thread is enough


def _prctl(option: int, value: Any) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _leave_when_ended(sentinel: Any) -> None:
    wait([sentinel])
    leave()


def leave() -> None:
    """Exit at once: no traceback, no atexit handlers, nothing left for a resource tracker to report."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)
