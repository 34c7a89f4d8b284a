"""The Suites screen: open a suite, edit its cases, run it on chosen models and watch it finish."""

from __future__ import annotations

import datetime as dt
import html
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QKeySequence, QPainter, QPixmap, QShortcut, QTextCursor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFrame, QHBoxLayout, QHeaderView, QLabel,
                               QListWidget, QListWidgetItem, QMessageBox, QPlainTextEdit, QProgressBar, QPushButton,
                               QSizePolicy, QSplitter, QStackedWidget, QTableView, QToolButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.models.catalog import ModelCatalog
from desktop_app.providers.base import Sampling
from desktop_app.providers.pool import ModelPool
from desktop_app.runner import events as ev
from desktop_app.runner.runner import Runner
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.suites import Suite, SuiteError, load_suite, save_suite, suite_from_cases
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_error, show_exception
from desktop_app.ui.widgets.case_editor import CaseDraft, CaseEditor, CaseTableModel, mark_duplicate_ids
from desktop_app.ui.widgets.model_picker import ModelPicker
from desktop_app.ui.workers import GeneratorWorker, run_in_background

BUNDLED_SUITES = paths.RESOURCES_DIR / "suites"
DEMO_SUITE = BUNDLED_SUITES / "demo.jsonl"
SUITE_FILTER = "Suites (*.jsonl *.csv);;JSON Lines (*.jsonl);;CSV (*.csv);;All files (*)"
RECENT_KEY = "suites/recent"
MODELS_KEY = "suites/models"
MAX_RECENT = 8
OUTCOME_COLORS = {"pass": "#2e7d32", "fail": "#c62828", "error": "#e07b00", "answered": "#5b6270",
                  "note": "#5b6270"}


def _ui_state() -> QSettings:
    from desktop_app.ui.main_window import ui_state  # imported late: main_window imports the screens

    return ui_state()


def _string_list(value: Any) -> list[str]:
    """QSettings gives a one-item list back from an INI file as a bare string."""
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value or []]


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


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def _short_path(path: Path) -> str:
    home = Path.home()
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


def _is_bundled(path: Path) -> bool:
    return path.resolve().parent == BUNDLED_SUITES.resolve()


def outcome(row: dict[str, Any]) -> str:
    if row.get("error"):
        return "error"
    if row.get("grade_passed") is None:
        return "answered"
    return "pass" if row["grade_passed"] else "fail"


def run_events(db_path: Path, settings: Settings, ctx: AppContext, catalog: ModelCatalog, pool: ModelPool,
               cancel: threading.Event, *, suite: Suite | None = None, model_paths: list[str] | None = None,
               run_id: str | None = None) -> Iterator[ev.RunEvent]:
    """A new run of `suite` on `model_paths`, or the rest of run `run_id`; runs on the worker thread."""
    store = Store(db_path)
    try:
        runner = Runner(store, settings, catalog, ctx.hardware, pool=pool)
        if run_id is None:
            assert suite is not None and model_paths
            sampling = Sampling(temperature=settings.temperature, max_tokens=settings.max_tokens,
                                seed=settings.seed)
            run_id = runner.create_run(suite, [runner.spec_for(p) for p in model_paths], sampling)
        yield from runner.execute(run_id, cancel)
    finally:
        store.close()


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
        self.run_id: str | None = None
        self.run_status: str | None = None
        self._cancel = threading.Event()
        self._load_token = 0
        self._opened_any = False
        self._picker_ready = False
        self._run_started_at = 0.0
        self._done_before = 0
        self._run_failed = False
        self._models_seen: set[str] = set()

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
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open or import a suite file: JSON Lines (.jsonl) or CSV (Ctrl+O)")
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

        self.banner = QFrame()
        self.banner.setObjectName("suiteBanner")
        self.banner_title = QLabel()
        self.banner_title.setObjectName("bannerTitle")
        self.banner_title.setTextFormat(Qt.TextFormat.PlainText)
        self.banner_title.setStyleSheet("font-weight: 600; background: transparent; border: none;")
        self.banner_text = QLabel()
        self.banner_text.setObjectName("bannerText")
        self.banner_text.setTextFormat(Qt.TextFormat.PlainText)
        self.banner_text.setWordWrap(True)
        self.banner_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner_text.setStyleSheet("background: transparent; border: none;")
        self.banner_close = QToolButton()
        self.banner_close.setText("✕")
        self.banner_close.setToolTip("Hide this message")
        self.banner_close.setAutoRaise(True)
        banner_text_box = QVBoxLayout()
        banner_text_box.setSpacing(2)
        banner_text_box.addWidget(self.banner_title)
        banner_text_box.addWidget(self.banner_text)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(12, 8, 6, 8)
        banner_layout.addLayout(banner_text_box, 1)
        banner_layout.addWidget(self.banner_close, 0, Qt.AlignmentFlag.AlignTop)
        self.banner.hide()

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
        layout.addWidget(self.banner)
        layout.addWidget(self.main_splitter, 1)

    @staticmethod
    def _section(text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet("font-weight: 600; color: #333a45;")
        return label

    def _build_suite_list(self) -> QWidget:
        self.suite_list = QListWidget()
        self.suite_list.setObjectName("suiteList")
        self.suite_list.setToolTip("Click a suite to open it")
        self.suite_list.setStyleSheet("#suiteList::item { padding: 3px 4px; }")
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(self._section("Suites"))
        layout.addWidget(self.suite_list, 1)
        box.setMinimumWidth(120)
        return box

    def _build_cases(self) -> QWidget:
        self.cases_label = self._section("Cases")
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
        editor_layout.addWidget(self._section("Selected case"))
        editor_layout.addWidget(self.editor, 1)

        self.case_splitter = QSplitter(Qt.Orientation.Vertical)
        self.case_splitter.setObjectName("suitesCaseSplitter")
        self.case_splitter.setChildrenCollapsible(False)
        self.case_splitter.addWidget(self.table)
        self.case_splitter.addWidget(editor_box)
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
        self.picker = ModelPicker(self.ctx)
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
        self.current_label = QLabel()
        self.current_label.setObjectName("currentCase")
        self.current_label.setTextFormat(Qt.TextFormat.PlainText)
        self.current_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.live_answer = QPlainTextEdit()
        self.live_answer.setObjectName("liveAnswer")
        self.live_answer.setReadOnly(True)
        self.live_answer.setPlaceholderText("The answer being written appears here")
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
        self.interrupted_combo.setToolTip("Runs of this suite that were stopped before the end")
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
        resume_layout.addWidget(self._section("Stopped runs of this suite"))
        resume_layout.addLayout(resume_row)

        panel = QWidget()
        panel.setObjectName("runPanel")
        panel.setMinimumWidth(290)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(self._section("Run on models"))
        layout.addWidget(self.picker)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.current_label)
        layout.addWidget(self.live_answer)
        layout.addWidget(self._section("Finished cases"))
        layout.addWidget(self.log, 1)
        layout.addWidget(self.done_row)
        layout.addWidget(self.resume_box)
        return panel

    def _connect(self) -> None:
        self.open_button.clicked.connect(self.open_dialog)
        self.empty_open_button.clicked.connect(self.open_dialog)
        self.save_button.clicked.connect(self.save)
        self.save_as_button.clicked.connect(lambda: self.save_as())
        self.banner_close.clicked.connect(self.banner.hide)
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
        if not self._settle_unsaved("opening another suite"):
            return
        self._load(Path(path))

    def _open_initial(self) -> None:
        if self._opened_any:
            return
        recent = self._recent()
        self._opened_any = True
        self._load(Path(recent[0]) if recent else DEMO_SUITE, fallback=DEMO_SUITE if recent else None)

    def _load(self, path: Path, fallback: Path | None = None) -> None:
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

        run_in_background(lambda: load_suite(path), done, failed, self)

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
        """True when it is fine to drop the edits: saved, discarded, or none."""
        if not self.dirty or self.suite_path is None:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes",
            f"{self.suite_path.name} has changes that are not saved. Save them before {doing}?",
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

        def scan() -> tuple[list[Path], list[Path]]:
            bundled = sorted(p.resolve() for p in BUNDLED_SUITES.glob("*")
                             if p.suffix.lower() in (".jsonl", ".csv"))
            others = [Path(p) for p in recent if Path(p).is_file() and Path(p).resolve() not in bundled]
            return bundled, others

        run_in_background(scan, lambda found: self._fill_suite_list(*found), lambda exc: None, self)

    def _fill_suite_list(self, bundled: list[Path], recent: list[Path]) -> None:
        self.suite_list.clear()

        def section(text: str) -> None:
            item = QListWidgetItem(text.upper())
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            font = item.font()
            font.setPointSizeF(font.pointSizeF() * 0.85)
            font.setBold(True)
            item.setFont(font)
            item.setForeground(QColor("#7a808c"))
            self.suite_list.addItem(item)

        for heading, files in (("Included", bundled), ("Recent", recent)):
            if not files:
                continue
            section(heading)
            for path in files:
                item = QListWidgetItem(path.name)
                item.setData(Qt.ItemDataRole.UserRole, str(path))
                item.setToolTip(str(path))
                self.suite_list.addItem(item)
                if self.suite_path and path == self.suite_path:
                    item.setSelected(True)
                    self.suite_list.setCurrentItem(item)

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
        else:
            self.suite_label.setText(f"{self.suite.name}{' •' if self.dirty else ''}")
            self.suite_label.setToolTip("Unsaved changes: Ctrl+S saves them" if self.dirty else "")
            self.path_label.setText(f"  {_short_path(self.suite_path)}")
            self.path_label.setToolTip(str(self.suite_path))
            self.description_label.setText(self.suite.description or "")
            self.description_label.setVisible(bool(self.suite.description))
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
                                    source_path=str(self.suite_path or ""))
        except SuiteError as exc:
            self.show_banner("The suite needs a fix", str(exc))
            return None

    def save(self) -> bool:
        if self.suite is None or self.suite_path is None:
            return False
        if _is_bundled(self.suite_path):
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
            if self.suite_path and not _is_bundled(self.suite_path):
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

    def show_banner(self, title: str, text: str, kind: str = "error") -> None:
        colors = {"error": ("#fdecea", "#f1b0ab", "#7a1c16"), "info": ("#e8f0fd", "#a9c3f0", "#1d3f7a")}
        background, border, foreground = colors[kind]
        self.banner.setProperty("kind", kind)
        self.banner.setStyleSheet(f"#suiteBanner {{ background: {background}; border: 1px solid {border}; "
                                  f"border-radius: 6px; }} #suiteBanner QLabel {{ color: {foreground}; }}")
        self.banner_title.setText(title)
        self.banner_text.setText(text)
        self.banner.show()

    def hide_banner(self) -> None:
        self.banner.hide()

    def banner_message(self) -> str:
        return f"{self.banner_title.text()}\n{self.banner_text.text()}" if self.banner.isVisible() else ""

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
        self._start(lambda cancel: run_events(self.ctx.database_path(), settings, self.ctx, self.ctx.catalog,
                                              self.ctx.pool, cancel, suite=suite, model_paths=models))

    def resume(self, run_id: str | None = None) -> None:
        if self.is_running():
            return
        run_id = run_id or self.interrupted_combo.currentData()
        if not run_id:
            return
        settings = self.ctx.settings
        self._start(lambda cancel: run_events(self.ctx.database_path(), settings, self.ctx, self.ctx.catalog,
                                              self.ctx.pool, cancel, run_id=run_id))

    def cancel(self) -> None:
        if self.is_running() and not self._cancel.is_set():
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Stopping…")

    def _start(self, make: Any) -> None:
        self._cancel = threading.Event()
        cancel = self._cancel
        self.run_id = None
        self.run_status = None
        self._run_failed = False
        self.log.clear()
        self._models_seen = set()
        self.log.setColumnHidden(2, True)
        self.live_answer.clear()
        self.done_row.hide()
        self.progress.setRange(0, 0)  # busy until the plan is known
        self.progress_label.setText("Checking the models…")
        self.current_label.setText("")
        self.worker = GeneratorWorker(lambda: make(cancel), self)
        self.worker.yielded.connect(self._on_event)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_worker_finished)
        self.worker.start()
        self._update_run_buttons()

    def _on_event(self, event: Any) -> None:
        if isinstance(event, ev.RunStarted):
            self.run_id = event.run_id
            self._run_started_at = time.perf_counter()
            self._done_before = event.done
            self.progress.setRange(0, max(event.total, 1))
            self.progress.setTextVisible(True)
            self.progress.setValue(event.done)
            self.progress_label.setText(f"{event.done} of {event.total} answers")
            if event.done:
                self._note("note", f"Resuming run {event.run_id}: {event.done} of {event.total} answers already stored")
        elif isinstance(event, ev.ModelLoading):
            self.current_label.setText(f"Loading {event.model_key}…")
        elif isinstance(event, ev.ModelLoaded):
            self.current_label.setText(f"Loaded {event.model_key} in {event.load_ms / 1000:.1f} s")
        elif isinstance(event, ev.ModelFailed):
            self._note("error", f"{event.model_key} could not be loaded: {event.error}")
        elif isinstance(event, ev.CaseStarted):
            self.current_label.setText(f"Now: {event.case_id}  ·  {event.model_key}")
            self.current_label.setToolTip(f"Case {event.case_id} on {event.model_key}")
            self.live_answer.clear()
        elif isinstance(event, ev.TokenStreamed):
            cursor = self.live_answer.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(event.text)
            self.live_answer.setTextCursor(cursor)
        elif isinstance(event, ev.CaseFinished):
            self._case_done(event)
        elif isinstance(event, ev.RunFinished):
            self.run_status = event.status

    def _case_done(self, event: ev.CaseFinished) -> None:
        self.progress.setValue(event.done)
        fresh = event.done - self._done_before
        elapsed = time.perf_counter() - self._run_started_at
        left = event.total - event.done
        eta = f" · about {_clock(elapsed / fresh * left)} left" if fresh and left else ""
        self.progress_label.setText(f"{event.done} of {event.total} answers · {_clock(elapsed)} so far{eta}")
        row = event.row
        result = outcome(row)
        speed = row.get("generation_tokens_per_second")
        item = QTreeWidgetItem([event.case_id, result, event.model_key,
                                "reused" if event.reused else f"{speed:.0f} tok/s" if speed else ""])
        item.setIcon(1, _dot(OUTCOME_COLORS[result]))
        item.setData(0, Qt.ItemDataRole.UserRole, (event.model_key, event.case_id))
        why = row.get("error") or row.get("grade_reason") or ""
        answer = (row.get("text") or "").strip()
        tooltip = (f"<p style='white-space:pre-wrap'><b>{html.escape(event.case_id)}</b> on "
                   f"{html.escape(event.model_key)}: {html.escape(why)}"
                   + (f"<br><br><i>Answer:</i> {html.escape(answer[:400])}" if answer else "") + "</p>")
        for column in range(self.log.columnCount()):
            item.setToolTip(column, tooltip)
        self._add_log_item(item)
        self._models_seen.add(event.model_key)
        self.log.setColumnHidden(2, len(self._models_seen) < 2)  # one model: its name says nothing
        self.case_finished.emit(event)

    def _note(self, kind: str, text: str) -> None:
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

    def _on_failed(self, exc: BaseException) -> None:
        self._run_failed = True
        title = "The run could not start" if self.run_id is None else "The run stopped"
        show_exception(self, title, exc)

    def _on_worker_finished(self) -> None:
        self.worker = None
        run_id, status = self.run_id or "", self.run_status or ("failed" if self._run_failed else "interrupted")
        self.run_status = status
        self.progress.setRange(0, max(self.progress.maximum(), 1))
        self.live_answer.setPlainText(self.live_answer.toPlainText())  # drop the cursor at the end
        if status == "complete":
            elapsed = time.perf_counter() - self._run_started_at
            stored = self.progress.maximum()
            self.progress.setValue(stored)
            self.progress_label.setText(f"Done: {stored} answers in {_clock(elapsed)}")
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
        if run_id:
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
        wanted = prefer or self.interrupted_combo.currentData()
        name = self.suite.name if self.suite else None
        try:
            runs = [r for r in self.ctx.store.runs(limit=500)
                    if r["kind"] == "suite" and r["status"] == "interrupted" and r["suite_name"] == name]
        except UserError:
            runs = []
        self.interrupted_combo.blockSignals(True)
        self.interrupted_combo.clear()
        for r in runs:
            try:
                when = dt.datetime.fromisoformat(r["created_at"]).astimezone().strftime("%b %d, %H:%M")
            except (TypeError, ValueError):
                when = r["created_at"] or ""
            label = f"{when} · {r['models']} model{'s' if r['models'] != 1 else ''} · {r['results']} answers"
            self.interrupted_combo.addItem(label, r["id"])
            self.interrupted_combo.setItemData(self.interrupted_combo.count() - 1, f"Run {r['id']}",
                                               Qt.ItemDataRole.ToolTipRole)
        if wanted and (index := self.interrupted_combo.findData(wanted)) >= 0:
            self.interrupted_combo.setCurrentIndex(index)
        self.interrupted_combo.blockSignals(False)
        self.resume_box.setVisible(bool(runs))
        self._update_run_buttons()

    def _update_run_buttons(self) -> None:
        running = self.is_running()
        self.run_button.setEnabled(not running and self.suite is not None and bool(self.picker.selected_paths()))
        self.cancel_button.setEnabled(running and not self._cancel.is_set())
        self.resume_button.setEnabled(not running and self.interrupted_combo.currentData() is not None)
        self.interrupted_combo.setEnabled(not running)
        self.escape_shortcut.setEnabled(running)
        if not running and self.run_id is None:
            self.progress_label.setText("Not running" if self.picker.selected_paths()
                                        else "Tick a model above to run the suite")

    # Screen hooks -----------------------------------------------------------------------

    def on_shown(self) -> None:
        self._refresh_interrupted()

    def save_state(self, state: QSettings) -> None:
        if self._picker_ready:
            state.setValue(MODELS_KEY, self.picker.selected_paths())

    def shutdown(self) -> None:
        """Stop a running job and wait for it, so no thread outlives the window."""
        worker = self.worker
        if worker is not None:
            self._cancel.set()
            worker.wait(60)
