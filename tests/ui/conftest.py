"""Qt fixtures: the offscreen platform, an app context on a fresh data folder, the main window."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from desktop_app.settings import Settings  # noqa: E402


@pytest.fixture
def ctx(qtbot, modelscout_home, demo_model):
    """An AppContext whose library holds the project's demo models; closed after the test."""
    from desktop_app.ui.context import AppContext

    context = AppContext(Settings(threads=2, context_size=1024, max_tokens=32))
    yield context
    context.close()


@pytest.fixture
def window(qtbot, ctx):
    from desktop_app.ui.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    yield win
    for page in win.built_pages():
        if hasattr(page, "shutdown"):
            page.shutdown()


@pytest.fixture
def styled(qapp):
    """The app's real look, for screenshots; the previous style sheet comes back afterwards."""
    from desktop_app.ui.style import apply_style

    sheet, style = qapp.styleSheet(), qapp.style().name()
    apply_style(qapp)
    yield
    qapp.setStyleSheet(sheet)
    qapp.setStyle(style)


@pytest.fixture
def open_page(qtbot):
    """Build a screen on a context, shown at a given size; every screen built is shut down afterwards."""
    pages = []

    def build(page_class, ctx, size=(1080, 760)):
        page = page_class(ctx)
        qtbot.addWidget(page)
        pages.append(page)
        page.resize(*size)
        page.show()
        return page

    yield build
    for page in pages:
        page.shutdown()
