"""The main window: its screens, the state it remembers, its error hook, and how the app starts."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import (QAbstractButton, QAbstractScrollArea, QApplication, QComboBox, QLineEdit,
                               QMessageBox)

from desktop_app.settings import Settings
from desktop_app.suites import load_suite
from desktop_app.ui.context import AppContext
from desktop_app.ui.main_window import MainWindow
from tests.ui.conftest import install_run

ROOT = Path(__file__).resolve().parents[2]
SCREENS = ["Models", "Compare", "Suites", "Results", "Vote", "Tradeoff", "Settings"]


def app_env(home: Path) -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MODELSCOUT_HOME": str(home)}


def close(window: MainWindow) -> None:
    """What the user's close does: screens stop their work, state is saved, the context is closed."""
    window.close()
    assert not window.isVisible()


def test_the_window_lists_all_seven_screens_and_shows_each(qtbot, window):
    assert [window.nav.item(row).text() for row in range(window.nav.count())] == SCREENS
    assert window.current_page_name() == "Models"  # the first start
    for row, name in enumerate(SCREENS):
        window.nav.setCurrentRow(row)
        page = window.stack.currentWidget()
        assert type(page).__name__ == f"{name}Page"
        assert window.pages[name] is page
        assert page.objectName() == f"page-{name.lower()}"
        assert window.current_page_name() == name
    assert str(window.ctx.database_path()) in window.statusBar().currentMessage()


def test_every_screen_fits_a_900_by_600_window(qtbot, ctx, demo_run_db):
    """Toolbars wrap and tables scroll instead of widening the window; nothing is cut off at 900 x 600."""
    install_run(demo_run_db, ctx)  # a real run of both demo models, so Results and Tradeoff show grids and plot
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    for name in SCREENS:
        page = window.show_page(name)
        if name == "Results":
            qtbot.waitUntil(lambda: page.run_data is not None, timeout=10_000)
        qtbot.wait(50)
        hint = window.minimumSizeHint()
        assert hint.width() <= 900 and hint.height() <= 600, (name, hint)
        assert (window.width(), window.height()) == (900, 600), name
        for control in [c for kind in (QAbstractButton, QComboBox, QLineEdit) for c in page.findChildren(kind)]:
            if not control.isVisible() or _scrolls(control, page):
                continue
            where = control.rect().translated(control.mapTo(window, QPoint(0, 0)))
            assert window.rect().contains(where), (name, control.objectName() or type(control).__name__, where)


def _scrolls(widget, page) -> bool:
    """Inside a scroll area or a view, where being out of sight is how it works."""
    parent = widget.parentWidget()
    while parent is not None and parent is not page:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


# The offscreen platform's one screen is 800 x 800 and Qt shrinks a restored window to fit its screen
# (which moves splitters too), so each session is an app process on a desktop-sized virtual screen.
SESSION = """
import json, sys
from PySide6.QtWidgets import QApplication, QSplitter
app = QApplication([])
from desktop_app.ui.context import AppContext
from desktop_app.ui.main_window import MainWindow

def settle():
    for _ in range(5):
        app.processEvents()

window = MainWindow(AppContext())
window.show()
settle()
seen = {"width": window.width(), "height": window.height(), "page": window.current_page_name()}
if sys.argv[1] == "first":
    window.resize(1180, 700)
    settle()
    # The first screen with a named splitter the user can drag (the screens' layouts may change).
    for name in list(window.pages):
        window.show_page(name)
        settle()
        found = [s for s in window.pages[name].findChildren(QSplitter)
                 if s.objectName() and s.count() >= 2 and s.isVisible()]
        if found:
            splitter = found[0]
            total = sum(splitter.sizes())
            splitter.setSizes([total // 4, *([0] * (splitter.count() - 2)), total - total // 4])
            seen["splitter"] = {"screen": name, "name": splitter.objectName(), "sizes": splitter.sizes()}
            break
    window.show_page("Settings")
else:
    splitter = json.loads(sys.argv[2])
    window.show_page(splitter["screen"])
    settle()
    restored = window.pages[splitter["screen"]].findChild(QSplitter, splitter["name"])
    seen["splitter"] = {**splitter, "sizes": restored.sizes()}
window.close()
print(json.dumps(seen))
"""


def test_size_splitters_and_last_screen_are_remembered_across_a_restart(modelscout_home, tmp_path, demo_model):
    screen = tmp_path / "screen.json"
    screen.write_text(json.dumps({"screens": [{"name": "desktop", "x": 0, "y": 0, "width": 1920, "height": 1080}]}))
    env = {**app_env(modelscout_home), "QT_QPA_PLATFORM": f"offscreen:configfile={screen}"}

    def session(*args: str) -> dict:
        done = subprocess.run([sys.executable, "-c", SESSION, *args], check=False, cwd=ROOT, capture_output=True,
                              text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = session("first")
    assert (first["width"], first["height"], first["page"]) == (1240, 780, "Models")  # the defaults
    assert "splitter" in first, "no screen has a named, visible splitter to remember"
    assert (modelscout_home / "window.ini").exists()

    second = session("second", json.dumps(first["splitter"]))
    assert (second["width"], second["height"], second["page"]) == (1180, 700, "Settings")
    # The share the user gave the first pane (a quarter; the default is 380:260), not its pixels: the screen's
    # height for its splitter moves by a line while what it loads in the background arrives.
    restored, dragged = second.pop("splitter"), first.pop("splitter")
    assert (restored["screen"], restored["name"]) == (dragged["screen"], dragged["name"])
    assert restored["sizes"][0] / sum(restored["sizes"]) == pytest.approx(0.25, abs=0.02), (restored, dragged)


def test_the_last_screen_is_remembered_by_a_new_window(qtbot, modelscout_home, demo_model):
    first = MainWindow(AppContext(Settings(threads=2, context_size=1024, max_tokens=32)))
    qtbot.addWidget(first)
    first.show()
    first.nav.setCurrentRow(SCREENS.index("Results"))
    close(first)

    again = MainWindow(AppContext())
    qtbot.addWidget(again)
    again.show()
    try:
        assert again.current_page_name() == "Results"
        assert again.nav.currentItem().text() == "Results"
        assert again.pages["Models"] is None  # only the screen shown is built
    finally:
        close(again)


def test_closing_with_unsaved_suite_edits_asks_first_and_cancel_keeps_the_window(qtbot, window, small_suite,
                                                                                  monkeypatch):
    suites = window.show_page("Suites")
    qtbot.waitUntil(lambda: suites.suite_path is not None, timeout=10_000)
    suites.open_suite(small_suite)
    qtbot.waitUntil(lambda: suites.suite_path == small_suite.resolve(), timeout=10_000)
    suites.select_row(0)
    suites.editor.prompt_edit.setPlainText("What is the capital of France? One word.")
    assert suites.dirty
    window.show_page("Models")  # switching screens keeps the edits, and asks nothing

    asked = []

    def answer(button):
        def question(parent, title, text, buttons, default):
            asked.append((text, buttons))
            return button
        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    window.close()
    assert window.isVisible() and suites.dirty  # Cancel: nothing closed, nothing lost
    text, buttons = asked[0]
    assert text.startswith("Save changes to small.jsonl?")
    assert buttons == (QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                       | QMessageBox.StandardButton.Cancel)
    assert window.current_page_name() == "Suites"  # shown while asking

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Save))
    window.close()
    assert not window.isVisible() and len(asked) == 2
    assert load_suite(small_suite).cases[0].prompt == "What is the capital of France? One word."


def test_discarding_unsaved_edits_closes_and_leaves_the_file_alone(qtbot, window, small_suite, monkeypatch):
    before = small_suite.read_text(encoding="utf-8")
    suites = window.show_page("Suites")
    qtbot.waitUntil(lambda: suites.suite_path is not None, timeout=10_000)
    suites.open_suite(small_suite)
    qtbot.waitUntil(lambda: suites.suite_path == small_suite.resolve(), timeout=10_000)
    suites.delete_cases()
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)
    window.close()
    assert not window.isVisible()
    assert small_suite.read_text(encoding="utf-8") == before


def test_a_built_screen_is_set_aside_from_full_garbage_collections(qtbot, window):
    """A full GC pass over every screen's objects stalled the Run click by ~30 ms; built screens are frozen."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    window.show_page("Settings")
    assert gc.get_freeze_count() > 0


def _error_dialogs(window: MainWindow) -> list[QMessageBox]:
    candidates = [*QApplication.topLevelWidgets(), *window.findChildren(QMessageBox)]
    return [box for box in candidates
            if isinstance(box, QMessageBox) and box.objectName() == "errorDialog" and box.isVisible()]


@pytest.mark.qt_no_exception_capture  # the app's own hook must see the exception, not pytest-qt's
def test_an_exception_in_a_slot_becomes_a_plain_error_dialog(qtbot, window, monkeypatch):
    from desktop_app.ui.errors import install_excepthook

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # put back whatever was there
    install_excepthook()

    def broken_slot(row: int) -> None:
        raise RuntimeError(f"the index of row {row} went missing")

    window.nav.currentRowChanged.connect(broken_slot)
    try:
        window.nav.setCurrentRow(SCREENS.index("Suites"))
        qtbot.waitUntil(lambda: bool(_error_dialogs(window)), timeout=5000)
    finally:
        window.nav.currentRowChanged.disconnect(broken_slot)

    box = _error_dialogs(window)[0]
    assert box.windowTitle() == "Unexpected error"
    assert "Something went wrong inside ModelScout" in box.text()
    assert "the index of row 2 went missing" in box.text()
    assert "Traceback" not in box.text() and "broken_slot" not in box.text()
    assert "Traceback" in box.detailedText() and "broken_slot" in box.detailedText()
    box.close()

    assert window.isVisible()  # the window carries on
    window.show_page("Settings")
    assert window.current_page_name() == "Settings"


def test_the_app_starts_and_shows_its_window(modelscout_home):
    done = subprocess.run([sys.executable, "-m", "desktop_app"], check=False, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**app_env(modelscout_home), "MODELSCOUT_STARTUP_PROBE": "1"})
    assert done.returncode == 0, done.stderr
    assert "window shown after" in done.stdout
    assert "Traceback" not in done.stderr


BUILD_WINDOW = """
import json, sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from desktop_app.ui.context import AppContext
from desktop_app.ui.main_window import MainWindow
window = MainWindow(AppContext())
window.show()
app.processEvents()
at_start = "llama_cpp" in sys.modules
heavy = sorted(name for name in ("pyqtgraph", "numpy", "sqlite_utils") if name in sys.modules)
for name in list(window.pages):  # building every screen must not load llama.cpp either
    window.show_page(name)
    app.processEvents()
every_screen = "llama_cpp" in sys.modules
window.close()
print(json.dumps({"at_start": at_start, "every_screen": every_screen, "heavy": heavy}))
"""


def test_the_ui_process_does_not_import_llama_cpp_nor_load_heavy_libraries_at_start(modelscout_home):
    done = subprocess.run([sys.executable, "-c", BUILD_WINDOW], check=False, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=app_env(modelscout_home))
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert (loaded["at_start"], loaded["every_screen"]) == (False, False)
    # The start-up budget (benchmarks/startup_time.py): the plot library and the store's sqlite-utils
    # (which imports numpy) load when a screen first needs them, not before the window shows.
    assert loaded["heavy"] == []
