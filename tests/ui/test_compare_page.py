"""The Compare screen on the real demo models: side-by-side streaming, stop, verdicts, crashes, input checks."""

from __future__ import annotations

import json

import time
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app.suites import load_suite
from desktop_app.ui.pages.compare import ComparePage
from desktop_app.ui.placeholders import fill, placeholders

RUN_TIMEOUT_MS = 180_000  # generous: the shared 2-core test machine can be slowed tenfold
LONG_PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."


@pytest.fixture
def page(qtbot, ctx, demo_model, demo_variant):
    ctx.settings.max_tokens = 24
    compare = ComparePage(ctx)
    qtbot.addWidget(compare)
    compare.resize(1240, 780)
    compare.show()
    qtbot.waitUntil(lambda: len(compare.picker.entries) >= 2, timeout=30_000)
    compare.picker.set_selected([demo_model, demo_variant])
    compare.prompt_edit.setPlainText("Name three colours of the rainbow.")
    yield compare
    compare.shutdown()


def run_to_end(qtbot, page: ComparePage, timeout: int = RUN_TIMEOUT_MS) -> tuple[str, str]:
    with qtbot.waitSignal(page.run_finished, timeout=timeout) as finished:
        page.run_button.click()
    return tuple(finished.args)


def activate(qtbot, page: ComparePage) -> None:
    """Window shortcuts only fire in the active window."""
    page.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is page, timeout=5_000)


def error_dialogs(page: ComparePage) -> list[QMessageBox]:
    return [box for box in page.findChildren(QMessageBox) if box.objectName() == "errorDialog" and box.isVisible()]


def test_two_models_answer_side_by_side_and_the_run_is_stored(styled, qtbot, page, ctx, shots, pooled):
    changed: list[str] = []
    ctx.runs_changed.connect(changed.append)
    page.system_toggle.setChecked(True)
    page.system_edit.setPlainText("You are a concise assistant.")
    with qtbot.waitSignal(page.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        page.run_button.click()
        assert page.stop_button.isEnabled() and not page.run_button.isEnabled()
        # Text appears while the models are still answering, not only at the end.
        qtbot.waitUntil(lambda: any(c.state == "answering" and c.text.toPlainText() for c in page.columns),
                        timeout=RUN_TIMEOUT_MS)
    run_id, status = finished.args
    assert status == "complete"
    assert ctx.store.run(run_id)["kind"] == "compare"
    rows = {row["model_key"]: row for row in ctx.store.results(run_id)}
    assert len(rows) == 2 and len(page.columns) == 2
    for column in page.columns:
        row = rows[column.model_key]
        assert row["error"] is None
        assert column.title.text() == column.model_key
        assert column.text.toPlainText() == row["text"] and row["text"]
        assert column.state == "done"
        metrics = column.metrics.text()
        assert f"{row['completion_tokens']} tokens" in metrics
        assert "tok/s" in metrics and "first token" in metrics and "$" in metrics
    request = ctx.store.results(run_id)[0]["request_json"]
    assert "You are a concise assistant." in request
    assert changed and changed[-1] == run_id
    assert page.run_button.isEnabled() and not page.stop_button.isEnabled()
    assert run_id in page.run_status.text()

    opened: list[tuple[str, str]] = []
    ctx.open_run.connect(lambda *args: opened.append(args))
    page.open_button.click()
    assert opened == [(run_id, "")]

    QApplication.processEvents()  # let the layouts settle before the picture
    assert page.grab().save(str(shots / "compare.png"))


def test_escape_stops_every_model_at_once(qtbot, page, ctx, pooled):
    page.max_tokens.setValue(400)
    page.prompt_edit.setPlainText(LONG_PROMPT)  # no model can finish before Esc
    activate(qtbot, page)
    with qtbot.waitSignal(page.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        page.run_button.click()
        qtbot.waitUntil(lambda: any(c.tokens >= 3 for c in page.columns), timeout=RUN_TIMEOUT_MS)
        pressed = time.perf_counter()
        qtbot.keyClick(page, Qt.Key.Key_Escape)
        assert all(c.state == "stopped" for c in page.columns)  # at once, before the workers wind down
    assert time.perf_counter() - pressed < 5
    run_id, status = finished.args
    assert status == "stopped"
    assert ctx.store.run(run_id)["status"] == "interrupted"
    assert ctx.store.results(run_id) == []  # a stopped answer is not stored
    assert any(c.text.toPlainText() for c in page.columns)  # what was written stays on screen
    assert all("not stored" in c.metrics.text() or "before the answer" in c.metrics.text() for c in page.columns)
    assert page.run_button.isEnabled()


def test_an_answer_can_be_marked_good_or_bad(qtbot, page, ctx, demo_model, pooled):
    page.picker.set_selected([demo_model])
    page.max_tokens.setValue(8)
    run_id, _ = run_to_end(qtbot, page)
    column = page.columns[0]
    result_id = column.row["id"]

    def label() -> int | None:
        return next(r["human_label"] for r in ctx.store.results(run_id) if r["id"] == result_id)

    def stored() -> None:  # verdicts are stored off the UI thread
        qtbot.waitUntil(lambda: not page.verdicts_pending(), timeout=10_000)

    assert label() is None
    column.good.click()
    stored()
    assert label() == 1 and column.good.isChecked()
    column.bad.click()
    stored()
    assert label() == -1 and column.bad.isChecked() and not column.good.isChecked()
    column.bad.click()
    stored()
    assert label() is None and not column.bad.isChecked()


def test_a_crashed_model_shows_an_error_while_the_other_answers(qtbot, page, ctx):
    page.max_tokens.setValue(48)
    page.prompt_edit.setPlainText(LONG_PROMPT)  # the killed model cannot have finished already
    with qtbot.waitSignal(page.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        page.run_button.click()
        qtbot.waitUntil(lambda: len(page.columns) == 2 and all(c.tokens >= 1 for c in page.columns),
                        timeout=RUN_TIMEOUT_MS)
        workers = [psutil.Process(p.pid) for p in ctx.pool.loaded()]  # this comparison's own workers
        assert len(workers) == 2
        workers[0].kill()
    run_id, status = finished.args
    # Both answers are stored, one of them an error row: a crash may not happen again, so the run is
    # incomplete (a retry may pass), and the status line says so.
    assert status == "incomplete"
    assert "incomplete" in page.run_status.text() and "Run it again to retry." in page.run_status.text()
    rows = {row["model_key"]: row for row in ctx.store.results(run_id)}
    crashed = [c for c in page.columns if c.state == "error"]
    answered = [c for c in page.columns if c.state == "done"]
    assert len(crashed) == 1 and len(answered) == 1
    error = rows[crashed[0].model_key]["error"]
    assert "crashed" in error
    assert crashed[0].error.isVisible() and crashed[0].error.text() == error
    assert answered[0].text.toPlainText() == rows[answered[0].model_key]["text"] != ""
    assert not answered[0].error.isVisible()


def test_ctrl_enter_runs_the_prompt(qtbot, page, demo_model, pooled):
    page.picker.set_selected([demo_model])
    page.max_tokens.setValue(4)
    activate(qtbot, page)
    page.prompt_edit.setFocus()
    with qtbot.waitSignal(page.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.keyClick(page.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert finished.args[1] == "complete"
    assert page.prompt_edit.toPlainText() == "Name three colours of the rainbow."  # no newline typed


def test_a_placeholder_without_a_value_is_an_inline_error(qtbot, page, ctx):
    page.prompt_edit.setPlainText("Translate {text} into {language}. Keep {{braces}} and {\"json\": 1}.")
    assert list(page.variable_fields) == ["text", "language"]
    page.variable_fields["language"].setText("French")
    page.run_button.click()
    assert page.inline_error.isVisible()
    assert "{text}" in page.inline_error.text() and "{language}" not in page.inline_error.text()
    assert not page.is_running() and not page.columns
    assert not error_dialogs(page)
    assert ctx.store.runs() == []
    page.variable_fields["text"].setText("good morning")
    assert not page.inline_error.isVisible()
    values = page.values()
    assert fill(page.prompt_edit.toPlainText(), values) == \
        'Translate good morning into French. Keep {braces} and {"json": 1}.'


def test_placeholders_are_found_once_in_order():
    assert placeholders("{b} and {a}", "{ b } {{c}} {1x}") == ["b", "a"]


def test_placeholders_follow_the_suite_loaders_rule(tmp_path):
    """Compare and the suite loader read `{name}` the same way: what one fills, the other fills too."""
    suite = tmp_path / "vars.jsonl"
    prompt = 'Say {greeting} to { name } in {{json}} like {"a": 1} or {1x}'
    suite.write_text(json.dumps({"id": "v", "prompt": prompt, "vars": {"greeting": "hi", "name": "Ann"}}) + "\n",
                     encoding="utf-8")
    assert placeholders(prompt) == ["greeting", "name"]
    assert fill(prompt, {"greeting": "hi", "name": "Ann"}) == load_suite(suite).cases[0].prompt


def test_a_model_that_will_not_fit_is_explained_in_a_dialog(qtbot, page, ctx):
    ctx.settings.context_size = 50_000_000  # a KV cache far beyond this machine's memory
    with qtbot.waitSignal(page.run_finished, timeout=30_000) as finished:
        page.run_button.click()
    assert finished.args == ["", "failed"]
    dialogs = error_dialogs(page)
    assert len(dialogs) == 1 and "does not fit" in dialogs[0].text()
    assert not page.columns and page.run_button.isEnabled()
    assert ctx.store.runs() == []


def test_prompt_and_models_are_remembered(qtbot, ctx, page, demo_variant, tmp_path):
    state = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    page.picker.set_selected([demo_variant])
    page.system_edit.setPlainText("Be brief.")
    page.prompt_edit.setPlainText("Describe {animal}.")
    page.variable_fields["animal"].setText("an otter")
    page.save_state(state)

    again = ComparePage(ctx)
    qtbot.addWidget(again)
    again.restore_state(state)  # before the library scan ends: the ticks wait for it
    assert again.prompt_edit.toPlainText() == "Describe {animal}."
    assert again.system_edit.toPlainText() == "Be brief."
    assert again.variable_fields["animal"].text() == "an otter"
    qtbot.waitUntil(lambda: again.picker.selected_paths() != [], timeout=30_000)
    assert [Path(p).resolve() for p in again.picker.selected_paths()] == [demo_variant.resolve()]
    again.shutdown()


def test_asking_again_reuses_the_stored_answer(qtbot, page, ctx, demo_model, pooled):
    page.picker.set_selected([demo_model])
    page.max_tokens.setValue(4)
    first_run, _ = run_to_end(qtbot, page)
    first_text = page.columns[0].text.toPlainText()
    second_run, status = run_to_end(qtbot, page)
    assert second_run != first_run and status == "complete"
    assert page.columns[0].state == "reused"
    assert page.columns[0].text.toPlainText() == first_text == ctx.store.results(second_run)[0]["text"]


def test_the_screen_lives_in_the_main_window_and_remembers_its_prompt(qtbot, ctx, window):
    from desktop_app.ui.main_window import MainWindow

    compare = window.show_page("Compare")
    assert isinstance(compare, ComparePage)
    compare.prompt_edit.setPlainText("What is {x}?")
    compare.variable_fields["x"].setText("2 + 2")
    window.save_state()

    again = MainWindow(ctx)
    qtbot.addWidget(again)
    restored = again.show_page("Compare")
    assert restored.prompt_edit.toPlainText() == "What is {x}?"
    assert restored.variable_fields["x"].text() == "2 + 2"
    restored.shutdown()
