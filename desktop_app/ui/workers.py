"""Run core generators and functions off the UI thread; their results arrive on the UI thread.

Why not superqt's workers (`create_worker`, `GeneratorWorker`): they run on Qt's global thread pool, which has
as many threads as the machine has cores (2 here), so one hour-long suite run and one comparison would leave no
thread for reading the store until they end; their `quit()` leaves the generator suspended, to be closed by the
garbage collector on whatever thread it runs (a run's `finally` closes its store and models); and each of their
workers swaps `warnings.showwarning` and the warning filters for the whole process while it runs, which two
workers at once undo in the wrong order. A thread per job for as long as it runs (threads wait between jobs, so
starting one costs the window nothing), stopped by the run's own cancel event, is as short as a wrapper around
theirs would be.
"""

from __future__ import annotations

import functools
import gc
import itertools
import queue
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

if TYPE_CHECKING:
    from desktop_app.storage.store import Store

T = TypeVar("T")

# How often a live run tells the screens that follow it (Results, Tradeoff, Vote) of its new answers, at most.
ANNOUNCE_MS = 400


class _Bridge(QObject):
    """Signals emitted from the work thread; queued over to the UI thread that owns the worker."""

    item = Signal(object)
    error = Signal(object)
    done = Signal()


# While work runs beside it, the UI thread gets Python's lock back within this long (Python's default is 5 ms).
# Every Qt call lets the lock go and takes it back; a busy worker then keeps it a whole interval each time, so a
# screen update of a few dozen Qt calls took hundreds of milliseconds while a large run was being summed up.
UI_SWITCH_INTERVAL_S = 0.001


class _Threads:
    """Threads that wait for background jobs, so that starting a job never makes the UI thread wait.

    Starting a thread waits until it runs, and with other jobs holding Python's lock that took 15-30 ms of the
    UI thread's time. A job here is handed to a thread that already waits; each thread that takes one starts a
    spare if none is left waiting (the thread waits for its spare, not the window), so a job never waits behind
    another however long that one runs: a suite run can last an hour. Threads beyond `KEEP_IDLE` waiting end.
    """

    KEEP_IDLE = 4

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a job
        self._starting = 0  # threads started, not waiting yet

    def run(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)
        with self._lock:
            if self._idle + self._starting > 0:
                return
            self._starting += 1
        self._start()  # the first job, or a burst that took every spare: started from here this once

    def _start(self) -> None:
        threading.Thread(target=self._serve, name="modelscout-worker", daemon=True).start()

    def _serve(self) -> None:
        with self._lock:
            self._starting -= 1
            self._idle += 1
        while True:
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
                spare = self._idle + self._starting == 0
                if spare:
                    self._starting += 1
            if spare:
                self._start()
            job()  # a job catches its own errors (GeneratorWorker._run)
            del job
            with self._lock:
                if self._idle >= self.KEEP_IDLE:
                    return
                self._idle += 1


_threads = _Threads()


class GeneratorWorker(QObject):
    """Drives a generator on a thread of its own; `yielded`, `failed` and `finished` fire on the UI thread.

    Create it on the UI thread. A thread of its own for as long as it runs (see _Threads): a suite run can last an
    hour.
    """

    yielded = Signal(object)
    failed = Signal(object)  # the exception
    finished = Signal()

    # Running workers by token, kept alive without a parent. The UI thread lets go of one only after its
    # work thread has (see _work): a QObject must be destroyed on the thread it belongs to, and one freed by
    # a work thread's last reference while the UI thread was still emitting its `finished` crashed the app.
    _active: dict[int, GeneratorWorker] = {}
    _tokens = itertools.count()

    def __init__(self, make: Callable[[], Iterator[Any]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._make = make
        self._bridge = _Bridge()
        self._bridge.item.connect(self.yielded)
        self._bridge.error.connect(self.failed)
        self._bridge.done.connect(self._on_done)
        self._started = False
        self._ended = threading.Event()

    def start(self) -> GeneratorWorker:
        token = next(GeneratorWorker._tokens)
        GeneratorWorker._active[token] = self
        _reaper()  # made here, on the UI thread, before a work thread needs it
        self._started = True
        if sys.getswitchinterval() > UI_SWITCH_INTERVAL_S:
            sys.setswitchinterval(UI_SWITCH_INTERVAL_S)
        _threads.run(functools.partial(_work, token))  # the thread holds the token, not the worker
        return self

    def is_running(self) -> bool:
        return self._started and not self._ended.is_set()

    def wait(self, seconds: float = 30.0) -> bool:
        return not self._started or self._ended.wait(seconds)

    def _run(self) -> None:
        try:
            for item in self._make():
                if not _tell(self._bridge.item, item):
                    break  # no window left to show it: the generator is closed here (its `finally` runs)
        except BaseException as exc:  # handed to the UI, which shows it in plain words
            _tell(self._bridge.error, exc)
        finally:
            self._make = None  # what the job holds is let go here, on its own thread
            _tell(self._bridge.done)
            self._ended.set()

    def _on_done(self) -> None:
        self.finished.emit()
        if self.parent() is not None:  # a finished job is not kept as a child for the parent's lifetime
            self.deleteLater()


def jobs_running() -> int:
    """Background jobs not finished yet, results not yet handed to the UI thread included (a job counts until
    the UI thread lets go of its worker, which comes after its last result there)."""
    return len(GeneratorWorker._active)


def _work(token: int) -> None:
    """A worker's run on its work thread, which then drops its reference and only then tells the UI thread
    (queued after the worker's own `done`), which drops the last one: the worker is freed on its thread."""
    worker = GeneratorWorker._active[token]
    worker._run()
    del worker
    _tell(_reaper().released, token)


def _tell(signal: Any, *args: Any) -> bool:
    """Emit `signal` from a work thread; False, quietly, when Qt's side of it is gone. At exit PySide's own
    exit handler deletes Qt's objects while daemon work threads may still be ending a job: their signal then
    raises "Signal source has been deleted", and the traceback reached the user's terminal."""
    try:
        signal.emit(*args)
    except RuntimeError:
        return False
    return True


class _Reaper(QObject):
    """Lives on the UI thread: lets go of finished workers there."""

    released = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.released.connect(self._release)

    @staticmethod
    def _release(token: int) -> None:
        GeneratorWorker._active.pop(token, None)


_the_reaper: list[_Reaper] = []


def _reaper() -> _Reaper:
    if not _the_reaper:
        _the_reaper.append(_Reaper())
    return _the_reaper[0]


class _FullCollections:
    """Keeps the garbage collector's full passes from stopping the window while background jobs read.

    A full pass walks every object Python tracks, holding the interpreter's lock: with a run of 100,000
    answers being read that took 450 ms, on whichever thread set it off, and the window waits for the lock.
    While a job runs, only young passes happen (cheap); when the last one ends and a full pass was put off,
    what survived is frozen (set aside from full passes, as memory.freeze_long_lived does for the screens).
    Objects are still freed by their reference counts; only cycles among what is frozen would stay.
    """

    PUT_OFF = 1_000_000  # full-pass threshold while a job runs: in effect, never

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs = 0
        self._saved: tuple[int, int, int] = gc.get_threshold()

    def job_started(self) -> None:
        with self._lock:
            if self._jobs == 0:
                self._saved = gc.get_threshold()
                gc.set_threshold(self._saved[0], self._saved[1], self.PUT_OFF)
            self._jobs += 1

    def job_ended(self) -> None:
        with self._lock:
            self._jobs -= 1
            if self._jobs:
                return
            put_off = gc.get_count()[2] > self._saved[2]  # a full pass would have run meanwhile
            gc.set_threshold(*self._saved)
            if put_off:
                gc.collect(1)  # the young cycles (cheap), then the rest set aside
                gc.freeze()


_full_collections = _FullCollections()


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[BaseException], None] | None = None,
                      parent: QObject | None = None) -> GeneratorWorker:
    """Call fn() off the UI thread; on_done(result) or on_error(exc) then run on the UI thread."""

    def once() -> Iterator[Any]:
        _full_collections.job_started()
        try:
            result = fn()
        finally:
            _full_collections.job_ended()
        yield result

    worker = GeneratorWorker(once, parent)
    if on_done:
        worker.yielded.connect(on_done)
    if on_error:
        worker.failed.connect(on_error)
    return worker.start()


def with_store(database: Path, fn: Callable[[Store], T]) -> Callable[[], T]:
    """fn(store) on a connection of the worker's own, opened and closed on its thread.

    The UI thread's connection (`AppContext.store`) is never handed to a worker: its lock would make the
    window wait for a long read, and a sqlite3 connection is one thread's unless told otherwise. WAL lets
    these readers read beside the one writer.
    """

    def call() -> T:
        from desktop_app.storage.store import Store

        store = Store(database)
        try:
            return fn(store)
        finally:
            store.close()

    return call


class LatestOnly(QObject):
    """Background requests of which the screen wants only the newest answer (a run list, a run's figures).

    One runs at a time; a request made meanwhile waits, replacing any that was waiting, so a burst of them
    (a live run's answers, a volume typed digit by digit) costs one more job, not one each. An answer is
    handed over only when no newer request was made since its own, or when the newest is for the same `key`
    (fresher figures of what the screen shows are worth showing while the newest is worked out); its error
    only when it is the newest.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ticket = 0
        self._key: Hashable = None
        self._running: GeneratorWorker | None = None
        self._waiting: tuple[int, Callable[[], Any], Callable[[Any], None],
                             Callable[[BaseException], None] | None, Hashable] | None = None

    def request(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
                on_error: Callable[[BaseException], None] | None = None, key: Hashable = None) -> None:
        self._ticket += 1
        self._key = key
        job = (self._ticket, fn, on_done, on_error, key)
        if self._running is None:
            self._start(job)
        else:
            self._waiting = job

    def cancel(self) -> None:
        """Nothing asked so far is wanted any more (a job under way ends unseen)."""
        self._ticket += 1
        self._key = object()
        self._waiting = None

    def busy(self) -> bool:
        return self._running is not None or self._waiting is not None

    def wait(self, seconds: float = 10.0) -> bool:
        """Block until the job under way ends (closing the window); True if none is left running."""
        worker = self._running
        return worker is None or worker.wait(seconds)

    def _start(self, job: tuple[int, Callable[[], Any], Callable[[Any], None],
                                Callable[[BaseException], None] | None, Hashable]) -> None:
        ticket, fn, on_done, on_error, key = job
        self._running = run_in_background(fn, lambda result: self._done(ticket, key, on_done, result),
                                          lambda exc: self._failed(ticket, on_error, exc), self)
        self._running.finished.connect(self._next)

    def _done(self, ticket: int, key: Hashable, on_done: Callable[[Any], None], result: Any) -> None:
        if ticket == self._ticket or (key is not None and key == self._key):
            on_done(result)

    def _failed(self, ticket: int, on_error: Callable[[BaseException], None] | None, exc: BaseException) -> None:
        if ticket == self._ticket and on_error is not None:
            on_error(exc)

    def _next(self) -> None:
        self._running = None
        job, self._waiting = self._waiting, None
        if job is not None:
            self._start(job)


class InOrder(QObject):
    """Background jobs that run one after another in the order given: writes that must land as they were
    made (a verdict, then the person's change of mind)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: list[tuple[Callable[[], Any], Callable[[Any], None] | None,
                                Callable[[BaseException], None] | None]] = []
        self._running: GeneratorWorker | None = None

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None) -> None:
        self._queue.append((fn, on_done, on_error))
        if self._running is None:
            self._next()

    def busy(self) -> bool:
        return self._running is not None

    def wait(self, seconds: float = 10.0) -> bool:
        """Block until every job given so far has ended (closing the window: no write is cut off, none is
        dropped). The next job would start when the event loop hands over the last one's end: here it is
        started at once instead. True when none is left."""
        deadline = time.monotonic() + seconds
        while True:
            worker = self._running
            if worker is not None and not worker.wait(max(0.0, deadline - time.monotonic())):
                return False
            if not self._queue:
                return True
            self._next()

    def _ended(self, worker: GeneratorWorker) -> None:
        # Not one whose successor wait() has started already, nor the last word of a job of a queue gone meanwhile.
        if shiboken6.isValid(self) and worker is self._running:
            self._next()

    def _next(self) -> None:
        self._running = None
        if self._queue:
            fn, on_done, on_error = self._queue.pop(0)
            worker = self._running = run_in_background(fn, on_done, on_error, self)
            worker.finished.connect(lambda: self._ended(worker))


class Throttle(QObject):
    """Calls `fn(value)` at most once per `interval_ms`: the first call at once, the last of a burst when the
    interval ends, so a live run's answers reach the screens a few times a second, never one paint each."""

    def __init__(self, interval_ms: int, fn: Callable[[Any], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._pending = False
        self._value: Any = None
        self._timer = QTimer(self, singleShot=True, interval=interval_ms, timeout=self._end_of_interval)

    def __call__(self, value: Any) -> None:
        if self._timer.isActive():
            self._pending, self._value = True, value
            return
        self._fn(value)
        self._timer.start()

    def cancel(self) -> None:
        """Drop a call still waiting for its interval to end (a final one follows by other means)."""
        self._timer.stop()
        self._pending, self._value = False, None

    def _end_of_interval(self) -> None:
        if self._pending:
            value, self._pending, self._value = self._value, False, None
            self._fn(value)
            self._timer.start()
