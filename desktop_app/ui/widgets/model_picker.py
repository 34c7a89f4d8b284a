"""Pick any number of local models from the library (checkable list, scanned off the UI thread)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from desktop_app.ui.context import AppContext
from desktop_app.ui.library import LibraryEntry, scan_library
from desktop_app.ui.workers import run_in_background
from desktop_app.units import format_bytes


class ModelPicker(QWidget):
    selection_changed = Signal()
    scanned = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.entries: list[LibraryEntry] = []
        self.list = QListWidget()
        self.list.setObjectName("modelPickerList")
        self.list.itemChanged.connect(lambda *_: self.selection_changed.emit())
        self.empty = QLabel("No models yet: add some on the Models screen.")
        self.empty.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addWidget(self.empty)
        self.empty.hide()
        ctx.library_changed.connect(self.refresh)
        ctx.settings_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        ctx = self.ctx
        run_in_background(lambda: scan_library(ctx.settings, ctx.catalog, ctx.hardware),
                          self._fill, lambda exc: None, self)

    def _fill(self, entries: list[LibraryEntry]) -> None:
        checked = set(self.selected_paths())
        self.entries = [e for e in entries if e.info is not None]
        self.list.blockSignals(True)
        self.list.clear()
        for entry in self.entries:
            item = QListWidgetItem(f"{entry.display_name}  ·  {entry.info.quantization}  ·  "
                                   f"{format_bytes(entry.info.file_size)}")
            item.setData(Qt.ItemDataRole.UserRole, str(entry.path))
            item.setToolTip(f"{entry.path}\n{entry.fit.reason if entry.fit else ''}")
            fits = entry.fit is None or entry.fit.fits
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            if not fits:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setText(item.text() + "  ·  won't fit")
            item.setCheckState(Qt.CheckState.Checked if str(entry.path) in checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.empty.setVisible(not self.entries)
        self.selection_changed.emit()
        self.scanned.emit()

    def selected_paths(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def set_selected(self, model_paths: list[str | Path]) -> None:
        wanted = {str(Path(p).resolve()) for p in model_paths}
        for i in range(self.list.count()):
            item = self.list.item(i)
            path = str(Path(item.data(Qt.ItemDataRole.UserRole)).resolve())
            item.setCheckState(Qt.CheckState.Checked if path in wanted else Qt.CheckState.Unchecked)
