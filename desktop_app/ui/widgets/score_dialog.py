"""Score a stored run again: a judge model, a reference model, a rubric, pairwise verdicts; progress and cancel.

The answers are never regenerated (RunScorer only grades them); judging runs on a worker thread.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop_app.providers.api import parse_model_ref
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_exception
from desktop_app.ui.formatting import format_usd
from desktop_app.ui.library import LibraryEntry, scan_library
from desktop_app.ui.runs import score_events
from desktop_app.ui.widgets.model_picker import api_label
from desktop_app.ui.workers import GeneratorWorker, run_in_background

NO_JUDGE = ""  # the judge combo's data for "no judge"


class ScoreDialog(QDialog):
    """Choose how to score run `run_id`; Score runs it in the background, Stop cancels, and `scored` says when
    the run's grades were rewritten (the page then reloads it)."""

    scored = Signal(str)  # the run id, its grades rewritten
    finished_scoring = Signal(object)  # the ScoringFinished event, or None when stopped or failed

    def __init__(self, ctx: AppContext, run_id: str, model_keys: list[str], current: Any = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.run_id, self.model_keys = ctx, run_id, model_keys
        self.current = current  # the run's scoring options so far (runner.scoring.ScoringOptions), if any
        self.worker: GeneratorWorker | None = None
        self._cancel = threading.Event()
        self.result: Any = None
        self.setObjectName("scoreDialog")
        self.setWindowTitle("Score this run")
        self.setMinimumWidth(560)

        intro = QLabel("Grade the answers of this run again, without asking the models again: a judge model rates "
                       "each answer from 1 to 10, a reference model's answers stand in where a case has no "
                       "expected answer, and pairwise verdicts compare each model with the best one. What the "
                       "judge costs is kept apart from what the answers cost.")
        intro.setWordWrap(True)
        intro.setObjectName("hint")

        self.judge_combo = QComboBox()
        self.judge_combo.setObjectName("judgeModel")
        self.judge_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.judge_combo.setMinimumContentsLength(24)
        self.judge_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.judge_combo.setToolTip("The model that grades the answers: one of your local models, or an API model "
                                    "(add one under Settings > API models)")
        self.reference_combo = QComboBox()
        self.reference_combo.setObjectName("referenceModel")
        self.reference_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.reference_combo.setMinimumContentsLength(24)
        self.reference_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.reference_combo.setToolTip("A model of this run whose answers are the reference where a case has no "
                                        "expected answer (for similarity checks and the judge)")
        self.reference_combo.addItem("None: only the cases' own expected answers", "")
        for key in model_keys:
            self.reference_combo.addItem(key, key)
        self.rubric_edit = QPlainTextEdit()
        self.rubric_edit.setObjectName("rubric")
        self.rubric_edit.setPlaceholderText("What a good answer does, for the judge (optional; a case's own rubric "
                                            "comes first)")
        self.rubric_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 14)
        self.pairwise_box = QCheckBox("Also compare answers in pairs, each model against the best")
        self.pairwise_box.setObjectName("pairwise")
        self.pairwise_box.setToolTip("The judge sees two answers to a case and says which is better, asked twice "
                                     "with the sides swapped; it needs a judge")
        self.judge_combo.currentIndexChanged.connect(self._update)

        form = QFormLayout()
        form.addRow("&Judge model:", self.judge_combo)
        form.addRow("&Reference model:", self.reference_combo)
        form.addRow("R&ubric:", self.rubric_edit)
        form.addRow("", self.pairwise_box)

        self.progress = QProgressBar()
        self.progress.setObjectName("scoreProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.status = QLabel()
        self.status.setObjectName("scoreStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.score_button = QPushButton("Score")
        self.score_button.setObjectName("primary")
        self.score_button.setDefault(True)
        self.score_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("danger")
        self.stop_button.setToolTip("Stop judging; the verdicts so far are kept and reused next time")
        self.stop_button.clicked.connect(self.stop)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.score_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        self._fill_judges([])
        self._prefill()
        run_in_background(lambda: scan_library(ctx.settings, ctx.catalog, ctx.hardware), self._fill_judges,
                          lambda exc: None, self)
        self._update()

    # Choices ----------------------------------------------------------------------------------

    def _fill_judges(self, entries: list[LibraryEntry]) -> None:
        """Local models from the library (those that fit), then the API models of Settings, as the picker lists them."""
        wanted = self.judge_combo.currentData() if self.judge_combo.count() else self._stored_judge()
        combo = self.judge_combo
        combo.blockSignals(True)
        combo.clear()
        if not self._stored_judge():  # a judge the run already has stays its judge (choose another to change it)
            combo.addItem("No judge: the suite's checks and a reference only", NO_JUDGE)
        for entry in entries:
            if entry.info is None or (entry.fit is not None and not entry.fit.fits):
                continue
            combo.addItem(f"{entry.display_name}  ·  local", str(entry.path))
            combo.setItemData(combo.count() - 1, str(entry.path), Qt.ItemDataRole.ToolTipRole)
        for ref in self.ctx.settings.api_models:
            spec = parse_model_ref(ref)
            name = api_label(ref, self.ctx.settings.api_model_names)
            combo.addItem(f"{name}  ·  {spec.provider if spec else 'API'}", ref)
            combo.setItemData(combo.count() - 1, ref, Qt.ItemDataRole.ToolTipRole)
        if wanted and combo.findData(wanted) < 0:  # the run's judge, even when no longer in the library
            shown = api_label(wanted, self.ctx.settings.api_model_names) if parse_model_ref(wanted) else wanted
            combo.addItem(f"{shown}  ·  this run's judge", wanted)
        combo.setCurrentIndex(max(0, combo.findData(wanted)) if wanted else 0)
        combo.blockSignals(False)
        self._update()

    def _stored_judge(self) -> str:
        return (getattr(self.current, "judge", None) or "") if self.current is not None else ""

    def _prefill(self) -> None:
        current = self.current
        if current is None:
            return
        if current.reference:
            index = self.reference_combo.findData(current.reference)
            if index < 0:
                index = self.reference_combo.findText(current.reference)
            if index >= 0:
                self.reference_combo.setCurrentIndex(index)
        self.rubric_edit.setPlainText(current.rubric or "")
        self.pairwise_box.setChecked(bool(current.pairwise))

    def select_judge(self, ref: str) -> bool:
        index = self.judge_combo.findData(ref)
        if index >= 0:
            self.judge_combo.setCurrentIndex(index)
        return index >= 0

    def options(self) -> Any:
        from desktop_app.runner.scoring import ScoringOptions

        judge = self.judge_combo.currentData() or None
        return ScoringOptions(judge=judge, reference=self.reference_combo.currentData() or None,
                              rubric=self.rubric_edit.toPlainText().strip() or None,
                              pairwise=bool(judge) and self.pairwise_box.isChecked())

    def _update(self) -> None:
        running = self.is_running()
        has_judge = bool(self.judge_combo.currentData())
        self.pairwise_box.setEnabled(has_judge and not running)
        for widget in (self.judge_combo, self.reference_combo, self.rubric_edit):
            widget.setEnabled(not running)
        self.score_button.setEnabled(not running)
        self.stop_button.setEnabled(running and not self._cancel.is_set())
        self.stop_button.setVisible(running)
        self.close_button.setEnabled(not running)

    # Scoring ----------------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.worker is not None

    def start(self) -> None:
        if self.is_running():
            return
        options = self.options()
        self._cancel = threading.Event()
        cancel, ctx, run_id = self._cancel, self.ctx, self.run_id
        database, settings = ctx.database_path(), ctx.settings
        self.result = None
        self.progress.setRange(0, 0)  # busy until the judge is loaded and the work counted
        self.progress.setTextVisible(False)
        self.status.setText("Loading the judge…" if options.judge else "Grading the answers…")
        self.worker = GeneratorWorker(lambda: score_events(database, settings, ctx, ctx.catalog, run_id, options,
                                                           cancel), self)
        self.worker.yielded.connect(self._on_event)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()
        self._update()

    def stop(self) -> None:
        if self.is_running() and not self._cancel.is_set():
            self._cancel.set()
            self.status.setText("Stopping…")
            self._update()

    def _on_event(self, event: Any) -> None:
        from desktop_app.runner.scoring import (
            JudgingStarted,
            JudgmentMade,
            ScoringFinished,
        )

        if isinstance(event, JudgingStarted):
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(0)
            self.progress.setFormat("%v / %m")
            self.progress.setTextVisible(True)
            self.status.setText(f"Judging with {event.judge}: 0 of {event.total}")
        elif isinstance(event, JudgmentMade):
            self.progress.setValue(event.done)
            kind = "pairs" if event.kind == "pair" else "answers"
            self.status.setText(f"Judging {kind}: {event.done} of {event.total}")
        elif isinstance(event, ScoringFinished):
            self.result = event
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.progress.setTextVisible(False)
            self.status.setText(finished_text(event))

    def _on_failed(self, exc: BaseException) -> None:
        self.status.setText("Scoring stopped: see the message.")
        show_exception(self, "Cannot score this run", exc)

    def _on_finished(self) -> None:
        self.worker = None
        if self.result is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setTextVisible(False)
            if self._cancel.is_set():
                self.status.setText("Stopped. The verdicts made so far are kept, and reused when you score again.")
        self._update()
        self.score_button.setText("Score again")
        if self.result is not None:
            self.scored.emit(self.run_id)
        self.finished_scoring.emit(self.result)

    def reject(self) -> None:
        if self.is_running():  # Esc or the window's close: stop first, the dialog closes when judging ends
            self.stop()
            self.worker.finished.connect(super().reject)
            return
        super().reject()

    def shutdown(self) -> None:
        if self.worker is not None:
            self._cancel.set()
            self.worker.wait(30)


def finished_text(event: Any) -> str:
    """What a scoring pass did, in one line."""
    parts = [f"{event.graded} answer{'s' if event.graded != 1 else ''} graded"]
    if event.judged or event.reused:
        parts.append(f"{event.judged} judged now, {event.reused} reused")
    if event.errors:
        parts.append(f"{event.errors} verdict{'s' if event.errors != 1 else ''} unusable (not scored)")
    text = "Done: " + ", ".join(parts) + "."
    if event.judged or event.reused or event.judge_cost_usd:
        text += f" The judge has cost {format_usd(event.judge_cost_usd)} on this run, apart from the answers."
    return text
