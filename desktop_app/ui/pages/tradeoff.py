"""The Tradeoff screen: each model of a run as a point, its quality against its cost (or time, speed, size)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFrame, QGroupBox, QLabel, QPushButton, QScrollArea,
                               QSizePolicy, QSplitter, QStackedWidget, QVBoxLayout, QWidget)

from desktop_app.analysis.recommend import Recommendation, recommend
from desktop_app.analysis.summary import ModelSummary, RunSummary, summarize
from desktop_app.analysis.tradeoff import AXES, Axis, pareto_frontier
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_error, show_exception
from desktop_app.ui.formatting import format_usd
from desktop_app.ui.widgets.flow_layout import FlowLayout, labelled
from desktop_app.ui.widgets.projection_panel import ProjectionPanel
from desktop_app.ui.widgets.tradeoff_plot import TradeoffPlot
from desktop_app.ui.workers import GeneratorWorker, run_in_background

AXIS_CHOICES = [("cost", "cost per answer"), ("latency", "time per answer (median)"),
                ("speed", "generation speed (tokens/s)"), ("size", "model file size")]
FEW_GRADED = 20  # below this many graded answers per model the intervals are too wide to be sure

RECOMMENDATION_STYLE = ("QLabel#recommendation { background: #eef7f1; border: 1px solid #cfe6d7; border-radius: 6px;"
                        " padding: 8px 12px; font-size: 14px; color: #1f3327; }"
                        "QLabel#recommendation[tone='muted'] { background: #f5f6f8; border-color: #dcdfe6;"
                        " color: #3b4150; }")


def _summarize_with_own_store(database: Path, run_id: str, settings: Settings | None = None) -> RunSummary:
    """A run's figures, every answer priced under `settings` (the app's current ones), as the projection is."""
    store = Store(database)
    try:
        return summarize(store, run_id, settings)
    finally:
        store.close()


def _run_title(run: dict[str, Any]) -> str:
    try:
        when = dt.datetime.fromisoformat(run["created_at"]).astimezone().strftime("%d %b %Y %H:%M")
    except (TypeError, ValueError):
        when = run["created_at"] or "?"
    models = run["models"]
    text = (f"{run['suite_name'] or 'ad-hoc prompts'} · {when} · {models} model{'s' if models != 1 else ''}, "
            f"{run['results']} answers")
    return text if run["status"] == "complete" else f"{text} ({run['status']})"


class TradeoffPage(QWidget):
    updated = Signal()  # the screen shows a newly loaded or re-plotted run (or the empty state)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.summary: RunSummary | None = None
        self.recommendation: Recommendation | None = None
        self._shown: tuple[str, int] | None = None  # (run id, answers) of the loaded summary
        self._loads = 0  # a summary that arrives after a newer request was made is dropped
        self._worker: GeneratorWorker | None = None
        self._user_chose_run = False
        self._export_folder = str(Path.home())

        title = QLabel("Tradeoff")
        title.setObjectName("pageTitle")
        hint = QLabel("Quality against cost for every model of a run. Models on the green line are the best "
                      "you can get for what you pay; the ringed one is good enough for the least.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        self.run_combo = QComboBox()
        self.run_combo.setObjectName("tradeoffRun")
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_combo.setMinimumContentsLength(20)
        self.run_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.run_combo.setToolTip("The run to plot: runs with answers, newest first")
        self.run_combo.activated.connect(self._on_run_chosen)  # activated: by the user, not by refresh()
        self.axis_combo = QComboBox()
        self.axis_combo.setObjectName("tradeoffAxis")
        for key, label in AXIS_CHOICES:
            self.axis_combo.addItem(label, key)
        self.axis_combo.setToolTip("What to weigh quality against (the horizontal axis)")
        self.axis_combo.currentIndexChanged.connect(lambda _: self._render())
        self.export_button = QPushButton("Export plot…")
        self.export_button.setToolTip("Save the plot as a PNG picture or an SVG drawing (Ctrl+E)")
        self.export_button.clicked.connect(self.export_dialog)
        QShortcut(QKeySequence("Ctrl+E"), self, self.export_dialog,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        run_label = QLabel("&Run:")
        run_label.setBuddy(self.run_combo)
        axis_label = QLabel("Quality &against:")
        axis_label.setBuddy(self.axis_combo)
        controls = FlowLayout(spacing=12)  # wraps in a narrow window rather than widening it
        controls.addWidget(labelled(run_label, self.run_combo))
        controls.addWidget(labelled(axis_label, self.axis_combo))
        controls.addWidget(self.export_button)

        self.recommendation_label = QLabel()
        self.recommendation_label.setObjectName("recommendation")
        self.recommendation_label.setTextFormat(Qt.TextFormat.PlainText)  # model names come from file names
        self.recommendation_label.setWordWrap(True)
        self.recommendation_label.setStyleSheet(RECOMMENDATION_STYLE)
        self.recommendation_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The models whose figures carry a caveat (marked * on the plot), and why, under the recommendation.
        self.notes_label = QLabel()
        self.notes_label.setObjectName("measurementNotes")
        self.notes_label.setTextFormat(Qt.TextFormat.PlainText)
        self.notes_label.setWordWrap(True)
        self.notes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes_label.setStyleSheet("color: #8a5a00;")
        self.notes_label.hide()
        self.plot = TradeoffPlot()
        self.plot.model_clicked.connect(self._open_model)
        self.not_plotted_label = QLabel()
        self.not_plotted_label.setObjectName("hint")
        self.not_plotted_label.setTextFormat(Qt.TextFormat.PlainText)
        self.not_plotted_label.setWordWrap(True)
        footnote = QLabel("Hover a point for its details; click it to open that model's answers. "
                          "Drag to pan, scroll to zoom.")
        footnote.setObjectName("hint")
        footnote.setWordWrap(True)

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(10)
        plot_area = QWidget()
        plot_layout = QVBoxLayout(plot_area)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addWidget(self.plot, 1)
        plot_layout.addWidget(self.not_plotted_label)
        plot_layout.addWidget(footnote)
        self.projection = ProjectionPanel(ctx)
        projection_box = QGroupBox("At your volume: monthly cost, and when buying hardware pays off")
        projection_box.setObjectName("projectionBox")
        QVBoxLayout(projection_box).addWidget(self.projection)
        # Scrolled, so the projection never makes the window taller than a small screen allows.
        projection_scroll = QScrollArea()
        projection_scroll.setWidgetResizable(True)
        projection_scroll.setFrameShape(QFrame.Shape.NoFrame)
        projection_scroll.setWidget(projection_box)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("tradeoffSplitter")
        self.splitter.addWidget(plot_area)
        self.splitter.addWidget(projection_scroll)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([480, 260])  # until the user drags it (remembered with the window)
        self.splitter.setChildrenCollapsible(True)
        content_layout.addLayout(controls)
        content_layout.addWidget(self.recommendation_label)
        content_layout.addWidget(self.notes_label)
        content_layout.addWidget(self.splitter, 1)

        empty = QWidget()
        empty_layout = QVBoxLayout(empty)
        self.empty_label = QLabel("No results to plot yet.\n\nRun a suite on the Suites screen, or compare models "
                                  "on the Compare screen: each model then appears here as a point, its quality "
                                  "against its cost.")
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMaximumWidth(560)
        go_compare = QPushButton("Go to Compare")
        go_compare.setObjectName("primary")
        go_compare.clicked.connect(lambda: ctx.navigate.emit("Compare"))
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_label, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addSpacing(8)
        empty_layout.addWidget(go_compare, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(2)

        self.stack = QStackedWidget()
        self.stack.addWidget(content)
        self.stack.addWidget(empty)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 14)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(4)
        layout.addWidget(self.stack, 1)

        # Runs report new answers one by one: gather a burst into one refresh.
        self._refresh_timer = QTimer(self, singleShot=True, interval=400, timeout=self.refresh)
        ctx.runs_changed.connect(self._on_runs_changed)
        ctx.settings_changed.connect(self._on_settings_changed)  # prices, hardware: every figure re-priced

    # Which run ---------------------------------------------------------------------------

    def current_run_id(self) -> str | None:
        return self.run_combo.currentData()

    def axis(self) -> Axis:
        return AXES[self.axis_combo.currentData()]

    def set_axis(self, key: str) -> None:
        index = self.axis_combo.findData(key)
        if index >= 0:
            self.axis_combo.setCurrentIndex(index)

    def show_run(self, run_id: str) -> None:
        """Plot this run (as if the user chose it)."""
        self._user_chose_run = True
        self.refresh(prefer=run_id)

    def on_shown(self) -> None:
        self.refresh()

    def _on_runs_changed(self, _run_id: str) -> None:
        if self.isVisible():  # a hidden screen catches up in on_shown()
            self._refresh_timer.start()

    def _on_settings_changed(self) -> None:
        self._shown = None  # the same answers, priced anew
        if self.isVisible():  # a hidden screen reloads in on_shown()
            self._refresh_timer.start()

    def _on_run_chosen(self, _index: int) -> None:
        self._user_chose_run = True
        self.refresh()

    def refresh(self, prefer: str | None = None) -> None:
        """Re-read the runs (cheap) and reload the chosen run's summary if it changed."""
        try:
            runs = [r for r in self.ctx.store.runs(limit=200) if r["results"]]
        except Exception as exc:  # noqa: BLE001 - a damaged database, said in plain words
            show_exception(self, "Cannot read the stored runs", exc)
            return
        ids = [r["id"] for r in runs]
        current = prefer or self.current_run_id()
        # Follow the newest run until the user picks one by hand.
        chosen = current if current in ids and (self._user_chose_run or prefer) else (ids[0] if ids else None)
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in runs:
            self.run_combo.addItem(_run_title(run), run["id"])
            self.run_combo.setItemData(self.run_combo.count() - 1, f"run {run['id']}", Qt.ItemDataRole.ToolTipRole)
        if chosen:
            self.run_combo.setCurrentIndex(ids.index(chosen))
        self.run_combo.blockSignals(False)
        if chosen is None:
            self._loads += 1
            self.summary, self.recommendation, self._shown = None, None, None
            self.plot.clear_models()
            self.stack.setCurrentIndex(1)
            self.updated.emit()
            return
        self.stack.setCurrentIndex(0)
        answers = runs[ids.index(chosen)]["results"]
        if self._shown != (chosen, answers):
            self._load(chosen, answers)

    def _load(self, run_id: str, answers: int) -> None:
        self._loads += 1
        ticket = self._loads
        database, settings = self.ctx.database_path(), self.ctx.settings
        self._worker = run_in_background(
            lambda: _summarize_with_own_store(database, run_id, settings),
            on_done=lambda summary: self._loaded(ticket, summary, answers),
            on_error=lambda exc: self._load_failed(ticket, exc), parent=self)

    def _loaded(self, ticket: int, summary: RunSummary, answers: int) -> None:
        if ticket != self._loads:
            return
        self.summary = summary
        self._shown = (summary.run["id"], answers)
        self._render()
        self.projection.show_run(summary.run["id"])

    def _load_failed(self, ticket: int, exc: BaseException) -> None:
        if ticket == self._loads:
            show_exception(self, "Cannot read the run", exc)

    # Plotting -----------------------------------------------------------------------------

    def _render(self) -> None:
        if self.summary is None:
            return
        axis = self.axis()
        models = self.summary.models
        rated = [m for m in models if m.quality is not None]
        on_axis = [m for m in rated if getattr(m, axis.key) is not None]
        self.recommendation = recommend(self.summary, axis=axis)
        text, highlight = self._recommendation_text(on_axis, axis)
        self.recommendation_label.setText(text)
        self.recommendation_label.setProperty("tone", "normal" if highlight else "muted")
        self.recommendation_label.setStyleSheet(RECOMMENDATION_STYLE)  # re-polish for the new tone
        self.plot.show_models(on_axis, axis, pareto_frontier(models, axis), highlight)
        self.notes_label.setText(self._notes_text(models))
        self.notes_label.setVisible(bool(self.notes_label.text()))
        self.not_plotted_label.setText(self._not_plotted_text(models, rated, axis))
        self.not_plotted_label.setVisible(bool(self.not_plotted_label.text()))
        self.export_button.setEnabled(bool(self.plot.points))
        self.updated.emit()

    def _recommendation_text(self, on_axis: list[ModelSummary], axis: Axis) -> tuple[str, str | None]:
        """The sentence above the plot, and the model to ring (None: nothing to recommend)."""
        noun = axis.label.split(" (")[0]
        pick = self.recommendation
        if not on_axis or pick is None:
            if not any(m.quality is not None for m in self.summary.models):
                return "No answer of this run is graded yet, so there is nothing to recommend.", None
            return f"No graded model has a {noun} measured, so there is nothing to recommend on it.", None
        if pick.recommended is None:
            return pick.reason, None
        if len(on_axis) == 1:
            only = on_axis[0]
            return (f"Only one model to weigh: {only.model} scores {only.quality:.0%}. Add models to the run "
                    f"to see which is good enough for less."), only.model
        text = pick.reason
        fewest = min(m.graded for m in on_axis)
        if pick.decided and fewest < FEW_GRADED:  # undecided: the reason already asks for more cases
            text += (f" With only {fewest} graded answer{'s' if fewest != 1 else ''} per model the intervals "
                     f"are wide: run more cases to be surer.")
        return text, pick.recommended

    @staticmethod
    def _notes_text(models: list[ModelSummary], most: int = 3) -> str:
        """The starred models and how their figures were measured, a line each (their first note; the rest
        in their points' tooltips and the projection's notes), so the plot keeps its room."""
        noted = [m for m in models if m.measurement_notes]
        lines = []
        for m in noted[:most if len(noted) <= most else most - 1]:
            more = len(m.measurement_notes) - 1
            lines.append(f"* {m.model}: {m.measurement_notes[0]}" + (f" (and {more} more note{'s' if more > 1 else ''}"
                                                                     f": hover its point)" if more else "") + ".")
        if len(noted) > most:
            lines.append(f"* And {len(noted) - most + 1} more models measured with a caveat: hover their starred "
                         f"points.")
        return "\n".join(lines)

    def _not_plotted_text(self, models: list[ModelSummary], rated: list[ModelSummary], axis: Axis) -> str:
        lines = []
        if ungraded := [m.model for m in models if m.quality is None]:
            lines.append(f"Not plotted: {', '.join(ungraded)} — no graded answers.")
        unpriced = [m.model for m in rated if not m.is_local and m.cost_per_answer_usd is None]
        if unpriced and axis.key == "cost_per_answer_usd":
            lines.append(f"Not plotted on cost: {', '.join(unpriced)} — no price known for it; set one in "
                         f"Settings > API models (Add…) or with `modelscout prices set`.")
            rated = [m for m in rated if m.model not in unpriced]
        if unmeasured := [m.model for m in rated if getattr(m, axis.key) is None]:
            lines.append(f"Not plotted on this axis: {', '.join(unmeasured)} — no {axis.label.split(' (')[0]} "
                         f"measured.")
        for point in self.plot.points.values():
            if point.clamped:
                shown = format_usd(point.value) if axis.key == "cost_per_answer_usd" else f"{point.value:g}"
                lines.append(f"{point.summary.model} is at 0 and is drawn at {shown} (half the smallest value) "
                             f"to fit the log scale.")
        return "\n".join(lines)

    def _open_model(self, model_key: str) -> None:
        if run_id := self.current_run_id():
            self.ctx.open_run.emit(run_id, model_key)

    # Export -------------------------------------------------------------------------------

    def export(self, path: str | Path) -> Path:
        """Save the plot as PNG or SVG, by the file's extension."""
        return self.plot.export(path)

    def export_dialog(self) -> None:
        if not self.plot.points or not self.export_button.isEnabled():
            return
        suggested = Path(self._export_folder) / f"tradeoff-{self.current_run_id()}-{self.axis_combo.currentData()}.png"
        path, chosen_filter = QFileDialog.getSaveFileName(self, "Export the plot", str(suggested),
                                                          "PNG picture (*.png);;SVG drawing (*.svg)")
        if not path:
            return
        target = Path(path)
        if target.suffix.lower() not in (".png", ".svg"):
            target = target.with_suffix(".svg" if "svg" in chosen_filter.lower() else ".png")
        try:
            self.export(target)
        except OSError as exc:
            show_error(self, "Cannot export the plot", f"Could not write {target}: {exc.strerror or exc}. "
                                                       f"Choose another folder or file name.")
            return
        self._export_folder = str(target.parent)

    # Screen life --------------------------------------------------------------------------

    def save_state(self, state: QSettings) -> None:
        state.setValue("tradeoff/axis", self.axis_combo.currentData())
        state.setValue("tradeoff/splitter", self.splitter.saveState())
        state.setValue("tradeoff/export_folder", self._export_folder)

    def restore_state(self, state: QSettings) -> None:
        self.set_axis(str(state.value("tradeoff/axis", "cost")))
        if splitter := state.value("tradeoff/splitter"):
            self.splitter.restoreState(splitter)
        self._export_folder = str(state.value("tradeoff/export_folder", self._export_folder))

    def shutdown(self) -> None:
        self._refresh_timer.stop()
        self._loads += 1  # whatever is still loading is no longer wanted
        if self._worker is not None and self._worker.is_running():
            self._worker.wait(5.0)
