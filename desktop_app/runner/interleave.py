"""Several event streams driven at once, each on its own thread, their events merged as they come."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def interleave(streams: list[Iterator[T]], cancel: threading.Event, limit: int | None = None) -> Iterator[T]:
    """Drive several event streams on their own threads (at most `limit` at once) and yield their
    events as they come. A consumer that stops early sets `cancel`, so the streams stop too."""
    events: queue.Queue[Any] = queue.Queue()
    finished = object()

    def pump(stream: Iterator[T]) -> None:
        try:
            for event in stream:
                events.put(event)
        except BaseException as exc:  # handed to the consumer, which raises it
            events.put(exc)
        finally:
            events.put(finished)

    pending = iter(streams)
    workers: list[threading.Thread] = []

    def start_next() -> bool:
        stream = next(pending, None)
        if stream is None:
            return False
        worker = threading.Thread(target=pump, args=(stream,), name="run-model", daemon=True)
        workers.append(worker)
        worker.start()
        return True

    running = sum(start_next() for _ in range(limit or len(streams)))
    try:
        while running:
            item = events.get()
            if item is finished:
                running -= 1
                running += start_next()
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        if running:  # the consumer stopped early: stop the models too
            cancel.set()
        for worker in workers:
            worker.join()
