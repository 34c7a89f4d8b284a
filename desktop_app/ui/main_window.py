"""The main window: a screen list on the left, the current screen on the right, state remembered."""

from __future__ import annotations

import time

import psutil
from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow, QMessageBox,
                               QPushButton, QSplitter, QStackedWidget, QVBoxLayout, QWidget)

from desktop_app import __version__, paths
from desktop_app.ui.context import AppContext
from desktop_app.ui.memory import freeze_long_lived
from desktop_app.ui.pages import PAGES, Page

# Quitting mid-run: how long a run gets to stop at its next token before the model workers are killed (a
# model still loading, or reading a long prompt, does not look at the cancel until it is done), and then
# how long its thread gets to wind down after that.
STOP_WAIT_S = 4.0
KILLED_WAIT_S = 3.0
STOP_AND_QUIT = "Stop and quit"


def ui_state() -> QSettings:
    """Window geometry, splitters and the last screen: UI state, kept apart from the user's settings."""
    return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("ModelScout")
        self.setObjectName("mainWindow")
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(160)
        self.stack = QStackedWidget()
        self._quitting = False  # asking the screens before closing: they may show themselves without asking
        # Screens are built when first shown, so the window appears fast (the plot library loads later).
        self._factories = dict(PAGES)
        self.pages: dict[str, Page | None] = dict.fromkeys(self._factories)
        for name in self._factories:
            self.stack.addWidget(QWidget())
            self.nav.addItem(QListWidgetItem(name))
        self.nav.currentRowChanged.connect(self._show_row)

        brand = QLabel(f"<b>ModelScout</b><br><span style='color:#667'>v{__version__}</span>")
        brand.setContentsMargins(12, 10, 8, 2)
        self.about_button = QPushButton("About")
        self.about_button.setObjectName("aboutButton")
        self.about_button.setFlat(True)
        self.about_button.setToolTip("Version and licences: ModelScout's, its libraries' and the demo model's")
        self.about_button.setStyleSheet("QPushButton#aboutButton { color: #2f6fde; text-align: left; "
                                        "padding: 2px 12px 8px 12px; border: none; }")
        self.about_button.clicked.connect(self.show_about)
        self.about_dialog = None
        self._demo_run = None  # the guided start's demo suite run, followed to its Tradeoff plot
        side = QWidget()
        side.setObjectName("sidebar")
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(0)
        side_layout.addWidget(brand)
        side_layout.addWidget(self.about_button, 0, Qt.AlignmentFlag.AlignLeft)
        side_layout.addWidget(self.nav, 1)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(side)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.statusBar().showMessage(f"Data: {ctx.database_path()}")

        ctx.navigate.connect(self.show_page)
        ctx.open_run.connect(lambda run_id, key: self.show_page("Results").show_run(run_id, key))
        ctx.open_suite.connect(lambda path: self.show_page("Suites").open_suite(path))
        ctx.resume_run.connect(lambda run_id: self.show_page("Suites").resume(run_id))
        self._restore()

    def page(self, name: str) -> Page:
        """The screen, built on first use."""
        page = self.pages[name]
        if page is None:
            page = self.pages[name] = self._factories[name](self.ctx)
            page.setObjectName(f"page-{name.lower()}")
            index = list(self.pages).index(name)
            placeholder = self.stack.widget(index)
            self.stack.insertWidget(index, page)
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
            state = ui_state()
            for splitter in page.findChildren(QSplitter):
                if splitter.objectName() and (value := state.value(f"splitters/{splitter.objectName()}")):
                    splitter.restoreState(value)
            if hasattr(page, "restore_state"):
                page.restore_state(state)
            if hasattr(page, "run_demo_suite"):  # the Models screen's guided start
                page.run_demo_suite.connect(self.run_demo_suite)
            freeze_long_lived()  # a screen lives as long as the window: keep it out of full GC passes
        return page

    def show_page(self, name: str) -> Page | None:
        if name not in self.pages:
            return None
        page = self.page(name)
        self.nav.setCurrentRow(list(self.pages).index(name))
        return page

    def show_about(self) -> None:
        from desktop_app.ui.widgets.about_dialog import AboutDialog

        if self.about_dialog is not None and self.about_dialog.isVisible():
            self.about_dialog.raise_()
            return
        if self.about_dialog is not None:
            self.about_dialog.deleteLater()
        self.about_dialog = AboutDialog(self)  # read anew: a model may have been fetched since
        self.about_dialog.open()

    def run_demo_suite(self, models: list[str]) -> None:
        """The guided start's last step: the demo suite on the Suites screen (its own run, progress and store),
        then that run's plot and recommendation on the Tradeoff screen."""
        from desktop_app.ui.widgets.first_run import DemoSuiteRun

        if self._demo_run is not None:
            self._demo_run.stop()
        self._demo_run = DemoSuiteRun(self.show_page("Suites"), models,
                                      lambda run_id: self.show_page("Tradeoff").show_run(run_id), self)

    def current_page_name(self) -> str:
        return list(self.pages)[self.stack.currentIndex()]

    def _show_row(self, row: int) -> None:
        if not self._may_leave(row):
            self._select_row(self.stack.currentIndex())  # back to the screen that stays
            return
        self._select_row(row)  # in case the question showed another screen meanwhile
        page = self.page(list(self.pages)[row])
        self.stack.setCurrentIndex(row)
        if hasattr(page, "on_shown"):
            page.on_shown()

    def _select_row(self, row: int) -> None:
        """Mark `row` in the screen list without switching screens."""
        if self.nav.currentRow() != row:
            self.nav.blockSignals(True)
            self.nav.setCurrentRow(row)
            self.nav.blockSignals(False)

    def _may_leave(self, row: int) -> bool:
        """The screen shown now agrees to be left for row's (Settings asks about unsaved changes)."""
        current = self.pages[self.current_page_name()]
        if self._quitting or row == self.stack.currentIndex() or not hasattr(current, "maybe_leave"):
            return True
        return current.maybe_leave()

    def _restore(self) -> None:
        state = ui_state()
        if geometry := state.value("window/geometry"):
            self.restoreGeometry(geometry)
        else:
            self.resize(QSize(1240, 780))
        last = state.value("window/page", "Models")
        self.show_page(last if last in self.pages else "Models")

    def save_state(self) -> None:
        state = ui_state()
        state.setValue("window/geometry", self.saveGeometry())
        state.setValue("window/page", self.current_page_name())
        for splitter in self.findChildren(QSplitter):
            if splitter.objectName():
                state.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        for page in self.built_pages():
            if hasattr(page, "save_state"):
                page.save_state(state)
        state.sync()

    def built_pages(self) -> list[Page]:
        return [p for p in self.pages.values() if p is not None]

    def may_close(self) -> bool:
        """Every screen agrees to close (each may ask the person first, e.g. about unsaved edits)."""
        return all(page.maybe_close() for page in self.built_pages() if hasattr(page, "maybe_close"))

    def running_work(self) -> list[tuple[str, str]]:
        """(screen, what it is running, in words) for each screen with a run in progress."""
        return [(name, work) for name, page in self.pages.items()
                if page is not None and hasattr(page, "running_work") and (work := page.running_work())]

    def may_stop_runs(self) -> bool:
        """No run in progress, or the person agrees to stop it: a run left going would write to a closed app."""
        running = self.running_work()
        if not running:
            return True
        self.show_page(running[0][0])  # the person sees what the question is about
        box = QMessageBox(QMessageBox.Icon.Question, "Quit ModelScout?", "A run is in progress – stop it and quit?",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("quitWhileRunning")
        resume = "; Resume on the Suites screen finishes it later" if any(s == "Suites" for s, _ in running) else ""
        box.setInformativeText("\n".join(work for _screen, work in running) + "\n\nThe answers already stored "
                               f"are kept and the run is marked interrupted{resume}.")
        stop = box.addButton(STOP_AND_QUIT, QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is stop

    def stop_runs(self) -> None:
        """Stop every run and wait for its thread, so the store closes only after the last write; a model
        that does not stop in time (still loading) has its worker process killed."""
        pages = [page for page in self.built_pages() if hasattr(page, "stop_work")]
        if not any(page.running_work() for page in pages):
            return
        self.statusBar().showMessage("Stopping the run…")
        self.statusBar().repaint()
        for page in pages:  # every run is told at once, then each gets what is left of the wait
            page.stop_work(0)
        deadline = time.monotonic() + STOP_WAIT_S
        stopped = [page.stop_work(max(0.0, deadline - time.monotonic())) for page in pages]
        deadline = time.monotonic() + KILLED_WAIT_S
        while not all(stopped) and time.monotonic() < deadline:  # again: a worker may start just after a kill
            self._kill_model_workers()
            stopped = [page.stop_work(0.2) for page in pages]

    def _kill_model_workers(self) -> None:
        for provider in self.ctx.pool.loaded():
            try:
                psutil.Process(provider.pid).kill()
            except (psutil.Error, TypeError):  # gone already
                pass

    def closeEvent(self, event: QCloseEvent) -> None:
        self._quitting = True  # each screen asks its own question; switching to it asks nothing more
        try:
            agreed = self.may_stop_runs() and self.may_close()
        finally:
            self._quitting = False
        if not agreed:
            event.ignore()
            return
        self.stop_runs()
        for page in self.built_pages():
            if hasattr(page, "shutdown"):
                page.shutdown()
        self.save_state()
        self.ctx.close()
        super().closeEvent(event)
