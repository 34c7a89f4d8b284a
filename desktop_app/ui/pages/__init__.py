"""The app's screens, in the order the sidebar lists them."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from desktop_app.ui.context import AppContext

Page = QWidget  # a screen: QWidget(ctx) with optional on_shown(), save_state(q), restore_state(q), shutdown()


def _pages() -> list[tuple[str, Callable[[AppContext], Page]]]:
    from desktop_app.ui.pages.compare import ComparePage
    from desktop_app.ui.pages.models import ModelsPage
    from desktop_app.ui.pages.results import ResultsPage
    from desktop_app.ui.pages.settings import SettingsPage
    from desktop_app.ui.pages.suites import SuitesPage
    from desktop_app.ui.pages.tradeoff import TradeoffPage

    return [("Models", ModelsPage), ("Compare", ComparePage), ("Suites", SuitesPage),
            ("Results", ResultsPage), ("Tradeoff", TradeoffPage), ("Settings", SettingsPage)]


PAGES = _pages()
