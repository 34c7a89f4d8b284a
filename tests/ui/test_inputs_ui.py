"""Inputs on the screens: the Models screen lists every file with why it cannot be used, and says that a
model of an architecture this llama.cpp does not know will not load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app.models import discovery
from desktop_app.settings import Settings
from desktop_app.ui.context import AppContext
from desktop_app.ui.pages.models import COL_FIT, ModelsPage
from desktop_app.ui.pages.suites import SuitesPage
from tests.ggufs import write_tiny_gguf

SCAN_MS = 30_000


@pytest.fixture
def downloads(tmp_path: Path, alien_model: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    write_tiny_gguf(folder / "tiny.gguf")
    (folder / "empty.gguf").write_bytes(b"")
    (folder / "notes.gguf").write_text("my notes about which model to try next\n")
    (folder / "alien.gguf").symlink_to(alien_model)
    return folder


@pytest.fixture
def library_ctx(qtbot, modelscout_home, downloads, monkeypatch):
    monkeypatch.setattr(discovery, "default_roots", lambda **_: [])  # this machine's other apps stay out
    context = AppContext(Settings(threads=2, context_size=1024, model_folders=[str(downloads)]))
    yield context
    context.close()


def test_models_screen_lists_unusable_files_and_says_which_model_will_not_load(library_ctx, open_page, qtbot,
                                                                                downloads: Path) -> None:
    page = open_page(ModelsPage, library_ctx, (1100, 720))
    if page.is_scanning():
        with qtbot.waitSignal(page.scanned, timeout=SCAN_MS):
            pass
    model = page.model

    def fit_cell(name: str, role=None):
        row = model.row_of(downloads / name)
        assert row >= 0, f"{name} is not listed"
        index = model.index(row, COL_FIT)
        return index.data() if role is None else index.data(role)

    assert fit_cell("empty.gguf") == "Unreadable" and fit_cell("notes.gguf") == "Unreadable"
    assert "the file is empty (0 bytes)" in fit_cell("empty.gguf", Qt.ItemDataRole.ToolTipRole)
    assert "not a GGUF file" in fit_cell("notes.gguf", Qt.ItemDataRole.ToolTipRole)
    assert fit_cell("tiny.gguf") in ("CPU", "GPU")
    assert fit_cell("alien.gguf") == "Won't load"
    assert "2 unreadable" in page.count_label.text()

    page.select_path(downloads / "alien.gguf")
    assert not page.load_action.isEnabled()  # a model llama.cpp cannot open is not offered for loading
    detail = page.detail.fit.text()
    assert detail.startswith("Will not load with this llama.cpp.")
    assert "does not know the model architecture 'alienarch'" in detail

    page.select_path(downloads / "notes.gguf")
    assert page.detail.error.isVisibleTo(page) and "not a GGUF file" in page.detail.error.text()


def test_suites_screen_refuses_a_prompt_no_model_can_fit_with_its_line(qtbot, ctx, tmp_path: Path) -> None:
    """The screen's limit is the largest context any model here is given: the context size of Settings
    (1,024 tokens in this context), as no API model is set."""
    page = SuitesPage(ctx)
    qtbot.addWidget(page)
    page.resize(1080, 760)
    page.show()
    try:
        with qtbot.waitSignal(page.suite_opened, timeout=30_000):
            pass
        path = tmp_path / "long.jsonl"
        path.write_text("\n".join([json.dumps({"id": "ok", "prompt": "Hi"}),
                                   json.dumps({"id": "huge", "prompt": "word " * 20_000}),
                                   json.dumps({"id": "bad", "prompt": 3})]) + "\n", encoding="utf-8")
        with qtbot.waitSignal(page.open_failed, timeout=10_000):
            page.open_suite(path)
        message = page.banner_message()
        assert "long.jsonl: 2 problems" in message and "Traceback" not in message
        assert 'line 2, field "prompt": the prompt is 98 KB, at least 1,563 tokens for any model' in message
        assert "(1,024 tokens)" in message and 'line 3, field "prompt"' in message
    finally:
        page.shutdown()


def test_an_api_model_is_named_by_what_it_is_or_by_the_name_given_in_the_dialog(qtbot, ctx) -> None:
    from PySide6.QtWidgets import QDialogButtonBox

    from desktop_app.ui.widgets.api_model_dialog import ApiModelDialog
    from desktop_app.ui.widgets.model_picker import ModelPicker

    url = "http://127.0.0.1:28555/v1"
    served = "/srv/models/smol.gguf"  # llama.cpp's server reports its model as the file's path

    def add(name: str) -> str:
        dialog = ApiModelDialog(ctx)
        qtbot.addWidget(dialog)
        dialog.provider.setCurrentIndex(dialog.provider.findData("openai-compatible"))
        dialog.base_url.setText(url)
        dialog.model.setCurrentText(served)
        assert dialog.display_name.placeholderText() == "optional: smol @ 127.0.0.1:28555"
        dialog.display_name.setText(name)
        with qtbot.waitSignal(dialog.added, timeout=5000) as added:
            dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        return added.args[0]

    ref = add("")
    assert ref == f"openai-compatible:{served}@{url}" and ctx.settings.api_model_names == {}
    picker = ModelPicker(ctx)
    qtbot.addWidget(picker)
    qtbot.waitUntil(lambda: picker.list.count() >= 1, timeout=30_000)
    assert picker.label_for(ref) == "smol @ 127.0.0.1:28555"

    assert add("smol on the box") == ref  # the same model again, now with a name
    assert ctx.settings.api_models == [ref] and ctx.settings.api_model_names == {ref: "smol on the box"}
    assert picker.label_for(ref) == "smol on the box"
    qtbot.waitUntil(lambda: any(picker.list.item(i).text().startswith("smol on the box")
                                for i in range(picker.list.count())), timeout=30_000)
    assert not any(served in picker.list.item(i).text() for i in range(picker.list.count()))
