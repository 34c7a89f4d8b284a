"""Run core generators and functions off the UI thread; their results arrive on the UI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, Signal


class _Bridge(QObject):
    """Signals emitted from the work thread; queued over to the UI thread that owns the worker."""

    item = Signal(object)
    error = Signal(object)
    done = Signal()


class GeneratorWorker(QObject):
    """Drives a generator on its own thread; `yielded`, `failed` and `finished` fire on the UI thread.

    Create it on the UI thread. A dedicated thread, not a pool slot: a suite run can last an hour.
    """

    yielded = Signal(object)
    failed = Signal(object)  # the exception
    finished = Signal()

    _active: set[GeneratorWorker] = set()  # keep running workers alive without a parent

    def __init__(self, make: Callable[[], Iterator[Any]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._make = make
        self._bridge = _Bridge()
        self._bridge.item.connect(self.yielded)
        self._bridge.error.connect(self.failed)
        self._bridge.done.connect(self._on_done)
        self._thread = threading.Thread(target=self._run, name="modelscout-worker", daemon=True)

    def start(self) -> GeneratorWorker:
        GeneratorWorker._active.add(self)
        self._thread.start()
        return self

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, seconds: float = 30.0) -> bool:
        self._thread.join(seconds)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            for item in self._make():
                self._bridge.item.emit(item)
        except BaseException as exc:  # handed to the UI, which shows it in plain words
            self._bridge.error.emit(exc)
        finally:
            self._bridge.done.emit()

    def _on_done(self) -> None:
        GeneratorWorker._active.discard(self)
        self.finished.emit()


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[BaseException], None] | None = None,
                      parent: QObject | None = None) -> GeneratorWorker:
    """Call fn() off the UI thread; on_done(result) or on_error(exc) then run on the UI thread."""

    def once() -> Iterator[Any]:
        yield fn()

    worker = GeneratorWorker(once, parent)
    if on_done:
        worker.yielded.connect(on_done)
    if on_error:
        worker.failed.connect(on_error)
    return worker.start()
