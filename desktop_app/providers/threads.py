"""How many threads llama.cpp decodes with when the user left it automatic: the cores other programs leave.

llama.cpp's threads meet at a barrier after every operation of every token. When another program holds a
core, one of them waits for that core while the others spin at the barrier, and generation gets many times
slower, not a little: measured here on 2 cores with SmolLM2-135M (tok/s, 96 tokens, greedy):

    machine                      2 threads   1 thread
    quiet                          69-77      48-52
    one core busy elsewhere        19-21      42-44
    both cores busy elsewhere      4-16       30-33

So the worker counts, every half second, the CPU that programs other than ModelScout used (the whole
machine's busy time, less this worker's and the app's that started it), and decodes with the cores left
free, never more than the most it was given and never fewer than one. Other ModelScout workers count as
other programs: two models answering side by side share the cores.
"""

from __future__ import annotations

import multiprocessing
import os
import time

import psutil

CHECK_EVERY_S = 0.5
# The first look of an answer: what the machine did while this worker waited says nothing about now
# (another model answering, a benchmark), so an answer starts with every thread and looks again soon.
FIRST_CHECK_S = 0.1
# A core counts as taken once other programs use this much of one: a thread that waits on a
# half-busy core still holds up every barrier.
TAKEN_FROM = 0.6


class ThreadGovernor:
    """The threads to decode with now: at most `most`, fewer while other programs keep cores busy."""

    def __init__(self, most: int, every_s: float = CHECK_EVERY_S) -> None:
        self.most = max(1, most)
        self.every_s = every_s
        self.cpus = psutil.cpu_count() or 1
        self.current = self.most
        self.other_cores = 0.0  # what other programs used over the last interval, in cores
        self._own = [psutil.Process()]
        parent = multiprocessing.parent_process()  # a fork server's child: the OS parent is the server
        try:
            self._own.append(psutil.Process(parent.pid if parent is not None else os.getppid()))
        except psutil.Error:  # the app or CLI streaming the answers is gone
            pass
        self._last = self._reading()
        self._wait_s = every_s

    def restart(self) -> int:
        """A new answer begins: every thread, and a count of the machine from now on, not from before."""
        self._last = self._reading()
        self._wait_s = min(FIRST_CHECK_S, self.every_s)
        self.current = self.most
        return self.current

    def threads(self) -> int:
        """The threads for the next step; re-counted at most every `every_s` seconds (a cheap call)."""
        now = time.perf_counter()
        if now - self._last[0] < self._wait_s:
            return self.current
        self._wait_s = self.every_s
        reading = self._reading()
        seconds = reading[0] - self._last[0]
        other = (reading[1] - self._last[1]) - (reading[2] - self._last[2])
        self._last = reading
        self.other_cores = max(0.0, other / seconds)
        self.current = free_threads(self.cpus, self.other_cores, self.most)
        return self.current

    def _reading(self) -> tuple[float, float, float]:
        """(now, CPU seconds every program has used, CPU seconds ModelScout's own processes have used)."""
        own = 0.0
        for process in self._own:
            try:
                times = process.cpu_times()
                own += times.user + times.system
            except psutil.Error:
                continue
        return time.perf_counter(), system_busy_seconds(), own


def free_threads(cpus: int, other_cores: float, most: int) -> int:
    """Threads for the cores other programs leave free: a core they use `TAKEN_FROM` of is taken."""
    taken = int(other_cores + (1 - TAKEN_FROM))
    return max(1, min(most, cpus - taken))


def system_busy_seconds() -> float:
    """CPU seconds all programs have spent so far, summed over the machine's CPUs."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)  # inside user already
    return sum(times) - idle - guest
