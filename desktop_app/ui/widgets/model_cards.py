"""The Results summary strip: a card per model with its quality, speed and cost; a click focuses it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from desktop_app.analysis.summary import ModelSummary, RunSummary
from desktop_app.ui.formatting import format_ms, format_rate, format_usd, plain_tooltip
from desktop_app.units import format_bytes


class ModelCard(QFrame):
    """One model's aggregates; clicking it focuses the model's column."""

    clicked = Signal(str)

    def __init__(self, summary: ModelSummary, graded: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_key = summary.model
        self.setObjectName("modelCard")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFixedWidth(270)
        name = QLabel()
        name.setObjectName("cardName")
        name.setTextFormat(Qt.TextFormat.PlainText)
        name.setText(name.fontMetrics().elidedText(summary.model, Qt.TextElideMode.ElideMiddle, 240))
        if summary.quality is not None:
            quality = QLabel(f"{summary.quality:.0%}")
            quality.setObjectName("cardQuality")
        else:  # a comparison without expected answers, or no answer graded yet
            quality = QLabel("Not graded" if not graded else "No grades yet")
            quality.setObjectName("cardQualityMuted")
        interval = ""
        if summary.quality_low is not None:
            interval = f"95% CI {summary.quality_low:.0%}–{summary.quality_high:.0%}"
        interval_label = QLabel(interval)
        interval_label.setObjectName("hint")
        quality_row = QHBoxLayout()
        quality_row.addWidget(quality)
        quality_row.addWidget(interval_label, 1, Qt.AlignmentFlag.AlignBottom)
        errors = f"{summary.errors} error{'s' if summary.errors != 1 else ''}"
        if summary.graded:
            counts = f"{summary.passed}/{summary.graded} passed · {errors}"
        else:
            counts = f"{summary.answered} answer{'s' if summary.answered != 1 else ''} · {errors}"
        if summary.answered < summary.cases:
            counts += f" · {summary.answered}/{summary.cases} answered"
        self.passed_label = QLabel(counts)
        speed = QLabel(f"{format_rate(summary.tokens_per_second)} · first token "
                       f"{format_ms(summary.time_to_first_token_ms)}")
        cost = QLabel(f"{format_usd(summary.cost_per_answer_usd)} per answer")
        for label in (speed, cost):
            label.setObjectName("hint")
        # How its speed and cost were measured, when that qualifies them: in short on the card (an amber dot,
        # as on the grid's cells), every note in full in the tooltip.
        notes = summary.measurement_notes
        self.notes_label = QLabel()
        self.notes_label.setObjectName("cardNotes")
        self.notes_label.setStyleSheet("color: #8a5a00;")
        if notes:
            parts = [f"{summary.under_load} under load" if summary.under_load else "",
                     "CPU shared" if summary.shared else "",
                     f"{summary.reused} reused" if summary.reused else ""]
            short = " · ".join(p for p in parts if p) or f"{len(notes)} note{'s' if len(notes) != 1 else ''}"
            self.notes_label.setText(self.notes_label.fontMetrics().elidedText(
                f"\u25cf {short}", Qt.TextElideMode.ElideRight, 246))
        self.notes_label.setVisible(bool(notes))
        for label in (self.passed_label, speed, cost, self.notes_label):
            label.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)
        layout.addWidget(name)
        layout.addLayout(quality_row)
        layout.addWidget(self.passed_label)
        layout.addWidget(speed)
        layout.addWidget(cost)
        layout.addWidget(self.notes_label)
        self.quality_label = quality
        tip = [summary.model]
        if summary.path:
            tip.append(summary.path)
        if summary.quantization:
            size = f", {format_bytes(summary.file_size)}" if summary.file_size else ""
            tip.append(f"{summary.quantization}{size}")
        if summary.wall_time_ms is not None:
            tip.append(f"median time per answer {summary.wall_time_ms / 1000:.2f} s")
        if summary.peak_memory_bytes:
            tip.append(f"peak memory {format_bytes(summary.peak_memory_bytes)}")
        if summary.threads:
            tip.append(f"{summary.threads} CPU thread{'s' if summary.threads != 1 else ''}")
        if notes:
            tip.append("How its speed and cost were measured:")
            tip += [f"\u25cf {note}" for note in notes]
        tip.append("Click to highlight this model's column")
        self.setToolTip(plain_tooltip("\n".join(tip)))

    def set_focused(self, focused: bool) -> None:
        self.setProperty("focused", focused)
        self.style().unpolish(self)
        self.style().polish(self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.model_key)
        super().mouseReleaseEvent(event)


class SummaryStrip(QScrollArea):
    focus_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("summaryStrip")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.cards: list[ModelCard] = []
        self._inner = QWidget()
        self._row = QHBoxLayout(self._inner)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(10)
        self._row.addStretch(1)
        self.setWidget(self._inner)

    def set_summary(self, summary: RunSummary, graded: bool, focus: str) -> None:
        for card in self.cards:
            self._row.removeWidget(card)
            card.deleteLater()
        self.cards = []
        for position, model in enumerate(summary.models):
            card = ModelCard(model, graded)
            card.clicked.connect(self.focus_requested)
            self._row.insertWidget(position, card)
            self.cards.append(card)
        self.set_focus(focus)
        height = max((card.sizeHint().height() for card in self.cards), default=0)
        self.setFixedHeight(height + self.horizontalScrollBar().sizeHint().height() + 4)

    def set_focus(self, key: str) -> None:
        for card in self.cards:
            card.set_focused(card.model_key == key)
