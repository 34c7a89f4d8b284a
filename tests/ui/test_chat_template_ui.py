"""A model file without a chat template, on the Models, Compare and Results screens: the warning, the
prompt format the user chooses (saved, remembered, used by the worker), and the format each answer got."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app import settings as settings_module
from desktop_app.models import discovery
from desktop_app.providers.prompt_formats import COMPLETION, FALLBACK_LABEL
from desktop_app.ui.pages.compare import ComparePage
from desktop_app.ui.pages.models import ModelsPage, spec_for
from desktop_app.ui.widgets.result_detail import ResultDetail

SCAN_MS = 30_000
RUN_TIMEOUT_MS = 180_000


@pytest.fixture(autouse=True)
def no_other_apps(monkeypatch):
    """Only the project folder and added files: this machine's other model folders must not leak in."""
    monkeypatch.setattr(discovery, "default_roots", lambda **_: [])


@pytest.fixture
def base_ctx(ctx, templateless_model: Path):
    """The demo models plus the demo model without its chat template, added as a file."""
    ctx.save_settings(dataclasses.replace(ctx.settings, model_files=[str(templateless_model)]))
    return ctx


def scanned_models_page(qtbot, open_page, ctx, size=(1100, 720)) -> ModelsPage:
    page = open_page(ModelsPage, ctx, size)
    if page.is_scanning():
        with qtbot.waitSignal(page.scanned, timeout=SCAN_MS):
            pass
    return page


def select(qtbot, page: ModelsPage, path: Path) -> None:
    assert page.select_path(path)
    qtbot.waitUntil(lambda: bool(page.detail.template_names), timeout=SCAN_MS)  # llama.cpp's, asked once


def choose(page: ModelsPage, choice: str | None) -> None:
    """Pick a prompt format in the detail panel as a person does (the combo's activated signal)."""
    combo = page.detail.template_combo
    index = 0 if choice is None else combo.findData(choice)
    assert index >= 0, f"{choice} is not offered"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_models_screen_warns_and_remembers_the_chosen_prompt_format(qtbot, open_page, styled, base_ctx,
                                                                    templateless_model: Path,
                                                                    demo_model: Path, shots: Path) -> None:
    page = scanned_models_page(qtbot, open_page, base_ctx)
    detail, key = page.detail, str(templateless_model.resolve())
    select(qtbot, page, demo_model)
    assert not detail.template_warning.isVisible() and detail.values["chat"].text() == "yes"
    assert detail.template_combo.currentText() == "The file's own template"

    select(qtbot, page, templateless_model)
    assert detail.template_warning.isVisible()
    assert detail.template_warning.text().startswith("⚠ No chat template: probably a base model. It is prompted "
                                                     "with ChatML, a guess")
    assert detail.values["chat"].text() == "no: probably a base model"
    combo = detail.template_combo
    assert combo.currentText() == "ChatML (fallback: the file has none)" and combo.currentData() is None
    offered = [combo.itemData(i) for i in range(combo.count())]
    assert COMPLETION in offered and {"chatml", "llama3", "gemma", "mistral-v7", "phi3"} <= set(offered)
    for width, height in ((900, 600), (1400, 900)):
        page.resize(width, height)
        qtbot.wait(50)
        assert page.grab().save(str(shots / f"models-no-template-{width}x{height}.png"))

    with qtbot.waitSignal(page.scanned, timeout=SCAN_MS):  # saving the settings rescans the library
        choose(page, COMPLETION)
    assert settings_module.load().chat_templates == {key: COMPLETION}  # saved in the settings file
    assert base_ctx.settings.chat_templates == {key: COMPLETION}
    assert detail.template_combo.currentData() == COMPLETION  # still shown after the rescan
    assert "Runs use plain completion (no template), as chosen below." in detail.template_warning.text()
    assert page.grab().save(str(shots / "models-completion-chosen.png"))

    # Used: a load from this screen starts the worker in that format.
    row = page.selected_row()
    assert spec_for(base_ctx.settings, base_ctx.hardware, row).chat_template == COMPLETION
    page.load_selected()
    qtbot.waitUntil(lambda: key in page.model.memory and key not in page._busy, timeout=RUN_TIMEOUT_MS)
    [provider] = [p for p in base_ctx.pool.loaded() if p.spec.path == key]
    assert provider.load_info["chat_template"] == COMPLETION

    # Another format for a loaded model: it is loaded again in that format, the old worker is gone.
    with qtbot.waitSignal(page.scanned, timeout=SCAN_MS):
        choose(page, "llama3")
    qtbot.waitUntil(lambda: key in page.model.memory and key not in page._busy, timeout=RUN_TIMEOUT_MS)
    [provider] = [p for p in base_ctx.pool.loaded() if p.spec.path == key]
    assert provider.load_info["chat_template"] == "llama3" and provider.spec.chat_template == "llama3"

    with qtbot.waitSignal(page.scanned, timeout=SCAN_MS):  # back to the file's own (here the fallback)
        choose(page, None)
    assert settings_module.load().chat_templates == {}


def test_a_chosen_format_is_remembered_by_a_new_screen(qtbot, open_page, base_ctx, templateless_model: Path) -> None:
    key = str(templateless_model.resolve())
    base_ctx.save_settings(dataclasses.replace(base_ctx.settings, chat_templates={key: "zephyr"}))
    page = scanned_models_page(qtbot, open_page, base_ctx)
    select(qtbot, page, templateless_model)
    assert page.detail.template_combo.currentData() == "zephyr"
    assert "Runs use zephyr (llama.cpp's built-in template)" in page.detail.template_warning.text()


def test_compare_and_results_show_the_format_each_answer_got(qtbot, styled, base_ctx, templateless_model: Path,
                                                              demo_model: Path, shots: Path) -> None:
    base_ctx.settings.max_tokens = 12
    page = ComparePage(base_ctx)
    qtbot.addWidget(page)
    page.resize(1240, 780)
    page.show()
    try:
        qtbot.waitUntil(lambda: len(page.picker.entries) >= 3, timeout=SCAN_MS)
        items = {str(Path(page.picker.list.item(i).data(Qt.ItemDataRole.UserRole)).resolve()): page.picker.list.item(i)
                 for i in range(page.picker.list.count())}
        base_item = items[str(templateless_model.resolve())]
        assert base_item.text().endswith("  ·  ⚠ no chat template")
        assert "No chat template: probably a base model. The file has no chat template" in base_item.toolTip()
        assert "chat template" not in items[str(demo_model.resolve())].text()
        page.picker.set_selected([demo_model, templateless_model])
        page.prompt_edit.setPlainText("What is the capital of France?")
        with qtbot.waitSignal(page.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
            page.run_button.click()
        run_id, status = finished.args
        assert status == "complete"
        by_path = {str(Path(column.title.toolTip()).resolve()): column for column in page.columns}
        warned, plain = by_path[str(templateless_model.resolve())], by_path[str(demo_model.resolve())]
        assert warned.notice.isVisible() and warned.notice.text() == "⚠ no chat template: probably a base model"
        assert not plain.notice.isVisible()
        assert page.grab().save(str(shots / "compare-no-template.png"))

        rows = {row["model_key"]: row for row in base_ctx.store.results(run_id)}
        assert rows[warned.model_key]["chat_template"] == FALLBACK_LABEL
        assert rows[plain.model_key]["chat_template"] == "gguf"

        detail = ResultDetail()
        qtbot.addWidget(detail)
        detail.resize(520, 760)
        detail.show()
        case = {"id": "compare", "prompt": "What is the capital of France?"}
        detail.show_cell(case, warned.model_key, rows[warned.model_key])
        assert detail.template_warning.isVisible()
        assert detail.template_warning.text().startswith("⚠ No chat template: probably a base model.")
        assert detail.metric_values["Prompt format"].text() == FALLBACK_LABEL
        assert detail.metric_values["Peak memory"].text().endswith("(this answer)")
        assert detail.metric_values["Threads"].text() == str(rows[warned.model_key]["threads"])
        qtbot.wait(50)  # wrapped labels settle their heights
        assert detail.grab().save(str(shots / "result-detail-no-template.png"))
        detail.show_cell(case, plain.model_key, rows[plain.model_key])
        assert not detail.template_warning.isVisible()
        assert detail.metric_values["Prompt format"].text() == "gguf"
        detail.show_cell(case, plain.model_key, {**rows[plain.model_key], "chat_template": None})  # an old row
        assert detail.metric_values["Prompt format"].text() == "–" and not detail.template_warning.isVisible()
    finally:
        page.shutdown()
