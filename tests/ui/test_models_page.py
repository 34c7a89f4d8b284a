"""The Models screen on the real demo models: listing, adding, dropping, quantizing, loading, the empty state."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from desktop_app import paths
from desktop_app import settings as settings_module
from desktop_app.models import discovery
from desktop_app.models.fit import CPU_ONLY, FULL_GPU
from desktop_app.runner.runner import Runner
from desktop_app.settings import Settings
from desktop_app.ui.context import AppContext
from desktop_app.ui.pages.models import (
    ADDED_FILE,
    COL_FIT,
    COL_LOADED,
    COL_NAME,
    COL_PARAMS,
    COL_QUANT,
    COL_SIZE,
    COL_SOURCE,
    ModelsPage,
)
from tests.conftest import small_model_verdict
from tests.ggufs import write_tiny_gguf

SCAN_MS = 20_000


@pytest.fixture(autouse=True)
def no_other_apps(monkeypatch):
    """Only the project, user and added folders: this machine's LM Studio or HF cache must not leak in."""
    monkeypatch.setattr(discovery, "default_roots", lambda **_: [])




@pytest.fixture
def make_page(qtbot, open_page):
    def make(ctx: AppContext) -> ModelsPage:
        page = open_page(ModelsPage, ctx, (1100, 720))
        if page.is_scanning():
            with qtbot.waitSignal(page.scanned, timeout=SCAN_MS):
                pass
        return page

    return make


def cell(page: ModelsPage, path: Path, column: int) -> str:
    row = page.model.row_of(path)
    assert row >= 0, f"{path} is not listed"
    return page.model.index(row, column).data()


def choose_folder(monkeypatch, folder: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_, **__: str(folder)))


def drop(page: ModelsPage, files: list[Path]) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    enter = QDragEnterEvent(page.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(page, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(page.rect().center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(page, event)
    return event


def test_demo_models_are_listed_with_type_fit_and_details(make_page, ctx, demo_model, demo_variant):
    page = make_page(ctx)
    verdict = small_model_verdict(ctx.hardware)  # a GPU that llama.cpp can use holds them whole
    badge = {FULL_GPU: "GPU", CPU_ONLY: "CPU"}[verdict]
    for path, quant in ((demo_model, "Q4_1"), (demo_variant, "Q2_K")):
        assert cell(page, path, COL_QUANT) == quant
        assert cell(page, path, COL_FIT) == badge
        assert cell(page, path, COL_PARAMS) == "135M"
    assert cell(page, demo_model, COL_SOURCE) == "Project"
    fit_tip = page.model.index(page.model.row_of(demo_model), COL_FIT).data(Qt.ItemDataRole.ToolTipRole)
    assert "weights" in fit_tip and "KV cache" in fit_tip and "1,024 tokens" in fit_tip

    assert page.select_path(demo_model)
    assert page.detail.title.text() == demo_model.stem
    assert page.detail.values["chat"].text() == "yes"
    assert page.detail.values["license"].text() == "apache-2.0"
    where = {FULL_GPU: "Runs entirely on the GPU", CPU_ONLY: "Runs on the CPU"}[verdict]
    assert page.detail.fit.text().startswith(f"{where} at 1,024 tokens")
    assert page.load_action.isEnabled() and not page.unload_action.isEnabled()

    page.search.setText("q2_k")
    assert page.proxy.rowCount() == 1
    page.search.clear()
    page.proxy.sort(COL_SIZE, Qt.SortOrder.AscendingOrder)  # as a click on the header does
    names = [page.proxy.index(r, COL_NAME).data() for r in range(page.proxy.rowCount())]
    assert names.index(demo_variant.stem) < names.index(demo_model.stem)  # Q2_K is the smaller file

    page.table.setFocus()
    page.select_path(demo_variant)
    page.copy_path_action.trigger()
    assert QGuiApplication.clipboard().text() == str(demo_variant.resolve())


def test_add_folder_lists_its_model_and_remembers_the_folder(make_page, ctx, tmp_path, monkeypatch, qtbot):
    folder = tmp_path / "my models"
    folder.mkdir()
    tiny = write_tiny_gguf(folder / "tiny-chat.gguf")
    page = make_page(ctx)
    assert page.model.row_of(tiny) < 0
    choose_folder(monkeypatch, folder)

    shown: list[str] = []
    page._scan_progress.said.connect(lambda _text: shown.append(page.scan_label.text()))
    with qtbot.waitSignal(ctx.library_changed):
        page.add_folder_action.trigger()
    qtbot.waitUntil(lambda: page.model.row_of(tiny) >= 0 and not page.is_scanning(), timeout=SCAN_MS)
    assert cell(page, tiny, COL_SOURCE).lower() == "added folder"
    # The scan said what it was doing as it went, on the screen: long work shows its progress.
    assert shown[:1] == ["Scanning: looking for models…"] and any(
        text.startswith("Scanning: reading ") and text.endswith(" model files…") for text in shown), shown
    assert any(text.startswith("Scanning: checking which of ") for text in shown), shown
    assert page.scan_label.isHidden()
    assert cell(page, tiny, COL_FIT) == {FULL_GPU: "GPU", CPU_ONLY: "CPU"}[small_model_verdict(ctx.hardware)]
    assert settings_module.load().model_folders == [str(folder.resolve())]
    assert ctx.settings.model_folders == [str(folder.resolve())]


def test_a_dropped_non_gguf_file_is_refused_with_a_message(make_page, ctx, tmp_path, qtbot):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    tiny = write_tiny_gguf(tmp_path / "dropped.gguf")
    page = make_page(ctx)

    event = drop(page, [notes, tiny])
    assert event.isAccepted()
    box = page.findChild(QMessageBox, "errorDialog")
    assert box is not None and box.isVisible()
    assert "notes.txt" in box.text() and "GGUF" in box.text()
    box.close()
    saved = settings_module.load()
    assert saved.model_files == [str(tiny.resolve())]  # the .gguf went in, the text file did not
    assert not saved.model_folders
    qtbot.waitUntil(lambda: page.model.row_of(tiny) >= 0 and not page.is_scanning(), timeout=SCAN_MS)
    assert cell(page, tiny, COL_SOURCE) == ADDED_FILE
    assert page.selected_key() == str(tiny.resolve())

    # An added file that later breaks stays listed, with the reason, and can be removed.
    tiny.write_bytes(b"<html>login page</html>")
    page.rescan()
    qtbot.waitUntil(lambda: not page.is_scanning() and cell(page, tiny, COL_FIT) == "Unreadable", timeout=SCAN_MS)
    assert "HTML" in page.model.index(page.model.row_of(tiny), COL_NAME).data(Qt.ItemDataRole.ToolTipRole)
    page.select_path(tiny)
    assert page.detail.error.isVisibleTo(page.detail) and "not a GGUF file" in page.detail.error.text()
    assert not page.load_action.isEnabled() and not page.quantize_action.isEnabled()
    page.remove_action.trigger()
    qtbot.waitUntil(lambda: not page.is_scanning() and page.model.row_of(tiny) < 0, timeout=SCAN_MS)
    assert settings_module.load().model_files == []


def test_quantize_the_demo_model_to_q4_0_through_the_dialog(make_page, ctx, demo_model, qtbot):
    page = make_page(ctx)
    page.select_path(demo_model)
    page.quantize_action.trigger()
    dialog = page.quantize_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.selected_type() == "Q4_K_M"
    dialog.set_type("Q4_0")
    expected = paths.user_models_dir() / "SmolLM2-135M-Instruct.Q4_0.gguf"
    assert dialog.output_path() == expected
    progress: list[int] = []
    dialog.progress.valueChanged.connect(progress.append)

    with qtbot.waitSignal(dialog.created, timeout=120_000) as created:
        dialog.start_button.click()
        assert not dialog.type_box.isEnabled()
    assert Path(created.args[0]) == expected and expected.exists()
    assert progress and progress[-1] == 100
    qtbot.waitUntil(lambda: page.selected_key() == str(expected.resolve()) and not page.is_scanning(),
                    timeout=SCAN_MS)
    assert cell(page, expected, COL_QUANT) == "Q4_0"
    assert cell(page, expected, COL_SOURCE) == "Your models"
    qtbot.waitUntil(lambda: page.quantize_dialog is None)  # the dialog closed itself
    assert page.quantize_action.isEnabled()


def test_load_shows_memory_and_unload_ends_the_worker(styled, window, ctx, demo_model, qtbot, shots):
    page = window.page("Models")
    if page.is_scanning():
        with qtbot.waitSignal(page.scanned, timeout=SCAN_MS):
            pass
    page.select_path(demo_model)

    page.table.setFocus()
    with qtbot.waitSignal(ctx.library_changed, timeout=60_000):
        qtbot.keyClick(page.table, Qt.Key.Key_Return)  # Enter on a row loads it
        assert cell(page, demo_model, COL_LOADED) == "Loading…"
    assert ctx.pool.is_loaded(demo_model)
    qtbot.waitUntil(lambda: cell(page, demo_model, COL_LOADED).startswith("Loaded · "))
    assert "MiB" in cell(page, demo_model, COL_LOADED)
    assert page.memory_timer.isActive()
    assert "uses" in page.detail.loaded.text()
    (provider,) = ctx.pool.loaded()
    pid = provider._proc.pid
    assert psutil.pid_exists(pid)
    # The same configuration a run asks for, so the run reuses this worker instead of loading again.
    assert provider.spec == Runner(ctx.store, ctx.settings, ctx.catalog, ctx.hardware, ctx.pool).spec_for(demo_model)
    assert page.unload_action.isEnabled() and not page.load_action.isEnabled()
    QApplication.processEvents()  # let the layouts catch up with the new texts before the picture
    assert window.grab().save(str(shots / "models.png"))

    with qtbot.waitSignal(ctx.library_changed, timeout=30_000):
        page.unload_action.trigger()
    qtbot.waitUntil(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    assert cell(page, demo_model, COL_LOADED) == ""
    assert not ctx.pool.loaded()
    assert not page.memory_timer.isActive()


def test_an_empty_library_says_what_to_do(styled, make_page, qtbot, tmp_path, monkeypatch, shots):
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setattr(paths, "PROJECT_MODELS_DIR", empty)
    ctx = AppContext(Settings(threads=2, context_size=1024))
    try:
        page = make_page(ctx)
        assert page.model.rowCount() == 0
        assert page.table_stack.currentWidget() is page.empty and page.empty.isVisible()
        assert "LM Studio" in page.empty.explain.text()
        QApplication.processEvents()
        assert page.grab().save(str(shots / "models-empty.png"))

        folder = tmp_path / "found"
        folder.mkdir()
        tiny = write_tiny_gguf(folder / "tiny.gguf")
        choose_folder(monkeypatch, folder)
        page.empty.findChild(type(page.load_button), "primary").click()
        qtbot.waitUntil(lambda: page.model.row_of(tiny) >= 0 and not page.is_scanning(), timeout=SCAN_MS)
        assert page.table_stack.currentWidget() is page.splitter and page.table.isVisible()
    finally:
        ctx.close()

