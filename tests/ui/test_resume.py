"""A suite run left "running" by a crash is offered for Resume in the window and finishes through the runner."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from desktop_app.providers.base import Sampling
from desktop_app.runner.events import CaseFinished
from desktop_app.runner.runner import Runner
from desktop_app.storage.store import Store
from desktop_app.suites import load_suite
from desktop_app.ui.main_window import MainWindow

RUN_TIMEOUT_MS = 180_000


def crashed_run(ctx, suite: Path, model: Path) -> str:
    """One answer of three stored, then the process "dies": the run is never marked stopped."""
    store = Store(ctx.database_path())
    try:
        runner = Runner(store, ctx.settings, ctx.catalog, ctx.hardware)
        # One case at a time, so the stop comes after exactly one answer.
        run_id = runner.create_run(load_suite(suite), [runner.spec_for(model)], Sampling(max_tokens=24), parallel=1)
        cancel = threading.Event()
        for event in runner.execute(run_id, cancel):  # stopped mid-way, as the core's resume tests do
            if isinstance(event, CaseFinished) and event.done == 1:
                cancel.set()
        store.set_run_status(run_id, "running")  # what a killed process leaves behind
    finally:
        store.close()
    return run_id


def stored(ctx, run_id: str) -> tuple[str, list[dict]]:
    store = Store(ctx.database_path())
    try:
        return store.run(run_id)["status"], store.results(run_id)
    finally:
        store.close()


def test_a_run_left_running_by_a_crash_is_offered_for_resume_and_finishes(qtbot, ctx, small_suite, smol_tiny,
                                                                        monkeypatch):
    run_id = crashed_run(ctx, small_suite, smol_tiny)
    status, rows = stored(ctx, run_id)
    assert status == "running" and len(rows) == 1

    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    try:
        # The Suites screen lists it with this suite's stopped runs.
        suites = window.show_page("Suites")
        qtbot.waitUntil(lambda: bool(suites.picker.entries) and suites.suite_path is not None, timeout=30_000)
        suites.open_suite(small_suite)
        qtbot.waitUntil(lambda: suites.suite_path == small_suite.resolve(), timeout=10_000)
        qtbot.waitUntil(lambda: suites.interrupted_combo.findData(run_id) >= 0, timeout=10_000)  # read off-thread
        index = suites.interrupted_combo.findData(run_id)
        assert index >= 0 and suites.resume_box.isVisible() and suites.resume_button.isEnabled()
        assert "left running" in suites.interrupted_combo.itemText(index)

        # Results shows the run with a Resume action.
        results = window.show_page("Results")
        qtbot.waitUntil(lambda: results.run_data is not None and results.run_data.run_id == run_id, timeout=10_000)
        banner = results.resume_banner
        assert banner.isVisible() and banner.action.isVisible() and banner.action.text() == "Resume"
        assert "1 of 3 answers are stored" in banner.message()

        # Still marked running, so it may be running elsewhere: the person is asked first.
        asked = []
        monkeypatch.setattr(QMessageBox, "question",
                            lambda *args, **kwargs: asked.append(args[2]) or QMessageBox.StandardButton.Yes)
        with qtbot.waitSignal(suites.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
            qtbot.mouseClick(banner.action, Qt.MouseButton.LeftButton)
            assert window.current_page_name() == "Suites"  # where its progress shows
        assert finished.args == [run_id, "complete"]
        assert len(asked) == 1 and run_id in asked[0] and "the 1 answer already stored" in asked[0]

        status, rows = stored(ctx, run_id)
        assert status == "complete" and len(rows) == 3
        assert set(Counter((r["model_key"], r["case_id"]) for r in rows).values()) == {1}
        assert suites.log.topLevelItem(0).text(0).startswith(f"Resuming run {run_id}: 1 of 3")
        qtbot.waitUntil(lambda: suites.interrupted_combo.findData(run_id) == -1, timeout=10_000)
        assert not suites.resume_box.isVisible()

        window.show_page("Results")
        qtbot.waitUntil(lambda: results.run_data.run["status"] == "complete", timeout=10_000)
        assert not banner.isVisible()
    finally:
        window.close()


def test_cancelling_the_question_leaves_the_run_as_it_was(qtbot, ctx, small_suite, smol_tiny, monkeypatch):
    run_id = crashed_run(ctx, small_suite, smol_tiny)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    try:
        monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Cancel)
        suites = window.page("Suites")
        assert suites.resume(run_id) is False
        assert not suites.is_running() and stored(ctx, run_id)[0] == "running"
    finally:
        window.close()
