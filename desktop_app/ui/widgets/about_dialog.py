"""The About dialog: ModelScout's version and licence, its libraries' licences and the licence of the demo model."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from desktop_app.licences import AboutInfo, Licence, about
from desktop_app.ui.workers import run_in_background

COLUMNS = ("Library", "Version", "Licence")


class AboutDialog(QDialog):
    filled = Signal()  # the licences are shown (read off the UI thread)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About ModelScout")
        self.info: AboutInfo | None = None
        self.title = QLabel("ModelScout")
        self.title.setObjectName("pageTitle")
        self.app_line = QLabel("Find the cheapest language model that is good enough for your own task.")
        self.app_line.setObjectName("aboutApp")
        self.app_line.setWordWrap(True)
        self.app_line.setTextFormat(Qt.TextFormat.PlainText)
        libraries = QLabel("Libraries it uses, with the licences their installed packages declare:")
        libraries.setObjectName("hint")
        libraries.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("licenceTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        models = QLabel("Models it fetches:")
        models.setObjectName("hint")
        self.models_label = QLabel()
        self.models_label.setObjectName("aboutModels")
        self.models_label.setWordWrap(True)
        self.models_label.setTextFormat(Qt.TextFormat.PlainText)
        self.models_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(self.title)
        layout.addWidget(self.app_line)
        layout.addSpacing(4)
        layout.addWidget(libraries)
        layout.addWidget(self.table, 1)
        layout.addWidget(models)
        layout.addWidget(self.models_label)
        layout.addWidget(buttons)
        self.resize(640, 520)
        # A few dozen small metadata files: quick, but a disk read all the same, so not on the UI thread.
        run_in_background(about, self.show_info, lambda exc: self.models_label.setText(
            f"The licences could not be read ({exc})."), self)

    def show_info(self, info: AboutInfo) -> None:
        self.info = info
        app = info.app
        self.title.setText(f"ModelScout {app.version}")
        self.app_line.setText("Find the cheapest language model that is good enough for your own task.\n"
                              f"Licence: {app.licence}.")
        self.table.setRowCount(len(info.libraries))
        for row, library in enumerate(info.libraries):
            for column, text in enumerate((library.name, library.version or "–", _licence_text(library))):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        self.models_label.setText("\n".join(
            f"{model.name}: {model.licence} licence ({model.note})." for model in info.models))
        self.filled.emit()

    def resizeEvent(self, event) -> None:  # noqa: ANN001 - a QResizeEvent
        super().resizeEvent(event)
        self.table.resizeRowsToContents()  # wrapped licences take the lines the new width gives them


def _licence_text(library: Licence) -> str:
    return f"{library.licence}\n{library.note}" if library.note else library.licence
