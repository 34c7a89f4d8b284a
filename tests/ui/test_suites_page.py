"""The Suites screen, driven like a person would, on the real demo model and a real SQLite store."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app.storage.store import Store
from desktop_app.suites import load_suite
from desktop_app.ui.pages.suites import SuitesPage
from tests.conftest import SUITES
from tests.ggufs import write_tiny_gguf
from tests.ui.conftest import app_look

RUN_TIMEOUT_MS = 180_000


@pytest.fixture
def run_suite(tmp_path: Path) -> Path:
    """Three short cases without their own max_tokens, so the settings' 24 tokens bound every answer."""
    cases = [
        {"suite": {"name": "ui-run", "version": "1"}},
        {"id": "add", "prompt": "What is 2 + 2? Reply with just the number.", "expected": 4},
        {"id": "poem", "prompt": "Write a long poem about the sea.", "expected": "wave"},
        {"id": "story", "prompt": "Tell me a long story about a cat.",
         "checks": [{"type": "contains", "value": "cat"}]},
    ]
    path = tmp_path / "ui-run.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases) + "\n", encoding="utf-8")
    return path


def make_page(qtbot, ctx) -> SuitesPage:
    ctx.settings.max_tokens = 24
    page = SuitesPage(ctx)
    qtbot.addWidget(page)
    page.resize(1080, 760)
    page.show()
    with qtbot.waitSignals([page.suite_opened, page.picker.scanned], timeout=30_000):
        pass
    return page


@pytest.fixture
def page(qtbot, ctx):
    page = make_page(qtbot, ctx)
    yield page
    page.shutdown()


def open_and_wait(qtbot, page: SuitesPage, path: Path) -> None:
    with qtbot.waitSignal(page.suite_opened, timeout=10_000):
        page.open_suite(path)


def cell(page: SuitesPage, row: int, field: str) -> str:
    model = page.table_model
    return model.data(model.index(row, model.FIELDS.index(field)))


def results(ctx, run_id: str) -> list[dict]:
    store = Store(ctx.database_path())
    try:
        return store.results(run_id)
    finally:
        store.close()


def test_the_demo_suite_is_shown_on_first_start_and_a_suite_file_opens(qtbot, page, small_suite):
    assert page.suite_path == (SUITES / "demo.jsonl").resolve()
    assert page.table_model.rowCount() == len(load_suite(SUITES / "demo.jsonl").cases)
    qtbot.waitUntil(lambda: page.suite_list.count() > 0)
    listed = [page.suite_list.item(i).text() for i in range(page.suite_list.count())]
    assert "demo.jsonl" in listed and "demo.csv" in listed

    open_and_wait(qtbot, page, small_suite)
    assert page.table_model.rowCount() == 3
    assert [cell(page, r, "id") for r in range(3)] == ["capital-france", "gold-symbol", "leap-year-days"]
    assert cell(page, 0, "expected") == "Paris"
    assert cell(page, 1, "checks") == r"regex:\bAu\b"
    assert cell(page, 2, "checks") == "auto: numeric"
    assert page.editor.prompt_edit.toPlainText() == "What is the capital of France?"
    assert page.suite_label.text() == "demo" and not page.dirty
    # Remembered as a recent suite, and listed as one.
    qtbot.waitUntil(lambda: any(page.suite_list.item(i).data(Qt.ItemDataRole.UserRole) == str(small_suite.resolve())
                                for i in range(page.suite_list.count())))


def test_a_malformed_suite_shows_file_line_and_field_and_keeps_the_open_one(qtbot, page, small_suite, tmp_path):
    open_and_wait(qtbot, page, small_suite)
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"id": "a", "prompt": "Hi"}\n\n{"id": "b", "expected": "x"}\n', encoding="utf-8")
    with qtbot.waitSignal(page.open_failed, timeout=10_000):
        page.open_suite(bad)
    message = page.banner_message()
    assert page.banner.isVisible()
    assert "broken.jsonl" in message and "line 3" in message and '"prompt"' in message
    assert "Traceback" not in message
    assert page.suite_path == small_suite.resolve() and page.table_model.rowCount() == 3
    assert "small.jsonl" in message  # says which suite is still shown

    open_and_wait(qtbot, page, small_suite)
    assert not page.banner.isVisible()


def test_edit_a_prompt_save_and_reload_from_disk(qtbot, page, small_suite):
    open_and_wait(qtbot, page, small_suite)
    page.select_row(1)
    assert page.editor.id_edit.text() == "gold-symbol"
    page.editor.prompt_edit.setPlainText("Which element has the symbol Au?\nAnswer in one word.")
    assert page.dirty and page.suite_label.text().endswith("•")
    assert cell(page, 1, "prompt") == "Which element has the symbol Au? ⏎ Answer in one word."

    # A mistake is shown on the case itself, and nothing is written while it is there.
    page.editor.checks_edit.setText("contians")
    page.editor.checks_edit.textEdited.emit("contians")
    draft = page.drafts[1]
    assert draft.error_field == "checks" and 'did you mean "contains"' in draft.error
    assert page.editor.error_label.isVisible() and "Checks:" in page.editor.error_label.text()
    assert page.save() is False
    assert 'Case "gold-symbol" needs a fix' in page.banner_message()
    assert "Which element" not in small_suite.read_text(encoding="utf-8")

    page.editor.checks_edit.setText(r"regex:\bAu\b; contains:gold")
    page.editor.checks_edit.textEdited.emit(page.editor.checks_edit.text())
    assert page.drafts[1].error is None and not page.editor.error_label.isVisible()
    page.setFocus()
    qtbot.keyClick(page, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Ctrl+S
    qtbot.waitUntil(lambda: not page.dirty, timeout=2_000)
    assert not page.suite_label.text().endswith("•")

    open_and_wait(qtbot, page, small_suite)
    reloaded = load_suite(small_suite)
    assert reloaded.cases[1].prompt == "Which element has the symbol Au?\nAnswer in one word."
    assert [c.to_dict() for c in reloaded.cases[1].checks] == [
        {"type": "regex", "pattern": r"\bAu\b"}, {"type": "contains", "value": "gold"}]
    assert reloaded.cases[2].expected == 366  # untouched numbers stay numbers
    page.select_row(1)
    assert page.editor.prompt_edit.toPlainText() == "Which element has the symbol Au?\nAnswer in one word."
    assert reloaded.name == "demo" and reloaded.version == "1"


def test_add_duplicate_delete_and_the_unsaved_question(qtbot, page, small_suite, copy_of, monkeypatch):
    open_and_wait(qtbot, page, small_suite)
    page.select_row(0)
    page.duplicate_case()
    assert [d.id for d in page.drafts] == ["capital-france", "capital-france-copy", "gold-symbol", "leap-year-days"]
    page.editor.id_edit.setText("gold-symbol")
    page.editor.id_edit.textEdited.emit("gold-symbol")
    assert page.drafts[1].error_field == "id" and page.drafts[2].error_field == "id"  # both carry the clash
    page.delete_cases()
    assert [d.id for d in page.drafts] == ["capital-france", "gold-symbol", "leap-year-days"]
    assert all(d.error is None for d in page.drafts)
    page.add_case()  # after the selected case (gold-symbol), and selected for editing
    new = page.drafts[2]
    assert page.selected_row() == 2 and page.editor.draft is new and new.id == "case-4"
    assert new.error_field == "prompt"  # a new case still needs its prompt
    page.editor.prompt_edit.setPlainText("Say hello.")
    assert new.error is None and page.dirty

    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: asked.append(args[2]) or QMessageBox.StandardButton.Cancel)
    csv_copy = copy_of(SUITES / "demo.csv")
    page.open_suite(csv_copy)
    assert asked and "small.jsonl" in asked[0]
    assert page.suite_path == small_suite.resolve() and len(page.drafts) == 4  # cancelled: nothing changed

    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Discard)
    open_and_wait(qtbot, page, csv_copy)
    assert page.suite_path == csv_copy.resolve()

    # A CSV suite is saved as a new JSON Lines file next to it, and the screen says so.
    page.select_row(0)
    page.editor.expected_edit.setText("Paris, France")
    page.editor.expected_edit.textEdited.emit("Paris, France")
    assert page.save()
    saved = csv_copy.with_suffix(".jsonl")
    assert saved.exists() and page.suite_path == saved.resolve()
    assert "Saved as demo.jsonl" in page.banner_message() and "demo.csv" in page.banner_message()
    assert load_suite(saved).cases[0].expected == "Paris, France"
    assert load_suite(saved).cases[0].prompt == "What is the capital of France?"


def test_a_prompt_with_placeholders_says_the_model_sees_them_as_written(qtbot, page, small_suite):
    open_and_wait(qtbot, page, small_suite)
    page.select_row(0)
    note = page.editor.placeholder_note
    assert not note.isVisible()
    page.editor.prompt_edit.setPlainText('What is the capital of {country}? Answer as {"city": ...}.')
    assert note.isVisible() and note.text().startswith("The model sees {country} as written")
    page.select_row(1)  # each case shows its own
    assert not note.isVisible()


def test_saving_an_included_suite_asks_where_to_put_the_copy(qtbot, page, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    before = (SUITES / "demo.jsonl").read_bytes()
    page.select_row(0)
    page.editor.prompt_edit.setPlainText("What is the capital city of France?")
    target = tmp_path / "mine.jsonl"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    assert page.save()
    assert (SUITES / "demo.jsonl").read_bytes() == before
    assert load_suite(target).cases[0].prompt == "What is the capital city of France?"
    assert page.suite_path == target.resolve()


def test_run_the_suite_on_the_demo_model(qtbot, window, ctx, run_suite, demo_model, shots):
    window.resize(1240, 780)
    page = window.show_page("Suites")
    with qtbot.waitSignals([page.suite_opened, page.picker.scanned], timeout=30_000):
        pass
    ctx.settings.max_tokens = 24
    open_and_wait(qtbot, page, run_suite)
    page.picker.set_selected([demo_model])
    assert page.run_button.isEnabled()
    changed = []
    ctx.runs_changed.connect(changed.append)
    finished = []
    page.case_finished.connect(finished.append)
    progress_texts = []
    page.case_finished.connect(lambda _event: progress_texts.append(page.progress_label.text()))

    with qtbot.waitSignal(page.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        qtbot.keyClick(page.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Enter
        qtbot.waitUntil(lambda: page.is_running(), timeout=2_000)
        assert page.cancel_button.isEnabled() and not page.run_button.isEnabled()
    run_id, status = blocker.args
    assert status == "complete"
    assert page.progress.maximum() == 3 and page.progress.value() == 3
    assert [e.done for e in finished] == [1, 2, 3]
    rows = results(ctx, run_id)
    assert sorted(r["case_id"] for r in rows) == ["add", "poem", "story"]
    assert all(r["error"] is None and r["completion_tokens"] <= 24 for r in rows)
    assert page.log.topLevelItemCount() == 3
    assert [page.log.topLevelItem(i).text(0) for i in range(3)] == ["add", "poem", "story"]
    assert {page.log.topLevelItem(i).text(1) for i in range(3)} <= {"pass", "fail"}
    # Decoded together, each case shows what the batch wrote (its own stream would read as a slow model).
    by_case = {r["case_id"]: r for r in rows}
    for i in range(3):
        item = page.log.topLevelItem(i)
        row = by_case[item.text(0)]
        assert row["parallel"] == 3
        assert item.text(3) == f"{row['batch_tokens_per_second']:.0f} tok/s"
        assert "other cases at once: together they wrote" in item.toolTip(3)
    assert "left" in progress_texts[0] and "1 of 3 answers" in progress_texts[0]  # an ETA from fresh answers
    assert page.done_row.isVisible() and page.open_results_button.isVisible()
    # Screens that follow the run hear of it as answers land (throttled) and once more at the end.
    assert set(changed) == {run_id} and 1 <= len(changed) <= 4
    assert "Done: 3 answers" in page.progress_label.text()
    with app_look(QApplication.instance()):  # the look `make run` has, for the picture
        page.select_row(1)
        QApplication.processEvents()  # lay out again with the style's paddings
        assert window.grab().save(str(shots / "suites.png"))


def test_cancel_midway_then_resume_without_duplicates(qtbot, page, ctx, run_suite, demo_model):
    open_and_wait(qtbot, page, run_suite)
    page.picker.set_selected([demo_model])

    def cancel_after_first(_event):
        page.case_finished.disconnect(cancel_after_first)
        page.cancel()

    page.case_finished.connect(cancel_after_first)
    with qtbot.waitSignal(page.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        page.run()
    run_id, status = blocker.args
    assert status == "interrupted"
    stored = results(ctx, run_id)
    assert 1 <= len(stored) < 3
    assert Store(ctx.database_path()).run(run_id)["status"] == "interrupted"
    qtbot.waitUntil(lambda: page.interrupted_combo.currentData() == run_id, timeout=10_000)  # read off the UI thread
    assert page.resume_box.isVisible() and page.resume_button.isEnabled()
    assert "Stopped at" in page.progress_label.text()

    with qtbot.waitSignal(page.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        page.resume_button.click()
    assert blocker.args == [run_id, "complete"]
    rows = results(ctx, run_id)
    cells = Counter((r["model_key"], r["case_id"]) for r in rows)
    assert len(rows) == 3 and set(cells.values()) == {1}
    assert page.log.topLevelItem(0).text(0).startswith(f"Resuming run {run_id}: {len(stored)} of 3")
    assert page.log.topLevelItemCount() == 1 + 3 - len(stored)
    assert page.progress.value() == 3
    qtbot.waitUntil(lambda: page.interrupted_combo.findData(run_id) == -1, timeout=10_000)
    assert not page.resume_box.isVisible()

    opened = []
    ctx.open_run.connect(lambda rid, key: opened.append((rid, key)))
    page.open_results_button.click()
    assert opened == [(run_id, "")]


def test_shutdown_stops_a_running_job(qtbot, page, ctx, run_suite, demo_model):
    open_and_wait(qtbot, page, run_suite)
    page.picker.set_selected([demo_model])
    with qtbot.waitSignal(page.case_finished, timeout=RUN_TIMEOUT_MS):
        page.run()
    worker = page.worker
    page.shutdown()
    assert worker is not None and not worker.is_running()
    qtbot.waitUntil(lambda: not page.is_running(), timeout=5_000)
    assert Store(ctx.database_path()).run(page.run_id)["status"] == "interrupted"


def test_a_model_llama_cpp_cannot_load_is_a_plain_error_and_no_run(qtbot, ctx, run_suite, tmp_path):
    alien = write_tiny_gguf(tmp_path / "alien.gguf", architecture="notarealarch")
    ctx.settings.model_files = [str(alien)]
    page = make_page(qtbot, ctx)
    try:
        open_and_wait(qtbot, page, run_suite)
        page.picker.set_selected([alien])
        assert page.picker.selected_paths() == [str(alien)]
        with qtbot.waitSignal(page.run_finished, timeout=60_000) as blocker:
            page.run()
        assert blocker.args == ["", "failed"]
        dialogs = [w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible()]
        assert dialogs and "does not know the model architecture 'notarealarch'" in dialogs[-1].text()
        assert "Traceback" not in dialogs[-1].text()
        for dialog in dialogs:
            dialog.close()
        assert ctx.store.runs() == []
        assert page.run_button.isEnabled()
    finally:
        page.shutdown()


def test_the_screen_reopens_the_last_suite(qtbot, ctx, small_suite):
    page = make_page(qtbot, ctx)
    open_and_wait(qtbot, page, small_suite)
    page.shutdown()
    again = make_page(qtbot, ctx)
    assert again.suite_path == small_suite.resolve()
    again.shutdown()
