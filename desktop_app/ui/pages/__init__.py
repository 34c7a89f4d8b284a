"""The app's screens, in the order the sidebar lists them."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from desktop_app.ui.context import AppContext

# A screen: QWidget(ctx) with optional on_shown(), save_state(q), restore_state(q), shutdown(), and
# maybe_close() -> bool, asked before the window closes (False keeps it open: e.g. unsaved edits to keep);
# maybe_leave() -> bool, asked before another screen is shown; a screen that runs models has running_work()
# (the run in progress, in words, or None) and stop_work(seconds) -> bool (cancel it; True once its thread ended).
Page = QWidget


def _lazy(name: str) -> Callable[[AppContext], Page]:
    """desktop_app.ui.pages.<name>.<Name>Page, imported when first built: the window shows before
    the screens' libraries load (the Tradeoff plot's pyqtgraph and numpy take longer than Qt itself)."""

    def build(ctx: AppContext) -> Page:
        module = importlib.import_module(f"desktop_app.ui.pages.{name.lower()}")
        return getattr(module, f"{name}Page")(ctx)

    build.__name__ = f"{name}Page"
    return build


PAGES: list[tuple[str, Callable[[AppContext], Page]]] = [
    (name, _lazy(name)) for name in ("Models", "Compare", "Suites", "Results", "Vote", "Tradeoff", "Settings")
]
