"""The Suites screen's run panel: models to run on, progress with ETA, the live answer, finished cases, and
the unfinished runs Resume can complete. It shows a run; the screen starts and stops it."""

from __future__ import annotations

import datetime as dt
import html
import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QTextCursor
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QProgressBar,
                               QPushButton, QSizePolicy, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from desktop_app.runner import events as ev
from desktop_app.ui.context import AppContext
from desktop_app.ui.formatting import format_usd
from desktop_app.ui.runs import UnfinishedRun
from desktop_app.ui.widgets.model_picker import ModelPicker

LIVE_PLACEHOLDER = "The answer being written appears here"
OUTCOME_COLORS = {"pass": "#2e7d32", "fail": "#c62828", "error": "#e07b00", "answered": "#5b6270",
                  "note": "#5b6270"}


def outcome(row: dict[str, Any]) -> str:
    if row.get("error"):
        return "error"
    if row.get("grade_passed") is None:
        return "answered"
    return "pass" if row["grade_passed"] else "fail"


def _dot(color: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(color))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


def clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def section_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600; color: #333a45;")
    return label


def answer_speed(row: dict) -> tuple[float | None, str]:
    """The speed a finished case shows, and a sentence when it needs one. An answer decoded with others at
    once shows the batch's speed (what the machine does with the model, as Results shows it): its own
    stream is a fraction of it, and would read as a slow model."""
    own = row.get("generation_tokens_per_second")
    batch = row.get("batch_tokens_per_second")
    parallel = row.get("parallel") or 1
    if parallel > 1 and batch:
        stream = f"; this answer's own stream {own:.0f} tok/s" if own else ""
        return batch, (f"Decoded with up to {parallel - 1} other cases at once: together they wrote "
                       f"{batch:.0f} tok/s{stream}.")
    return own, ""


def unfinished_label(run: UnfinishedRun) -> str:
    try:
        when = dt.datetime.fromisoformat(run.created_at).astimezone().strftime("%b %d, %H:%M")
    except (TypeError, ValueError):
        when = run.created_at
    label = f"{when} · {run.models} model{'s' if run.models != 1 else ''} · {run.answers} answers"
    if run.status in ("incomplete", "failed"):
        label += f" · {run.status}"
    return label + (" · left running" if run.left_running else "")


class SuiteRunPanel(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runPanel")
        self.setMinimumWidth(240)
        self._run_started_at = 0.0
        self._done_before = 0
        self._models_seen: set[str] = set()
        self._answers_total = 0  # the run's answers; the progress bar counts verdicts while a judge works
        self._judge_errors = 0
        self._judging = False  # a judge started and has not finished
        self._live: list[tuple[str, str]] = []  # (model, case) being answered now, in the order they started
        self._following: tuple[str, str] | None = None  # the one whose answer streams into the live view

        self.picker = ModelPicker(ctx)
        self.picker.setObjectName("suiteModelPicker")
        self.picker.list.setMaximumHeight(self.fontMetrics().lineSpacing() * 5 + 12)
        self.picker.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.picker.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.picker.setToolTip("Tick the models to run the suite on")

        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("primary")
        self.run_button.setToolTip("Run every case on every ticked model (Ctrl+Enter)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("danger")
        self.cancel_button.setToolTip("Stop the run now (Esc); the answers so far are kept and Resume finishes it")
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.cancel_button)

        self.progress = QProgressBar()
        self.progress.setObjectName("runProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m")
        self.progress.setTextVisible(False)  # no "0 / 1" before anything runs
        self.progress_label = QLabel("Not running")
        self.progress_label.setObjectName("hint")
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)
        self.current_label = QLabel()
        self.current_label.setObjectName("currentCase")
        self.current_label.setTextFormat(Qt.TextFormat.PlainText)
        self.current_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.live_answer = QPlainTextEdit()
        self.live_answer.setObjectName("liveAnswer")
        self.live_answer.setReadOnly(True)
        self.live_answer.setPlaceholderText(LIVE_PLACEHOLDER)
        self.live_answer.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 14)
        self.live_answer.setToolTip("The current answer as the model writes it")

        self.log = QTreeWidget()
        self.log.setObjectName("runLog")
        self.log.setHeaderLabels(["Case", "Result", "Model", "Speed"])
        self.log.setRootIsDecorated(False)
        self.log.setUniformRowHeights(True)
        self.log.setAlternatingRowColors(True)
        self.log.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.log.setToolTip("Finished cases: double-click one to see its answers in Results")
        log_header = self.log.header()
        log_header.setStretchLastSection(False)
        log_header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        log_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.log.setColumnWidth(2, 110)
        self.log.setColumnWidth(1, 72)
        self.log.setColumnWidth(3, 62)

        self.open_results_button = QPushButton("Open results")
        self.open_results_button.setObjectName("primary")
        self.open_results_button.setToolTip("See every answer of this run, graded, in Results")
        self.tradeoff_button = QPushButton("Show tradeoff")
        self.tradeoff_button.setToolTip("Plot quality against cost for the models of this run")
        self.done_row = QWidget()
        done_layout = QHBoxLayout(self.done_row)
        done_layout.setContentsMargins(0, 0, 0, 0)
        done_layout.addWidget(self.open_results_button, 1)
        done_layout.addWidget(self.tradeoff_button, 1)
        self.done_row.hide()

        self.interrupted_combo = QComboBox()
        self.interrupted_combo.setObjectName("interruptedRuns")
        self.interrupted_combo.setToolTip("Runs of this suite that stopped before the end, or have failed "
                                          "answers a retry may fix")
        self.interrupted_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.interrupted_combo.setMinimumContentsLength(12)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Finish the chosen stopped run: only the missing answers are made")
        resume_row = QHBoxLayout()
        resume_row.addWidget(self.interrupted_combo, 1)
        resume_row.addWidget(self.resume_button)
        self.resume_box = QWidget()
        resume_layout = QVBoxLayout(self.resume_box)
        resume_layout.setContentsMargins(0, 4, 0, 0)
        resume_layout.addWidget(section_label("Stopped runs of this suite"))
        resume_layout.addLayout(resume_row)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(section_label("Run on models"))
        layout.addWidget(self.picker)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.current_label)
        layout.addWidget(self.live_answer)
        layout.addWidget(section_label("Finished cases"))
        layout.addWidget(self.log, 1)
        layout.addWidget(self.done_row)
        layout.addWidget(self.resume_box)

    # A run as it goes -------------------------------------------------------------------

    def begin(self) -> None:
        """A run is starting: clear the last one's traces; busy until the plan is known."""
        self.log.clear()
        self._models_seen = set()
        self.log.setColumnHidden(2, True)
        self.live_answer.clear()
        self.live_answer.setPlaceholderText(LIVE_PLACEHOLDER)
        self._answers_total, self._judging = 0, False
        self.done_row.hide()
        self.progress.setRange(0, 0)
        self.progress_label.setText("Checking the models…")
        self.current_label.setText("")

    def show_event(self, event: Any) -> None:
        from desktop_app.runner import scoring  # loaded with the runner, on the first event

        if isinstance(event, (scoring.JudgingStarted, scoring.JudgmentMade, scoring.ScoringFinished)):
            self._scoring_event(event)
        elif isinstance(event, ev.RunStarted):
            self._live, self._following = [], None
            self._run_started_at = time.perf_counter()
            self._answers_total = event.total
            self._done_before = event.done
            self.progress.setRange(0, max(event.total, 1))
            self.progress.setTextVisible(True)
            self.progress.setValue(event.done)
            self.progress_label.setText(f"{event.done} of {event.total} answers")
            if event.done:
                self.note("note", f"Resuming run {event.run_id}: {event.done} of {event.total} answers already stored")
        elif isinstance(event, ev.ModelLoading):
            self.current_label.setText(f"Loading {event.model_key}…")
        elif isinstance(event, ev.ModelLoaded):
            self.current_label.setText(f"Loaded {event.model_key} in {event.load_ms / 1000:.1f} s")
        elif isinstance(event, ev.ModelFailed):
            self.note("error", f"{event.model_key} could not be loaded: {event.error}")
        elif isinstance(event, ev.CaseStarted):
            # A model decodes several cases at once: the panel follows one of them at a time.
            self._live.append((event.model_key, event.case_id))
            if self._following is None:
                self._follow(self._live[0])
        elif isinstance(event, ev.TokenStreamed):
            if (event.model_key, event.case_id) != self._following:
                return
            cursor = self.live_answer.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(event.text)
            self.live_answer.setTextCursor(cursor)
        elif isinstance(event, ev.CaseFinished):
            self._case_done(event)
        elif isinstance(event, ev.BudgetReached):
            self.note("error", f"{event.model_key}: the cost cap stops it here ({format_usd(event.spent_usd)} of "
                               f"{format_usd(event.cap_usd)} spent; the next answer could cost up to "
                               f"{format_usd(event.next_request_usd)})")
        elif isinstance(event, ev.PriceNeeded):
            self.note("error", f"{event.model_key}: no price is known, so the cost cap cannot bound it; it is "
                               f"stopped before its first request")
        elif isinstance(event, ev.RunFinished):
            if self._judging:  # stopped while the judge worked: its verdicts so far are stored
                self._judging = False
                self.note("note", "Judging was stopped: the verdicts made so far are kept; Score… on the Results "
                                  "screen finishes it")
            if event.reason and event.reason != "cancelled":
                self.note("error" if event.status == "failed" else "note",
                          f"Run {event.run_id} {event.status}: {event.reason}")

    def _scoring_event(self, event: Any) -> None:
        """The answers are in and the suite's judge grades them: its progress, then what it did."""
        from desktop_app.runner import scoring

        if isinstance(event, scoring.JudgingStarted):
            self._judge_errors, self._judging = 0, True
            self.progress.setRange(0, max(event.total, 1))
            self.progress.setValue(0)
            self.progress.setTextVisible(True)
            self.progress_label.setText(f"Judging 0/{event.total}")
            self.current_label.setText(f"The judge {event.judge} grades the answers")
            self.current_label.setToolTip(f"Judge: {event.judge}")
            self.live_answer.clear()
            self.live_answer.setPlaceholderText("The judge's verdicts and reasons show in Results when the run is done")
        elif isinstance(event, scoring.JudgmentMade):
            self.progress.setRange(0, max(event.total, 1))
            self.progress.setValue(event.done)
            what = "pairs" if event.kind == "pair" else "answers"
            self.progress_label.setText(f"Judging {event.done}/{event.total} · {what}")
            if event.error:
                self._judge_errors += 1
                if self._judge_errors <= 3:  # the first few in full; the count comes at the end
                    self.note("error", f"The judge could not grade {event.case_id} on {event.model_key}: "
                                       f"{event.error}")
        else:
            self._judging = False
            made = f"{event.judged} verdict{'s' if event.judged != 1 else ''} made"
            if event.reused:
                made += f", {event.reused} reused"
            if event.errors:
                made += f", {event.errors} unusable (those answers are not scored)"
            self.note("note", f"Judged: {made}; the judge cost {format_usd(event.judge_cost_usd)}, apart from "
                              f"the answers")

    def _follow(self, cell: tuple[str, str]) -> None:
        """Stream `cell`'s answer (model, case) into the live view."""
        self._following = cell
        model_key, case_id = cell
        others = len(self._live) - 1
        together = f"  ·  {others} more at once" if others > 0 else ""
        self.current_label.setText(f"Now: {case_id}  ·  {model_key}{together}")
        self.current_label.setToolTip(f"Case {case_id} on {model_key}"
                                      + (f"; {others} other cases are decoded with it" if others > 0 else ""))
        self.live_answer.clear()

    def _case_done(self, event: ev.CaseFinished) -> None:
        cell = (event.model_key, event.case_id)
        if cell in self._live:
            self._live.remove(cell)
        if cell == self._following:
            self._following = None
            if self._live:
                self._follow(self._live[0])
        self.progress.setValue(event.done)
        fresh = event.done - self._done_before
        elapsed = time.perf_counter() - self._run_started_at
        left = event.total - event.done
        eta = f" · about {clock(elapsed / fresh * left)} left" if fresh and left else ""
        self.progress_label.setText(f"{event.done} of {event.total} answers · {clock(elapsed)} so far{eta}")
        row = event.row
        result = outcome(row)
        speed, speed_note = answer_speed(row)
        item = QTreeWidgetItem([event.case_id, result, event.model_key,
                                "reused" if event.reused else f"{speed:.0f} tok/s" if speed else ""])
        item.setIcon(1, _dot(OUTCOME_COLORS[result]))
        item.setData(0, Qt.ItemDataRole.UserRole, (event.model_key, event.case_id))
        why = row.get("error") or row.get("grade_reason") or ""
        answer = (row.get("text") or "").strip()
        tooltip = (f"<p style='white-space:pre-wrap'><b>{html.escape(event.case_id)}</b> on "
                   f"{html.escape(event.model_key)}: {html.escape(why)}"
                   + (f"<br><br>{html.escape(speed_note)}" if speed_note and not event.reused else "")
                   + (f"<br><br><i>Answer:</i> {html.escape(answer[:400])}" if answer else "") + "</p>")
        for column in range(self.log.columnCount()):
            item.setToolTip(column, tooltip)
        self._add_log_item(item)
        self._models_seen.add(event.model_key)
        self.log.setColumnHidden(2, len(self._models_seen) < 2)  # one model: its name says nothing

    def note(self, kind: str, text: str) -> None:
        """A line across the whole log: a resumed run, a model that failed to load."""
        item = QTreeWidgetItem([text])
        item.setIcon(0, _dot(OUTCOME_COLORS[kind]))
        item.setToolTip(0, html.escape(text))
        item.setForeground(0, QColor(OUTCOME_COLORS[kind] if kind == "error" else "#5b6270"))
        self._add_log_item(item)
        item.setFirstColumnSpanned(True)

    def _add_log_item(self, item: QTreeWidgetItem) -> None:
        self.log.addTopLevelItem(item)
        self.log.scrollToBottom()

    def finish(self, run_id: str, status: str, reason: str | None = None, retryable: bool = False) -> None:
        """The worker ended: say how (and why, when not simply complete), and offer what comes next;
        `retryable`: some failed answers may pass when the run is resumed."""
        self.progress.setRange(0, max(self.progress.maximum(), 1))
        self.live_answer.setPlainText(self.live_answer.toPlainText())  # drop the cursor at the end
        for label in (self.progress_label, self.current_label):
            label.setToolTip(reason or "")  # in full: the screen's banner and the log say it too
        if status in ("incomplete", "failed") and run_id:
            self.progress.setValue(self.progress.maximum())
            self.progress_label.setText(f"Run {run_id} is {status}")
            self.current_label.setText("Resume retries the answers that may pass" if retryable
                                       else "Trying again will not help: fix the cause, then run it again")
            self.done_row.setVisible(status == "incomplete")  # some answers are there to read
        elif status == "complete":
            elapsed = time.perf_counter() - self._run_started_at
            stored = self._answers_total or self.progress.maximum()
            self.progress.setRange(0, max(stored, 1))
            self.progress.setValue(stored)
            self.progress_label.setText(f"Done: {stored} answers in {clock(elapsed)}")
            self.current_label.setText(f"Run {run_id} is complete")
            self.done_row.show()
        elif run_id:
            self.progress_label.setText(f"Stopped at {self.progress.value()} of {self.progress.maximum()} answers")
            self.current_label.setText(f"Run {run_id} was stopped; Resume finishes it")
        else:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setTextVisible(False)
            self.progress_label.setText("Not running")
            self.current_label.setText("")

    def stopping(self) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Stopping…")

    # Unfinished runs --------------------------------------------------------------------

    def set_unfinished(self, runs: list[UnfinishedRun], prefer: str | None = None) -> None:
        wanted = prefer or self.interrupted_combo.currentData()
        combo = self.interrupted_combo
        combo.blockSignals(True)
        combo.clear()
        for run in runs:
            combo.addItem(unfinished_label(run), run.id)
            tip = f"Run {run.id}"
            if run.left_running:
                tip += " was left running: the app or the command line stopped before it finished"
            elif run.status in ("incomplete", "failed"):
                tip += f" is {run.status}" + (f": {run.reason}" if run.reason else "")
            combo.setItemData(combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        if wanted and (index := combo.findData(wanted)) >= 0:
            combo.setCurrentIndex(index)
        combo.blockSignals(False)
        self.resume_box.setVisible(bool(runs))

    def update_buttons(self, running: bool, cancelling: bool, can_run: bool) -> None:
        self.run_button.setEnabled(not running and can_run)
        self.cancel_button.setEnabled(running and not cancelling)
        self.resume_button.setEnabled(not running and self.interrupted_combo.currentData() is not None)
        self.interrupted_combo.setEnabled(not running)
