"""The model library as a table: rows read off the UI thread, the Qt model, search and the fit badges."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRect, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.fit import CPU_ONLY, FULL_GPU, PARTIAL_GPU, WILL_NOT_FIT, WILL_NOT_LOAD, Fit
from desktop_app.models.gguf_meta import GGUFError
from desktop_app.models.hardware import Hardware
from desktop_app.settings import Settings
from desktop_app.ui.library import LibraryEntry, scan_library
from desktop_app.ui.widgets.filter_change import rows_filter_change
from desktop_app.units import format_bytes

SOURCE_NAMES = {
    "project": "Project", "user": "Your models", "folder": "Added folder", "lmstudio": "LM Studio",
    "ollama": "Ollama", "gpt4all": "GPT4All", "huggingface": "Hugging Face", "llama.cpp": "llama.cpp",
}
ADDED_FILE = "Added file"

UNREADABLE = "unreadable"
# verdict -> (badge text, colour)
FIT_BADGES: dict[str, tuple[str, str]] = {
    FULL_GPU: ("GPU", "#1e8e4e"),
    PARTIAL_GPU: ("Partial GPU", "#c27803"),
    CPU_ONLY: ("CPU", "#2f6fde"),
    WILL_NOT_FIT: ("Won't fit", "#d9534f"),
    WILL_NOT_LOAD: ("Won't load", "#b3261e"),
    UNREADABLE: ("Unreadable", "#8a8f99"),
}
LOADED_COLOR = "#1e8e4e"

COLUMNS = ("Name", "Architecture", "Parameters", "Quantization", "Size", "Context", "Source", "Fit", "Loaded")
(COL_NAME, COL_ARCH, COL_PARAMS, COL_QUANT, COL_SIZE, COL_CONTEXT, COL_SOURCE, COL_FIT,
 COL_LOADED) = range(len(COLUMNS))

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
KEY_ROLE = Qt.ItemDataRole.UserRole + 2  # the resolved path, which identifies a row
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 3
BADGE_COLOR_ROLE = Qt.ItemDataRole.UserRole + 4


def format_parameters(count: int) -> str:
    """134_515_008 -> "135M", 7_241_732_096 -> "7.2B", 70_553_706_496 -> "71B"."""
    if count >= 10**12:
        return f"{count / 10**12:.1f}T"
    if count >= 10**10:
        return f"{count / 10**9:.0f}B"
    if count >= 10**9:
        return f"{count / 10**9:.1f}B"
    if count >= 10**6:
        return f"{count / 10**6:.0f}M"
    if count >= 10**3:
        return f"{count / 10**3:.0f}K"
    return str(count)


def format_context(tokens: int | None) -> str:
    if not tokens:
        return "—"
    if tokens >= 1024 and tokens % 1024 == 0:
        return f"{tokens // 1024}K"
    return f"{tokens:,}"


@dataclass(frozen=True)
class LibraryRow:
    """A library entry with what the table needs that would cost file-system calls on the UI thread."""

    entry: LibraryEntry
    key: str  # resolved path, as the model pool names it
    size: int | None  # of the file, even when it cannot be read as a model
    source_name: str

    @property
    def verdict(self) -> str:
        return self.entry.fit.verdict if self.entry.fit else UNREADABLE


def scan_rows(settings: Settings, catalog: ModelCatalog, hardware: Hardware,
              progress: Callable[[str], None] | None = None) -> list[LibraryRow]:
    """scan_library plus per-file facts (runs off the UI thread; `progress` as scan_library's).

    Files the user added one by one stay listed even when discovery skips them (missing, or not a
    GGUF at all), with the reason, so that they do not silently vanish.
    """
    added_files = {str(Path(file).expanduser().resolve()): Path(file).expanduser() for file in settings.model_files}
    rows = []
    for entry in scan_library(settings, catalog, hardware, progress):
        key = str(entry.path.resolve())
        try:
            size = entry.info.file_size if entry.info else entry.path.stat().st_size
        except OSError:
            size = None
        source = ADDED_FILE if entry.source == "folder" and key in added_files else \
            SOURCE_NAMES.get(entry.source, entry.source)
        rows.append(LibraryRow(entry, key, size, source))
    listed = {row.key for row in rows}
    for key, path in added_files.items():
        if key in listed:
            continue
        try:
            catalog.info(path)
            error = "discovery skipped this file"
        except GGUFError as exc:
            error = str(exc)
        try:
            size: int | None = path.stat().st_size
        except OSError:
            size = None
        entry = LibraryEntry(path, "folder", path.name, None, None, error)
        rows.append(LibraryRow(entry, key, size, ADDED_FILE))
    return rows


_ROOT = QModelIndex()


class LibraryModel(QAbstractTableModel):
    """The library as rows; the loaded column follows the model pool."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[LibraryRow] = []
        self.memory: dict[str, int | None] = {}  # key -> bytes of each loaded model
        self.busy: dict[str, str] = {}  # key -> "Loading…" / "Unloading…"
        self.run_context = 0

    def set_rows(self, rows: list[LibraryRow], run_context: int) -> None:
        self.beginResetModel()
        self.rows = rows
        self.run_context = run_context
        self.endResetModel()

    def set_loaded(self, memory: dict[str, int | None], busy: dict[str, str]) -> None:
        if memory == self.memory and busy == self.busy:
            return
        self.memory, self.busy = dict(memory), dict(busy)
        if self.rows:
            self.dataChanged.emit(self.index(0, COL_LOADED), self.index(len(self.rows) - 1, COL_LOADED))

    def row_of(self, path: str | Path) -> int:
        key = str(Path(path).resolve())
        return next((i for i, row in enumerate(self.rows) if row.key == key), -1)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return HEADER_TIPS.get(section)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_value(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == KEY_ROLE:
            return row.key
        if role == SEARCH_ROLE:
            info = row.entry.info
            parts = [row.entry.display_name, row.key, row.source_name, row.entry.label]
            if info:
                parts += [info.name, info.architecture, info.quantization]
            return " ".join(parts).casefold()
        if role == BADGE_COLOR_ROLE and column == COL_FIT:
            return FIT_BADGES[row.verdict][1]
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == COL_NAME and row.entry.error:
                return QColor("#b3261e")
            if column == COL_LOADED and row.key in self.memory:
                return QColor(LOADED_COLOR)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_PARAMS, COL_SIZE, COL_CONTEXT):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, row: LibraryRow, column: int) -> str:
        info = row.entry.info
        if column == COL_NAME:
            return row.entry.display_name
        if column == COL_SOURCE:
            return row.source_name
        if column == COL_FIT:
            return FIT_BADGES[row.verdict][0]
        if column == COL_SIZE:
            return format_bytes(row.size) if row.size is not None else "—"
        if column == COL_LOADED:
            if row.key in self.busy:
                return self.busy[row.key]
            if row.key in self.memory:
                used = self.memory[row.key]
                return f"Loaded · {format_bytes(used)}" if used is not None else "Loaded"
            return ""
        if info is None:
            return "—"
        return {COL_ARCH: info.architecture or "—", COL_PARAMS: format_parameters(info.parameters),
                COL_QUANT: info.quantization, COL_CONTEXT: format_context(info.context_length)}[column]

    def _sort_value(self, row: LibraryRow, column: int) -> Any:
        info = row.entry.info
        if column == COL_PARAMS:
            return info.parameters if info else -1
        if column == COL_SIZE:
            return row.size if row.size is not None else -1
        if column == COL_CONTEXT:
            return (info.context_length or 0) if info else -1
        if column == COL_FIT:
            return list(FIT_BADGES).index(row.verdict)
        if column == COL_LOADED:
            return self.memory.get(row.key) or (0 if row.key in self.memory else -1)
        return self._display(row, column).casefold()

    def _tooltip(self, row: LibraryRow, column: int) -> str:
        entry = row.entry
        if entry.error:
            return f"Cannot use this file:\n{entry.error}\n\n{row.key}"
        info, fit = entry.info, entry.fit
        if column == COL_FIT and fit is not None:
            return (f"{explain_fit(fit)}\n\nWeights {fit.weights_bytes:,} B + KV cache {fit.kv_cache_bytes:,} B "
                    f"+ overhead {fit.overhead_bytes:,} B = {fit.estimated_bytes:,} B, "
                    f"against {fit.available_bytes:,} B usable.")
        if column == COL_PARAMS and info:
            return f"{info.parameters:,} parameters"
        if column == COL_CONTEXT and info:
            trained = f"{info.context_length:,}" if info.context_length else "unknown"
            return f"Trained context: {trained} tokens; runs use {self.run_context:,} (Settings)"
        if column == COL_SIZE and row.size is not None:
            return f"{row.size:,} bytes"
        if column == COL_LOADED and row.key in self.memory:
            return "Loaded in its own worker process; this is the memory it uses now (resident set size)."
        return row.key


HEADER_TIPS = {
    COL_PARAMS: "Number of weights", COL_QUANT: "How the weights are stored (fewer bits: smaller, faster)",
    COL_CONTEXT: "The context length the model was trained for", COL_SOURCE: "Where the model came from",
    COL_FIT: "Where it runs on this machine at your context size: GPU, partly on the GPU, CPU, or not at all",
    COL_LOADED: "Loaded models stay in memory between runs; the memory each one uses now",
}


class LibraryProxy(QSortFilterProxyModel):
    """Sorts by SORT_ROLE values and filters on name, path, source, architecture and type."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._words: list[str] = []

    def set_search(self, text: str) -> None:
        with rows_filter_change(self):
            self._words = text.casefold().split()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self._words:
            return True
        haystack = self.sourceModel().index(source_row, 0, source_parent).data(SEARCH_ROLE) or ""
        return all(word in haystack for word in self._words)


class FitBadgeDelegate(QStyledItemDelegate):
    """Draws the fit verdict as a coloured pill."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = opt.text, ""
        style = opt.widget.style() if opt.widget else None
        if style:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        color = index.data(BADGE_COLOR_ROLE)
        if not text or not color:
            return
        metrics = opt.fontMetrics
        width = metrics.horizontalAdvance(text) + 16
        height = metrics.height() + 4
        rect = QRect(opt.rect.left() + 6, opt.rect.center().y() - height // 2 + 1, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        painter.drawRoundedRect(rect, height / 2, height / 2)
        painter.setPen(QColor("white"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> Any:
        hint = super().sizeHint(option, index)
        hint.setWidth(hint.width() + 24)
        return hint


VERDICT_SENTENCES = {FULL_GPU: "Runs entirely on the GPU", PARTIAL_GPU: "Runs partly on the GPU",
                     CPU_ONLY: "Runs on the CPU", WILL_NOT_FIT: "Will not fit this machine",
                     WILL_NOT_LOAD: "Will not load with this llama.cpp"}


def explain_fit(fit: Fit) -> str:
    """The verdict, then each part of the estimate's reason on its own line."""
    context = "." if fit.verdict == WILL_NOT_LOAD else f" at {fit.context:,} tokens of context."
    lines = [f"{VERDICT_SENTENCES.get(fit.verdict, fit.verdict)}{context}"]
    lines += [_sentence(part) for part in fit.reason.split("; ") if part.strip()]
    return "\n".join(lines)


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else ""
