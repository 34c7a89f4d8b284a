"""Before a run that calls paid APIs: what it may cost at most, and a hard cap to stop it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.formatting import format_usd

if TYPE_CHECKING:  # the runner pulls in sqlite-utils: not at start-up
    from desktop_app.runner.runner import CostEstimate


class CostDialog(QDialog):
    """Shows each API model's worst case; `cap()` is the chosen limit in dollars, or None."""

    def __init__(self, estimates: Sequence[CostEstimate], cap: float | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("costDialog")
        self.setWindowTitle("This run calls paid APIs")
        self.setMinimumWidth(600)
        priced = [e.worst_usd for e in estimates if e.worst_usd is not None]
        self.total = sum(priced)
        intro = QLabel(f"At most {format_usd(self.total)} for the API answers: prompts counted high (3 characters "
                       f"a token) and every answer at its token limit, so the real cost is usually lower. "
                       f"Local models cost only their electricity.")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)

        self.table = QTableWidget(len(estimates), 4)
        self.table.setObjectName("costTable")
        self.table.setHorizontalHeaderLabels(["Model", "Requests", "At most", "Price"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, e in enumerate(estimates):
            cells = [e.model_key, str(e.requests),
                     format_usd(e.worst_usd) if e.worst_usd is not None else "not bounded", e.price]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)

        self.use_cap = QCheckBox("Stop before the API answers cost more than")
        self.use_cap.setObjectName("useCap")
        self.cap_box = QDoubleSpinBox()
        self.cap_box.setObjectName("capUsd")
        self.cap_box.setPrefix("$")
        self.cap_box.setDecimals(4)
        self.cap_box.setRange(0, 100_000)
        self.cap_box.setSingleStep(0.1)
        self.cap_box.setValue(cap if cap is not None else max(0.01, round(self.total, 4)))
        self.use_cap.setChecked(cap is not None)
        self.cap_box.setEnabled(cap is not None)
        self.use_cap.toggled.connect(self.cap_box.setEnabled)
        cap_row = QHBoxLayout()
        cap_row.addWidget(self.use_cap)
        cap_row.addWidget(self.cap_box)
        cap_row.addStretch(1)
        unbounded = [e.model_key for e in estimates if e.worst_usd is None]
        note = QLabel(f"Not counted: {', '.join(unbounded)} (no price known, or priced by the hour)."
                      if unbounded else "")
        note.setObjectName("hint")
        note.setWordWrap(True)
        note.setVisible(bool(unbounded))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addWidget(note)
        layout.addLayout(cap_row)
        layout.addWidget(buttons)

    def cap(self) -> float | None:
        return self.cap_box.value() if self.use_cap.isChecked() else None
