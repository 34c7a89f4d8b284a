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
    app.setStyleSheet("")
    if app.style().name().lower() != look.style.lower():
        app.setStyle(look.style)
    if app.palette() != look.palette:
        app.setPalette(look.palette)
    if app.font() != look.font:
        app.setFont(look.font)
    app.setStyleSheet(look.sheet)


@contextmanager
def app_look(app):
    """The app's real look (`apply_style`, as `make run` has it) for a picture; the look before comes back after."""
    from desktop_app.ui.style import apply_style

    before = current_look(app)
    apply_style(app)
    try:
        yield
    finally:
        restore_look(app, before)


@pytest.fixture(autouse=True)
def no_look_leaks(qapp):
    """Whatever a test does to the application's style, style sheet, palette or font, the next test starts
    from the look before it: widgets lay out by their style, so a leaked look changes later tests' sizes."""
    before = current_look(qapp)
    yield
    restore_look(qapp, before)


@pytest.fixture
def styled(qapp):
    """The app's real look for the whole test, for screenshots; the previous look comes back afterwards."""
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


@pytest.fixture(scope="session")
def demo_run_db(tmp_path_factory, demo_model, demo_variant):
    """(database, run id): the first 3 demo cases on both demo models, 16 tokens each, run once for the
    whole session by the core Runner. Tests copy it with `install_run`, never generating it again."""
    from desktop_app.models.catalog import ModelCatalog
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.runner import Runner
    from desktop_app.storage.store import Store
    from desktop_app.suites import load_suite
    from tests.conftest import demo_suite_copy

    home = tmp_path_factory.mktemp("demo-run")
    suite_path = demo_suite_copy(home / "small.jsonl", 3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELSCOUT_HOME", str(home))
        store = Store(home / "modelscout.db")
        runner = Runner(store, Settings(threads=2, context_size=1024), ModelCatalog(home / "models.json"))
        run_id = runner.create_run(load_suite(suite_path), [runner.spec_for(demo_model),
                                                            runner.spec_for(demo_variant)], Sampling(max_tokens=16))
        assert list(runner.execute(run_id))[-1].status == "complete"
        # As if measured on a quiet machine, whatever this shared machine was doing: a test sets its own flags.
        with store.transaction():
            store.db.execute("update results set under_load = 0, other_cpu_share = 0.0, sharing = 0")
        store.close()
    return home / "modelscout.db", run_id


def install_run(demo_run_db, ctx) -> str:
    """The session's demo run in this test's data folder (copied before anything opens it); its id."""
    import shutil

    database, run_id = demo_run_db
    shutil.copy(database, ctx.database_path())
    return run_id
