"""A hard cap on what a run may spend on paid APIs, safe with requests in flight at once."""

from __future__ import annotations

import threading


class Budget:
    """Each request reserves its worst case before it is sent and settles at its real cost after.

    So with several requests in flight the cap still holds: a request is only sent when what is
    spent plus every open reservation plus its own worst case stays within the cap.
    """

    def __init__(self, cap_usd: float | None, spent_usd: float = 0.0) -> None:
        self.cap_usd = cap_usd
        self.spent_usd = spent_usd
        self._reserved = 0.0
        self._lock = threading.Lock()

    def reserve(self, usd: float) -> bool:
        with self._lock:
            if self.cap_usd is not None and self.spent_usd + self._reserved + usd > self.cap_usd + 1e-12:
                return False
            self._reserved += usd
            return True

    def settle(self, reserved: float, actual: float | None) -> None:
        with self._lock:
            self._reserved = max(0.0, self._reserved - reserved)
            self.spent_usd += actual or 0.0
