"""The Suites screen: open a suite, edit its cases, run it on chosen models and watch it finish."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QFrame, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QListWidgetItem, QMessageBox, QPushButton, QScrollArea, QSizePolicy, QSplitter,
                               QStackedWidget, QTableView, QTreeWidgetItem, QVBoxLayout, QWidget)

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.providers.api import parse_model_ref
from desktop_app.runner.specs import largest_context
from desktop_app.runner import events as ev
from desktop_app.settings import SettingsError
from desktop_app.suites import Suite, SuiteError, load_suite, save_suite, suite_from_cases
from desktop_app.suites.model import unsupported_lines
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_error, show_exception
from desktop_app.ui.formatting import format_usd
from desktop_app.ui.runs import (estimate_api_cost, has_retryable_answers, left_running_question, run_events,
                                 unfinished_runs)
from desktop_app.ui.widgets.banner import Banner
from desktop_app.ui.widgets.case_editor import CaseDraft, CaseEditor, CaseTableModel, mark_duplicate_ids
from desktop_app.ui.widgets.cost_dialog import CostDialog
from desktop_app.ui.widgets.suite_list import BUNDLED_SUITES, SuiteList, find_suites, is_bundled
from desktop_app.ui.widgets.suite_run_panel import SuiteRunPanel, section_label
from desktop_app.ui.workers import (ANNOUNCE_MS, GeneratorWorker, LatestOnly, Throttle, run_in_background,
                                    with_store)

DEMO_SUITE = BUNDLED_SUITES / "demo.jsonl"
SUITE_FILTER = ("Suites (*.jsonl *.csv *.yaml *.yml *.json);;JSON Lines (*.jsonl);;CSV (*.csv);;"
                "YAML and promptfoo configs (*.yaml *.yml *.json);;All files (*)")
RECENT_KEY = "suites/recent"
MODELS_KEY = "suites/models"
MAX_RECENT = 8


def _ui_state() -> QSettings:
    from desktop_app.ui.main_window import ui_state  # imported late: main_window imports the screens

    return ui_state()


def _string_list(value: Any) -> list[str]:
    """QSettings gives a one-item list back from an INI file as a bare string."""
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value or []]



def _short_path(path: Path) -> str:
    home = Path.home()
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)



def scoring_line(suite: Suite) -> tuple[str, str]:
    """The suite's own scoring (judge, reference model, rubric, pass mark) on one line, and in full for its
    tooltip; ("", "") when the file sets none of them."""
    parts, full = [], []
    if suite.judge:
        parts.append(f"judge {suite.judge}")
        full.append(f"Judge model: {suite.judge}: it rates every answer from 1 to 10 after the run.")
    if suite.reference:
        parts.append(f"reference answers from {suite.reference}")
        full.append(f"Reference model: {suite.reference}: its answers stand in where a case has no expected answer.")
    if suite.rubric:
        rubric = " ".join(suite.rubric.split())
        parts.append(f"rubric “{rubric if len(rubric) <= 48 else rubric[:47] + '…'}”")
        full.append(f"Rubric: {suite.rubric}")
    if suite.threshold is not None:
        parts.append(f"pass mark {suite.threshold:g}")
        full.append(f"Pass mark: an answer passes when its score reaches {suite.threshold:g}.")
    if not parts:
        return "", ""
    return "Scored by " + " · ".join(parts), "\n".join(full)


class SuitesPage(QWidget):
    suite_opened = Signal(str)  # the file shown now
    open_failed = Signal(str)  # the message shown in the banner
    case_finished = Signal(object)  # ev.CaseFinished
    run_finished = Signal(str, str)  # run id ("" if it never started), status: complete, interrupted, failed

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.suite: Suite | None = None
        self.suite_path: Path | None = None
        self.dirty = False
        self.worker: GeneratorWorker | None = None
        # Results and Tradeoff follow a run as its answers land: told a few times a second, not per answer.
        self._announce_answers = Throttle(ANNOUNCE_MS, self.ctx.runs_changed.emit, self)
        self._unfinished_reads = LatestOnly(self)  # the runs Resume may finish, read off the UI thread
        self.run_id: str | None = None
        self.run_status: str | None = None
        self.run_reason: str | None = None  # why the last run is not simply complete, in words
        self._cancel = threading.Event()
        self._load_token = 0
        self._closed = False  # shut down: nothing more is loaded or shown
        self._opened_any = False
        self._picker_ready = False
        self._run_failed = False

        self._build()
        self._connect()
        self._refresh_suite_list()
        self._update_header()
        self._update_run_buttons()
        QTimer.singleShot(0, self._open_initial)

    # Layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        title = QLabel("Suites")
        title.setObjectName("pageTitle")
        hint = QLabel("Open a suite of prompts with reference answers, edit its cases, and run it on the "
                      "models you choose. Every answer is graded and stored as it finishes.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        self.suite_label = QLabel()
        self.suite_label.setObjectName("suiteName")
        self.suite_label.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.suite_label.setTextFormat(Qt.TextFormat.PlainText)
        self.path_label = QLabel()
        self.path_label.setObjectName("hint")
        self.path_label.setTextFormat(Qt.TextFormat.PlainText)
        self.path_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.description_label = QLabel()
        self.description_label.setObjectName("hint")
        self.description_label.setTextFormat(Qt.TextFormat.PlainText)
        self.description_label.setWordWrap(True)
        # How the suite's answers are scored beyond its checks, when its file says: a judge, a reference, a rubric.
        self.scoring_label = QLabel()
        self.scoring_label.setObjectName("suiteScoring")
        self.scoring_label.setTextFormat(Qt.TextFormat.PlainText)
        self.scoring_label.setWordWrap(True)
        self.scoring_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.scoring_label.setStyleSheet("color: #3b4150;")
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open or import a suite file: JSON Lines (.jsonl), CSV, YAML, a promptfoo "
                                    "config or OpenAI evals samples (Ctrl+O)")
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Save the cases to the suite file (Ctrl+S)")
        self.save_as_button = QPushButton("Save as…")
        self.save_as_button.setToolTip("Save the cases as a new JSON Lines file (Ctrl+Shift+S)")
        name_row = QHBoxLayout()
        name_row.addWidget(self.suite_label)
        name_row.addWidget(self.path_label, 1)
        name_row.addWidget(self.open_button)
        name_row.addWidget(self.save_button)
        name_row.addWidget(self.save_as_button)

        self.banner = Banner("suiteBanner")
        self._banner_action: Any = None  # what the banner's button does, when it has one
        self.banner.action_clicked.connect(lambda: self._banner_action and self._banner_action())

        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.setObjectName("suitesMainSplitter")
        self.main_splitter.setChildrenCollapsible(False)
        self.main_splitter.addWidget(self._build_suite_list())
        self.main_splitter.addWidget(self._build_cases())
        self.main_splitter.addWidget(self._build_run_panel())
        self.main_splitter.setStretchFactor(0, 0)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setStretchFactor(2, 0)
        self.main_splitter.setSizes([150, 620, 310])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(4)
        layout.addLayout(name_row)
        layout.addWidget(self.description_label)
        layout.addWidget(self.scoring_label)
        layout.addWidget(self.banner)
        layout.addWidget(self.main_splitter, 1)


    def _build_suite_list(self) -> QWidget:
        self.suite_list = SuiteList()
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(section_label("Suites"))
        layout.addWidget(self.suite_list, 1)
        box.setMinimumWidth(110)
        return box

    def _build_cases(self) -> QWidget:
        self.cases_label = section_label("Cases")
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add a new case after the selected one (Ctrl+N)")
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.setToolTip("Copy the selected case (Ctrl+D)")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Remove the selected cases (Delete); nothing changes on disk until you save")
        toolbar = QHBoxLayout()
        toolbar.setContentsMargins(0, 0, 0, 0)
        toolbar.addWidget(self.cases_label)
        toolbar.addStretch(1)
        toolbar.addWidget(self.add_button)
        toolbar.addWidget(self.duplicate_button)
        toolbar.addWidget(self.delete_button)

        self.table_model = CaseTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("caseTable")
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(48)
        widths = {"id": 130, "prompt": 250, "expected": 80, "checks": 105, "tags": 80, "max_tokens": 80}
        for column, field in enumerate(CaseTableModel.FIELDS):
            if field in widths:
                self.table.setColumnWidth(column, widths[field])
        self.table.setToolTip("Select a case to edit it below; double-click to edit its prompt")

        self.editor = CaseEditor()
        self.editor.setObjectName("caseEditor")
        editor_box = QWidget()
        editor_layout = QVBoxLayout(editor_box)
        editor_layout.setContentsMargins(0, 6, 0, 0)
        editor_layout.addWidget(section_label("Selected case"))
        editor_layout.addWidget(self.editor, 1)

        self.case_splitter = QSplitter(Qt.Orientation.Vertical)
        self.case_splitter.setObjectName("suitesCaseSplitter")
        self.case_splitter.setChildrenCollapsible(False)
        # Scrolled when short of room, so a banner above (a run's outcome, an error) never pushes the window
        # past 900 x 600.
        editor_scroll = QScrollArea()
        editor_scroll.setObjectName("caseEditorScroll")
        editor_scroll.setWidgetResizable(True)
        editor_scroll.setFrameShape(QFrame.Shape.NoFrame)
        editor_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        editor_scroll.setWidget(editor_box)
        self.case_splitter.addWidget(self.table)
        self.case_splitter.addWidget(editor_scroll)
        self.case_splitter.setStretchFactor(0, 3)
        self.case_splitter.setStretchFactor(1, 2)
        self.case_splitter.setSizes([330, 300])

        filled = QWidget()
        filled_layout = QVBoxLayout(filled)
        filled_layout.setContentsMargins(6, 0, 6, 0)
        filled_layout.addLayout(toolbar)
        filled_layout.addWidget(self.case_splitter, 1)

        empty = QWidget()
        empty_layout = QVBoxLayout(empty)
        empty_layout.addStretch(1)
        self.empty_label = QLabel("No suite open yet.\nOpen a .jsonl or .csv suite, or pick one on the left.")
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_open_button = QPushButton("Open a suite…")
        self.empty_open_button.setObjectName("primary")
        empty_layout.addWidget(self.empty_label)
        empty_layout.addWidget(self.empty_open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(2)

        self.cases_stack = QStackedWidget()
        self.cases_stack.addWidget(empty)
        self.cases_stack.addWidget(filled)
        return self.cases_stack

    def _build_run_panel(self) -> QWidget:
        self.run_panel = SuiteRunPanel(self.ctx)
        panel = self.run_panel  # its parts, by the names the rest of the screen (and its tests) use
        self.picker, self.run_button, self.cancel_button = panel.picker, panel.run_button, panel.cancel_button
        self.progress, self.progress_label, self.current_label = panel.progress, panel.progress_label, \
            panel.current_label
        self.live_answer, self.log, self.done_row = panel.live_answer, panel.log, panel.done_row
        self.open_results_button, self.tradeoff_button = panel.open_results_button, panel.tradeoff_button
        self.interrupted_combo, self.resume_button, self.resume_box = panel.interrupted_combo, \
            panel.resume_button, panel.resume_box
        # Scrolled when short of room: after a run it offers results, a resume and the outcome's banner above,
        # more than a 600-pixel-high window holds at once.
        scroll = QScrollArea()
        scroll.setObjectName("runPanelScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(panel.minimumWidth())  # the screen as narrow as before: the bar's room is the panel's
        panel.setMinimumWidth(panel.minimumWidth() - scroll.verticalScrollBar().sizeHint().width())
        scroll.setWidget(panel)
        return scroll

    def _connect(self) -> None:
        self.open_button.clicked.connect(self.open_dialog)
        self.empty_open_button.clicked.connect(self.open_dialog)
        self.save_button.clicked.connect(self.save)
        self.save_as_button.clicked.connect(lambda: self.save_as())
        self.suite_list.itemClicked.connect(self._suite_item_chosen)
        self.suite_list.itemActivated.connect(self._suite_item_chosen)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.table.doubleClicked.connect(lambda _index: self.editor.focus_field("prompt"))
        self.editor.changed.connect(self._draft_edited)
        self.add_button.clicked.connect(self.add_case)
        self.duplicate_button.clicked.connect(self.duplicate_case)
        self.delete_button.clicked.connect(self.delete_cases)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(lambda: self.resume())
        self.open_results_button.clicked.connect(lambda: self.run_id and self.ctx.open_run.emit(self.run_id, ""))
        self.tradeoff_button.clicked.connect(lambda: self.ctx.navigate.emit("Tradeoff"))
        self.log.itemActivated.connect(lambda item, _column: self._log_item_activated(item))
        self.picker.selection_changed.connect(self._update_run_buttons)
        self.picker.scanned.connect(self._picker_scanned)
        self.interrupted_combo.currentIndexChanged.connect(lambda _i: self._update_run_buttons())
        self.ctx.runs_changed.connect(lambda _run_id: self._refresh_interrupted())
        self.ctx.settings_changed.connect(self._refresh_interrupted)

        def shortcut(keys: QKeySequence | str, slot: Any, parent: QWidget | None = None,
                     context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut) -> QShortcut:
            # WindowShortcut on a screen fires only while that screen is shown.
            item = QShortcut(QKeySequence(keys), parent or self, context=context)
            item.activated.connect(slot)
            return item

        shortcut(QKeySequence.StandardKey.Open, self.open_dialog)
        shortcut(QKeySequence.StandardKey.Save, self.save)
        shortcut("Ctrl+Shift+S", lambda: self.save_as())
        shortcut("Ctrl+Return", self.run)
        shortcut("Ctrl+Enter", self.run)
        shortcut("Ctrl+N", self.add_case)
        shortcut("Ctrl+D", self.duplicate_case)
        shortcut(QKeySequence.StandardKey.Delete, self.delete_cases, self.table, Qt.ShortcutContext.WidgetShortcut)
        self.escape_shortcut = shortcut("Esc", self.cancel)

    # Opening ----------------------------------------------------------------------------

    def open_dialog(self) -> None:
        start = str(self.suite_path.parent if self.suite_path else BUNDLED_SUITES)
        path, _ = QFileDialog.getOpenFileName(self, "Open a suite", start, SUITE_FILTER)
        if path:
            self.open_suite(path)

    def open_suite(self, path: str | Path) -> None:
        """Show a suite file (asks first if the open one has unsaved changes); loads in the background."""
        self._opened_any = True
        if not self._settle_unsaved("Opening another suite"):
            return
        self._load(Path(path))

    def _open_initial(self) -> None:
        if self._opened_any:
            return
        recent = self._recent()
        self._opened_any = True
        self._load(Path(recent[0]) if recent else DEMO_SUITE, fallback=DEMO_SUITE if recent else None)

    def _load(self, path: Path, fallback: Path | None = None) -> None:
        if self._closed:
            return
        self._load_token += 1
        token = self._load_token

        def done(suite: Suite) -> None:
            if token == self._load_token:
                self._show_suite(suite, path)

        def failed(exc: BaseException) -> None:
            if token != self._load_token:
                return
            if fallback is not None and fallback != path:
                self._load(fallback)
            else:
                self._show_load_error(path, exc)

        limit = largest_context(self.ctx.settings)  # a prompt no model here can fit is a mistake in the file
        run_in_background(lambda: load_suite(path, max_prompt_tokens=limit), done, failed, self)

    def _show_suite(self, suite: Suite, path: Path) -> None:
        self.suite = suite
        self.suite_path = path.resolve()
        drafts = [CaseDraft.from_case(case) for case in suite.cases]
        self.table_model.set_drafts(drafts)
        self._validate_all()
        self.cases_stack.setCurrentIndex(1)
        if drafts:
            self.table.selectRow(0)
        self._set_dirty(False)
        if suite.unsupported:  # an imported file's parts that were left out: said, never dropped silently
            self.show_banner(f"Parts of {path.name} are not supported and were skipped",
                             "\n".join(unsupported_lines(suite.unsupported, 12)), kind="warning")
        else:
            self.hide_banner()
        self._remember_recent(self.suite_path)
        self._refresh_interrupted()
        self._update_run_buttons()
        self.suite_opened.emit(str(self.suite_path))

    def _show_load_error(self, path: Path, exc: BaseException) -> None:
        still = f"Still showing {self.suite_path.name}." if self.suite_path else ""
        if isinstance(exc, SuiteError):
            where = [f"File: {exc.path}"]
            if exc.line:
                where.append(f"line {exc.line}")
            if exc.field:
                where.append(f'field "{exc.field}"')
            message = f"{exc}\n{', '.join(where)}. {still}".rstrip()
        elif isinstance(exc, (UserError, OSError)):
            message = f"{exc}\n{still}".rstrip()
        else:
            show_exception(self, "Could not open the suite", exc)
            message = f"Something went wrong reading {path}. {still}".rstrip()
        self.show_banner(f"Couldn't open {path.name}", message)
        self.open_failed.emit(message)

    def _settle_unsaved(self, doing: str) -> bool:
        """True when it is fine to drop the edits: saved, discarded, or none. `doing` ends "…drops them"."""
        if not self.dirty or self.suite_path is None:
            return True
        self.ctx.navigate.emit("Suites")  # the person sees what the question is about
        answer = QMessageBox.question(
            self, "Unsaved changes",
            f"Save changes to {self.suite_path.name}?\n\n{doing} drops the edits that are not saved.",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    # Suite list and recent files --------------------------------------------------------

    def _recent(self) -> list[str]:
        return _string_list(_ui_state().value(RECENT_KEY, []))

    def _remember_recent(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self._recent() if p != str(path)]
        state = _ui_state()
        state.setValue(RECENT_KEY, recent[:MAX_RECENT])
        state.sync()
        self._refresh_suite_list()

    def _refresh_suite_list(self) -> None:
        recent = self._recent()
        run_in_background(lambda: find_suites(recent),
                          lambda found: self.suite_list.fill(*found, self.suite_path), lambda exc: None, self)

    def _suite_item_chosen(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path and (self.suite_path is None or Path(path) != self.suite_path or self.dirty):
            self.open_suite(path)

    # Editing ----------------------------------------------------------------------------

    @property
    def drafts(self) -> list[CaseDraft]:
        return self.table_model.drafts

    def selected_row(self) -> int:
        index = self.table.selectionModel().currentIndex()
        return index.row() if index.isValid() else -1

    def select_row(self, row: int) -> None:
        if 0 <= row < len(self.drafts):
            self.table.selectionModel().setCurrentIndex(
                self.table_model.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
            self.table.scrollTo(self.table_model.index(row, 0))

    def _row_changed(self, current: Any, _previous: Any) -> None:
        row = current.row() if current.isValid() else -1
        self.editor.set_draft(self.drafts[row] if 0 <= row < len(self.drafts) else None)
        self._update_case_buttons()

    def _validate_all(self) -> list[Any]:
        cases = [draft.validate(n) for n, draft in enumerate(self.drafts, 1)]
        mark_duplicate_ids(self.drafts)
        return cases

    def _draft_edited(self) -> None:
        # Per keystroke: check the edited case, and the others only where an id clash may have ended.
        edited = self.editor.draft
        for ordinal, draft in enumerate(self.drafts, 1):
            if draft is edited or draft.error_field == "id":
                draft.validate(ordinal)
        mark_duplicate_ids(self.drafts)
        self._refresh_rows()
        self.editor.show_verdict()
        self._set_dirty(True)

    def _refresh_rows(self) -> None:
        if self.drafts:
            self.table_model.dataChanged.emit(self.table_model.index(0, 0), self.table_model.index(
                len(self.drafts) - 1, len(CaseTableModel.COLUMNS) - 1))

    def _unique_id(self, base: str) -> str:
        ids = {d.id for d in self.drafts}
        if base not in ids:
            return base
        n = 2
        while f"{base}-{n}" in ids:
            n += 1
        return f"{base}-{n}"

    def add_case(self) -> None:
        if self.suite is None:
            return
        row = self.selected_row() + 1 if self.selected_row() >= 0 else len(self.drafts)
        self._insert(row, CaseDraft(id=self._unique_id(f"case-{len(self.drafts) + 1}")))
        self.editor.focus_field("prompt")

    def duplicate_case(self) -> None:
        row = self.selected_row()
        if row < 0:
            return
        source = self.drafts[row]
        self._insert(row + 1, source.copy_as(self._unique_id(f"{source.id}-copy")))
        self.editor.focus_field("id")

    def _insert(self, row: int, draft: CaseDraft) -> None:
        self.table_model.insert(row, draft)
        self._validate_all()
        self.select_row(row)
        self._set_dirty(True)

    def delete_cases(self) -> None:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()}, reverse=True)
        if not rows and self.selected_row() >= 0:
            rows = [self.selected_row()]
        if not rows:
            return
        for row in rows:
            self.table_model.remove(row)
        self._validate_all()
        self._refresh_rows()
        self.select_row(min(rows[-1], len(self.drafts) - 1))
        if not self.drafts:
            self.editor.set_draft(None)
        self._set_dirty(True)

    def _set_dirty(self, dirty: bool) -> None:
        self.dirty = dirty
        self._update_header()
        self._update_case_buttons()

    def _update_header(self) -> None:
        if self.suite is None or self.suite_path is None:
            self.suite_label.setText("No suite open")
            self.path_label.setText("")
            self.description_label.hide()
            self.scoring_label.hide()
        else:
            self.suite_label.setText(f"{self.suite.name}{' •' if self.dirty else ''}")
            self.suite_label.setToolTip("Unsaved changes: Ctrl+S saves them" if self.dirty else "")
            self.path_label.setText(f"  {_short_path(self.suite_path)}")
            self.path_label.setToolTip(str(self.suite_path))
            self.description_label.setText(self.suite.description or "")
            self.description_label.setVisible(bool(self.suite.description))
            text, tip = scoring_line(self.suite)
            self.scoring_label.setText(text)
            self.scoring_label.setToolTip(tip)
            self.scoring_label.setVisible(bool(text))
        count = len(self.drafts)
        bad = sum(1 for d in self.drafts if d.error)
        self.cases_label.setText(f"Cases · {count}" + (f" · {bad} to fix" if bad else ""))

    def _update_case_buttons(self) -> None:
        has_suite = self.suite is not None
        selected = self.selected_row() >= 0
        self.add_button.setEnabled(has_suite)
        self.duplicate_button.setEnabled(selected)
        self.delete_button.setEnabled(selected)
        self.save_button.setEnabled(has_suite)
        self.save_as_button.setEnabled(has_suite)

    # Saving -----------------------------------------------------------------------------

    def edited_suite(self) -> Suite | None:
        """What a run uses: the suite as loaded while unchanged (its hash matches the file's), else the edits."""
        if self.suite is not None and not self.dirty:
            return self.suite
        return self._suite_from_drafts()

    def _suite_from_drafts(self) -> Suite | None:
        """The cases as edited, validated; None (with the first mistake selected and shown) if any is wrong."""
        if self.suite is None:
            return None
        cases = self._validate_all()
        self._refresh_rows()
        bad = next((n for n, d in enumerate(self.drafts) if d.error), None)
        if bad is not None:
            self.select_row(bad)
            draft = self.drafts[bad]
            self.editor.focus_field(draft.error_field or "prompt")
            self.show_banner(f'Case "{draft.id}" needs a fix', draft.error or "")
            return None
        if not cases:
            self.show_banner("The suite has no cases", "Add at least one case with a prompt.")
            return None
        version = None if self.suite.version.startswith("sha-") else self.suite.version
        try:
            return suite_from_cases(self.suite.name, cases, description=self.suite.description, version=version,
                                    source_path=str(self.suite_path or ""), judge=self.suite.judge,
                                    reference=self.suite.reference, rubric=self.suite.rubric,
                                    threshold=self.suite.threshold)
        except SuiteError as exc:
            self.show_banner("The suite needs a fix", str(exc))
            return None

    def save(self) -> bool:
        if self.suite is None or self.suite_path is None:
            return False
        if is_bundled(self.suite_path):
            # The included suites stay as shipped (`make run` uses them); edits go to a copy.
            return self.save_as(note="The included suites stay as they are: choose where to save your copy.")
        if self.suite_path.suffix.lower() != ".jsonl":  # a CSV import: saved as a new .jsonl beside it
            return self._write(self._free_jsonl_name(self.suite_path))
        return self._write(self.suite_path)

    def _free_jsonl_name(self, source: Path) -> Path:
        target = source.with_suffix(".jsonl")
        n = 2
        while target.exists():
            target = source.with_name(f"{source.stem}-{n}.jsonl")
            n += 1
        return target

    def save_as(self, path: str | Path | None = None, note: str | None = None) -> bool:
        if self.suite is None:
            return False
        if path is None:
            if self.suite_path and not is_bundled(self.suite_path):
                folder = self.suite_path.parent
            else:
                folder = paths.data_dir() / "suites"
                folder.mkdir(parents=True, exist_ok=True)
            suggested = folder / f"{self.suite_path.stem if self.suite_path else self.suite.name}.jsonl"
            chosen, _ = QFileDialog.getSaveFileName(self, note or "Save the suite as", str(suggested),
                                                    "JSON Lines (*.jsonl)")
            if not chosen:
                return False
            path = chosen
        target = Path(path)
        if target.suffix.lower() != ".jsonl":
            target = target.with_name(target.name + ".jsonl")
        return self._write(target)

    def _write(self, target: Path) -> bool:
        suite = self._suite_from_drafts()
        if suite is None:
            return False
        source = self.suite_path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            save_suite(suite, target)
            saved = load_suite(target)  # what a later open or the CLI sees: same hash and version
        except (OSError, UserError) as exc:
            show_error(self, "Could not save the suite", f"{target}: {exc}")
            return False
        self.suite = saved
        self.suite_path = target.resolve()
        for draft, case in zip(self.drafts, saved.cases, strict=True):
            draft.line, draft.original_expected = case.line, case.expected
        self._set_dirty(False)
        self.hide_banner()
        if source is not None and source.suffix.lower() == ".csv" and target.suffix.lower() == ".jsonl":
            self.show_banner(f"Saved as {target.name}",
                             f"ModelScout saves suites as JSON Lines: the cases are now in {target.name}, "
                             f"next to {source.name}, which is unchanged.", kind="info")
        self._remember_recent(self.suite_path)
        self._refresh_interrupted()
        self.suite_opened.emit(str(self.suite_path))
        return True

    # Banner -----------------------------------------------------------------------------

    def show_banner(self, title: str, text: str, kind: str = "error", action: str | None = None,
                    on_action: Any = None, action_tip: str = "") -> None:
        self._banner_action = on_action if action else None
        self.banner.show_message(title, text, kind, action, action_tip)

    def hide_banner(self) -> None:
        self.banner.hide()

    def banner_message(self) -> str:
        return self.banner.message()

    # Running ----------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.worker is not None

    def _picker_scanned(self) -> None:
        if self._picker_ready:
            return
        self._picker_ready = True
        remembered = _string_list(_ui_state().value(MODELS_KEY, []))
        if remembered:
            self.picker.set_selected(remembered)
        else:  # first start: the demo models the project set up
            self.picker.set_selected([e.path for e in self.picker.entries if e.source == "project"])

    def run(self) -> None:
        if self.is_running():
            return
        suite = self.edited_suite()
        if suite is None:
            return
        models = self.picker.selected_paths()
        if not models:
            self.show_banner("No model chosen", "Tick at least one model under “Run on models”, then press Run.")
            return
        state = _ui_state()
        state.setValue(MODELS_KEY, models)
        self.hide_banner()
        settings = self.ctx.settings
        if not any(parse_model_ref(m) for m in models):
            self._start_new(suite, models, settings, None)
            return
        # Paid API calls: show what they may cost first, and let the user set a hard cap.
        self.run_panel.progress_label.setText("Estimating the API cost…")
        run_in_background(lambda: estimate_api_cost(settings, self.ctx, suite, models),
                          lambda estimates: self._confirm_cost(estimates, suite, models, settings),
                          lambda exc: show_exception(self, "Cannot estimate the API cost", exc), self)

    def _confirm_cost(self, estimates: list[Any], suite: Any, models: list[str], settings: Any) -> None:
        if not any(e.worst_usd for e in estimates):  # nothing priced: no money at stake
            self._start_new(suite, models, settings, None)
            return
        dialog = CostDialog(estimates, parent=self)
        dialog.accepted.connect(lambda: self._start_priced(suite, models, settings, dialog.cap(), dialog.prices()))
        dialog.rejected.connect(self._update_run_buttons)
        self.cost_dialog = dialog
        dialog.open()

    def _start_priced(self, suite: Any, models: list[str], settings: Any, cap: float | None,
                      prices: dict[str, dict[str, float]]) -> None:
        """Prices given in the cost dialog are kept in Settings (as Settings > API models keeps them), then the
        run starts under them, so its cap can bound every model."""
        if prices:
            saved = self.ctx.settings
            try:
                self.ctx.save_settings(dataclasses.replace(saved, price_overrides={**saved.price_overrides,
                                                                                   **prices}))
            except (SettingsError, OSError) as exc:
                show_exception(self, "Could not save the prices", exc)
                self._update_run_buttons()
                return
            settings = dataclasses.replace(settings, price_overrides={**settings.price_overrides, **prices})
        self._start_new(suite, models, settings, cap)

    def _start_new(self, suite: Any, models: list[str], settings: Any, cap: float | None) -> None:
        if self.is_running():
            return
        self._start(lambda cancel: run_events(self.ctx.database_path(), settings, self.ctx, self.ctx.catalog,
                                              self.ctx.pool, cancel, suite=suite, model_paths=models,
                                              max_cost_usd=cap))

    def resume(self, run_id: str | None = None) -> bool:
        """Finish an unfinished run (the chosen one by default) as `modelscout run --resume` does: the answers
        already stored are kept and only the missing ones are made. False if it did not start."""
        run_id = run_id or self.interrupted_combo.currentData()
        if self.is_running():
            if run_id and run_id != self.run_id:
                self.show_banner("A run is going", f"Run {self.run_id} is running now: Resume run {run_id} when it "
                                 f"has finished, or cancel it first.", kind="info")
            return False
        if not run_id or not self._confirm_resume(run_id):
            return False
        cap = self._resume_cap(run_id)
        if cap is False:
            return False
        settings = self.ctx.settings
        self._start(lambda cancel: run_events(self.ctx.database_path(), settings, self.ctx, self.ctx.catalog,
                                              self.ctx.pool, cancel, run_id=run_id, max_cost_usd=cap))
        return True

    def _resume_cap(self, run_id: str) -> float | None | bool:
        """A run with a cost cap may have stopped at it: offer to raise it. False: the user cancelled."""
        try:
            run = self.ctx.store.run(run_id)
            spent = self.ctx.store.api_spend(run["id"])
        except UserError:
            return None
        cap = run.get("max_cost_usd")
        if cap is None:
            return None
        value, ok = QInputDialog.getDouble(
            self, "Cost cap", f"Run {run['id']} has spent {format_usd(spent)} on API answers of its "
            f"{format_usd(cap)} cap. Stop the API answers before they cost more than ($):",
            max(cap, spent * 2, 0.01), 0, 100_000, 4)
        return value if ok else False

    def _confirm_resume(self, run_id: str) -> bool:
        """A run still marked running may be running elsewhere (another window, `modelscout run`): ask first."""
        try:
            run = self.ctx.store.run(run_id)
            answers = len(self.ctx.store.done_cells(run["id"]))
        except UserError as exc:
            show_exception(self, "Cannot resume the run", exc)
            return False
        if run["status"] != "running":
            return True
        answer = QMessageBox.question(
            self, "Resume this run?", left_running_question(run["id"], answers),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def cancel(self) -> None:
        if self.is_running() and not self._cancel.is_set():
            self._cancel.set()
            self.run_panel.stopping()

    def _start(self, make: Any) -> None:
        self._cancel = threading.Event()
        cancel = self._cancel
        self.run_id = None
        self.run_status = None
        self.run_reason = None
        self._run_failed = False
        self.run_panel.begin()
        self.worker = GeneratorWorker(lambda: make(cancel), self)
        self.worker.yielded.connect(self._on_event)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_worker_finished)
        self.worker.start()
        self._update_run_buttons()

    def _on_event(self, event: Any) -> None:
        if self._closed:  # the window is closing: the store may be closed already
            return
        if isinstance(event, ev.RunStarted):
            self.run_id = event.run_id
            self.ctx.active_runs.add(event.run_id)
        elif isinstance(event, ev.RunFinished):
            self.run_status, self.run_reason = event.status, event.reason
        elif isinstance(event, ev.PriceNeeded):
            self.show_banner(
                f"{event.model_key} has no known price",
                f"The cost cap cannot bound what it spends, so it is stopped before its first request. Set its "
                f"price in Settings > API models (or `modelscout prices set {event.model_ref} --input USD --output "
                f"USD`), then Resume the run.", kind="warning", action="Open Settings",
                on_action=lambda: self.ctx.navigate.emit("Settings"), action_tip="Set the price under API models")
        self.run_panel.show_event(event)
        if isinstance(event, ev.CaseFinished) and self.run_id:
            self._announce_answers(self.run_id)
        if isinstance(event, ev.CaseFinished):
            self.case_finished.emit(event)

    def _on_failed(self, exc: BaseException) -> None:
        self._run_failed = True
        title = "The run could not start" if self.run_id is None else "The run stopped"
        show_exception(self, title, exc)

    def _on_worker_finished(self) -> None:
        self.worker = None
        if self._closed:  # the window is closing: the store may be closed already
            return
        run_id, status = self.run_id or "", self.run_status or ("failed" if self._run_failed else "interrupted")
        self.run_status = status
        self.ctx.active_runs.discard(run_id)
        retryable = False
        if status == "failed" and run_id:
            try:
                retryable = has_retryable_answers(self.ctx.store.results(run_id))
            except UserError:
                pass
        retryable = retryable or status == "incomplete"
        self.run_panel.finish(run_id, status, self.run_reason, retryable)
        if run_id and status in ("incomplete", "failed"):  # why, in full, where there is room for it
            reason = self.run_reason or ""
            self.show_banner(f"Run {run_id} is {status}", reason[:1].upper() + reason[1:] + ("." if reason else ""),
                             kind="warning" if retryable else "error", action="Resume" if retryable else None,
                             on_action=lambda: self.resume(run_id),
                             action_tip="Try again the answers that failed for a reason that may pass")
        if run_id:
            self._announce_answers.cancel()  # the final word, now
            self.ctx.runs_changed.emit(run_id)
        self._refresh_interrupted(prefer=run_id if status != "complete" else None)
        self._update_run_buttons()
        self.run_finished.emit(run_id, status)

    def _log_item_activated(self, item: QTreeWidgetItem) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if not data:
            return
        model_key, case_id = data
        row = next((n for n, d in enumerate(self.drafts) if d.id == case_id), -1)
        if row >= 0:
            self.select_row(row)
        if self.run_id:
            self.ctx.open_run.emit(self.run_id, model_key)

    def _refresh_interrupted(self, prefer: str | None = None) -> None:
        """Offer Resume for this suite's runs that stopped before the end, crashed ones included."""
        if self._closed:
            return
        if self.suite is None:
            self._unfinished_reads.cancel()
            self._show_unfinished([], prefer)
            return
        database, active, name = self.ctx.database_path(), set(self.ctx.active_runs), self.suite.name
        self._unfinished_reads.request(
            with_store(database, lambda store: unfinished_runs(store, active, suite_name=name)),
            lambda runs: self._show_unfinished(runs, prefer),
            lambda exc: self._show_unfinished([], prefer) if isinstance(exc, UserError)
            else show_exception(self, "Cannot read the unfinished runs", exc))

    def _show_unfinished(self, runs: list[Any], prefer: str | None) -> None:
        if self._closed:
            return
        self.run_panel.set_unfinished(runs, prefer)
        self._update_run_buttons()

    def _update_run_buttons(self) -> None:
        running = self.is_running()
        self.run_panel.update_buttons(running, self._cancel.is_set(),
                                      self.suite is not None and bool(self.picker.selected_paths()))
        self.escape_shortcut.setEnabled(running)
        if not running and self.run_id is None:
            self.progress_label.setText("Not running" if self.picker.selected_paths()
                                        else "Tick a model above to run the suite")

    # Screen hooks -----------------------------------------------------------------------

    def on_shown(self) -> None:
        self._refresh_interrupted()

    def maybe_close(self) -> bool:
        """The window is closing: unsaved edits are saved, dropped or keep it open, as the person says."""
        return self._settle_unsaved("Closing ModelScout")

    def save_state(self, state: QSettings) -> None:
        if self._picker_ready:
            state.setValue(MODELS_KEY, self.picker.selected_paths())

    def running_work(self) -> str | None:
        """The run in progress, in words, for the question asked before the window closes; None if none."""
        if self.worker is None or not self.worker.is_running():
            return None
        suite = f" of suite “{self.suite.name}”" if self.suite is not None else ""
        done = f" ({self.progress.value()} of {self.progress.maximum()} answers)" if self.progress.maximum() else ""
        return f"Run {self.run_id}{suite}{done}" if self.run_id else f"A suite run{suite}, starting"

    def stop_work(self, seconds: float) -> bool:
        """Cancel the run and wait up to `seconds` for its thread to end; True when no thread is left."""
        worker = self.worker
        if worker is None:
            return True
        self.cancel()
        return worker.wait(seconds)

    def shutdown(self) -> None:
        """Stop a running job and wait for it, so no thread outlives the window."""
        self._closed = True
        self._load_token += 1  # a suite that finishes loading now is not shown: the app is closing
        self._announce_answers.cancel()
        self._unfinished_reads.cancel()
        worker = self.worker
        if worker is not None:
            self._cancel.set()
            worker.wait(60)
