"""The Settings screen: editing, saving between sessions, inline validation, revert, and the data folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from desktop_app import paths
from desktop_app.costing.energy import EnergyMeter
from desktop_app.settings import Settings
from desktop_app.ui.context import AppContext
from desktop_app.ui.pages.settings import GPU_NONE, GPU_SOME, SettingsPage


@pytest.fixture
def make_page(open_page):
    return lambda ctx: open_page(SettingsPage, ctx)


@pytest.fixture
def choose_folder(monkeypatch):
    """Answers the next folder dialogs with the given folders, and records what they asked."""
    answers: list[str] = []
    asked: list[str] = []

    def dialog(parent, caption, start):
        asked.append(caption)
        return answers.pop(0)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(dialog))
    return answers


def click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def saved_json() -> dict:
    return json.loads(paths.settings_path().read_text(encoding="utf-8"))


def test_saved_values_come_back_in_a_new_session(qtbot, ctx, make_page, choose_folder, tmp_path):
    page = make_page(ctx)
    assert not page.save_button.isEnabled()  # nothing to save yet
    models = tmp_path / "more models"
    models.mkdir()
    choose_folder.append(str(models))

    page.price.setValue(0.31)
    click(qtbot, page.add_folder_button)
    assert page.is_dirty() and page.status.text() == "Unsaved changes"
    with qtbot.waitSignal(ctx.settings_changed, timeout=2000):
        click(qtbot, page.save_button)

    assert page.status.text().startswith("Saved")
    assert not page.save_button.isEnabled() and not page.revert_button.isEnabled()
    assert ctx.settings.electricity_usd_per_kwh == 0.31
    assert ctx.settings.model_folders == [str(models)]
    assert ctx.settings.threads == 2 and ctx.settings.max_tokens == 32  # untouched fields kept
    assert saved_json()["electricity_usd_per_kwh"] == 0.31

    later = AppContext()  # reads settings.json, as the next start of the app does
    try:
        again = make_page(later)
        assert again.price.value() == pytest.approx(0.31)
        assert again.folder_list.count() == 1
        assert again.folder_list.item(0).text() == str(models)
        assert again.max_tokens.value() == 32
        assert not again.is_dirty()
    finally:
        later.close()


def test_an_invalid_value_is_explained_inline_and_nothing_is_saved(qtbot, ctx, make_page):
    page = make_page(ctx)
    page.price.setValue(0.2)
    click(qtbot, page.save_button)
    before = paths.settings_path().read_bytes()

    page.watts.setValue(0)
    error = page.fields["device_watts"].error
    assert error.isVisible()
    assert error.text().startswith("Device wattage must be more than 0")
    assert "device_watts" not in error.text()  # plain words, not the file's key
    with qtbot.assertNotEmitted(ctx.settings_changed):
        assert page.save() is False
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert paths.settings_path().read_bytes() == before
    assert ctx.settings.device_watts == 65
    assert "red" in page.status.text()
    assert page.focusWidget() is page.watts

    page.watts.setValue(80)  # fixed: the error goes away and Save works
    assert not error.isVisible()
    assert page.save() is True
    assert saved_json()["device_watts"] == 80


def test_a_data_folder_that_cannot_be_made_is_refused(qtbot, ctx, make_page, choose_folder, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    choose_folder.append(str(blocker / "runs"))
    page = make_page(ctx)
    click(qtbot, page.change_data_button)

    assert page.save() is False
    error = page.fields["data_folder"].error
    assert error.isVisible() and error.text().startswith("Data folder cannot be used")
    assert not paths.settings_path().exists()
    assert ctx.settings.data_folder is None


def test_revert_restores_the_saved_values(qtbot, ctx, make_page, choose_folder, tmp_path):
    ctx.save_settings(Settings(threads=2, model_folders=[str(tmp_path)], model_files=[str(tmp_path / "a.gguf")]))
    page = make_page(ctx)
    page.temperature.setValue(1.5)
    page.context_size.setValue(8192)
    page.gpu_mode.setCurrentIndex(GPU_NONE)
    page.folder_list.setCurrentRow(0)
    click(qtbot, page.remove_folder_button)
    page.file_list.setCurrentRow(0)
    click(qtbot, page.remove_file_button)
    page.watts.setValue(0)  # an invalid value is reverted too, with its error
    assert page.folder_list.count() == 0 and page.file_list.count() == 0

    click(qtbot, page.revert_button)

    assert page.temperature.value() == 0
    assert page.context_size.value() == 4096
    assert page.gpu_mode.currentIndex() == 0  # all layers
    assert page.watts.value() == 65
    assert page.folder_list.item(0).text() == str(tmp_path)
    assert page.file_list.item(0).text() == str(tmp_path / "a.gguf")
    assert not page.fields["device_watts"].error.isVisible()
    assert not page.is_dirty() and not page.save_button.isEnabled()
    assert page.status.text() == "Back to the saved settings."


def test_threads_gpu_layers_and_data_folder_round_trip(qtbot, ctx, make_page, choose_folder, tmp_path):
    page = make_page(ctx)
    assert page.threads.value() == 2
    page.threads.setValue(0)
    assert page.threads.text() == "Automatic"
    page.gpu_mode.setCurrentIndex(GPU_SOME)
    assert page.gpu_layers.isVisible()
    page.gpu_layers.setValue(20)
    page.seed.setValue(1234)
    page.max_tokens.setValue(64)
    runs = tmp_path / "runs"
    choose_folder.append(str(runs))
    click(qtbot, page.change_data_button)
    assert "Runs already stored stay in" in page.data_note.text()
    assert page.save() is True

    expected = {"threads": None, "gpu_layers": 20, "seed": 1234, "max_tokens": 64, "data_folder": str(runs)}
    assert {key: saved_json()[key] for key in expected} == expected
    assert runs.is_dir()
    assert page.reset_data_button.isEnabled()
    click(qtbot, page.reset_data_button)
    page.gpu_mode.setCurrentIndex(GPU_NONE)
    assert not page.gpu_layers.isVisible()
    assert page.save() is True
    assert saved_json()["data_folder"] is None and saved_json()["gpu_layers"] == 0


def test_changes_made_elsewhere_show_up_without_losing_edits(qtbot, ctx, make_page, tmp_path):
    page = make_page(ctx)
    page.price.setValue(0.5)  # the user's unsaved edit
    dropped = str(tmp_path / "dropped.gguf")
    # The Models screen adds a file the user dropped on it.
    ctx.save_settings(Settings(threads=2, context_size=1024, max_tokens=32, model_files=[dropped]))

    assert page.file_list.count() == 1 and page.file_list.item(0).text() == dropped
    assert page.price.value() == 0.5 and page.is_dirty()
    assert page.save() is True
    assert saved_json()["model_files"] == [dropped] and saved_json()["electricity_usd_per_kwh"] == 0.5


def test_ctrl_s_saves(qtbot, ctx, make_page):
    page = make_page(ctx)
    page.activateWindow()  # window shortcuts only fire in the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is page, timeout=5000)
    page.seed.setFocus()
    page.seed.setValue(7)
    with qtbot.waitSignal(page.saved, timeout=2000):
        qtbot.keyClick(page.seed, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert saved_json()["seed"] == 7


def test_machine_facts_and_where_things_live(qtbot, ctx, make_page, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    page = make_page(ctx)
    qtbot.waitUntil(lambda: "cores" in page.threads_note.text(), timeout=5000)

    hardware = ctx.hardware
    assert f"{hardware.physical_cores} cores / {hardware.logical_threads} threads" in page.threads_note.text()
    if hardware.gpus:
        assert hardware.gpus[0].name in page.gpu_note.text()
    else:
        assert page.gpu_note.text().startswith("No GPU detected")
    readable = EnergyMeter(65).source == "rapl"
    assert ("is readable here" in page.energy_note.text()) == readable
    assert page.hour_cost.text() == "At 65 W, an hour of local inference costs about $0.011."
    assert page.settings_file.text() == str(paths.settings_path())
    assert page.database_field.text() == str(ctx.database_path())
    assert "MODELSCOUT_HOME is set" in page.data_note.text()

    click(qtbot, page.open_data_button)
    assert [url.toLocalFile() for url in opened] == [str(ctx.database_path().parent)]



def answer_next_question(button: QMessageBox.StandardButton, asked: list[str]) -> None:
    """Clicks `button` in the next message box when it opens (the real dialog, run modally)."""

    def click_it() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):  # not open yet
            QTimer.singleShot(10, click_it)
            return
        asked.append(box.text())
        box.button(button).click()

    QTimer.singleShot(0, click_it)


def test_leaving_settings_with_unsaved_changes_asks_save_discard_or_cancel(qtbot, window, ctx):
    settings = window.show_page("Settings")
    settings.price.setValue(0.42)
    asked: list[str] = []

    answer_next_question(QMessageBox.StandardButton.Cancel, asked)
    window.nav.setCurrentRow(list(window.pages).index("Models"))  # the person clicks another screen
    assert asked and asked[0].startswith("Save the changed settings?") and "Electricity price" in asked[0]
    assert window.current_page_name() == "Settings"  # Cancel: still here, the change still there
    assert window.nav.currentRow() == list(window.pages).index("Settings")
    assert settings.price.value() == pytest.approx(0.42) and settings.is_dirty()

    answer_next_question(QMessageBox.StandardButton.Discard, asked)
    window.show_page("Compare")
    assert len(asked) == 2 and window.current_page_name() == "Compare"
    assert settings.price.value() == pytest.approx(ctx.settings.electricity_usd_per_kwh) != 0.42
    assert not settings.is_dirty() and not paths.settings_path().exists()

    window.show_page("Settings")
    settings.seed.setValue(99)
    answer_next_question(QMessageBox.StandardButton.Save, asked)
    window.show_page("Models")
    assert len(asked) == 3 and window.current_page_name() == "Models"
    assert ctx.settings.seed == 99 and saved_json()["seed"] == 99

    window.show_page("Settings")
    window.show_page("Suites")  # nothing changed: nothing to ask
    assert len(asked) == 3 and window.current_page_name() == "Suites"


def test_an_invalid_change_saved_on_leaving_keeps_settings_shown(qtbot, window, ctx):
    settings = window.show_page("Settings")
    settings.watts.setValue(0)
    asked: list[str] = []
    answer_next_question(QMessageBox.StandardButton.Save, asked)
    window.show_page("Models")
    assert asked and window.current_page_name() == "Settings"
    assert settings.fields["device_watts"].error.isVisible()
    assert not paths.settings_path().exists()
    settings.revert()  # the window closes after the test: nothing left to ask about


def test_quitting_with_unsaved_settings_asks_first(qtbot, window, ctx):
    settings = window.show_page("Settings")
    settings.max_tokens.setValue(640)
    asked: list[str] = []
    answer_next_question(QMessageBox.StandardButton.Cancel, asked)
    window.close()
    assert asked and "Closing ModelScout drops the changes" in asked[0]
    assert window.isVisible() and settings.is_dirty()

    answer_next_question(QMessageBox.StandardButton.Save, asked)
    window.close()
    assert len(asked) == 2 and not window.isVisible()
    assert saved_json()["max_tokens"] == 640


def test_screenshot(qtbot, ctx, make_page, styled, shots):
    ctx.save_settings(Settings(threads=2, context_size=1024, max_tokens=32,
                               model_folders=[str(Path.home() / "models"), "/mnt/storage/gguf"]))
    page = make_page(ctx)
    qtbot.waitUntil(lambda: "cores" in page.threads_note.text(), timeout=5000)
    page.price.setValue(0.24)
    QApplication.processEvents()  # the layout that the machine's notes asked for
    assert page.grab().save(str(shots / "settings.png"))
