"""Qt fixtures: the offscreen platform, an app context on a fresh data folder, the main window."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class Look:
    """What a test may change about the whole application's appearance."""

    sheet: str
    style: str
    palette: object  # QPalette
    font: object  # QFont


def current_look(app) -> Look:
    from PySide6.QtGui import QFont, QPalette

    sheet = app.styleSheet()
    if sheet:  # under a style sheet, style() is Qt's style-sheet wrapper, whose name is ""
        app.setStyleSheet("")
    look = Look(sheet, app.style().name(), QPalette(app.palette()), QFont(app.font()))
    if sheet:
        app.setStyleSheet(sheet)
    return look


def restore_look(app, look: Look) -> None:
    """Put `look` back; palette and font only if they differ, so none is pinned that a style would set."""
    if look is _Real.look and _is_real(app):
        return  # already the real look: setting it again would re-polish every widget for nothing
    app.setStyleSheet("")
    if app.style().name().lower() != look.style.lower():
        app.setStyle(look.style)
    if app.palette() != look.palette:
        app.setPalette(look.palette)
    if app.font() != look.font:
        app.setFont(look.font)
    app.setStyleSheet(look.sheet)
    if look is _Real.look:
        _Real.mark = _fingerprint(app)  # the sheet's style object is a new one


class _Real:
    """The app's real look, as the UI tests' session set it, and its fingerprint."""

    look: Look | None = None
    mark: tuple | None = None


def _fingerprint(app) -> tuple:
    """What changes when a test changes the application's look, read without disturbing it (reading the style's
    name under a style sheet means taking the sheet off and on, which re-polishes every widget)."""
    import shiboken6
    from PySide6.QtGui import QFont, QPalette

    return app.styleSheet(), shiboken6.getCppPointer(app.style())[0], QPalette(app.palette()), QFont(app.font())


def _is_real(app) -> bool:
    return _Real.mark is not None and _fingerprint(app) == _Real.mark


@pytest.fixture(scope="session", autouse=True)
def real_look(qapp) -> Look:
    """Every UI test runs in the look `make run` has (`apply_style`: Fusion and the app's style sheet): what is
    checked (sizes, clipping, screenshots) is what a user sees, and no test pays for switching looks (each
    switch re-polishes every widget alive: 0.1-0.7 s)."""
    from desktop_app.ui.style import apply_style

    apply_style(qapp)
    _Real.look, _Real.mark = current_look(qapp), _fingerprint(qapp)
    return _Real.look


@contextmanager
def app_look(app):
    """The app's real look for a picture, and the look before it back after: a test that changed the look gets
    the real one for its picture, then its own again."""
    before = _Real.look if _is_real(app) else current_look(app)
    restore_look(app, _Real.look)
    try:
        yield
    finally:
        restore_look(app, before)


@pytest.fixture(autouse=True)
def no_look_leaks(qapp, real_look):
    """Whatever a test does to the application's style, style sheet, palette or font, the next test starts
    from the real look again: widgets lay out by their style, so a leaked look changes later tests' sizes.
    The test's closed windows are deleted first (pytest-qt only schedules it): a look that changes re-polishes
    every widget still alive, and so would the next test's."""
    from PySide6.QtCore import QCoreApplication, QEvent

    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    restore_look(qapp, real_look)


@pytest.fixture
def styled(qapp):
    """The app's real look for the whole test, for screenshots (the session's look: see `real_look`)."""
    with app_look(qapp):
        yield


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where a test saves its screenshots: its own folder, so runs side by side never overwrite each other's;
    set MODELSCOUT_SHOTS to a folder to keep them for looking at."""
    folder = Path(os.environ["MODELSCOUT_SHOTS"]) if os.environ.get("MODELSCOUT_SHOTS") else tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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


def install_run(demo_run_db, ctx) -> str:
    """The session's demo run in this test's data folder (copied before anything opens it); its id."""
    import shutil

    database, run_id = demo_run_db
    shutil.copy(database, ctx.database_path())
    return run_id



@pytest.fixture(scope="module")
def module_pool():
    """Models kept loaded from one test of a module to the next, closed after its last test."""
    from desktop_app.providers.pool import ModelPool

    pool = ModelPool()
    yield pool
    pool.close_all()


@pytest.fixture
def pooled(ctx, module_pool):
    """The context runs on the module's pool, whose models stay loaded between tests as the app keeps them
    loaded between runs: for tests whose subject is not loading (nor killing a worker). The context's own
    pool is put back before it closes (also when a window closes it), which closes only that one."""
    own, ctx.pool = ctx.pool, module_pool
    close = ctx.close

    def close_own() -> None:
        """A window's close closes its context: pytest-qt closes the test's windows before fixtures end, and
        that must close the context's own pool, leaving the module's models loaded."""
        ctx.pool = own
        close()

    ctx.close = close_own
    yield module_pool
    ctx.pool = own

