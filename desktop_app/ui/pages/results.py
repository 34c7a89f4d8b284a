"""The Results screen: pick a stored run, read every answer in a cases x models grid, compare two."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QMenu, QPushButton, QSplitter, QStackedWidget, QTableView,
                               QVBoxLayout, QWidget)

from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_error, show_exception
from desktop_app.ui.formatting import format_usd, format_when, plain_tooltip
from desktop_app.ui.runs import is_unfinished
from desktop_app.ui.widgets.answer_diff import AnswerDiffDialog
from desktop_app.ui.widgets.banner import Banner
from desktop_app.ui.widgets.elided_label import ElidedLabel
from desktop_app.ui.widgets.flow_layout import FlowLayout, labelled
from desktop_app.ui.widgets.model_cards import SummaryStrip
from desktop_app.ui.widgets.result_detail import ResultDetail
from desktop_app.ui.widgets.score_dialog import ScoreDialog
from desktop_app.ui.widgets.results_grid import (ERROR, SORT_ROLE, STATE_LABELS, STATE_ROLE, ResultsFilterProxy,
                                                 ResultsGridModel, RunData, first_line, load_run_data, release,
                                                 result_state)
from desktop_app.ui.widgets.text import plain_label
from desktop_app.ui.widgets.run_picker import RunPicker
from desktop_app.ui.workers import InOrder, LatestOnly, run_in_background, with_store

__all__ = ["SORT_ROLE", "STATE_ROLE", "ResultsPage", "first_line", "result_state"]

# The save dialog's filters and the report format each asks for.
REPORT_FILTERS = {"HTML report (*.html *.htm)": "html", "CSV tables (*.csv)": "csv", "JSON document (*.json)": "json"}

STYLE = """
QFrame#modelCard { background: #ffffff; border: 1px solid #dcdfe6; border-radius: 8px; }
QFrame#modelCard:hover { border-color: #9db6e8; }
QFrame#modelCard[focused="true"] { border: 2px solid #2f6fde; }
QLabel#cardQuality { font-size: 20px; font-weight: 600; }
QLabel#cardQualityMuted { font-size: 15px; font-weight: 600; color: #5b6270; }
QLabel#cardName { font-weight: 600; }
QLabel#sectionLabel { color: #5b6270; font-weight: 600; margin-top: 6px; }
QLabel#verdict { font-weight: 600; }
"""


class ResultsPage(QWidget):
    loaded = Signal(str)  # a run's data is on screen (its id)
    summary_changed = Signal(str)  # the cards show a run's figures anew after a verdict (its id)
    score_dialog_opened = Signal(object)  # Score… has read how the run is scored and shows its dialog

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.run_data: RunData | None = None
        self.diff_dialog: AnswerDiffDialog | None = None
        self.score_dialog: ScoreDialog | None = None
        # Off the UI thread: the run's answers (newest request first), your verdicts (written in the order
        # given) and the summary they change.
        self._loads = LatestOnly(self)
        self._verdicts = InOrder(self)
        self._summaries = LatestOnly(self)
        self._scorings = LatestOnly(self)  # how the shown run is scored, read when Score… is pressed
        self._reports = InOrder(self)  # reports being written, each to the end (closing the window waits)
        self._announcing = False  # this screen is telling the others of its own change: no reload here
        self._pending_focus: str | None = None
        self._changed_runs: set[str] = set()
        self._reload_listed: set[str] = set()  # runs whose answers changed: reload once the list is read
        self.setStyleSheet(STYLE)

        title = QLabel("Results")
        title.setObjectName("pageTitle")
        hint = QLabel("Every answer of a stored run: cases down, models across. Select a cell to read it; "
                      "Ctrl-click two to compare them word by word.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        self.stack = QStackedWidget()
        self.empty = self._build_empty_state()
        self.content = self._build_content()
        self.reading = QWidget()  # blank until the run list arrives: neither state flashes by
        self.stack.addWidget(self.reading)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.content)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 12)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(self.stack, 1)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(300)  # a live run reports every answer: redraw at most ~3 times a second
        self._refresh_timer.timeout.connect(self._apply_run_changes)
        ctx.runs_changed.connect(self._note_run_changed)
        ctx.settings_changed.connect(lambda: self._note_run_changed(""))

        QShortcut(QKeySequence.StandardKey.Find, self, self._focus_search,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence("Ctrl+D"), self, self.compare_selected,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.refresh_runs()

    # Building -------------------------------------------------------------------------------

    def _build_empty_state(self) -> QWidget:
        page = QWidget()
        message = QLabel("No runs yet — run a comparison or a suite")
        message.setObjectName("emptyState")
        message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        detail = QLabel("Every run you start on Compare or Suites is stored on this computer and shows up here, "
                        "answer by answer.")
        detail.setObjectName("hint")
        detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        detail.setWordWrap(True)
        self.go_compare = QPushButton("Compare models")
        self.go_compare.setObjectName("primary")
        self.go_compare.setToolTip("Ask several models one prompt, side by side")
        self.go_compare.clicked.connect(lambda: self.ctx.navigate.emit("Compare"))
        self.go_suites = QPushButton("Run a suite")
        self.go_suites.setToolTip("Run a prompt suite with reference answers on your models")
        self.go_suites.clicked.connect(lambda: self.ctx.navigate.emit("Suites"))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.go_compare)
        buttons.addWidget(self.go_suites)
        buttons.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addStretch(2)
        layout.addWidget(message)
        layout.addWidget(detail)
        layout.addSpacing(10)
        layout.addLayout(buttons)
        layout.addStretch(3)
        return page

    def _build_content(self) -> QWidget:
        self.run_picker = RunPicker(self.ctx, self._run_text, lambda run: plain_tooltip(self._run_tooltip(run)))
        self.run_combo = self.run_picker.combo
        self.run_picker.chosen.connect(self._load)
        self.run_picker.listed.connect(self._runs_listed)
        self.run_picker.not_found.connect(lambda message: show_error(self, "Cannot show that run", message))
        run_label = QLabel("&Run:")
        run_label.setBuddy(self.run_combo)
        self.run_info = ElidedLabel()  # gives way to the buttons beside it; whole in its tooltip
        self.run_info.setObjectName("hint")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the grid as it is filtered and sorted now, as a CSV file")
        self.export_button.clicked.connect(self._export_clicked)
        self.score_button = QPushButton("Score…")
        self.score_button.setObjectName("scoreRun")
        self.score_button.setToolTip("Grade this run's answers again with a judge model, a reference model or a "
                                     "rubric; the models are not asked again")
        self.score_button.clicked.connect(self.open_score_dialog)
        top = QHBoxLayout()
        top.addWidget(run_label)
        top.addWidget(self.run_picker, 3)
        top.addWidget(self.run_info, 2)
        top.addWidget(self.score_button)
        top.addWidget(self.export_button)
        self.report_button = QPushButton("Report…")  # short: at 900 px the run's facts beside it need the room
        self.report_button.setObjectName("exportReport")
        self.report_button.setToolTip("Save a report of this run to share: one HTML file (plot, recommendation, "
                                      "every answer, what makes it reproducible), CSV tables or JSON")
        self.report_button.clicked.connect(self._report_clicked)
        top.addWidget(self.report_button)

        self.resume_banner = Banner("resumeBanner")
        self.resume_banner.action_clicked.connect(self.resume_shown_run)

        self.strip = SummaryStrip()
        self.strip.focus_requested.connect(self._card_clicked)

        self.search = QLineEdit()
        self.search.setObjectName("resultsSearch")
        self.search.setPlaceholderText("Search prompts and answers  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda text: self.proxy.set_filters(text=text.strip()))
        self.failed_only = QCheckBox("&Failed only")
        self.failed_only.setProperty("tip", "Only the cases some model failed (or the highlighted model, if one is)")
        self.failed_only.toggled.connect(lambda on: self.proxy.set_filters(failed_only=on))
        self.disagreements_only = QCheckBox("&Disagreements only")
        self.disagreements_only.setProperty("tip", "Only the cases where some models passed and others failed")
        self.disagreements_only.toggled.connect(lambda on: self.proxy.set_filters(disagreements_only=on))
        for box in (self.failed_only, self.disagreements_only):
            box.setToolTip(box.property("tip"))
        self.tag_combo = QComboBox()
        self.tag_combo.setObjectName("tagFilter")
        self.tag_combo.setToolTip("Only the cases with this tag")
        self.tag_combo.currentIndexChanged.connect(
            lambda: self.proxy.set_filters(tag=self.tag_combo.currentData() or ""))
        self.tag_label = QLabel("Tag:")
        self.tag_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.tag_combo.setMinimumContentsLength(8)
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("modelFocus")
        self.model_combo.setToolTip("Highlight one model's column; “Failed only” then means failed by this model")
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(12)
        self.model_combo.currentIndexChanged.connect(
            lambda: self.set_focus_model(self.model_combo.currentData() or "", select=True))
        self.compare_button = QPushButton("Compare answers")
        self.compare_button.setObjectName("primary")
        self.compare_button.setToolTip("Ctrl-click two answers, then compare them word by word (Ctrl+D)")
        self.compare_button.clicked.connect(self.compare_selected)
        self.count_label = plain_label("hint", wrap=False)
        self.search.setMinimumWidth(250)
        filters = FlowLayout(spacing=10)  # wraps in a narrow window rather than widening it
        filters.addWidget(self.search)
        filters.addWidget(self.failed_only)
        filters.addWidget(self.disagreements_only)
        self.tag_filter = labelled(self.tag_label, self.tag_combo)
        filters.addWidget(self.tag_filter)
        filters.addWidget(labelled(QLabel("Model:"), self.model_combo))
        filters.addWidget(self.compare_button)

        self.grid = ResultsGridModel(self)
        self.proxy = ResultsFilterProxy(self.grid, self)
        self.view = QTableView()
        self.view.setObjectName("resultsGrid")
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setIconSize(QSize(16, 16))
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(28)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._grid_menu)
        header = self.view.horizontalHeader()
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the suite's own order until a header is clicked
        header.setSortIndicatorClearable(True)
        header.setHighlightSections(False)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        header.sectionResized.connect(self._fit_text_limit)
        self.view.setSortingEnabled(True)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                       self.proxy.layoutChanged, self.grid.filled):
            signal.connect(self._update_count)

        self.detail = ResultDetail()
        self.detail.label_requested.connect(self._set_human_label)
        self.detail.run_requested.connect(self.show_run)  # a reused answer's run, where it was measured

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("resultsSplitter")
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([640, 420])
        self.splitter.setChildrenCollapsible(False)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.resume_banner)
        layout.addWidget(self.strip)
        layout.addLayout(filters)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.count_label)
        self.report_status = plain_label("hint", wrap=False)  # where the last report went, or why it did not
        self.report_status.setObjectName("reportStatus")
        self.report_status.hide()
        layout.addWidget(self.report_status)
        self._selection_changed()
        return content

    # Runs -----------------------------------------------------------------------------------

    def on_shown(self) -> None:
        if self.run_data is not None:
            self._reload_listed.add(self.run_data.run_id)  # another process (the CLI) may have added answers
        self.refresh_runs()

    def current_run_id(self) -> str | None:
        return self.run_picker.current_run_id()

    def refresh_runs(self, select: str | None = None) -> None:
        """Read the run list again (off the UI thread); the chosen run loads once it arrives, if it changed."""
        self.run_picker.refresh(select=select)

    def _runs_listed(self) -> None:
        reload, self._reload_listed = self._reload_listed, set()
        if self.run_picker.is_empty():
            self.stack.setCurrentWidget(self.empty)
        elif self.stack.currentWidget() is not self.content:
            self.stack.setCurrentWidget(self.content)
        chosen = self.current_run_id()
        if chosen is None:
            if not self.run_picker.search.text().strip():  # a search that finds nothing keeps the run shown
                self._loads.cancel()
                self._show_run_data(None)
        elif self.run_data is None or self.run_data.run_id != chosen or chosen in reload or "" in reload:
            self._load(chosen)

    @staticmethod
    def _run_text(run: dict[str, Any]) -> str:
        models = run.get("models") or 0
        return (f"{format_when(run['created_at'])} · {run.get('suite_name') or '?'} · {run['kind']} · "
                f"{run['status']} · {models} model{'s' if models != 1 else ''} · {run['id']}")

    @staticmethod
    def _run_tooltip(run: dict[str, Any]) -> str:
        return (f"Run {run['id']} ({run['kind']}), {run['status']}\nSuite {run.get('suite_name')} "
                f"version {run.get('suite_version')}\nStarted {format_when(run['created_at'])}")

    def show_run(self, run_id: str, model_key: str = "") -> None:
        """Select a run (its id or a prefix of it) and, given a model key, highlight that model's column
        (Tradeoff's clicks)."""
        if self.run_data is not None and self.run_data.run_id == run_id and self.current_run_id() == run_id:
            self.set_focus_model(model_key, select=True)
            return
        self._pending_focus = model_key
        self.refresh_runs(select=run_id)

    def _note_run_changed(self, run_id: str) -> None:
        if self._announcing:  # our own verdict: its summary is on screen already
            return
        self._changed_runs.add(run_id)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _apply_run_changes(self) -> None:
        changed, self._changed_runs = self._changed_runs, set()
        self._reload_listed |= changed
        self.refresh_runs()

    # Loading --------------------------------------------------------------------------------

    def _load(self, run_id: str) -> None:
        """Read the run off the UI thread. A newer read of the same run (a live run's answers) is shown even
        while a later one is under way; one of a run the person has left is dropped."""
        database, settings = self.ctx.database_path(), self.ctx.settings  # priced as Tradeoff prices them
        shown = self.run_data.shape if self.run_data is not None and self.run_data.run_id == run_id else None
        self._summaries.cancel()  # the load brings its own
        self._loads.request(lambda: load_run_data(database, run_id, settings, previous=shown), self._loaded,
                            lambda exc: show_exception(self, "Cannot open this run", exc),
                            key=(run_id, id(settings)))

    def _loaded(self, data: RunData) -> None:
        self._show_run_data(data)
        self.loaded.emit(data.run_id)

    def _show_run_data(self, data: RunData | None) -> None:
        keep = self._current_keys() if data and self.run_data and data.run_id == self.run_data.run_id else None
        same_run = keep is not None
        old, self.run_data = self.run_data, data
        self.grid.set_run_data(data)  # the proxy filters again on the reset or the change by itself
        if old is not None and old is not data:  # nothing shows it now: freed a slice at a time, off this thread
            run_in_background(lambda: release(old))
        if data is None:
            self.detail.clear()
            self.run_info.setText("")
            self.resume_banner.hide()
            return
        run = data.run
        self.detail.requested_models = data.requested_models
        self.detail.judgments, self.detail.pair_judgments = data.judgments, data.pair_judgments
        self._offer_resume(data)
        info = f"finished {format_when(run['finished_at'])}" if run.get("finished_at") else run["status"]
        if run.get("llama_cpp_version"):
            info += f" · llama.cpp {run['llama_cpp_version']}"
        tip = f"{info}\nSuite {run.get('suite_name')}, version {run.get('suite_version')}"
        if data.judgments or data.pair_judgments:  # what judging cost, never added to the answers' cost
            info = f"judge cost {format_usd(data.judge_cost_usd)} · {info}"
            tip += (f"\nThe judge's verdicts on this run cost {format_usd(data.judge_cost_usd)}, apart from what "
                    f"the answers cost (the cards and Tradeoff count the answers only).")
        self.run_info.setText(info)
        self.run_info.set_tip(tip)
        if not same_run:
            self._fill_filter_choices(data)
            self._size_columns(len(data.model_keys))
        self.strip.set_summary(data.summary, data.graded, self.grid.focus_model)
        for box in (self.failed_only, self.disagreements_only):
            if not data.graded:  # nothing passed or failed: these filters would hide every row
                box.setChecked(False)
            box.setEnabled(data.graded)
            box.setToolTip(box.property("tip") if data.graded else
                           "Nothing in this run is graded: its cases have no expected answers or checks")
        if not same_run:
            self.detail.clear()
        if self._pending_focus is not None:
            focus, self._pending_focus = self._pending_focus, None
            self.set_focus_model(focus, select=True)
        elif same_run:
            current = self.view.currentIndex()
            if not current.isValid() and keep[0]:
                self._select_cell(*keep)
            elif current.isValid():
                source = self.proxy.mapToSource(current)
                if self.grid.result_at(source.row(), source.column()) != self.detail.row:
                    self._show_detail(current)  # only when it changed: a redraw would lose the reader's place
        self._update_count()

    def _offer_resume(self, data: RunData) -> None:
        """A suite run that stopped before its last answer (cancelled, or left running by a crash), or that
        ended with answers to retry, can be finished from here; the Suites screen runs it and shows its
        progress. A run that failed for good says why, with nothing to resume."""
        run = data.run
        reason = (run.get("status_reason") or "").strip()
        if not is_unfinished(run, self.ctx.active_runs, data.retryable):
            if run["status"] == "failed" and run["id"] not in self.ctx.active_runs:
                self.resume_banner.show_message(
                    "This run failed", (reason[:1].upper() + reason[1:] + ". " if reason else "")
                    + "A retry would fail the same way: fix the cause, then run the suite again.", kind="error")
            else:
                self.resume_banner.hide()
            return
        total = len(data.cases) * len(data.model_keys)
        retry = len(data.retryable)
        answered = len(data.results) - retry  # a failure that may pass is made again, like a missing answer
        stored = f"{answered} of {total} answers are stored; Resume makes only the missing ones."
        if run["status"] == "running":  # nothing here runs it: the process that did has ended, or is elsewhere
            title = "This run did not finish"
            text = (f"It is still marked as running, but not in this window: ModelScout or `modelscout run` "
                    f"stopped while running it. {stored}")
        elif run["status"] in ("incomplete", "failed"):
            title = "Every answer of this run failed" if run["status"] == "failed" else "This run is incomplete"
            text = (f"{reason[:1].upper()}{reason[1:]}. {answered} of {total} answers are stored." if reason else
                    f"{answered} of {total} answers are stored; Resume tries again the {retry} that failed for a "
                    f"reason that may pass.")
        else:
            title = "This run was stopped before the end"
            text = f"{reason[:1].upper()}{reason[1:]}. {stored}" if reason and reason != "cancelled" else stored
        self.resume_banner.show_message(title, text.strip(), kind="warning", action="Resume",
                                        action_tip="Finish this run on the Suites screen, where its progress shows")

    def resume_shown_run(self) -> None:
        if self.run_data is not None:
            self.resume_banner.hide()
            self.ctx.resume_run.emit(self.run_data.run_id)

    def _fill_filter_choices(self, data: RunData) -> None:
        self.tag_combo.blockSignals(True)
        self.tag_combo.clear()
        self.tag_combo.addItem("All tags", "")
        for tag in data.tags:
            self.tag_combo.addItem(tag, tag)
        self.tag_combo.blockSignals(False)
        self.tag_filter.setVisible(bool(data.tags))
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItem("All models", "")
        for key in data.model_keys:
            self.model_combo.addItem(key, key)
        self.model_combo.blockSignals(False)
        if self.proxy.tag:
            self.proxy.set_filters(tag="")
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def _size_columns(self, models: int) -> None:
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 170)
        wide = models <= 3
        header.setStretchLastSection(not wide)
        for column in range(1, models + 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if wide
                                        else QHeaderView.ResizeMode.Interactive)
            if not wide:
                header.resizeSection(column, 240)

    def _fit_text_limit(self, *_: Any) -> None:
        """Cells get as much of an answer as their widest column can show (narrow letters counted), no more:
        eliding a long text costs Qt its whole layout on every paint."""
        header = self.view.horizontalHeader()
        widest = max((header.sectionSize(c) for c in range(1, header.count())), default=0)
        narrow = max(1.0, self.view.fontMetrics().averageCharWidth() * 0.5)
        if self.grid.set_text_limit(int(widest / narrow) + 8):
            self.view.viewport().update()

    # Focus on a model -------------------------------------------------------------------------

    def set_focus_model(self, key: str, select: bool = False) -> None:
        """Highlight one model (its header, its card; Failed only then means its failures); '' for none."""
        if self.run_data is None or (key and key not in self.run_data.model_keys):
            key = ""
        self.grid.set_focus_model(key)
        self.strip.set_focus(key)
        position = max(0, self.model_combo.findData(key))
        if self.model_combo.currentIndex() != position:
            self.model_combo.blockSignals(True)
            self.model_combo.setCurrentIndex(position)
            self.model_combo.blockSignals(False)
        self.proxy.refilter()
        if key and select:
            current = self.proxy.mapToSource(self.view.currentIndex())
            case_id = self.grid.case_at(current.row())["id"] if current.isValid() else None
            if case_id is None and self.proxy.rowCount():
                case_id = self.grid.case_at(self.proxy.mapToSource(self.proxy.index(0, 0)).row())["id"]
            if case_id is not None:
                self._select_cell(case_id, key)

    def focused_model(self) -> str:
        return self.grid.focus_model

    def _card_clicked(self, key: str) -> None:
        self.set_focus_model("" if key == self.grid.focus_model else key, select=True)

    # Selection and detail -------------------------------------------------------------------

    def _current_keys(self) -> tuple[str | None, str | None]:
        index = self.proxy.mapToSource(self.view.currentIndex())
        if not index.isValid():
            return None, None
        return self.grid.case_at(index.row())["id"], self.grid.model_at(index.column())

    def _select_cell(self, case_id: str, model_key: str | None) -> None:
        index = self.proxy.mapFromSource(self.grid.index_of(case_id, model_key))
        if not index.isValid():
            return
        self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(index)
        self._show_detail(index)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_detail(current)

    def _show_detail(self, index: QModelIndex) -> None:
        source = self.proxy.mapToSource(index)
        if not source.isValid():
            self.detail.clear()
            return
        self.detail.show_cell(self.grid.case_at(source.row()), self.grid.model_at(source.column()),
                              self.grid.result_at(source.row(), source.column()))

    def selected_answers(self) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
        """(case, model key, result) of each selected answer cell, in column then row order."""
        picked = []
        for index in self.view.selectionModel().selectedIndexes():
            source = self.proxy.mapToSource(index)
            row = self.grid.result_at(source.row(), source.column())
            if row is not None:
                picked.append((source.column(), index.row(), self.grid.case_at(source.row()),
                               self.grid.model_at(source.column()), row))
        picked.sort(key=lambda item: (item[0], item[1]))
        return [(case, key, row) for _, _, case, key, row in picked]

    def _selection_changed(self, *_: Any) -> None:
        count = len(self.selected_answers()) if self.run_data else 0
        self.compare_button.setEnabled(count == 2)
        if count == 1:
            self.compare_button.setToolTip("Ctrl-click a second answer to compare the two (Ctrl+D)")
        else:
            self.compare_button.setToolTip("Ctrl-click two answers, then compare them word by word (Ctrl+D)")

    def _update_count(self, *_: Any) -> None:
        if self.run_data is None:
            self.count_label.setText("")
            return
        total, shown = len(self.run_data.cases), self.proxy.rowCount()
        if self.grid.is_filling():  # a large run comes into the grid in steps
            self.count_label.setText(f"{total:,} cases: adding them to the grid…")
            return
        self.count_label.setText(f"{shown} of {total} cases shown" if shown != total else
                                 f"{total} case{'s' if total != 1 else ''}")

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # Actions ----------------------------------------------------------------------------------

    def compare_selected(self) -> AnswerDiffDialog | None:
        picked = self.selected_answers()
        if len(picked) != 2:
            show_error(self, "Compare answers", "Select exactly two answers to compare: click one, then "
                                                "Ctrl-click another (in the same row to compare models).")
            return None
        (case_a, key_a, row_a), (case_b, key_b, row_b) = picked

        def title(case: dict[str, Any], key: str, row: dict[str, Any]) -> str:
            return f"{key}  ·  {case['id']}  ·  {STATE_LABELS[result_state(row)]}"

        if self.diff_dialog is not None:
            self.diff_dialog.close()
        if self.score_dialog is not None:
            self.score_dialog.shutdown()
        dialog = AnswerDiffDialog(title(case_a, key_a, row_a), row_a.get("text") or "",
                                  title(case_b, key_b, row_b), row_b.get("text") or "", self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "diff_dialog", None))
        self.diff_dialog = dialog
        dialog.show()
        return dialog

    def open_score_dialog(self) -> ScoreDialog | None:
        """Score the shown run again (a judge, a reference, a rubric, pairwise); the run reloads when done.

        How the run is scored so far is read off the UI thread (it parses the whole suite): the dialog opens when
        it arrives (`score_dialog_opened`), and this returns None; a dialog already open for the run is raised
        and returned."""
        if self.run_data is None:
            return None
        if self.score_dialog is not None:
            if self.score_dialog.run_id == self.run_data.run_id:
                self.score_dialog.raise_()
                self.score_dialog.activateWindow()
                return self.score_dialog
            if self.score_dialog.is_running():
                show_error(self, "Scoring another run", f"Run {self.score_dialog.run_id} is being scored: wait for "
                                                        f"it or stop it first.")
                return None
            self.score_dialog.close()
        from desktop_app.runner.scoring import scoring_of

        run_id, models = self.run_data.run_id, list(self.run_data.model_keys)
        self._scorings.request(with_store(self.ctx.database_path(), lambda store: scoring_of(store, run_id)),
                               lambda current: self._show_score_dialog(run_id, models, current),
                               lambda exc: show_exception(self, "Cannot score this run", exc))
        return None

    def _show_score_dialog(self, run_id: str, models: list[str], current: Any) -> None:
        if self.run_data is None or self.run_data.run_id != run_id:  # the person has moved on to another run
            return
        if self.score_dialog is not None:  # opened meanwhile (a second click), or one for another run
            if self.score_dialog.run_id == run_id or self.score_dialog.is_running():
                return
            self.score_dialog.close()
        dialog = ScoreDialog(self.ctx, run_id, models, current, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.scored.connect(self.ctx.runs_changed)  # every screen showing the run reads its new grades
        dialog.destroyed.connect(lambda *_: self._score_dialog_gone(dialog))
        self.score_dialog = dialog
        dialog.show()
        self.score_dialog_opened.emit(dialog)

    def _score_dialog_gone(self, dialog: ScoreDialog) -> None:
        if self.score_dialog is dialog:  # not a newer one, opened for another run meanwhile
            self.score_dialog = None

    def _set_human_label(self, row: dict[str, Any], value: int | None) -> None:
        """Show the verdict at once and write it off the UI thread (verdicts land in the order given); the
        run's summary is then worked out anew, and the other screens hear of it. A write that fails puts
        the cell back as it was and says why."""
        if self.run_data is None:
            return
        run_id, database, settings = self.run_data.run_id, self.ctx.database_path(), self.ctx.settings
        before = row.get("human_label")
        self._show_label(row, value)

        def write(store: Any) -> None:
            store.set_human_label(row["id"], value)

        def failed(exc: BaseException) -> None:
            if row.get("human_label") == value:
                self._show_label(row, before)
            show_exception(self, "Cannot save your verdict", exc)

        self._verdicts.submit(with_store(database, write), lambda _: self._verdict_saved(run_id, settings), failed)

    def _show_label(self, row: dict[str, Any], value: int | None) -> None:
        row["human_label"] = value
        self.grid.result_changed(row)
        if self.detail.row is row:
            self.detail.show_label(row)

    def _verdict_saved(self, run_id: str, settings: Any) -> None:
        """A verdict is stored: the run's summary again (a person's verdict outranks the checks), then the news
        for Tradeoff and Vote."""
        from desktop_app.analysis.summary import latest_summary

        self._summaries.request(with_store(self.ctx.database_path(),
                                           lambda store: latest_summary(store, run_id, settings)),
                                lambda summary: self._summary_changed(run_id, summary),
                                lambda exc: show_exception(self, "Cannot read the run's new figures", exc))

    def _summary_changed(self, run_id: str, summary: Any) -> None:
        data = self.run_data
        if data is not None and data.run_id == run_id:
            data.summary = summary
            self.strip.set_summary(summary, data.graded, self.grid.focus_model)
            self.summary_changed.emit(run_id)
        self._announcing = True
        try:
            self.ctx.runs_changed.emit(run_id)
        finally:
            self._announcing = False

    def _grid_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        menu = QMenu(self)
        compare = menu.addAction("Compare the two selected answers", self.compare_selected)
        compare.setShortcut(QKeySequence("Ctrl+D"))
        compare.setEnabled(len(self.selected_answers()) == 2)
        source = self.proxy.mapToSource(index)
        row = self.grid.result_at(source.row(), source.column()) if source.isValid() else None
        if row is not None:
            menu.addSeparator()
            menu.addAction("Copy answer", lambda: QGuiApplication.clipboard().setText(row.get("text") or ""))
            menu.addAction("Mark as good answer", lambda: self._set_human_label(row, 1))
            menu.addAction("Mark as bad answer", lambda: self._set_human_label(row, -1))
            if row.get("human_label"):
                menu.addAction("Clear my verdict", lambda: self._set_human_label(row, None))
        key = self.grid.model_at(source.column()) if source.isValid() else None
        if key:
            menu.addSeparator()
            menu.addAction(f"Highlight {key}", lambda: self.set_focus_model(key, select=True))
        menu.popup(self.view.viewport().mapToGlobal(position))

    def _header_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction("Suite order", lambda: self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder))
        menu.popup(self.view.horizontalHeader().mapToGlobal(position))

    def _export_clicked(self) -> None:
        if self.run_data is None:
            return
        default = str(Path.home() / f"modelscout-{self.run_data.run_id}.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export results as CSV", default, "CSV files (*.csv)")
        if not path:
            return
        try:
            self.export_csv(Path(path))
        except OSError as exc:
            show_error(self, "Cannot export", f"Could not write {path}: {exc.strerror or exc}. "
                                              f"Choose another folder or file name.")

    def export_csv(self, path: Path) -> Path:
        """The grid as it is shown (filtered and sorted): a row per case, three columns per model."""
        data = self.run_data
        if data is None:
            raise ValueError("no run is shown")
        self.grid.finish_filling()  # a large run may still be coming into the grid
        header = ["case", "tags", "prompt", "expected"]
        for key in data.model_keys:
            header += [f"{key} result", f"{key} score", f"{key} answer"]
        lines = [header]
        for proxy_row in range(self.proxy.rowCount()):
            row_index = self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()
            case = self.grid.case_at(row_index)
            line = [case["id"], " ".join(case.get("tags") or ()), case.get("prompt") or "",
                    "" if case.get("expected") is None else str(case["expected"])]
            for column in range(1, len(data.model_keys) + 1):
                result = self.grid.result_at(row_index, column)
                state = result_state(result)
                score = "" if result is None or result.get("grade_score") is None else f"{result['grade_score']:g}"
                answer = "" if result is None else (result.get("error") if state == ERROR else result.get("text")) or ""
                line += [state, score, answer]
            lines.append(line)
        partial = path.with_name(f".{path.name}.part")
        with partial.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(lines)
        partial.replace(path)
        return path

    def _report_clicked(self) -> None:
        if self.run_data is None:
            return
        default = str(Path.home() / f"modelscout-report-{self.run_data.run_id}.html")
        path, chosen = QFileDialog.getSaveFileName(self, "Export report", default, ";;".join(REPORT_FILTERS))
        if path:
            self.export_report(Path(path), REPORT_FILTERS.get(chosen))

    def export_report(self, path: Path, kind: str | None = None) -> None:
        """Write the shown run's report (HTML, CSV tables or JSON, by the file's suffix, else `kind`) off the UI
        thread; the status line says where it went, or an error says why not."""
        from desktop_app.reports import build_report, export, format_for

        if self.run_data is None:
            return
        target, kind = format_for(path, kind)
        run_id, settings = self.run_data.run_id, self.ctx.settings
        self._show_report_status(f"Writing the report of run {run_id}…")

        def write(store: Any) -> list[Path]:
            return export(build_report(store, run_id, settings), **{kind: target})

        def failed(exc: BaseException) -> None:
            self._show_report_status(f"The report of run {run_id} was not saved")
            show_exception(self, "Cannot export the report", exc)

        self._reports.submit(with_store(self.ctx.database_path(), write),
                             lambda paths: self._show_report_status("Report saved: " + ", ".join(map(str, paths))),
                             failed)

    def _show_report_status(self, text: str) -> None:
        self.report_status.setText(text)
        self.report_status.show()
        status_bar = getattr(self.window(), "statusBar", None)  # the main window's, when the page is in one
        if callable(status_bar):
            status_bar().showMessage(text, 15000)

    # Lifecycle ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        self._refresh_timer.stop()
        self.run_picker.shutdown()
        self._verdicts.wait(10)  # a verdict being written is not cut off
        self._reports.wait(30)  # nor a report
        for jobs in (self._loads, self._summaries, self._scorings):
            jobs.cancel()  # what lands now is ignored
            jobs.wait(10)
        if self.diff_dialog is not None:
            self.diff_dialog.close()
        if self.score_dialog is not None:
            self.score_dialog.shutdown()
