"""Which process is running a run, and whether it still is: so a run is never executed twice at once.

A running run records its owner: the process id, the machine's name, when that process started (a
recycled pid is then not mistaken for the owner) and a heartbeat the owner renews while it works. On
this machine the owner is alive while its process is; a run owned on another machine (a data folder
shared over the network) counts as alive while its heartbeat is fresh.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from typing import Any

import psutil

HEARTBEAT_SECONDS = 5.0  # how often a running run renews its heartbeat (while events flow)
STALE_AFTER_SECONDS = 60.0  # a heartbeat this old from another machine: its owner is taken to be gone


@dataclass(frozen=True)
class RunOwner:
    pid: int
    host: str
    process_started: float  # the owner process's start, seconds since the epoch
    heartbeat_at: str | None = None  # ISO time, UTC

    @classmethod
    def this_process(cls) -> RunOwner:
        return cls(os.getpid(), host_name(), process_start_time(os.getpid()) or 0.0)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunOwner | None:
        """The owner recorded in a runs row, or None (none recorded, or written before owners were)."""
        if row.get("owner_pid") is None:
            return None
        return cls(int(row["owner_pid"]), row.get("owner_host") or "", float(row.get("owner_started") or 0.0),
                   row.get("heartbeat_at"))

    def columns(self, heartbeat_at: str) -> dict[str, Any]:
        return {"owner_pid": self.pid, "owner_host": self.host, "owner_started": self.process_started,
                "heartbeat_at": heartbeat_at}

    @property
    def on_this_machine(self) -> bool:
        return self.host == host_name()

    @property
    def is_this_process(self) -> bool:
        return self.on_this_machine and self.pid == os.getpid() and _same_start(
            self.process_started, process_start_time(self.pid))

    def is_alive(self, now: dt.datetime | None = None) -> bool:
        """Its process still runs (this machine), or it was heard from within a minute (another one)."""
        if self.on_this_machine:
            return _same_start(self.process_started, process_start_time(self.pid))
        age = self.heartbeat_age(now)
        return age is not None and age < STALE_AFTER_SECONDS

    def heartbeat_age(self, now: dt.datetime | None = None) -> float | None:
        if not self.heartbeat_at:
            return None
        try:
            beat = dt.datetime.fromisoformat(self.heartbeat_at)
        except ValueError:
            return None
        return ((now or dt.datetime.now(dt.timezone.utc)) - beat).total_seconds()

    def describe(self, run_id: str) -> str:
        """One line for a refused resume: who runs it, since when, and what to do."""
        if self.on_this_machine:
            started = dt.datetime.fromtimestamp(self.process_started).strftime("%H:%M") \
                if self.process_started else "at an unknown time"
            return (f"run {run_id} is still running in process {self.pid} on this machine (started "
                    f"{started}); wait for it to finish or stop that process first")
        age = self.heartbeat_age()
        heard = f"{age:.0f} s ago" if age is not None else "recently"
        return (f"run {run_id} is still running in process {self.pid} on {self.host} (last heard from "
                f"{heard}); wait for it to finish or stop it there first")


def host_name() -> str:
    return socket.gethostname()


def process_start_time(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None when no such process runs."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:  # ended, not yet reaped by its parent
            return None
        return process.create_time()
    except (psutil.Error, OSError, ValueError):
        return None


def _same_start(recorded: float, actual: float | None) -> bool:
    # The same computation gives the same figure; a second's slack allows for clock rounding.
    return actual is not None and abs(recorded - actual) < 1.0
