"""Monthly cost per model at the user's volume, and when buying hardware beats paying an API."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_exception
from desktop_app.ui.formatting import format_usd, format_usd_per_1k
from desktop_app.ui.workers import LatestOnly, with_store

if TYPE_CHECKING:
    from desktop_app.analysis.projection import Projection
    from desktop_app.analysis.summary import RunSummary


class ProjectionPanel(QWidget):
    """Enter a volume; the table follows. Worked out on a worker thread from the run's summary (or the store)."""

    projected = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.run_id: str | None = None
        self.summary: RunSummary | None = None
        self.projection: Projection | None = None
        self._jobs = LatestOnly(self)  # a volume typed digit by digit: only the last one is shown
        self.requests = _spin("requestsPerDay", 1, 100_000_000, 1000, " requests/day")
        self.input_tokens = _spin("inputTokens", 0, 1_000_000, 500, " tokens in")
        self.output_tokens = _spin("outputTokens", 1, 1_000_000, 250, " tokens out")
        inputs = QHBoxLayout()
        for spin in (self.requests, self.input_tokens, self.output_tokens):
            inputs.addWidget(spin)
        inputs.addStretch(1)
        self.hardware = QLabel()
        self.hardware.setObjectName("hint")
        self.hardware.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Volume", inputs)
        form.addRow("", self.hardware)

        self.table = QTableWidget(0, 5)
        self.table.setObjectName("projectionTable")
        self.table.setHorizontalHeaderLabels(["Model", "Kind", "Per 1,000 requests", "Per month", "Note"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.break_even = QLabel()
        self.break_even.setObjectName("breakEven")
        self.break_even.setWordWrap(True)
        self.break_even.setTextFormat(Qt.TextFormat.PlainText)
        self.break_even.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Why the projection may rank models by cost otherwise than the plot, and how the speeds behind it
        # were measured (under load, sharing the CPU, reused from another run).
        self.order_note = QLabel()
        self.order_note.setObjectName("orderNote")
        self.notes = QLabel()
        self.notes.setObjectName("projectionNotes")
        for label in (self.order_note, self.notes):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.hide()
        self.notes.setStyleSheet("color: #8a5a00;")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.break_even)
        layout.addWidget(self.order_note)
        layout.addWidget(self.notes)

        self._timer = QTimer(self, singleShot=True, interval=150)
        self._timer.timeout.connect(self.refresh)
        for spin in (self.requests, self.input_tokens, self.output_tokens):
            spin.valueChanged.connect(lambda *_: self._timer.start())
        ctx.settings_changed.connect(self._on_settings_changed)

    def show_run(self, run_id: str | None, summary: RunSummary | None = None) -> None:
        """Project this run; with `summary` (the run summarized under the current settings, as Tradeoff has it),
        a new volume is worked out from it instead of from every answer again."""
        self.run_id, self.summary = run_id, summary
        self.refresh()

    def _on_settings_changed(self) -> None:
        if self.summary is not None:  # priced under the old settings: the screen sends one priced anew
            self.summary = None
            self._show_hardware()
            return
        self.refresh()

    def refresh(self) -> None:
        """Work the projection out off the UI thread (a run of many answers takes seconds); the table shows
        the last one until the new one arrives, so typing a volume never blanks it."""
        from desktop_app.analysis.projection import Volume, project
        from desktop_app.errors import UserError

        self._timer.stop()
        self._show_hardware()
        if not self.run_id:
            self._jobs.cancel()
            self.projection = None
            self.table.setRowCount(0)
            self.break_even.setText("")
            self._show_notes("", [])
            return
        run_id, settings, summary = self.run_id, self.ctx.settings, self.summary
        try:
            volume = Volume(self.requests.value(), self.input_tokens.value(), self.output_tokens.value())
        except UserError as exc:
            self._jobs.cancel()
            self.break_even.setText(str(exc))
            return
        self._jobs.request(with_store(self.ctx.database_path(),
                                      lambda store: project(store, run_id, settings, volume, summary=summary)),
                           self._show_projection, self._failed)

    def busy(self) -> bool:
        return self._jobs.busy()

    def shutdown(self) -> None:
        self._timer.stop()
        self._jobs.cancel()
        self._jobs.wait(5)

    def _show_hardware(self) -> None:
        s = self.ctx.settings
        self.hardware.setText(
            f"Local models: electricity at {format_usd(s.electricity_usd_per_kwh)}/kWh"
            + (f", plus the machine ({format_usd(s.hardware_usd)} over {s.hardware_lifetime_years:g} years)"
               if s.hardware_usd else "; set a hardware price in Settings to include the machine")
            + ". Speeds are this run's.")

    def _failed(self, exc: BaseException) -> None:
        from desktop_app.errors import UserError

        self.projection = None
        self.table.setRowCount(0)
        self._show_notes("", [])
        if isinstance(exc, UserError):  # nothing to project (no answers yet): said where the table is
            self.break_even.setText(str(exc))
        else:
            self.break_even.setText("")
            show_exception(self, "Cannot project the monthly cost", exc)
        self.projected.emit()

    def _show_projection(self, projection: Projection) -> None:
        self.projection = projection
        self.table.setUpdatesEnabled(False)  # one repaint for the whole table
        self.table.setRowCount(len(projection.models))
        for row, m in enumerate(projection.models):
            cells = [m.model, "local" if m.local else "API", format_usd_per_1k(m.usd_per_request),
                     format_usd(m.monthly_usd), m.note]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if column in (2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.table.setUpdatesEnabled(True)
        lines = [f"{b.local} vs {b.api}: {b.note}" for b in projection.break_evens]
        self.break_even.setText("\n".join(lines) if lines else
                                "Run local and API models together to see when buying hardware pays off.")
        self._show_notes(projection.order_note, projection.measurement_notes)
        self.projected.emit()

    def _show_notes(self, order_note: str, measurement_notes: list[str]) -> None:
        self.order_note.setText(order_note)
        self.order_note.setVisible(bool(order_note))
        self.notes.setText("\n".join(f"* {note}" for note in measurement_notes))
        self.notes.setVisible(bool(measurement_notes))

    def volume_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self.projection.volume) if self.projection else {}


def _spin(name: str, minimum: int, maximum: int, value: int, suffix: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(minimum, maximum)
    spin.setValue(value)
    spin.setSuffix(suffix)
    spin.setGroupSeparatorShown(True)
    return spin
