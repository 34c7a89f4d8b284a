"""What the machine was doing while local answers were measured, and each answer's fair share of it.

Every local model's batch of answers opens a span on the run's ledger and closes it when done. Whenever the set of
answers in flight changes, the time and energy since the last change are split evenly between the
answers that were in flight, so the answers' shares add up to what the machine drew while it was
answering; the same moments read how much CPU time programs other than ModelScout took, so an
answer measured while the machine was busy elsewhere can be told from one measured on a quiet one.
Within a batch (several answers of one model decoded together), each answer takes the part of its
batch's energy that its share of the decoding time, by tokens, stands for.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import psutil

from desktop_app.costing.energy import EnergyMeter, Reading
from desktop_app.providers.threads import system_busy_seconds

# An answer is "under load" when other programs kept at least this share of the machine's CPUs busy
# during it (on 2 cores: 0.3 of a core) and at least MIN_OTHER_CPU_S in all, so that the 10 ms clock
# ticks the kernel counts CPU time in cannot flag a short answer on their own.
LOAD_SHARE = 0.15
MIN_OTHER_CPU_S = 0.05


@dataclass(frozen=True)
class Conditions:
    """What one answer was measured under."""

    joules: float  # its share of the energy the machine drew while it was answering
    machine_seconds: float  # its share of the machine's time (the wall time when it ran alone)
    sharing: int  # the most other local answers in flight at once during it
    other_cpu_seconds: float  # CPU time programs other than ModelScout took during it
    other_cpu_share: float  # the same, as a share of the machine's CPUs over the answer
    load_average: float | None  # the 1-minute load average when it ended
    under_load: bool


@dataclass(eq=False)
class Span:
    pid: int | None  # the worker process answering (its CPU time is ModelScout's, not another program's)
    started: float
    joules: float = 0.0
    machine_seconds: float = 0.0
    sharing: int = 0
    other_cpu_seconds: float = 0.0


@dataclass
class _Mark:
    reading: Reading
    system_busy: float
    own: dict[int, float] = field(default_factory=dict)  # pid -> CPU seconds


@dataclass(frozen=True)
class Totals:
    """A span's running totals at one moment: two of them bound one answer of a batch."""

    at: float
    joules: float
    machine_seconds: float
    other_cpu_seconds: float
    sharing: int


class MachineLedger:
    """One per run (shared by the run's local models); safe to use from several threads."""

    def __init__(self, meter: EnergyMeter) -> None:
        self.meter = meter
        self.cpus = psutil.cpu_count(logical=True) or 1
        self._lock = threading.Lock()
        self._active: list[Span] = []
        self._mark: _Mark | None = None
        self._me = psutil.Process(os.getpid())

    @property
    def source(self) -> str:
        return self.meter.source

    def begin(self, pid: int | None) -> Span:
        with self._lock:
            self._advance()
            span = Span(pid, time.perf_counter(), sharing=len(self._active))
            self._active.append(span)
            for other in self._active:
                other.sharing = max(other.sharing, len(self._active) - 1)
            self._mark = self._read()
            return span

    def end(self, span: Span) -> Conditions:
        with self._lock:
            self._advance()
            if span in self._active:
                self._active.remove(span)
            self._mark = self._read() if self._active else None
        seconds = max(time.perf_counter() - span.started, 1e-9)
        share = span.other_cpu_seconds / (seconds * self.cpus)
        return Conditions(
            joules=span.joules, machine_seconds=span.machine_seconds, sharing=span.sharing,
            other_cpu_seconds=span.other_cpu_seconds, other_cpu_share=share, load_average=_load_average(),
            under_load=share >= LOAD_SHARE and span.other_cpu_seconds >= MIN_OTHER_CPU_S)

    def totals(self, span: Span) -> Totals:
        """The span's totals so far (a batch's span, read when one of its answers starts or ends)."""
        with self._lock:
            self._advance()
            return Totals(time.perf_counter(), span.joules, span.machine_seconds, span.other_cpu_seconds,
                          span.sharing)

    def share(self, before: Totals, after: Totals, busy_seconds: float | None) -> Conditions:
        """What one answer of a batch was measured under, between its start and end totals: the
        machine's state over that window, and of the energy the batch drew, the part its share of the
        decoding time (`busy_seconds`, split by tokens in the worker) took. The shares of a batch's
        answers add up to the batch's time, so the answers' energy adds up to what the machine drew."""
        window = max(after.at - before.at, 1e-9)
        machine_seconds = after.machine_seconds - before.machine_seconds
        joules = after.joules - before.joules
        # The worker's share is of its own decoding time; while other local models answered beside it, the
        # ledger gave this batch only part of the machine over the window, and so gets the answer's share.
        busy = machine_seconds if busy_seconds is None else busy_seconds * min(1.0, machine_seconds / window)
        watts = joules / machine_seconds if machine_seconds > 0 else self.meter.watts
        other = max(0.0, after.other_cpu_seconds - before.other_cpu_seconds)
        share = other / (window * self.cpus)
        return Conditions(
            joules=watts * busy, machine_seconds=busy, sharing=after.sharing, other_cpu_seconds=other,
            other_cpu_share=share, load_average=_load_average(),
            under_load=share >= LOAD_SHARE and other >= MIN_OTHER_CPU_S)

    def _advance(self) -> None:
        """Split what happened since the last mark between the answers in flight (lock held)."""
        if self._mark is None or not self._active:
            return
        now = self._read()
        before = self._mark
        joules = self.meter.joules(before.reading, now.reading)
        seconds = max(0.0, now.reading.seconds - before.reading.seconds)
        own = sum(now.own.get(pid, cpu) - cpu for pid, cpu in before.own.items())
        other = max(0.0, (now.system_busy - before.system_busy) - own)
        n = len(self._active)
        for span in self._active:
            span.joules += joules / n
            span.machine_seconds += seconds / n
            span.other_cpu_seconds += other
        self._mark = now

    def _read(self) -> _Mark:
        own: dict[int, float] = {}
        for process in self._processes():
            try:
                times = process.cpu_times()
                own[process.pid] = times.user + times.system
            except psutil.Error:
                continue
        return _Mark(self.meter.read(), system_busy_seconds(), own)

    def _processes(self) -> list[psutil.Process]:
        """ModelScout's own processes now: this one and the workers answering."""
        processes = [self._me]
        for span in self._active:
            if span.pid is not None:
                try:
                    processes.append(psutil.Process(span.pid))
                except psutil.Error:
                    pass
        return processes


def _load_average() -> float | None:
    """The 1-minute load average now."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has no load average
        return None
