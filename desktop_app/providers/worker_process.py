"""Starting llama.cpp's worker processes so that they end with the process that started them, quietly.

A worker is a helper of one app or CLI process: the terminal's Ctrl-C is for that process to handle (it
stops its workers itself), and when that process dies (kill -9, a crash) its workers have no one to
answer, so they leave at once, without a traceback or a warning in the user's terminal.
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


def start(ctx: Any, target: Callable[..., None], args: tuple[Any, ...], name: str) -> Any:
    """Start `target(*args)` in a new daemon process of `ctx` and return the process.

    SIGINT is blocked in the starting thread while the child is created, so the child is born deaf to
    Ctrl-C (a blocked signal stays blocked across fork and exec) until it ignores SIGINT for good; a
    Ctrl-C in those milliseconds waits for the parent instead of being lost. Linux's parent-death signal
    fires when the *thread* that started a child ends, so the child is told to use it only when started
    from the main thread (whose end is the process's end); the watch thread covers every other case.
    """
    on_main_thread = threading.current_thread() is threading.main_thread()
    proc = ctx.Process(target=_child, args=(target, args, on_main_thread), name=name, daemon=True)
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


def _child(target: Callable[..., None], args: tuple[Any, ...], parent_death_signal: bool) -> None:
    """The worker's first code: stop listening to Ctrl-C, watch the parent, run `target`; a pipe that
    breaks means the parent is gone (or stopped listening), and the worker leaves without a word."""
    ignore_interrupts()
    watch_parent(parent_death_signal)
    try:
        target(*args)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        leave()


def ignore_interrupts() -> None:
    """Ctrl-C reaches every process of the terminal's foreground group; the parent handles it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # also drops a Ctrl-C that came while it was blocked
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def watch_parent(parent_death_signal: bool = False) -> None:
    """Leave the moment the parent process ends.

    Every platform: a thread waits on the parent's sentinel (a pipe multiprocessing keeps open in the
    parent, so it reads as closed when the parent dies; a process handle on Windows), which needs no
    polling and works while llama.cpp's native code holds the main thread. Linux, when allowed: the
    kernel also kills the worker with the parent (PR_SET_PDEATHSIG), even if Python could not run.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if parent_death_signal and sys.platform.startswith("linux"):
        _set_parent_death_signal()
        if os.getppid() != parent.pid:  # the parent died before the signal was armed
            leave()
    threading.Thread(target=_leave_when_ended, args=(parent.sentinel,), name="parent-watch", daemon=True).start()


def _set_parent_death_signal() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no prctl here: the watch thread is enough


def _leave_when_ended(sentinel: Any) -> None:
    wait([sentinel])
    leave()


def leave() -> None:
    """Exit at once: no traceback, no atexit handlers, nothing left for a resource tracker to report."""
    os._exit(0)
