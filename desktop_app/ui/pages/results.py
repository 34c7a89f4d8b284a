"""The Results screen: pick a stored run, read every answer in a cases x models grid, compare two."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6 import QtGui
from PySide6.QtCore import (QAbstractTableModel, QItemSelectionModel, QModelIndex, QPersistentModelIndex, QPoint,
                            QPointF, QRect, QSize, QSortFilterProxyModel, Qt, QTimer, Signal)
from PySide6.QtGui import (QColor, QFont, QGuiApplication, QIcon, QKeySequence, QMouseEvent, QPainter, QPen, QPixmap,
                           QResizeEvent, QShortcut)
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QFrame, QGridLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMenu, QPushButton,
                               QScrollArea, QSizePolicy, QSplitter, QStackedWidget, QTableView, QToolButton,
                               QVBoxLayout, QWidget)

from desktop_app.analysis.summary import ModelSummary, RunSummary, summarize
from desktop_app.storage.store import Store, StoreError
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_error, show_exception
from desktop_app.ui.widgets.answer_diff import AnswerDiffDialog
from desktop_app.ui.workers import GeneratorWorker, run_in_background
from desktop_app.units import format_bytes
from desktop_app.ui.widgets.text import read_only_text

# Cell states, from one stored result row (or none yet).
PASSED, FAILED, ERROR, UNGRADED, MISSING = "passed", "failed", "error", "ungraded", "missing"
STATE_LABELS = {PASSED: "Passed", FAILED: "Failed", ERROR: "Error", UNGRADED: "Not graded",
                MISSING: "Not answered yet"}
STATE_COLORS = {PASSED: "#1f8a4c", FAILED: "#cf3b3b", ERROR: "#d9822b", UNGRADED: "#8a93a3", MISSING: "#b4bac5"}
STATE_TINTS = {PASSED: "#eef8f1", FAILED: "#fdeeee", ERROR: "#fdf3e6"}
# Sort keys for a model's column: its score, and below every score the cells without one.
STATE_SORT = {MISSING: -3.0, ERROR: -2.0, UNGRADED: -1.0}

STATE_ROLE = Qt.ItemDataRole.UserRole + 1
RESULT_ROLE = Qt.ItemDataRole.UserRole + 2
SORT_ROLE = Qt.ItemDataRole.UserRole + 3

STYLE = """
QFrame#modelCard { background: #ffffff; border: 1px solid #dcdfe6; border-radius: 8px; }
QFrame#modelCard:hover { border-color: #9db6e8; }
QFrame#modelCard[focused="true"] { border: 2px solid #2f6fde; }
QLabel#cardQuality { font-size: 20px; font-weight: 600; }
QLabel#cardQualityMuted { font-size: 15px; font-weight: 600; color: #5b6270; }
QLabel#cardName { font-weight: 600; }
QLabel#sectionLabel { color: #5b6270; font-weight: 600; margin-top: 6px; }
QLabel#verdict { font-weight: 600; }
"""


def result_state(row: dict[str, Any] | None) -> str:
    if row is None:
        return MISSING
    if row.get("error"):
        return ERROR
    if row.get("grade_passed") is None:
        return UNGRADED
    return PASSED if row["grade_passed"] else FAILED


def first_line(text: str | None, limit: int = 200) -> str:
    """The answer on one line: its first line, and the next ones (marked ↵) while that one is short."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    shown = lines[0] if lines else ""
    for line in lines[1:]:
        if len(shown) >= 40:  # a short first line ("{", "Answer:") says little on its own
            break
        shown += " \u21b5 " + line
    return shown if len(shown) <= limit else shown[: limit - 1] + "\u2026"


def format_usd(value: float | None) -> str:
    if value is None:
        return "–"
    return f"${value:.2g}" if value < 0.01 else f"${value:,.2f}"


def format_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"


def format_rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} tok/s"


def format_when(iso: str | None) -> str:
    """A stored UTC timestamp in the user's local time."""
    if not iso:
        return ""
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso[:16].replace("T", " ")


def plain_tooltip(text: str) -> str:
    """Tooltips guess rich text from '<'; escape so answers and reasons show exactly as written."""
    return QtGui.Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)


# Loading ------------------------------------------------------------------------------------

@dataclass
class RunData:
    """Everything the screen shows of one run, read and indexed off the UI thread."""

    run: dict[str, Any]
    cases: list[dict[str, Any]]
    model_keys: list[str]
    results: dict[tuple[str, str], dict[str, Any]]  # (case id, model key) -> stored row
    summary: RunSummary
    # Derived here, on the loading thread, so that filtering and sorting thousands of rows stays quick.
    rows: list[list[dict[str, Any] | None]] = field(init=False)  # [case][model]
    states: list[list[str]] = field(init=False)  # [case][model]
    sort_keys: list[list[Any]] = field(init=False)  # [column][case]: case id, then each model's score
    haystacks: list[str] = field(init=False)  # [case]: the searchable text, casefolded
    row_of: dict[str, int] = field(init=False)  # case id -> row

    def __post_init__(self) -> None:
        self.rows = [[self.results.get((case["id"], key)) for key in self.model_keys] for case in self.cases]
        self.states = [[result_state(row) for row in rows] for rows in self.rows]
        self.sort_keys = [[case["id"].casefold() for case in self.cases]]
        for column in range(len(self.model_keys)):
            self.sort_keys.append([STATE_SORT.get(states[column]) if states[column] in STATE_SORT
                                   else float(rows[column].get("grade_score") or 0.0)
                                   for rows, states in zip(self.rows, self.states, strict=True)])
        self.haystacks = []
        for case, rows in zip(self.cases, self.rows, strict=True):
            parts = [case["id"], case.get("prompt") or "", case.get("system") or "", str(case.get("expected") or "")]
            for row in rows:
                if row:
                    parts += [row.get("text") or "", row.get("error") or ""]
            self.haystacks.append("\n".join(parts).casefold())
        self.row_of = {case["id"]: i for i, case in enumerate(self.cases)}

    @property
    def run_id(self) -> str:
        return self.run["id"]

    @property
    def tags(self) -> list[str]:
        return sorted({tag for case in self.cases for tag in case.get("tags") or ()})

    @property
    def graded(self) -> bool:
        return any(state in (PASSED, FAILED) for states in self.states for state in states)


def load_run_data(database: Path, run_id: str) -> RunData:
    store = Store(database)
    try:
        summary = summarize(store, run_id)
        rows = store.results(summary.run["id"])
    finally:
        store.close()
    cases = json.loads(summary.run["suite_json"])["cases"]
    return RunData(summary.run, cases, [m.model for m in summary.models],
                   {(row["case_id"], row["model_key"]): row for row in rows}, summary)


# The grid -----------------------------------------------------------------------------------

_ICONS: dict[str, QIcon] = {}


def mark_icon(state: str) -> QIcon:
    """A coloured disc with a drawn mark (no font glyphs, so it looks the same everywhere)."""
    if state in _ICONS:
        return _ICONS[state]
    ratio = 2.0
    pixmap = QPixmap(int(16 * ratio), int(16 * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(STATE_COLORS[state])
    if state == MISSING:
        painter.setPen(QPen(color, 1.2, Qt.PenStyle.DashLine))
        painter.drawEllipse(QPointF(8, 8), 6.2, 6.2)
    else:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawEllipse(QPointF(8, 8), 7, 7)
        pen = QPen(QColor("white"), 1.9, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        if state == PASSED:
            painter.drawPolyline([QPointF(4.6, 8.3), QPointF(7.0, 10.6), QPointF(11.4, 5.6)])
        elif state == FAILED:
            painter.drawLine(QPointF(5.3, 5.3), QPointF(10.7, 10.7))
            painter.drawLine(QPointF(10.7, 5.3), QPointF(5.3, 10.7))
        elif state == ERROR:
            painter.drawLine(QPointF(8, 4.4), QPointF(8, 8.9))
            painter.drawPoint(QPointF(8, 11.5))
        else:
            painter.setBrush(QColor("white"))
            painter.drawEllipse(QPointF(8, 8), 1.4, 1.4)
    painter.end()
    _ICONS[state] = QIcon(pixmap)
    return _ICONS[state]


class ResultsGridModel(QAbstractTableModel):
    """Cases down, models across; column 0 is the case.

    The grid keeps its rows in the chosen sort order itself: a Python lessThan called by the proxy for
    every comparison takes a second on a few thousand cases, sorting a list of keys takes milliseconds.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_data: RunData | None = None
        self.focus_model = ""
        self.order: list[int] = []  # grid row -> the case's position in the suite
        self.sort_column = -1
        self.sort_order = Qt.SortOrder.AscendingOrder

    # Data in ----------------------------------------------------------------------------

    def set_run_data(self, data: RunData | None) -> None:
        old = self.run_data
        same_shape = (old is not None and data is not None and old.run_id == data.run_id
                      and [c["id"] for c in old.cases] == [c["id"] for c in data.cases]
                      and old.model_keys == data.model_keys)
        if same_shape:  # new answers in a live run: keep the selection and the scroll position
            self.run_data = data
            self.sort_rows(self.sort_column, self.sort_order)
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))
            return
        self.beginResetModel()
        self.run_data = data
        self.focus_model = ""
        self.order = list(range(len(data.cases))) if data else []
        self.sort_column, self.sort_order = -1, Qt.SortOrder.AscendingOrder
        self.endResetModel()

    def sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        """Order rows by case id (column 0) or a model's score; -1 for the suite's order. Ties keep it."""
        self.sort_column, self.sort_order = column, order
        if self.run_data is None:
            return
        count = len(self.run_data.cases)
        if 0 <= column < self.columnCount():
            keys = self.run_data.sort_keys[column]
            new_order = sorted(range(count), key=keys.__getitem__,
                               reverse=order == Qt.SortOrder.DescendingOrder)  # stable either way
        else:
            new_order = list(range(count))
        if new_order == self.order:
            return
        self.layoutAboutToBeChanged.emit()
        new_row = {case: row for row, case in enumerate(new_order)}
        for index in self.persistentIndexList():  # the proxy's and the selection's indexes follow their cases
            self.changePersistentIndex(index, self.index(new_row[self.order[index.row()]], index.column()))
        self.order = new_order
        self.layoutChanged.emit()

    def set_focus_model(self, key: str) -> None:
        self.focus_model = key
        if self.columnCount():
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, self.columnCount() - 1)

    def result_changed(self, row: dict[str, Any]) -> None:
        index = self.index_of(row["case_id"], row["model_key"])
        if index.isValid():
            self.dataChanged.emit(index, index)

    # Lookups (by grid row) --------------------------------------------------------------

    def case_at(self, row: int) -> dict[str, Any]:
        return self.run_data.cases[self.order[row]]

    def model_at(self, column: int) -> str | None:
        if self.run_data is None or column < 1:
            return None
        return self.run_data.model_keys[column - 1]

    def column_of(self, model_key: str) -> int:
        return 1 + self.run_data.model_keys.index(model_key) if self.run_data else -1

    def result_at(self, row: int, column: int) -> dict[str, Any] | None:
        return None if self.run_data is None or column < 1 else self.run_data.rows[self.order[row]][column - 1]

    def index_of(self, case_id: str, model_key: str | None) -> QModelIndex:
        if self.run_data is None or case_id not in self.run_data.row_of:
            return QModelIndex()
        column = 0 if not model_key or model_key not in self.run_data.model_keys else self.column_of(model_key)
        return self.index(self.order.index(self.run_data.row_of[case_id]), column)

    def row_failed(self, row: int) -> bool:
        states = self.run_data.states[self.order[row]]
        if self.focus_model:
            return states[self.column_of(self.focus_model) - 1] in (FAILED, ERROR)
        return FAILED in states or ERROR in states

    def row_disagrees(self, row: int) -> bool:
        """Some models passed this case and others failed it (an error counts as a failure)."""
        states = self.run_data.states[self.order[row]]
        return PASSED in states and (FAILED in states or ERROR in states)

    def row_contains(self, row: int, needle: str) -> bool:
        return needle.casefold() in self.run_data.haystacks[self.order[row]]

    def row_tags(self, row: int) -> tuple[str, ...]:
        return tuple(self.case_at(row).get("tags") or ())

    # Qt model ---------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        if self.run_data is None or (parent is not None and parent.isValid()):
            return 0
        return len(self.run_data.cases)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        if self.run_data is None or (parent is not None and parent.isValid()):
            return 0
        return 1 + len(self.run_data.model_keys)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or self.run_data is None:
            return None
        key = self.model_at(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return "Case" if key is None else key
        if role == Qt.ItemDataRole.ToolTipRole:
            if key is None:
                return "Click to sort by case id (right-click for the suite's order)"
            return plain_tooltip(f"{key}\nClick to sort by this model's score (right-click for the suite's order)")
        if role == Qt.ItemDataRole.FontRole and key and key == self.focus_model:
            font = QFont()
            font.setBold(True)
            font.setUnderline(True)
            return font
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.run_data is None:
            return None
        position = self.order[index.row()]
        if role == SORT_ROLE:
            return self.run_data.sort_keys[index.column()][position]
        if index.column() == 0:
            return self._case_data(self.run_data.cases[position], role)
        row = self.run_data.rows[position][index.column() - 1]
        state = self.run_data.states[position][index.column() - 1]
        if role == Qt.ItemDataRole.DisplayRole:
            if state == MISSING:
                return "not answered yet"
            if state == ERROR:
                return "Error: " + first_line(row["error"])
            return first_line(row.get("text")) or "(empty answer)"
        if role == Qt.ItemDataRole.DecorationRole:
            return mark_icon(state)
        if role == Qt.ItemDataRole.BackgroundRole:
            tint = STATE_TINTS.get(state)
            return QColor(tint) if tint else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if state == MISSING or (state != ERROR and not (row.get("text") or "").strip()):
                return QColor("#8a93a3")
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(cell_summary(row, state))
        if role == STATE_ROLE:
            return state
        if role == RESULT_ROLE:
            return row
        return None

    @staticmethod
    def _case_data(case: dict[str, Any], role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return case["id"]
        if role == Qt.ItemDataRole.ToolTipRole:
            tags = ", ".join(case.get("tags") or ())
            return plain_tooltip(case.get("prompt", "") + (f"\n\nTags: {tags}" if tags else ""))
        return None


def cell_summary(row: dict[str, Any] | None, state: str) -> str:
    """A cell's tooltip: the verdict, its reason and the answer's numbers."""
    if row is None:
        return "Not answered yet"
    lines = [STATE_LABELS[state] + (f" · score {row['grade_score']:.2f}" if row.get("grade_score") is not None
                                    and state != ERROR else "")]
    if state == ERROR:
        lines.append(row["error"])
    elif row.get("grade_reason"):
        lines.append(row["grade_reason"])
    numbers = [f"{row['completion_tokens']} tokens" if row.get("completion_tokens") is not None else None,
               f"first token {format_ms(row['time_to_first_token_ms'])}"
               if row.get("time_to_first_token_ms") is not None else None,
               format_rate(row["generation_tokens_per_second"]) if row.get("generation_tokens_per_second") else None,
               f"{row['wall_time_ms'] / 1000:.2f} s" if row.get("wall_time_ms") is not None else None,
               format_usd(row["cost_usd"]) if row.get("cost_usd") is not None else None]
    if any(numbers):
        lines.append(" · ".join(n for n in numbers if n))
    if row.get("human_label"):
        lines.append("Your verdict: " + ("good" if row["human_label"] > 0 else "bad"))
    return "\n".join(lines)


class ResultsFilterProxy(QSortFilterProxyModel):
    """Text search, failed only, disagreements only and a tag; sorting (by case id or a model's score) is
    handed to the grid."""

    def __init__(self, grid: ResultsGridModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = grid
        self.text = ""
        self.failed_only = False
        self.disagreements_only = False
        self.tag = ""
        self.setSourceModel(grid)

    def set_filters(self, **changes: Any) -> None:
        self.beginFilterChange()
        for name, value in changes.items():
            setattr(self, name, value)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def refilter(self) -> None:
        self.set_filters()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        grid = self.grid
        if self.tag and self.tag not in grid.row_tags(source_row):
            return False
        if self.failed_only and not grid.row_failed(source_row):
            return False
        if self.disagreements_only and not grid.row_disagrees(source_row):
            return False
        return not self.text or grid.row_contains(source_row, self.text)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Header clicks land here; the grid orders its own rows and this proxy keeps that order."""
        self.grid.sort_rows(column, order)


# Summary strip ------------------------------------------------------------------------------

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
        for label in (self.passed_label, speed, cost):
            label.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)
        layout.addWidget(name)
        layout.addLayout(quality_row)
        layout.addWidget(self.passed_label)
        layout.addWidget(speed)
        layout.addWidget(cost)
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


# Detail panel -------------------------------------------------------------------------------

def _plain_label(object_name: str = "", wrap: bool = True) -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)  # grade reasons quote model output
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if object_name:
        label.setObjectName(object_name)
    return label


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionLabel")
    return label


class ResultDetail(QWidget):
    """Everything about one answer: the case, the answer as plain text, its grade and numbers."""

    label_requested = Signal(object, object)  # the result row, 1 / -1 / None

    METRICS = ("Tokens", "First token", "Speed", "Prompt speed", "Wall time", "Peak memory", "Energy", "Cost",
               "Finish", "Reused", "Error")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultDetail")
        self.row: dict[str, Any] | None = None
        self.title = _plain_label("detailTitle")
        self.title.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.model_label = _plain_label("detailModel")
        self.verdict_icon = QLabel()
        self.verdict = _plain_label("verdict", wrap=False)

        self.prompt_view = self._text_view("promptText")
        self.system_label = _plain_label("hint")
        self.expected_label = _plain_label("expectedText")
        self.answer_view = self._text_view("answerText")
        self.grade_label = _plain_label("gradeReason")
        self.parts_label = _plain_label("gradeParts")

        self.good_button = QPushButton("Good")
        self.bad_button = QPushButton("Bad")
        for button, value, tip in ((self.good_button, 1, "This answer is good, whatever the checks say"),
                                   (self.bad_button, -1, "This answer is bad, whatever the checks say")):
            button.setCheckable(True)
            button.setToolTip(tip + " (click again to clear); kept with the answer")
            button.clicked.connect(lambda checked, value=value: self._label_clicked(value if checked else None))
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setAutoRaise(True)
        self.copy_button.setToolTip("Copy the whole answer to the clipboard")
        self.copy_button.clicked.connect(self.copy_answer)
        # The verdict line: the grade's mark on the left, the person's own verdict on the right.
        verdict_row = QHBoxLayout()
        verdict_row.setSpacing(6)
        verdict_row.addWidget(self.verdict_icon)
        verdict_row.addWidget(self.verdict, 1)
        self.your_verdict = QLabel("Your verdict:")
        self.your_verdict.setObjectName("hint")
        verdict_row.addWidget(self.your_verdict)
        verdict_row.addWidget(self.good_button)
        verdict_row.addWidget(self.bad_button)
        answer_header = QHBoxLayout()

        self.metric_values: dict[str, QLabel] = {}
        self.metric_names: dict[str, QLabel] = {}
        metrics = QGridLayout()
        metrics.setHorizontalSpacing(10)
        metrics.setVerticalSpacing(3)
        for i, name in enumerate(self.METRICS):
            name_label = QLabel(name)
            name_label.setObjectName("hint")
            value = _plain_label(f"metric-{name.lower().replace(' ', '-')}", wrap=name == "Error")
            if name == "Error":  # long: a row of its own
                metrics.addWidget(name_label, i // 2, 0)
                metrics.addWidget(value, i // 2, 1, 1, 3)
            else:
                metrics.addWidget(name_label, i // 2, (i % 2) * 2)
                metrics.addWidget(value, i // 2, (i % 2) * 2 + 1)
            self.metric_names[name], self.metric_values[name] = name_label, value
        metrics.setColumnStretch(1, 1)
        metrics.setColumnStretch(3, 1)

        self.placeholder = QLabel("Select a cell to read the answer.\nCtrl-click a second one to compare them.")
        self.placeholder.setObjectName("emptyState")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(12, 4, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.model_label)
        layout.addLayout(verdict_row)
        self.prompt_section = _section("Prompt")
        layout.addWidget(self.prompt_section)
        layout.addWidget(self.prompt_view)
        layout.addWidget(self.system_label)
        self.expected_section = _section("Expected")
        layout.addWidget(self.expected_section)
        layout.addWidget(self.expected_label)
        self.answer_section = _section("Answer")
        answer_header.addWidget(self.answer_section)
        answer_header.addStretch(1)
        answer_header.addWidget(self.copy_button)
        layout.addLayout(answer_header)
        layout.addWidget(self.answer_view)
        self.grade_section = _section("Grade")
        layout.addWidget(self.grade_section)
        layout.addWidget(self.grade_label)
        layout.addWidget(self.parts_label)
        self.metrics_section = _section("Measurements")
        layout.addWidget(self.metrics_section)
        layout.addLayout(metrics)
        layout.addStretch(1)
        self.answer_widgets = [self.verdict_icon, self.verdict, self.answer_section, self.answer_view,
                               self.grade_section, self.grade_label, self.parts_label, self.metrics_section,
                               *self.metric_names.values(), *self.metric_values.values(), self.good_button,
                               self.bad_button, self.copy_button, self.your_verdict]
        self.body = QScrollArea()  # long prompts and reasons scroll instead of squeezing the answer
        self.body.setObjectName("detailScroll")
        self.body.setWidgetResizable(True)
        self.body.setFrameShape(QFrame.Shape.NoFrame)
        self.body.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.body.setWidget(body)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        self.setMinimumWidth(300)

    _text_view = staticmethod(read_only_text)

    def _fit_heights(self) -> None:
        """Text boxes as tall as their text (within limits), so the grade and numbers stay in view."""
        for view, least, most in ((self.prompt_view, 1, 6), (self.answer_view, 3, 16)):
            margin = view.document().documentMargin()
            width = max(80, view.viewport().width() - int(2 * margin))
            text = view.toPlainText() or " "
            needed = view.fontMetrics().boundingRect(QRect(0, 0, width, 1_000_000),
                                                     Qt.TextFlag.TextWordWrap, text).height()
            line = view.fontMetrics().lineSpacing()
            height = max(least * line, min(most * line, needed))
            view.setFixedHeight(height + int(2 * margin) + 2 * view.frameWidth() + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.stack.currentWidget() is self.body:
            self._fit_heights()

    def clear(self) -> None:
        self.row = None
        self.stack.setCurrentWidget(self.placeholder)

    def show_cell(self, case: dict[str, Any], model_key: str | None, row: dict[str, Any] | None) -> None:
        self.row = row
        self.stack.setCurrentWidget(self.body)
        self.title.setText(case["id"])
        self.model_label.setText(model_key or "")
        self.model_label.setVisible(bool(model_key))
        self.prompt_view.setPlainText(case.get("prompt") or "")
        self._fit_heights()
        self.system_label.setText(f"System: {case['system']}" if case.get("system") else "")
        self.system_label.setVisible(bool(case.get("system")))
        expected = case.get("expected")
        checks = ", ".join(check.get("type", "?") for check in case.get("checks") or ())
        expected_text = "none given" if expected is None else str(expected)
        self.expected_label.setText(expected_text + (f"   (checks: {checks})" if checks else ""))
        for widget in self.answer_widgets:
            widget.setVisible(model_key is not None)
        if model_key is None:
            return
        state = result_state(row)
        self.verdict_icon.setPixmap(mark_icon(state).pixmap(QSize(16, 16)))
        verdict = STATE_LABELS[state]
        if row is not None and row.get("grade_score") is not None and state != ERROR:
            verdict += f" · score {row['grade_score']:.2f}"
        self.verdict.setText(verdict)
        self.verdict.setStyleSheet(f"color: {STATE_COLORS[state]};")
        self.answer_view.setPlainText("" if row is None else row.get("text") or "")
        self.answer_view.setPlaceholderText({MISSING: "Not answered yet", ERROR: "No answer: see the error below"}
                                            .get(state, "(the answer is empty)"))
        self._fit_heights()
        self._show_grade(row, state)
        self._show_metrics(row)
        self.show_label(row)

    def _show_grade(self, row: dict[str, Any] | None, state: str) -> None:
        if row is None:
            reason = "This case has no answer from this model yet."
        elif state == ERROR:
            reason = f"No answer: {row['error']}"
        elif state == UNGRADED:
            reason = "Not graded: the case has no expected answer or checks."
        else:
            reason = row.get("grade_reason") or ""
        self.grade_label.setText(reason)
        parts = []
        if row and row.get("grade_json"):
            for part in json.loads(row["grade_json"]).get("parts") or ():
                mark = "pass" if part.get("passed") else "fail"
                parts.append(f"{mark} · {part.get('check', '')}: {part.get('reason', '')}")
        self.parts_label.setText("\n".join(parts))
        self.parts_label.setVisible(bool(parts))

    def _show_metrics(self, row: dict[str, Any] | None) -> None:
        row = row or {}
        tokens = "–"
        if row.get("completion_tokens") is not None:
            tokens = f"{row.get('prompt_tokens') or 0} in · {row['completion_tokens']} out"
            if row.get("cached_tokens"):
                tokens += f" ({row['cached_tokens']} cached)"
        energy = "–" if row.get("energy_joules") is None else f"{row['energy_joules']:.1f} J"
        self.metric_values["Energy"].setToolTip(
            f"How it was measured: {row['energy_source']}" if row.get("energy_source") else "")
        values = {
            "Tokens": tokens,
            "First token": format_ms(row.get("time_to_first_token_ms")),
            "Speed": format_rate(row.get("generation_tokens_per_second")),
            "Prompt speed": format_rate(row.get("prompt_tokens_per_second")),
            "Wall time": "–" if row.get("wall_time_ms") is None else f"{row['wall_time_ms'] / 1000:.2f} s",
            "Peak memory": format_bytes(row["peak_memory_bytes"]) if row.get("peak_memory_bytes") else "–",
            "Energy": energy,
            "Cost": format_usd(row.get("cost_usd")),
            "Finish": row.get("finish_reason") or "–",
            "Reused": f"from answer #{row['reused_from']}" if row.get("reused_from") else "no",
            "Error": row.get("error") or "",
        }
        for name, value in values.items():
            self.metric_values[name].setText(value)
        has_error = bool(row.get("error"))
        self.metric_names["Error"].setVisible(has_error)
        self.metric_values["Error"].setVisible(has_error)
        self.metric_values["Error"].setStyleSheet(f"color: {STATE_COLORS[ERROR]};")

    def show_label(self, row: dict[str, Any] | None) -> None:
        label = (row or {}).get("human_label")
        for button, value in ((self.good_button, 1), (self.bad_button, -1)):
            button.setEnabled(row is not None)
            button.setChecked(label == value)
        self.copy_button.setEnabled(bool(row and row.get("text")))

    def _label_clicked(self, value: int | None) -> None:
        if self.row is not None:
            self.label_requested.emit(self.row, value)
        self.show_label(self.row)  # the page sets the row's label when the store took it

    def copy_answer(self) -> None:
        if self.row and self.row.get("text"):
            QGuiApplication.clipboard().setText(self.row["text"])


# The screen ---------------------------------------------------------------------------------

class ResultsPage(QWidget):
    loaded = Signal(str)  # a run's data is on screen (its id)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.run_data: RunData | None = None
        self.diff_dialog: AnswerDiffDialog | None = None
        self._load_serial = 0
        self._loads: set[GeneratorWorker] = set()
        self._pending_focus: str | None = None
        self._changed_runs: set[str] = set()
        self.setStyleSheet(STYLE)

        title = QLabel("Results")
        title.setObjectName("pageTitle")
        hint = QLabel("Every answer of a stored run: cases down, models across. Select a cell to read it; "
                      "Ctrl-click two to compare them word by word.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        self.stack = QStackedWidget()
        self.empty = self._build_empty_state()
        self.content = self._build_content()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.content)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 12)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(self.stack, 1)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(300)  # a live run reports every answer: redraw at most ~3 times a second
        self._refresh_timer.timeout.connect(self._apply_run_changes)
        ctx.runs_changed.connect(self._note_run_changed)
        ctx.settings_changed.connect(lambda: self._note_run_changed(""))

        QShortcut(QKeySequence.StandardKey.Find, self, self._focus_search,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence("Ctrl+D"), self, self.compare_selected,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.refresh_runs()

    # Building -------------------------------------------------------------------------------

    def _build_empty_state(self) -> QWidget:
        page = QWidget()
        message = QLabel("No runs yet — run a comparison or a suite")
        message.setObjectName("emptyState")
        message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        detail = QLabel("Every run you start on Compare or Suites is stored on this computer and shows up here, "
                        "answer by answer.")
        detail.setObjectName("hint")
        detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        detail.setWordWrap(True)
        self.go_compare = QPushButton("Compare models")
        self.go_compare.setObjectName("primary")
        self.go_compare.setToolTip("Ask several models one prompt, side by side")
        self.go_compare.clicked.connect(lambda: self.ctx.navigate.emit("Compare"))
        self.go_suites = QPushButton("Run a suite")
        self.go_suites.setToolTip("Run a prompt suite with reference answers on your models")
        self.go_suites.clicked.connect(lambda: self.ctx.navigate.emit("Suites"))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.go_compare)
        buttons.addWidget(self.go_suites)
        buttons.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addStretch(2)
        layout.addWidget(message)
        layout.addWidget(detail)
        layout.addSpacing(10)
        layout.addLayout(buttons)
        layout.addStretch(3)
        return page

    def _build_content(self) -> QWidget:
        self.run_combo = QComboBox()
        self.run_combo.setObjectName("runPicker")
        self.run_combo.setMinimumContentsLength(62)
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_combo.setToolTip("The stored runs, newest first")
        self.run_combo.currentIndexChanged.connect(self._run_chosen)
        run_label = QLabel("&Run:")
        run_label.setBuddy(self.run_combo)
        self.run_info = _plain_label("hint", wrap=False)
        self.run_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # may be cut
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the grid as it is filtered and sorted now, as a CSV file")
        self.export_button.clicked.connect(self._export_clicked)
        top = QHBoxLayout()
        top.addWidget(run_label)
        top.addWidget(self.run_combo)
        top.addWidget(self.run_info, 1)
        top.addWidget(self.export_button)

        self.strip = SummaryStrip()
        self.strip.focus_requested.connect(self._card_clicked)

        self.search = QLineEdit()
        self.search.setObjectName("resultsSearch")
        self.search.setPlaceholderText("Search prompts and answers  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda text: self.proxy.set_filters(text=text.strip()))
        self.failed_only = QCheckBox("&Failed only")
        self.failed_only.setProperty("tip", "Only the cases some model failed (or the highlighted model, if one is)")
        self.failed_only.toggled.connect(lambda on: self.proxy.set_filters(failed_only=on))
        self.disagreements_only = QCheckBox("&Disagreements only")
        self.disagreements_only.setProperty("tip", "Only the cases where some models passed and others failed")
        self.disagreements_only.toggled.connect(lambda on: self.proxy.set_filters(disagreements_only=on))
        for box in (self.failed_only, self.disagreements_only):
            box.setToolTip(box.property("tip"))
        self.tag_combo = QComboBox()
        self.tag_combo.setObjectName("tagFilter")
        self.tag_combo.setToolTip("Only the cases with this tag")
        self.tag_combo.currentIndexChanged.connect(
            lambda: self.proxy.set_filters(tag=self.tag_combo.currentData() or ""))
        self.tag_label = QLabel("Tag:")
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("modelFocus")
        self.model_combo.setToolTip("Highlight one model's column; “Failed only” then means failed by this model")
        self.model_combo.currentIndexChanged.connect(
            lambda: self.set_focus_model(self.model_combo.currentData() or "", select=True))
        self.compare_button = QPushButton("Compare answers")
        self.compare_button.setObjectName("primary")
        self.compare_button.setToolTip("Ctrl-click two answers, then compare them word by word (Ctrl+D)")
        self.compare_button.clicked.connect(self.compare_selected)
        self.count_label = _plain_label("hint", wrap=False)
        filters = QHBoxLayout()
        filters.setSpacing(10)
        filters.addWidget(self.search, 2)
        filters.addWidget(self.failed_only)
        filters.addWidget(self.disagreements_only)
        filters.addWidget(self.tag_label)
        filters.addWidget(self.tag_combo)
        filters.addWidget(QLabel("Model:"))
        filters.addWidget(self.model_combo, 1)
        filters.addWidget(self.compare_button)

        self.grid = ResultsGridModel(self)
        self.proxy = ResultsFilterProxy(self.grid, self)
        self.view = QTableView()
        self.view.setObjectName("resultsGrid")
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setIconSize(QSize(16, 16))
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(28)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._grid_menu)
        header = self.view.horizontalHeader()
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the suite's own order until a header is clicked
        header.setSortIndicatorClearable(True)
        header.setHighlightSections(False)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self.view.setSortingEnabled(True)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                       self.proxy.layoutChanged):
            signal.connect(self._update_count)

        self.detail = ResultDetail()
        self.detail.label_requested.connect(self._set_human_label)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("resultsSplitter")
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([640, 420])
        self.splitter.setChildrenCollapsible(False)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.strip)
        layout.addLayout(filters)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.count_label)
        self._selection_changed()
        return content

    # Runs -----------------------------------------------------------------------------------

    def on_shown(self) -> None:
        before = self.run_data.run_id if self.run_data else None
        self.refresh_runs()
        if before and before == self.current_run_id():
            self._load(before)  # another process (the CLI) may have added answers since

    def current_run_id(self) -> str | None:
        return self.run_combo.currentData()

    def refresh_runs(self, select: str | None = None) -> None:
        """Re-read the run list (a quick query) and load the chosen run if it changed."""
        try:
            runs = self.ctx.store.runs()
        except StoreError as exc:
            show_exception(self, "Cannot read the stored runs", exc)
            runs = []
        wanted = select or self.current_run_id()
        if wanted and wanted not in {r["id"] for r in runs}:
            try:
                extra = self.ctx.store.run(wanted)
            except StoreError:
                extra = None
            if extra is not None:
                runs.append({**extra, "models": len(self.ctx.store.run_models(wanted))})
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in runs:
            self.run_combo.addItem(self._run_text(run), run["id"])
            self.run_combo.setItemData(self.run_combo.count() - 1, plain_tooltip(self._run_tooltip(run)),
                                       Qt.ItemDataRole.ToolTipRole)
        position = self.run_combo.findData(wanted) if wanted else -1
        self.run_combo.setCurrentIndex(position if position >= 0 else (0 if runs else -1))
        self.run_combo.blockSignals(False)
        self.stack.setCurrentWidget(self.content if runs else self.empty)
        chosen = self.current_run_id()
        if chosen is None:
            self._show_run_data(None)
        elif self.run_data is None or self.run_data.run_id != chosen:
            self._load(chosen)

    @staticmethod
    def _run_text(run: dict[str, Any]) -> str:
        models = run.get("models") or 0
        return (f"{format_when(run['created_at'])} · {run.get('suite_name') or '?'} · {run['kind']} · "
                f"{run['status']} · {models} model{'s' if models != 1 else ''} · {run['id']}")

    @staticmethod
    def _run_tooltip(run: dict[str, Any]) -> str:
        return (f"Run {run['id']} ({run['kind']}), {run['status']}\nSuite {run.get('suite_name')} "
                f"version {run.get('suite_version')}\nStarted {format_when(run['created_at'])}")

    def _run_chosen(self) -> None:
        run_id = self.current_run_id()
        if run_id:
            self._load(run_id)

    def show_run(self, run_id: str, model_key: str = "") -> None:
        """Select a run and, given a model key, highlight that model's column (Tradeoff's clicks)."""
        try:
            run_id = self.ctx.store.resolve_run_id(run_id)
        except StoreError as exc:
            show_exception(self, "Cannot show that run", exc)
            return
        if self.run_data is not None and self.run_data.run_id == run_id and self.current_run_id() == run_id:
            self.set_focus_model(model_key, select=True)
            return
        self._pending_focus = model_key
        self.refresh_runs(select=run_id)

    def _note_run_changed(self, run_id: str) -> None:
        self._changed_runs.add(run_id)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _apply_run_changes(self) -> None:
        changed, self._changed_runs = self._changed_runs, set()
        before = self.run_data.run_id if self.run_data else None
        self.refresh_runs()
        current = self.current_run_id()
        if current and current == before and (current in changed or "" in changed):
            self._load(current)

    # Loading --------------------------------------------------------------------------------

    def _load(self, run_id: str) -> None:
        self._load_serial += 1
        serial = self._load_serial
        database = self.ctx.database_path()
        worker = run_in_background(lambda: load_run_data(database, run_id),
                                   lambda data: self._loaded(serial, data),
                                   lambda exc: self._load_failed(serial, exc), self)
        self._loads.add(worker)
        worker.finished.connect(lambda: self._loads.discard(worker))

    def _loaded(self, serial: int, data: RunData) -> None:
        if serial != self._load_serial:
            return  # the user has picked another run since
        self._show_run_data(data)
        self.loaded.emit(data.run_id)

    def _load_failed(self, serial: int, exc: BaseException) -> None:
        if serial == self._load_serial:
            show_exception(self, "Cannot open this run", exc)

    def _show_run_data(self, data: RunData | None) -> None:
        keep = self._current_keys() if data and self.run_data and data.run_id == self.run_data.run_id else None
        same_run = keep is not None
        self.run_data = data
        self.grid.set_run_data(data)  # the proxy filters again on the reset or the change by itself
        if data is None:
            self.detail.clear()
            self.run_info.setText("")
            return
        run = data.run
        info = f"finished {format_when(run['finished_at'])}" if run.get("finished_at") else run["status"]
        if run.get("llama_cpp_version"):
            info += f" · llama.cpp {run['llama_cpp_version']}"
        self.run_info.setText(info)
        self.run_info.setToolTip(f"{info}\nSuite {run.get('suite_name')}, version {run.get('suite_version')}")
        if not same_run:
            self._fill_filter_choices(data)
            self._size_columns(len(data.model_keys))
        self.strip.set_summary(data.summary, data.graded, self.grid.focus_model)
        for box in (self.failed_only, self.disagreements_only):
            if not data.graded:  # nothing passed or failed: these filters would hide every row
                box.setChecked(False)
            box.setEnabled(data.graded)
            box.setToolTip(box.property("tip") if data.graded else
                           "Nothing in this run is graded: its cases have no expected answers or checks")
        if not same_run:
            self.detail.clear()
        if self._pending_focus is not None:
            focus, self._pending_focus = self._pending_focus, None
            self.set_focus_model(focus, select=True)
        elif same_run:
            current = self.view.currentIndex()
            if not current.isValid() and keep[0]:
                self._select_cell(*keep)
            elif current.isValid():
                source = self.proxy.mapToSource(current)
                if self.grid.result_at(source.row(), source.column()) != self.detail.row:
                    self._show_detail(current)  # only when it changed: a redraw would lose the reader's place
        self._update_count()

    def _fill_filter_choices(self, data: RunData) -> None:
        self.tag_combo.blockSignals(True)
        self.tag_combo.clear()
        self.tag_combo.addItem("All tags", "")
        for tag in data.tags:
            self.tag_combo.addItem(tag, tag)
        self.tag_combo.blockSignals(False)
        self.tag_combo.setVisible(bool(data.tags))
        self.tag_label.setVisible(bool(data.tags))
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItem("All models", "")
        for key in data.model_keys:
            self.model_combo.addItem(key, key)
        self.model_combo.blockSignals(False)
        if self.proxy.tag:
            self.proxy.set_filters(tag="")
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def _size_columns(self, models: int) -> None:
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 170)
        wide = models <= 3
        header.setStretchLastSection(not wide)
        for column in range(1, models + 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if wide
                                        else QHeaderView.ResizeMode.Interactive)
            if not wide:
                header.resizeSection(column, 240)

    # Focus on a model -------------------------------------------------------------------------

    def set_focus_model(self, key: str, select: bool = False) -> None:
        """Highlight one model (its header, its card; Failed only then means its failures); '' for none."""
        if self.run_data is None or (key and key not in self.run_data.model_keys):
            key = ""
        self.grid.set_focus_model(key)
        self.strip.set_focus(key)
        position = max(0, self.model_combo.findData(key))
        if self.model_combo.currentIndex() != position:
            self.model_combo.blockSignals(True)
            self.model_combo.setCurrentIndex(position)
            self.model_combo.blockSignals(False)
        self.proxy.refilter()
        if key and select:
            current = self.proxy.mapToSource(self.view.currentIndex())
            case_id = self.grid.case_at(current.row())["id"] if current.isValid() else None
            if case_id is None and self.proxy.rowCount():
                case_id = self.grid.case_at(self.proxy.mapToSource(self.proxy.index(0, 0)).row())["id"]
            if case_id is not None:
                self._select_cell(case_id, key)

    def focused_model(self) -> str:
        return self.grid.focus_model

    def _card_clicked(self, key: str) -> None:
        self.set_focus_model("" if key == self.grid.focus_model else key, select=True)

    # Selection and detail -------------------------------------------------------------------

    def _current_keys(self) -> tuple[str | None, str | None]:
        index = self.proxy.mapToSource(self.view.currentIndex())
        if not index.isValid():
            return None, None
        return self.grid.case_at(index.row())["id"], self.grid.model_at(index.column())

    def _select_cell(self, case_id: str, model_key: str | None) -> None:
        index = self.proxy.mapFromSource(self.grid.index_of(case_id, model_key))
        if not index.isValid():
            return
        self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(index)
        self._show_detail(index)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_detail(current)

    def _show_detail(self, index: QModelIndex) -> None:
        source = self.proxy.mapToSource(index)
        if not source.isValid():
            self.detail.clear()
            return
        self.detail.show_cell(self.grid.case_at(source.row()), self.grid.model_at(source.column()),
                              self.grid.result_at(source.row(), source.column()))

    def selected_answers(self) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
        """(case, model key, result) of each selected answer cell, in column then row order."""
        picked = []
        for index in self.view.selectionModel().selectedIndexes():
            source = self.proxy.mapToSource(index)
            row = self.grid.result_at(source.row(), source.column())
            if row is not None:
                picked.append((source.column(), index.row(), self.grid.case_at(source.row()),
                               self.grid.model_at(source.column()), row))
        picked.sort(key=lambda item: (item[0], item[1]))
        return [(case, key, row) for _, _, case, key, row in picked]

    def _selection_changed(self, *_: Any) -> None:
        count = len(self.selected_answers()) if self.run_data else 0
        self.compare_button.setEnabled(count == 2)
        if count == 1:
            self.compare_button.setToolTip("Ctrl-click a second answer to compare the two (Ctrl+D)")
        else:
            self.compare_button.setToolTip("Ctrl-click two answers, then compare them word by word (Ctrl+D)")

    def _update_count(self, *_: Any) -> None:
        if self.run_data is None:
            self.count_label.setText("")
            return
        total, shown = len(self.run_data.cases), self.proxy.rowCount()
        self.count_label.setText(f"{shown} of {total} cases shown" if shown != total else
                                 f"{total} case{'s' if total != 1 else ''}")

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # Actions ----------------------------------------------------------------------------------

    def compare_selected(self) -> AnswerDiffDialog | None:
        picked = self.selected_answers()
        if len(picked) != 2:
            show_error(self, "Compare answers", "Select exactly two answers to compare: click one, then "
                                                "Ctrl-click another (in the same row to compare models).")
            return None
        (case_a, key_a, row_a), (case_b, key_b, row_b) = picked

        def title(case: dict[str, Any], key: str, row: dict[str, Any]) -> str:
            return f"{key}  ·  {case['id']}  ·  {STATE_LABELS[result_state(row)]}"

        if self.diff_dialog is not None:
            self.diff_dialog.close()
        dialog = AnswerDiffDialog(title(case_a, key_a, row_a), row_a.get("text") or "",
                                  title(case_b, key_b, row_b), row_b.get("text") or "", self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "diff_dialog", None))
        self.diff_dialog = dialog
        dialog.show()
        return dialog

    def _set_human_label(self, row: dict[str, Any], value: int | None) -> None:
        try:
            self.ctx.store.set_human_label(row["id"], value)
        except Exception as exc:  # noqa: BLE001 - a locked or moved database: say so, keep going
            show_exception(self, "Cannot save your verdict", exc)
            return
        row["human_label"] = value
        self.grid.result_changed(row)
        if self.detail.row is row:
            self.detail.show_label(row)

    def _grid_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        menu = QMenu(self)
        compare = menu.addAction("Compare the two selected answers", self.compare_selected)
        compare.setShortcut(QKeySequence("Ctrl+D"))
        compare.setEnabled(len(self.selected_answers()) == 2)
        source = self.proxy.mapToSource(index)
        row = self.grid.result_at(source.row(), source.column()) if source.isValid() else None
        if row is not None:
            menu.addSeparator()
            menu.addAction("Copy answer", lambda: QGuiApplication.clipboard().setText(row.get("text") or ""))
            menu.addAction("Mark as good answer", lambda: self._set_human_label(row, 1))
            menu.addAction("Mark as bad answer", lambda: self._set_human_label(row, -1))
            if row.get("human_label"):
                menu.addAction("Clear my verdict", lambda: self._set_human_label(row, None))
        key = self.grid.model_at(source.column()) if source.isValid() else None
        if key:
            menu.addSeparator()
            menu.addAction(f"Highlight {key}", lambda: self.set_focus_model(key, select=True))
        menu.popup(self.view.viewport().mapToGlobal(position))

    def _header_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction("Suite order", lambda: self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder))
        menu.popup(self.view.horizontalHeader().mapToGlobal(position))

    def _export_clicked(self) -> None:
        if self.run_data is None:
            return
        default = str(Path.home() / f"modelscout-{self.run_data.run_id}.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export results as CSV", default, "CSV files (*.csv)")
        if not path:
            return
        try:
            self.export_csv(Path(path))
        except OSError as exc:
            show_error(self, "Cannot export", f"Could not write {path}: {exc.strerror or exc}. "
                                              f"Choose another folder or file name.")

    def export_csv(self, path: Path) -> Path:
        """The grid as it is shown (filtered and sorted): a row per case, three columns per model."""
        data = self.run_data
        if data is None:
            raise ValueError("no run is shown")
        header = ["case", "tags", "prompt", "expected"]
        for key in data.model_keys:
            header += [f"{key} result", f"{key} score", f"{key} answer"]
        lines = [header]
        for proxy_row in range(self.proxy.rowCount()):
            row_index = self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()
            case = self.grid.case_at(row_index)
            line = [case["id"], " ".join(case.get("tags") or ()), case.get("prompt") or "",
                    "" if case.get("expected") is None else str(case["expected"])]
            for column in range(1, len(data.model_keys) + 1):
                result = self.grid.result_at(row_index, column)
                state = result_state(result)
                score = "" if result is None or result.get("grade_score") is None else f"{result['grade_score']:g}"
                answer = "" if result is None else (result.get("error") if state == ERROR else result.get("text")) or ""
                line += [state, score, answer]
            lines.append(line)
        partial = path.with_name(f".{path.name}.part")
        with partial.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(lines)
        partial.replace(path)
        return path

    # Lifecycle ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        self._refresh_timer.stop()
        self._load_serial += 1  # a load that lands now is ignored
        for worker in list(self._loads):
            worker.wait(10)
        if self.diff_dialog is not None:
            self.diff_dialog.close()

