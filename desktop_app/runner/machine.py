"""What the machine was doing while local answers were measured, and each answer's fair share of it.

Every local answer opens a span on the run's ledger and closes it when done. Whenever the set of
answers in flight changes, the time and energy since the last change are split evenly between the
answers that were in flight, so the answers' shares add up to what the machine drew while it was
answering; the same moments read how much CPU time programs other than ModelScout took, so an
answer measured while the machine was busy elsewhere can be told from one measured on a quiet one.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import psutil

from desktop_app.costing.energy import EnergyMeter, Reading

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
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows has no load average
            load = None
        return Conditions(
            joules=span.joules, machine_seconds=span.machine_seconds, sharing=span.sharing,
            other_cpu_seconds=span.other_cpu_seconds, other_cpu_share=share, load_average=load,
            under_load=share >= LOAD_SHARE and span.other_cpu_seconds >= MIN_OTHER_CPU_S)

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
        return _Mark(self.meter.read(), _system_busy(), own)

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


def _system_busy() -> float:
    """CPU seconds all programs have spent so far, summed over the machine's CPUs."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)  # inside user already
    return sum(times) - idle - guest
