"""The Results grid's data and table: a run read off the UI thread, cases x models, filtered and sorted."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QPersistentModelIndex, QPointF, QSortFilterProxyModel,
                            Qt, QTimer, Signal)
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from desktop_app.analysis.summary import RunSummary, latest_summary
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.ui.formatting import format_ms, format_rate, format_usd, plain_tooltip
from desktop_app.ui.widgets.filter_change import rows_filter_change

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
CAVEAT_ROLE = Qt.ItemDataRole.UserRole + 4  # the sentences that qualify a cell's figures (a tuple, maybe empty)
CAVEAT_COLOR = "#d08a00"
FILL_STEP = 2000  # rows added to the grid per turn of the event loop
CHANGED_CELLS_ONE_BY_ONE = 2000  # more changed cells than this: the whole grid is redrawn at once


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


def cell_text(row: dict[str, Any] | None, state: str) -> str:
    """What a cell shows of its answer, on one line."""
    if state == MISSING:
        return "not answered yet"
    if state == ERROR:
        return "Error: " + first_line(row["error"])
    return first_line(row.get("text")) or "(empty answer)"


def measurement_caveats(row: dict[str, Any] | None) -> tuple[str, ...]:
    """What an answer's speed, time and cost were measured under, when that makes them read differently
    from this machine's quiet, one-model-at-a-time figures: in words, one sentence each."""
    if row is None or row.get("error"):
        return ()
    notes = []
    if row.get("under_load"):
        share = row.get("other_cpu_share")
        busy = (f"other programs used {share:.0%} of the CPU" if share is not None
                else "other programs kept the CPU busy")
        notes.append(f"Measured while {busy}: slower and dearer than this machine is when quiet.")
    sharing = row.get("sharing") or 0
    if sharing:
        others = f"{sharing} other local model{'s' if sharing != 1 else ''}"
        notes.append(f"Measured while {others} answered at the same time, sharing the CPU: alone it is faster.")
    if row.get("reused_from"):
        origin = row.get("measured_in_run")
        notes.append(f"Reused from run {origin}: its figures were measured there." if origin else
                     f"Reused from answer #{row['reused_from']}: its figures were measured when that was made.")
    return tuple(notes)


def retry_note(row: dict[str, Any] | None) -> str:
    """For a failed answer: whether a resume of the run tries it again."""
    if not row or not row.get("error"):
        return ""
    kind = row.get("error_kind")
    if row.get("finish_reason") == "cancelled":
        return "Cancelled while answering (what it wrote was paid for); a resume asks again."
    if kind == "transient":
        return "The failure may pass (a timeout, a rate limit, a dropped connection): a resume tries it again."
    if kind == "permanent":
        return "A resume will not try it again: the same request would fail the same way. Fix the cause first."
    return ""


# Loading ------------------------------------------------------------------------------------

@dataclass
class RunData:
    """Everything the screen shows of one run, read and indexed off the UI thread."""

    run: dict[str, Any]
    cases: list[dict[str, Any]]
    model_keys: list[str]
    results: dict[tuple[str, str], dict[str, Any]]  # (case id, model key) -> stored row
    summary: RunSummary
    requested_models: dict[str, str] = field(default_factory=dict)  # API model key -> the model name asked for
    # A judge's verdicts: (case id, model key) -> its single-answer judgments, and the pairwise ones the
    # answer took part in (either side); what judging has cost, apart from the answers.
    judgments: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    pair_judgments: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    judge_cost_usd: float = 0.0
    # The cells whose answer or grade differ from those of the same run as shown before ([case][model]
    # positions); None: all of them (a first load).
    changed: list[tuple[int, int]] | None = None
    # Derived here, on the loading thread, so that filtering and sorting thousands of rows stays quick.
    rows: list[list[dict[str, Any] | None]] = field(init=False)  # [case][model]
    states: list[list[str]] = field(init=False)  # [case][model]
    caveats: list[list[tuple[str, ...]]] = field(init=False)  # [case][model]: see measurement_caveats
    texts: list[list[str]] = field(init=False)  # [case][model]: the cell's line, see cell_text
    sort_keys: list[list[Any]] = field(init=False)  # [column][case]: case id, then each model's score
    haystacks: list[str] = field(init=False)  # [case]: the searchable text, casefolded
    row_of: dict[str, int] = field(init=False)  # case id -> row
    tags: list[str] = field(init=False)  # every case tag, sorted
    retryable: list[dict[str, Any]] = field(init=False)  # answers that failed for a reason that may pass
    graded: bool = field(init=False)  # some answer passed or failed its checks
    shape: RunShape = field(init=False)  # what a later read of the run is compared with

    def __post_init__(self) -> None:
        self.rows = [[self.results.get((case["id"], key)) for key in self.model_keys] for case in self.cases]
        self.states = [[result_state(row) for row in rows] for rows in self.rows]
        self.caveats = [[measurement_caveats(row) for row in rows] for rows in self.rows]
        self.texts = [[cell_text(row, state) for row, state in zip(rows, states, strict=True)]
                      for rows, states in zip(self.rows, self.states, strict=True)]
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
        self.tags = sorted({tag for case in self.cases for tag in case.get("tags") or ()})
        self.retryable = [row for row in self.results.values()
                          if row.get("error") and row.get("error_kind") == "transient"]
        self.graded = any(state in (PASSED, FAILED) for states in self.states for state in states)
        self.shape = RunShape(self.run["id"], tuple(self.model_keys), hash(tuple(c["id"] for c in self.cases)),
                              [hash(_fingerprint(row)) for rows in self.rows for row in rows])

    @property
    def run_id(self) -> str:
        return self.run["id"]

    def changed_since(self, shown: RunShape | None) -> list[tuple[int, int]] | None:
        """The cells that differ from `shown` (the same run, as on screen), or None when it is not comparable."""
        mine = self.shape
        if shown is None or (shown.run_id, shown.model_keys, shown.cases) != (mine.run_id, mine.model_keys,
                                                                             mine.cases):
            return None
        models = len(self.model_keys)
        return [divmod(cell, models) for cell, (a, b) in enumerate(zip(shown.cells, mine.cells, strict=True))
                if a != b]


@dataclass(frozen=True)
class RunShape:
    """What a later read of a run is compared with, to redraw only what changed: no answer is kept alive."""

    run_id: str
    model_keys: tuple[str, ...]
    cases: int  # a hash of the case ids in order
    cells: list[int]  # [case * models + model]: a hash of what the grid shows of each answer


def release(data: RunData, step: int = 500) -> None:
    """Take a run's data apart a slice at a time, on a worker thread once no screen shows it.

    Freeing the 100,000 answers of a large run in one go holds Python's lock for a quarter of a second or
    more, and the window waits for it; a slice at a time, other threads run in between.
    """
    for mapping in (data.results, data.row_of, data.judgments, data.pair_judgments):
        while mapping:
            for _ in range(min(step, len(mapping))):
                mapping.popitem()
    for sequence in (data.rows, data.states, data.caveats, data.texts, *data.sort_keys, data.sort_keys, data.haystacks,
                     data.cases, data.retryable):
        while sequence:
            del sequence[-step:]


def _fingerprint(row: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What the grid and the detail show of an answer: when equal, its cell needs no redraw."""
    if row is None:
        return None
    return (row["id"], row.get("human_label"), row.get("grade_passed"), row.get("grade_score"), row.get("error"),
            row.get("grade_reason"), row.get("reused_from"), row.get("under_load"), row.get("sharing"))


def load_run_data(database: Path, run_id: str, settings: Settings | None = None,
                  previous: RunShape | None = None) -> RunData:
    """A run as the screen shows it; with `settings`, its answers are priced under them (as Tradeoff does).
    With `previous` (the shape of the same run as shown now), the cells that changed are found here, off the
    UI thread."""
    store = Store(database)
    try:
        run_id = store.resolve_run_id(run_id)
        version = store.answers_version(run_id)  # before the answers: see latest_summary
        rows = store.results(run_id)
        summary = latest_summary(store, run_id, settings, answers=rows, version=version)  # from the same answers
        requested = {m["model_key"]: json.loads(m["metadata_json"] or "{}").get("model")
                     for m in store.run_models(summary.run["id"]) if m["provider"] != "llama.cpp"}
        judgments: dict[tuple[str, str], list[dict[str, Any]]] = {}
        pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for j in store.judgments(summary.run["id"]):
            if j["kind"] == "pair":
                for key in (j["model_key"], j["other_model_key"]):
                    pairs.setdefault((j["case_id"], key), []).append(j)
            else:
                judgments.setdefault((j["case_id"], j["model_key"]), []).append(j)
        judge_cost = store.judge_spend(summary.run["id"])
        cases = store.suite_cases(summary.run["id"])  # case by case: a large suite never holds the lock long
    finally:
        store.close()
    data = RunData(summary.run, cases, [m.model for m in summary.models],
                   {(row["case_id"], row["model_key"]): row for row in rows}, summary,
                   {key: name for key, name in requested.items() if name}, judgments, pairs, judge_cost)
    data.changed = data.changed_since(previous)
    return data


# The grid -----------------------------------------------------------------------------------

_ICONS: dict[tuple[str, bool], QIcon] = {}


def mark_icon(state: str, caveat: bool = False) -> QIcon:
    """A coloured disc with a drawn mark (no font glyphs, so it looks the same everywhere); with `caveat`,
    a small amber dot at its top right: the answer's figures were measured under special conditions."""
    if (state, caveat) in _ICONS:
        return _ICONS[state, caveat]
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
    if caveat:
        painter.setPen(QPen(QColor("white"), 1.2))
        painter.setBrush(QColor(CAVEAT_COLOR))
        painter.drawEllipse(QPointF(12.6, 3.4), 3.2, 3.2)
    painter.end()
    _ICONS[state, caveat] = QIcon(pixmap)
    return _ICONS[state, caveat]


class ResultsGridModel(QAbstractTableModel):
    """Cases down, models across; column 0 is the case.

    The grid keeps its rows in the chosen sort order itself: a Python lessThan called by the proxy for
    every comparison takes a second on a few thousand cases, sorting a list of keys takes milliseconds.
    """

    filled = Signal()  # every case of the run is in the grid (a large run comes in steps)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_data: RunData | None = None
        self.focus_model = ""
        self.order: list[int] = []  # grid row -> the case's position in the suite (the rows added so far)
        self.sort_column = -1
        self.sort_order = Qt.SortOrder.AscendingOrder
        # Characters of an answer a cell is given: what its widest column can show, and some. Qt lays out a
        # cell's whole text to elide it, so 200 characters where 40 fit make every paint several times slower.
        self.text_limit = 200
        # A run of many cases enters the grid FILL_STEP rows per turn of the event loop: the view and the
        # filter take each step in a few milliseconds, where all at once would hold the window still.
        self._fill_timer = QTimer(self, singleShot=True, interval=0, timeout=self._fill_step)

    # Data in ----------------------------------------------------------------------------

    def set_run_data(self, data: RunData | None) -> None:
        old = self.run_data
        same_shape = (old is not None and data is not None and old.run_id == data.run_id
                      and old.shape.cases == data.shape.cases  # hashed on the loading thread, not here
                      and old.model_keys == data.model_keys)
        if same_shape:  # new answers in a live run: keep the selection and the scroll position
            self.run_data = data
            self.sort_rows(self.sort_column, self.sort_order)
            self._cells_changed(data.changed)
            return
        self._fill_timer.stop()
        self.beginResetModel()
        self.run_data = data
        self.focus_model = ""
        self.order = list(range(min(FILL_STEP, len(data.cases)))) if data else []
        self.sort_column, self.sort_order = -1, Qt.SortOrder.AscendingOrder
        self.endResetModel()
        self._filled_or_more()

    def _cells_changed(self, changed: list[tuple[int, int]] | None) -> None:
        """Redraw (and filter again) only the cells that changed: a live run's new answer, a verdict."""
        if not self.order:
            return
        if changed is None or len(changed) > CHANGED_CELLS_ONE_BY_ONE:
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))
            return
        row_of_position = {position: row for row, position in enumerate(self.order)}
        for position, model in changed:
            row = row_of_position.get(position)
            if row is not None:  # not in the grid yet: it arrives as it is
                index = self.index(row, model + 1)
                self.dataChanged.emit(index, index)

    def is_filling(self) -> bool:
        return self.run_data is not None and len(self.order) < len(self.run_data.cases)

    def finish_filling(self) -> None:
        """Every case in the grid now (an export, a cell to select that has not arrived yet)."""
        if self.is_filling():
            self._fill_step(len(self.run_data.cases))

    def _fill_step(self, rows: int = 0) -> None:
        if not self.is_filling():
            return
        start = len(self.order)
        stop = min(len(self.run_data.cases), start + (rows or FILL_STEP))
        self.beginInsertRows(QModelIndex(), start, stop - 1)
        self.order.extend(range(start, stop))
        self.endInsertRows()
        self._filled_or_more()

    def _filled_or_more(self) -> None:
        if self.is_filling():
            self._fill_timer.start()
            return
        self._fill_timer.stop()
        if self.sort_column >= 0:  # rows that came in after a sort was chosen take their places
            self.sort_rows(self.sort_column, self.sort_order)
        self.filled.emit()

    def sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        """Order rows by case id (column 0) or a model's score; -1 for the suite's order. Ties keep it."""
        self.sort_column, self.sort_order = column, order
        if self.run_data is None:
            return
        in_grid = sorted(self.order)  # the suite's order, of the cases added so far
        if 0 <= column < self.columnCount():
            keys = self.run_data.sort_keys[column]
            new_order = sorted(in_grid, key=keys.__getitem__,
                               reverse=order == Qt.SortOrder.DescendingOrder)  # stable either way
        else:
            new_order = in_grid
        if new_order == self.order:
            return
        self.layoutAboutToBeChanged.emit()
        new_row = {case: row for row, case in enumerate(new_order)}
        for index in self.persistentIndexList():  # the proxy's and the selection's indexes follow their cases
            self.changePersistentIndex(index, self.index(new_row[self.order[index.row()]], index.column()))
        self.order = new_order
        self.layoutChanged.emit()

    def set_text_limit(self, characters: int) -> bool:
        """Give cells `characters` of their answer (the widest column's worth); True when that changed.

        No dataChanged: the view asks for a cell's text on every paint, so a repaint of it is enough, and the
        filter proxy would run its Python filter over every row again for a change that filters nothing.
        """
        characters = max(20, characters)
        changed, self.text_limit = characters != self.text_limit, characters
        return changed

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
        position = self.run_data.row_of[case_id]
        if position >= len(self.order):  # rows are added in the suite's order: this one has not come yet
            self.finish_filling()
        column = 0 if not model_key or model_key not in self.run_data.model_keys else self.column_of(model_key)
        return self.index(self.order.index(position), column)

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
        return len(self.order)

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
        caveats = self.run_data.caveats[position][index.column() - 1]
        if role == Qt.ItemDataRole.DisplayRole:
            text = self.run_data.texts[position][index.column() - 1]
            return text if len(text) <= self.text_limit else text[: self.text_limit - 1] + "\u2026"
        if role == Qt.ItemDataRole.DecorationRole:
            return mark_icon(state, bool(caveats))
        if role == Qt.ItemDataRole.BackgroundRole:
            tint = STATE_TINTS.get(state)
            return QColor(tint) if tint else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if state == MISSING or (state != ERROR and not (row.get("text") or "").strip()):
                return QColor("#8a93a3")
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(cell_summary(row, state))
        if role == CAVEAT_ROLE:
            return caveats
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
        if retry := retry_note(row):
            lines.append(retry)
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
    lines += ["\u25cf " + note for note in measurement_caveats(row)]  # the amber dot on the cell's mark
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
        with rows_filter_change(self):
            for name, value in changes.items():
                setattr(self, name, value)

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
