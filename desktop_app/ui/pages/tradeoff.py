"""The Tradeoff screen: each model of a run as a point, its quality against its cost (or time, speed, size)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFileDialog, QFrame, QGroupBox,
                               QHeaderView, QLabel, QPushButton, QScrollArea, QSplitter, QStackedWidget, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from desktop_app.analysis.recommend import DEFAULT_TOLERANCE, ModelVerdict, Recommendation, recommend
from desktop_app.analysis.summary import ModelSummary, RunSummary, latest_summary
from desktop_app.analysis.tradeoff import AXES, Axis, pareto_frontier
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_error, show_exception
from desktop_app.ui.formatting import MISSING, format_ms, format_usd, format_usd_per_1k
from desktop_app.ui.widgets.flow_layout import FlowLayout, labelled
from desktop_app.ui.widgets.projection_panel import ProjectionPanel
from desktop_app.ui.widgets.run_picker import RunPicker
from desktop_app.ui.widgets.tradeoff_plot import TradeoffPlot
from desktop_app.ui.workers import LatestOnly

AXIS_CHOICES = [("cost", "cost per answer"), ("latency", "time per answer (median)"),
                ("speed", "generation speed (tokens/s)"), ("size", "model file size")]
FEW_GRADED = 20  # below this many graded answers per model the intervals are too wide to be sure

RECOMMENDATION_STYLE = ("QLabel#recommendation { background: #eef7f1; border: 1px solid #cfe6d7; border-radius: 6px;"
                        " padding: 8px 12px; font-size: 14px; color: #1f3327; }"
                        "QLabel#recommendation[tone='undecided'] { background: #fff7e8; border-color: #f0d9a8;"
                        " color: #4d3600; }"
                        "QLabel#recommendation[tone='muted'] { background: #f5f6f8; border-color: #dcdfe6;"
                        " color: #3b4150; }")


# verdict -> (words, text colour, cell tint)
VERDICT_LOOK = {"best": ("best", "#1d4f9c", "#e8f0fd"), "good_enough": ("good enough", "#1f7a45", "#eaf6ee"),
                "worse": ("worse", "#b3261e", "#fdeceb"), "undecided": ("undecided", "#8a5a00", "#fff4e0")}
VERDICT_TIPS = {"best": "The highest quality among the models that meet your limits: the others are compared with it",
                "good_enough": "Shown not worse than the best by more than your tolerance (the whole 95% interval "
                               "of the difference is above it)",
                "worse": "Shown worse than the best by more than your tolerance",
                "undecided": "The cases so far cannot tell whether it is within your tolerance of the best"}


def _recommend_with_own_store(database: Path, summary: RunSummary, settings: Settings, volume: Any,
                              tolerance: float, axis: str) -> Recommendation:
    """The recommendation as `modelscout recommend` makes it: verdicts at `tolerance`, and the monthly saving
    at the projection panel's volume (priced under the app's settings). Bootstraps: off the UI thread."""
    from desktop_app.analysis.projection import project
    from desktop_app.errors import UserError

    store = Store(database)
    try:
        try:
            projection = project(store, summary.run["id"], settings, volume, summary=summary)
        except UserError:  # nothing to project: the verdicts stand without the monthly figures
            projection = None
        return recommend(summary, tolerance=tolerance, axis=axis, projection=projection)
    finally:
        store.close()


def _points(x: float | None) -> str:
    """A difference in score points (a score of 1 is 100 points), signed: +2.5, -12, 0."""
    if x is None:
        return MISSING
    text = f"{x * 100:+.1f}".removesuffix(".0")
    return "0" if text in ("+0", "-0") else text


def _summarize_with_own_store(database: Path, run_id: str, settings: Settings | None = None) -> RunSummary:
    """A run's figures, every answer priced under `settings` (the app's current ones), as the projection is."""
    store = Store(database)
    try:
        return latest_summary(store, run_id, settings)  # Results has most often just summed the same run up
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
        self._stale: set[str] = set()  # runs changed since their summary was asked for ("": every run)
        # Off the UI thread, newest request first: a summary of the run (seconds on a large run), then
        # the verdicts at the tolerance and volume (bootstraps).
        self._summaries = LatestOnly(self)
        self._recommendations = LatestOnly(self)
        self._export_folder = str(Path.home())

        title = QLabel("Tradeoff")
        title.setObjectName("pageTitle")
        hint = QLabel("Quality against cost for every model of a run. Models on the green line are the best "
                      "you can get for what you pay; the ringed one is good enough for the least.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        # Runs with answers, newest first (followed until the person picks one), read off the UI thread.
        self.run_picker = RunPicker(ctx, _run_title, accept=lambda run: bool(run["results"]), follow_newest=True,
                                    object_name="tradeoffRun")
        self.run_combo = self.run_picker.combo
        self.run_combo.setToolTip("The run to plot: runs with answers, newest first")
        self.run_picker.chosen.connect(lambda _run_id: self._runs_listed())
        self.run_picker.listed.connect(self._runs_listed)
        self.axis_combo = QComboBox()
        self.axis_combo.setObjectName("tradeoffAxis")
        for key, label in AXIS_CHOICES:
            self.axis_combo.addItem(label, key)
        self.axis_combo.setToolTip("What to weigh quality against (the horizontal axis)")
        self.axis_combo.currentIndexChanged.connect(lambda _: self._render())
        self.tolerance_spin = QDoubleSpinBox()
        self.tolerance_spin.setObjectName("tolerance")
        self.tolerance_spin.setRange(0.0, 50.0)
        self.tolerance_spin.setDecimals(1)
        self.tolerance_spin.setSingleStep(1.0)
        self.tolerance_spin.setValue(DEFAULT_TOLERANCE * 100)
        self.tolerance_spin.setSuffix(" points")
        self.tolerance_spin.setToolTip("How much worse than the best model (in score points: a score of 1 is 100) "
                                       "a cheaper model may be and still count as good enough")
        self.tolerance_spin.valueChanged.connect(lambda _: self._recommend_timer.start())
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
        controls.addWidget(labelled(run_label, self.run_picker))
        controls.addWidget(labelled(axis_label, self.axis_combo))
        tolerance_label = QLabel("&Tolerance:")
        tolerance_label.setBuddy(self.tolerance_spin)
        controls.addWidget(labelled(tolerance_label, self.tolerance_spin))
        controls.addWidget(self.export_button)

        # Above the plot, the gist: which model, and whether the data decide. Below it, the reason in full
        # (as `modelscout recommend` words it) and each model's verdict: the plot keeps its room at 900 x 600.
        self.headline_label = QLabel()
        self.headline_label.setObjectName("recommendation")
        self.headline_label.setTextFormat(Qt.TextFormat.PlainText)  # model names come from file names
        self.headline_label.setWordWrap(True)
        self.headline_label.setStyleSheet(RECOMMENDATION_STYLE)
        self.headline_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.recommendation_label = QLabel()
        self.recommendation_label.setObjectName("recommendationReason")
        self.recommendation_label.setTextFormat(Qt.TextFormat.PlainText)
        self.recommendation_label.setWordWrap(True)
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
        self.verdict_table = QTableWidget(0, 6)
        self.verdict_table.setObjectName("verdictTable")
        self.verdict_table.setHorizontalHeaderLabels(["Model", "Quality (95% interval)",
                                                      "Vs best, points (95% interval)", "Verdict",
                                                      "$ per 1,000 answers", "Time / answer"])
        self.verdict_table.horizontalHeaderItem(2).setToolTip(
            "The mean difference of its scores from the best model's on the cases both answered, in score points, "
            "and its 95% interval (paired bootstrap)")
        self.verdict_table.verticalHeader().hide()
        self.verdict_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verdict_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.verdict_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.verdict_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        verdict_box = QGroupBox("Why: each model against the best")
        verdict_box.setObjectName("verdictBox")
        verdict_layout = QVBoxLayout(verdict_box)
        verdict_layout.addWidget(self.recommendation_label)
        verdict_layout.addWidget(self.verdict_table)
        self.projection = ProjectionPanel(ctx)
        projection_box = QGroupBox("At your volume: monthly cost, and when buying hardware pays off")
        projection_box.setObjectName("projectionBox")
        QVBoxLayout(projection_box).addWidget(self.projection)
        details = QWidget()
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.addWidget(self.notes_label)  # below the plot, so the plot keeps its room at 900 x 600
        details_layout.addWidget(verdict_box)
        details_layout.addWidget(projection_box, 1)
        # Scrolled, so the verdicts and the projection never make the window taller than a small screen allows.
        details_scroll = QScrollArea()
        details_scroll.setObjectName("tradeoffDetails")
        details_scroll.setWidgetResizable(True)
        details_scroll.setFrameShape(QFrame.Shape.NoFrame)
        details_scroll.setWidget(details)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("tradeoffSplitter")
        self.splitter.addWidget(plot_area)
        self.splitter.addWidget(details_scroll)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([460, 300])  # until the user drags it (remembered with the window)
        self.splitter.setChildrenCollapsible(True)
        content_layout.addLayout(controls)
        content_layout.addWidget(self.headline_label)
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
        self.stack.addWidget(QWidget())  # blank until the run list arrives: neither state flashes by
        self.stack.setCurrentIndex(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 14)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(4)
        layout.addWidget(self.stack, 1)

        # Runs report new answers one by one: gather a burst into one refresh.
        self._refresh_timer = QTimer(self, singleShot=True, interval=400, timeout=self.refresh)
        # A new tolerance or volume: the verdicts again, once the person stops turning the spin box.
        self._recommend_timer = QTimer(self, singleShot=True, interval=250, timeout=self._render)
        self._details_timer = QTimer(self, singleShot=True, interval=0, timeout=self._show_details)
        for spin in (self.projection.requests, self.projection.input_tokens, self.projection.output_tokens):
            spin.valueChanged.connect(lambda _: self._recommend_timer.start())
        ctx.runs_changed.connect(self._on_runs_changed)
        ctx.settings_changed.connect(self._on_settings_changed)  # prices, hardware: every figure re-priced

    # Which run ---------------------------------------------------------------------------

    def current_run_id(self) -> str | None:
        return self.run_picker.current_run_id()

    def axis(self) -> Axis:
        return AXES[self.axis_combo.currentData()]

    def set_axis(self, key: str) -> None:
        index = self.axis_combo.findData(key)
        if index >= 0:
            self.axis_combo.setCurrentIndex(index)

    def show_run(self, run_id: str) -> None:
        """Plot this run (as if the user chose it)."""
        self.refresh(prefer=run_id)

    def on_shown(self) -> None:
        self.refresh()

    def _on_runs_changed(self, run_id: str) -> None:
        # New answers, or verdicts on them (as many answers as before): read it again, even when a read of it was
        # under way already (it may have missed them: verdicts are stored off the UI thread).
        self._stale.add(run_id)
        if self.isVisible():  # a hidden screen catches up in on_shown()
            self._refresh_timer.start()

    def _on_settings_changed(self) -> None:
        self._stale.add("")  # every run: the same answers, priced anew
        if self.isVisible():  # a hidden screen reloads in on_shown()
            self._refresh_timer.start()

    def refresh(self, prefer: str | None = None) -> None:
        """Read the runs again (off the UI thread); the chosen run's summary reloads if its answers changed."""
        self.run_picker.refresh(select=prefer)

    def _runs_listed(self) -> None:
        """A run list arrived, or the person picked a run: show the empty state, or load what changed."""
        chosen = self.current_run_id()
        if chosen is None:
            if self.run_picker.search.text().strip():
                return  # a search that matches nothing: the run on screen stays
            self._summaries.cancel()
            self._recommendations.cancel()
            self.summary, self.recommendation, self._shown = None, None, None
            self._details_timer.stop()
            self.plot.clear_models()
            self.verdict_table.setRowCount(0)
            self.projection.show_run(None)
            self.stack.setCurrentIndex(1)
            self.updated.emit()
            return
        self.stack.setCurrentIndex(0)
        run = self.run_picker.current_run()
        answers = run["results"] if run else -1
        if self._shown != (chosen, answers) or chosen in self._stale or "" in self._stale:
            self._stale.clear()  # what changed so far is in the read asked for now
            self._load(chosen, answers)

    def _load(self, run_id: str, answers: int) -> None:
        database, settings = self.ctx.database_path(), self.ctx.settings
        # Newer figures of the same run are shown while a later request for it is worked out.
        self._summaries.request(lambda: _summarize_with_own_store(database, run_id, settings),
                                lambda summary: self._loaded(summary, answers),
                                lambda exc: show_exception(self, "Cannot read the run", exc),
                                key=(run_id, id(settings)))

    def _loaded(self, summary: RunSummary, answers: int) -> None:
        self.summary = summary
        self._shown = (summary.run["id"], answers)
        self._render()
        self.projection.show_run(summary.run["id"], summary)

    # Plotting -----------------------------------------------------------------------------

    def tolerance(self) -> float:
        """The tolerance as a share of the score (the spin box says points: 5 points is 0.05)."""
        return round(self.tolerance_spin.value() / 100, 6)

    def _render(self) -> None:
        """Weigh the models again (off the UI thread: bootstraps), then draw the plot, the verdicts and the words."""
        if self.summary is None:
            return
        self._recommend_timer.stop()
        summary, axis_key, tolerance = self.summary, self.axis_combo.currentData(), self.tolerance()
        database, settings = self.ctx.database_path(), self.ctx.settings
        from desktop_app.analysis.projection import Volume

        panel = self.projection
        volume = Volume(panel.requests.value(), panel.input_tokens.value(), panel.output_tokens.value())
        self._recommendations.request(
            lambda: _recommend_with_own_store(database, summary, settings, volume, tolerance, axis_key),
            lambda pick: self._recommended(summary, pick),
            lambda exc: show_exception(self, "Cannot weigh the models", exc))

    def _recommended(self, summary: RunSummary, pick: Recommendation) -> None:
        if summary is not self.summary:
            return
        self.recommendation = pick
        axis = self.axis()
        models = self.summary.models
        rated = [m for m in models if m.quality is not None]
        on_axis = [m for m in rated if getattr(m, axis.key) is not None]
        text, highlight = self._recommendation_text(on_axis, axis)
        self.recommendation_label.setText(text)
        self.headline_label.setText(self._headline(pick, text, highlight))
        self.headline_label.setProperty("tone", "muted" if not highlight else "normal" if pick.decided
                                        else "undecided")
        self.headline_label.setStyleSheet(RECOMMENDATION_STYLE)  # re-polish for the new tone
        self.plot.show_models(on_axis, axis, pareto_frontier(models, axis), highlight)
        # The words and the table under the plot in a turn of their own (a timer's, after the plot is painted and
        # the other timers had theirs): each part stays short, and the window answers in between.
        self._details_timer.start()

    def _show_details(self) -> None:
        summary, pick = self.summary, self.recommendation
        if summary is None or pick is None:
            return
        axis, models = self.axis(), summary.models
        rated = [m for m in models if m.quality is not None]
        self.notes_label.setText(self._notes_text(models))
        self.notes_label.setVisible(bool(self.notes_label.text()))
        self.not_plotted_label.setText(self._not_plotted_text(models, rated, axis))
        self.not_plotted_label.setVisible(bool(self.not_plotted_label.text()))
        self.export_button.setEnabled(bool(self.plot.points))
        self._show_verdicts(pick)
        self.updated.emit()

    @staticmethod
    def _headline(pick: Recommendation, text: str, highlight: str | None) -> str:
        """One or two lines: the model to use, whether the data decide it, and what it saves."""
        if highlight is None or pick.recommended is None or sum(m.quality is not None for m in pick.models) < 2:
            return text  # nothing to recommend, or one model to weigh: the reason is short and says it all
        points = pick.tolerance * 100
        tolerance = f"your tolerance of {points:g} point{'' if points == 1 else 's'}"
        if pick.decided:
            line = f"Recommended: {pick.recommended}. Decided at {tolerance}"
            if pick.monthly_savings_usd and pick.recommended != pick.best:
                line += (f"; it saves about {format_usd(pick.monthly_savings_usd)} a month against {pick.best} "
                         f"at {pick.requests_per_day:,.0f} requests a day")
            return line + "."
        line = f"Recommended for now: {pick.recommended}, the best. Not decided at {tolerance}"
        if pick.more_cases_needed is not None:
            more = pick.more_cases_needed
            line += (f": about {more:,} more case{'s' if more != 1 else ''} would likely tell if a cheaper one is "
                     f"good enough")
        return line + "."

    def _show_verdicts(self, pick: Recommendation) -> None:
        """Each model's quality, difference to the best and verdict, under the reason."""
        table = self.verdict_table
        table.setRowCount(0)
        for verdict in pick.models:
            row = table.rowCount()
            table.insertRow(row)
            cells = self._verdict_cells(verdict, pick, self._cheaper_than_best(verdict, pick))
            for column, (text, tip) in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tip or text)
                if column in (1, 2, 4, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 3:
                    _, colour, tint = VERDICT_LOOK.get(verdict.verdict, (verdict.verdict, "#3b4150", "#ffffff"))
                    item.setForeground(QColor(colour))
                    item.setBackground(QColor(tint))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if verdict.model == pick.recommended and column == 0:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                table.setItem(row, column, item)
        # As tall as its rows: the box scrolls, not the table inside it.
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        table.setFixedHeight(table.horizontalHeader().height() + rows + 2 * table.frameWidth())

    def _cheaper_than_best(self, v: ModelVerdict, pick: Recommendation) -> bool:
        """Lower than the best on the axis (faster, cheaper): one of the models the recommendation turns on."""
        axis = self.axis()
        values = {m.model: getattr(m, axis.key) for m in self.summary.models} if self.summary else {}
        mine, best = values.get(v.model), values.get(pick.best)
        if mine is None or best is None:
            return False
        return mine < best if axis.lower_is_better else mine > best

    @staticmethod
    def _verdict_cells(v: ModelVerdict, pick: Recommendation, cheaper: bool = True) -> list[tuple[str, str]]:
        quality = MISSING if v.quality is None else f"{v.quality:.0%}"
        if v.quality_low is not None and v.quality_high is not None:
            quality += f"  [{v.quality_low:.0%} – {v.quality_high:.0%}]"
        if v.verdict == "best":
            difference = "0"
        elif v.difference_to_best is None:
            difference = MISSING
        else:
            difference = (f"{_points(v.difference_to_best)}  [{_points(v.difference_low)} to "
                          f"{_points(v.difference_high)}]")
        words = VERDICT_LOOK.get(v.verdict, (v.verdict,))[0]
        tip = VERDICT_TIPS.get(v.verdict, "")
        if v.verdict == "undecided" and v.more_cases_needed and cheaper:
            words += f" (~{v.more_cases_needed:,} more cases)"
            tip += f"; about {v.more_cases_needed:,} more shared cases would likely decide"
        elif v.verdict == "undecided" and v.quality is not None and not cheaper:
            tip += "; it is not lower than the best on this axis, so the recommendation does not turn on it"
        if v.excluded:
            words += " *"
            tip += f". Left out by your limits: {v.excluded}"
        if v.model == pick.recommended:
            words += " · recommended"
        compared = (f"over {v.cases_compared} case{'s' if v.cases_compared != 1 else ''} both answered"
                    if v.cases_compared and v.verdict != "best" else "")
        return [(v.model, ""), (quality, "Mean score over the cases, and its 95% interval"),
                (difference, compared), (words, tip), (format_usd_per_1k(v.cost_per_answer_usd), ""),
                (format_ms(v.wall_time_ms), "Median time per answer")]

    def _recommendation_text(self, on_axis: list[ModelSummary], axis: Axis) -> tuple[str, str | None]:
        """The paragraph under the plot (the reason in full), and the model to ring (None: nothing to recommend)."""
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
        state.setValue("tradeoff/tolerance_points", self.tolerance_spin.value())

    def restore_state(self, state: QSettings) -> None:
        self.set_axis(str(state.value("tradeoff/axis", "cost")))
        if splitter := state.value("tradeoff/splitter"):
            self.splitter.restoreState(splitter)
        self._export_folder = str(state.value("tradeoff/export_folder", self._export_folder))
        try:
            points = float(state.value("tradeoff/tolerance_points", DEFAULT_TOLERANCE * 100))
        except (TypeError, ValueError):
            points = DEFAULT_TOLERANCE * 100
        self.tolerance_spin.setValue(points)

    def shutdown(self) -> None:
        self._refresh_timer.stop()
        self._recommend_timer.stop()
        self._details_timer.stop()
        self.run_picker.shutdown()
        self.projection.shutdown()
        for jobs in (self._summaries, self._recommendations):  # whatever is still loading is no longer wanted
            jobs.cancel()
            jobs.wait(5.0)
