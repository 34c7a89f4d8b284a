"""The main window: a screen list on the left, the current screen on the right, state remembered."""

from __future__ import annotations

from PySide6.QtCore import QSettings, QSize
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow, QSplitter,
                               QStackedWidget, QVBoxLayout, QWidget)

from desktop_app import __version__, paths
from desktop_app.ui.context import AppContext
from desktop_app.ui.memory import freeze_long_lived
from desktop_app.ui.pages import PAGES, Page


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
        # Screens are built when first shown, so the window appears fast (the plot library loads later).
        self._factories = dict(PAGES)
        self.pages: dict[str, Page | None] = dict.fromkeys(self._factories)
        for name in self._factories:
            self.stack.addWidget(QWidget())
            self.nav.addItem(QListWidgetItem(name))
        self.nav.currentRowChanged.connect(self._show_row)

        brand = QLabel(f"<b>ModelScout</b><br><span style='color:#667'>v{__version__}</span>")
        brand.setContentsMargins(12, 10, 8, 10)
        side = QWidget()
        side.setObjectName("sidebar")
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(brand)
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
            freeze_long_lived()  # a screen lives as long as the window: keep it out of full GC passes
        return page

    def show_page(self, name: str) -> Page | None:
        if name not in self.pages:
            return None
        page = self.page(name)
        self.nav.setCurrentRow(list(self.pages).index(name))
        return page

    def current_page_name(self) -> str:
        return list(self.pages)[self.stack.currentIndex()]

    def _show_row(self, row: int) -> None:
        page = self.page(list(self.pages)[row])
        self.stack.setCurrentIndex(row)
        if hasattr(page, "on_shown"):
            page.on_shown()

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

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.may_close():
            event.ignore()
            return
        for page in self.built_pages():
            if hasattr(page, "shutdown"):
                page.shutdown()
        self.save_state()
        self.ctx.close()
        super().closeEvent(event)
