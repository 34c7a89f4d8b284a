"""Before a run that calls paid APIs: what it may cost at most, and a hard cap to stop it (which needs a
price for every paid model: one without can be priced here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QLocale, Qt
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.formatting import format_usd
from desktop_app.ui.widgets.elided_label import WrappingLabel

if TYPE_CHECKING:  # the runner pulls in sqlite-utils: not at start-up
    from desktop_app.runner.runner import CostEstimate

MAX_ROWS_SHOWN = 8  # more API models than this scroll
MAX_WIDTH = 1100  # pixels: past this a long model name is elided in the middle (whole on hover)


class CostDialog(QDialog):
    """Shows each API model's worst case; `cap()` is the chosen limit in dollars, or None."""

    def __init__(self, estimates: Sequence[CostEstimate], cap: float | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("costDialog")
        self.setWindowTitle("This run calls paid APIs")
        priced = [e.worst_usd for e in estimates if e.worst_usd is not None]
        self.total = sum(priced)
        intro = QLabel(f"At most {format_usd(self.total)} for the API answers: prompts counted high (a token for "
                       f"every 3 letters, every digit and sign, and every byte of other scripts and emoji) and "
                       f"every answer at its token limit, so the real cost is usually lower. "
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
        # Every column as wide as its contents and the table as tall as its rows, so the dialog opens at the
        # size that shows them all; on a small screen the model's name gives way first (elided, whole on hover).
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_table()

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
        # Every model without a known price (the only reason a worst case is missing: a price by the hour is
        # bounded by the longest answer Settings allows) keeps a cap from bounding the run.
        self.unpriced = [e.model_key for e in estimates if e.worst_usd is None]
        note = WrappingLabel(f"Not counted: {', '.join(self.unpriced)} (no price known)." if self.unpriced else "")
        note.setObjectName("hint")
        note.setWordWrap(True)
        note.setTextFormat(Qt.TextFormat.PlainText)
        note.setVisible(bool(self.unpriced))

        self.price_warning = WrappingLabel()
        self.price_warning.setObjectName("priceNeeded")
        self.price_warning.setWordWrap(True)
        self.price_warning.setTextFormat(Qt.TextFormat.PlainText)
        self.price_warning.setStyleSheet("color: #8a5a00;")
        self.price_warning.setText(
            f"A cap cannot bound {' or '.join(self.unpriced)}: no price is known for "
            f"{'it' if len(self.unpriced) == 1 else 'them'}. Give the price in dollars per million tokens "
            f"(kept in Settings > API models, used from now on), or run without a cap.")
        self.price_fields: dict[str, tuple[QLineEdit, QLineEdit]] = {}
        self.price_box = QWidget()
        prices = QVBoxLayout(self.price_box)
        prices.setContentsMargins(0, 0, 0, 0)
        prices.setSpacing(4)
        validator = QDoubleValidator(0.0, 1_000_000.0, 6, self)
        validator.setLocale(QLocale.c())  # a dot for decimals, as the price tables write them
        for key in self.unpriced:
            fields = []
            row = QHBoxLayout()
            for part in ("input", "output"):
                field = QLineEdit()
                field.setObjectName(f"{part}Price")
                field.setPlaceholderText(f"$ per M {part} tokens")
                field.setValidator(validator)
                field.setMinimumWidth(field.fontMetrics().horizontalAdvance(field.placeholderText()) + 24)
                field.textChanged.connect(self._update_run_button)
                row.addWidget(field)
                fields.append(field)
            name = WrappingLabel(f"Price of {key}:")
            name.setTextFormat(Qt.TextFormat.PlainText)
            prices.addWidget(name)
            prices.addLayout(row)
            self.price_fields[key] = (fields[0], fields[1])

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.run_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.run_button.setText("Run")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addWidget(note)
        layout.addLayout(cap_row)
        layout.addWidget(self.price_warning)
        layout.addWidget(self.price_box)
        layout.addWidget(self.buttons)
        self.use_cap.toggled.connect(self._update_run_button)
        self._update_run_button()

    def _fit_table(self) -> None:
        """The table's width: its columns' if the screen has room, else the screen's, the model column eliding."""
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        natural = sum(header.sectionSize(c) for c in range(header.count())) + 2 * self.table.frameWidth()
        screen = self.screen().availableGeometry().width() if self.screen() else 1024
        room = min(int(screen * 0.95), MAX_WIDTH) - 40  # the dialog's margins
        if natural > room:
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumWidth(min(natural, room))
        rows = sum(self.table.rowHeight(r) for r in range(min(self.table.rowCount(), MAX_ROWS_SHOWN)))
        self.table.setFixedHeight(header.sizeHint().height() + rows + 2 * self.table.frameWidth())

    def cap(self) -> float | None:
        return self.cap_box.value() if self.use_cap.isChecked() else None

    def prices(self) -> dict[str, dict[str, float]]:
        """The prices given here for models that had none, as Settings.price_overrides keeps them."""
        given = {}
        for key, (input_field, output_field) in self.price_fields.items():
            values = [_number(input_field.text()), _number(output_field.text())]
            if None not in values:
                given[key] = {"input_usd_per_mtok": values[0], "output_usd_per_mtok": values[1]}
        return given

    def missing_prices(self) -> list[str]:
        """Models a cap cannot bound yet: no known price, and none given here."""
        given = self.prices()
        return [key for key in self.unpriced if key not in given]

    def _update_run_button(self) -> None:
        needs_prices = self.use_cap.isChecked() and bool(self.unpriced)
        self.price_warning.setVisible(needs_prices)
        self.price_box.setVisible(needs_prices)
        missing = self.missing_prices() if needs_prices else []
        self.run_button.setEnabled(not missing)
        self.run_button.setToolTip(f"Give a price for {', '.join(missing)}, or untick the cap" if missing else "")
        self.adjustSize()


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None
