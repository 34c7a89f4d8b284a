"""Keep the garbage collector's full passes short, so that one never stalls the window."""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Set every object alive now (modules, screens, their Qt wrappers) aside from cyclic collection.

    A full collection walks every tracked object: with the screens and the store's libraries loaded that
    is ~30 ms on the UI thread, at whatever moment allocations trigger it (measured: mid-click on Run).
    Frozen objects are skipped, so later passes see only what is new. Objects are still freed by their
    reference counts; only cycles among what is frozen now would stay. Cheap: no object is visited.
    """
    gc.freeze()
