"""Export report… on the Results screen: the stored demo run written as a report off the UI thread, and a path
that cannot be written said in plain words."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop_app.ui.pages.results import ResultsPage
from tests.ui.conftest import install_run


def shown_run(qtbot, ctx, demo_run_db, open_page) -> tuple[ResultsPage, str]:
    run_id = install_run(demo_run_db, ctx)
    page = open_page(ResultsPage, ctx)
    qtbot.waitUntil(lambda: page.run_data is not None and page.run_data.run_id == run_id, timeout=15_000)
    return page, run_id


def choose(monkeypatch, path: Path, chosen_filter: str) -> None:
    """The save dialog answers `path` under `chosen_filter`, as a person picking them would."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *_, **__: (str(path), chosen_filter)))


def test_export_report_writes_the_chosen_file_off_the_ui_thread(qtbot, ctx, demo_run_db, open_page, monkeypatch,
                                                                 tmp_path: Path) -> None:
    page, run_id = shown_run(qtbot, ctx, demo_run_db, open_page)
    assert page.report_button.isVisible() and page.report_status.isHidden()
    target = tmp_path / "report.html"
    choose(monkeypatch, target, "HTML report (*.html *.htm)")
    qtbot.mouseClick(page.report_button, Qt.MouseButton.LeftButton)
    # Handed to a worker: the page says it is writing, and the news of the file comes back through the event loop.
    assert page.report_status.text() == f"Writing the report of run {run_id}…" and not target.exists()
    qtbot.waitUntil(lambda: page.report_status.text().startswith("Report saved"), timeout=30_000)
    assert page.report_status.text() == f"Report saved: {target}" and page.report_status.isVisible()
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and f"run {run_id}" in text and "<script" not in text

    # No suffix typed: the format is the filter's, and the file gets its suffix.
    choose(monkeypatch, tmp_path / "figures", "JSON document (*.json)")
    qtbot.mouseClick(page.report_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.report_status.text().endswith("figures.json"), timeout=30_000)
    report = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    assert report["run"]["run_id"] == run_id
    assert [m["model"] for m in report["models"]] == list(page.run_data.model_keys)


def test_a_report_that_cannot_be_written_says_why(qtbot, ctx, demo_run_db, open_page, monkeypatch,
                                                  tmp_path: Path) -> None:
    page, run_id = shown_run(qtbot, ctx, demo_run_db, open_page)
    target = tmp_path / "gone" / "report.html"
    choose(monkeypatch, target, "HTML report (*.html *.htm)")
    qtbot.mouseClick(page.report_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.findChild(QMessageBox, "errorDialog") is not None, timeout=30_000)
    dialog = page.findChild(QMessageBox, "errorDialog")
    assert dialog.windowTitle() == "Cannot export the report"
    assert f"the folder {target.parent} does not exist" in dialog.text() and "Traceback" not in dialog.text()
    assert page.report_status.text() == f"The report of run {run_id} was not saved"
    assert not target.parent.exists()
    dialog.close()
