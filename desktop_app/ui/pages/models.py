"""The Models screen: every GGUF model on this machine, where it came from, whether it fits, and what is loaded."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSettings,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QPainter,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.fit import CPU_ONLY, FULL_GPU, PARTIAL_GPU, WILL_NOT_FIT, Fit
from desktop_app.models.gguf_meta import GGUFError
from desktop_app.models.hardware import Hardware
from desktop_app.providers.local import LocalModelSpec
from desktop_app.settings import Settings
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_error, show_exception
from desktop_app.ui.library import LibraryEntry, scan_library
from desktop_app.ui.widgets.quantize_dialog import QuantizeDialog
from desktop_app.ui.workers import GeneratorWorker, run_in_background
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
    UNREADABLE: ("Unreadable", "#8a8f99"),
}
LOADED_COLOR = "#1e8e4e"
MEMORY_REFRESH_MS = 2000

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


def scan_rows(settings: Settings, catalog: ModelCatalog, hardware: Hardware) -> list[LibraryRow]:
    """scan_library plus per-file facts (runs off the UI thread).

    Files the user added one by one stay listed even when discovery skips them (missing, or not a
    GGUF at all), with the reason, so that they do not silently vanish.
    """
    added_files = {str(Path(file).expanduser().resolve()): Path(file).expanduser() for file in settings.model_files}
    rows = []
    for entry in scan_library(settings, catalog, hardware):
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


def spec_for(settings: Settings, hardware: Hardware, row: LibraryRow) -> LocalModelSpec:
    """The configuration a run would ask the pool for (Runner.spec_for + plan_models), so a run reuses it."""
    gpu_layers = settings.gpu_layers if hardware.gpus else 0
    fit = row.entry.fit
    if gpu_layers == -1 and fit is not None and fit.gpu_layers >= 0:
        gpu_layers = fit.gpu_layers
    return LocalModelSpec(path=row.key, n_ctx=settings.context_size, n_threads=settings.threads,
                          n_gpu_layers=gpu_layers)


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
        self.beginFilterChange()
        self._words = text.casefold().split()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

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


class DetailPanel(QScrollArea):
    """The selected model's metadata and the fit explanation, as selectable plain text."""

    FIELDS_LEFT = (("name", "Name in file"), ("source", "Source"), ("architecture", "Architecture"),
                   ("parameters", "Parameters"), ("quantization", "Quantization"), ("size", "File size"),
                   ("license", "Licence"), ("chat", "Chat template"))
    FIELDS_RIGHT = (("context", "Trained context"), ("layers", "Layers"), ("embedding", "Embedding size"),
                    ("heads", "Attention heads"), ("head_size", "Head size"), ("vocab", "Vocabulary"),
                    ("gguf", "GGUF version"), ("tensors", "Tensors"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelDetail")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 8, 4, 4)
        layout.setSpacing(6)

        self.title = QLabel()
        self.title.setObjectName("detailTitle")
        self.title.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.path = QLineEdit()
        self.path.setObjectName("detailPath")
        self.path.setReadOnly(True)
        self.path.setFrame(False)
        self.path.setStyleSheet("background: transparent; color: #5b6270;")
        self.placeholder = QLabel("Select a model to see what it is and whether it fits this machine.")
        self.placeholder.setObjectName("hint")

        self.values: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(4)
        for column, fields in ((0, self.FIELDS_LEFT), (3, self.FIELDS_RIGHT)):
            for row, (key, title) in enumerate(fields):
                name = QLabel(title)
                name.setObjectName("hint")
                value = self._value_label()
                self.values[key] = value
                grid.addWidget(name, row, column)
                grid.addWidget(value, row, column + 1)
        grid.setColumnMinimumWidth(2, 12)  # a gap between the two pairs of columns
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(4, 1)
        self.grid = QWidget()
        self.grid.setLayout(grid)
        grid.setContentsMargins(0, 0, 0, 0)

        self.fit_title = QLabel("Fit on this machine")
        bold = self.fit_title.font()
        bold.setBold(True)
        self.fit_title.setFont(bold)
        self.fit = self._value_label(wrap=True)
        self.fit.setObjectName("detailFit")
        self.loaded = self._value_label(wrap=True)
        self.loaded.setObjectName("detailLoaded")
        self.error = self._value_label(wrap=True)
        self.error.setObjectName("detailError")
        self.error.setStyleSheet("color: #b3261e;")

        fit_column = QVBoxLayout()
        fit_column.setContentsMargins(0, 0, 0, 0)
        fit_column.setSpacing(4)
        for widget in (self.fit_title, self.fit, self.loaded):
            fit_column.addWidget(widget)
        fit_column.addStretch(1)
        columns = QHBoxLayout()
        columns.setSpacing(28)
        columns.addWidget(self.grid, 3)
        columns.addLayout(fit_column, 2)
        for widget in (self.title, self.path, self.placeholder, self.error):
            layout.addWidget(widget)
        layout.addLayout(columns)
        layout.addStretch(1)
        self.setWidget(body)
        self.show_row(None)

    @staticmethod
    def _value_label(wrap: bool = False) -> QLabel:
        label = QLabel()
        label.setTextFormat(Qt.TextFormat.PlainText)  # names and licences come from the file
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setWordWrap(wrap)
        return label

    def set_loaded(self, text: str) -> None:
        self.loaded.setText(text)
        self.loaded.setVisible(bool(text))

    def show_row(self, row: LibraryRow | None) -> None:
        has_row = row is not None
        self.placeholder.setVisible(not has_row)
        for widget in (self.title, self.path):
            widget.setVisible(has_row)
        info = row.entry.info if row else None
        self.grid.setVisible(info is not None)
        self.fit_title.setVisible(info is not None)
        self.fit.setVisible(info is not None)
        self.error.setVisible(bool(row and row.entry.error))
        if row is None:
            self.set_loaded("")
            return
        self.title.setText(row.entry.display_name)
        self.path.setText(row.key)
        self.path.setCursorPosition(0)
        if row.entry.error:
            remedy = ("\nRemove it from the library with the right-click menu, or fix the file and rescan."
                      if row.source_name == ADDED_FILE else "")
            self.error.setText(f"This file cannot be used: {row.entry.error}{remedy}")
        if info is None:
            return
        values = {
            "name": info.name or "—", "source": row.source_name, "architecture": info.architecture or "—",
            "parameters": f"{format_parameters(info.parameters)} ({info.parameters:,})",
            "quantization": info.quantization,
            "size": f"{format_bytes(info.file_size)} ({info.file_size:,} bytes)",
            "license": info.license or "not stated", "chat": "yes" if info.has_chat_template else "no",
            "context": f"{info.context_length:,} tokens" if info.context_length else "unknown",
            "layers": _or_dash(info.layers), "embedding": _or_dash(info.embedding_size),
            "heads": f"{_or_dash(info.attention_heads)} (KV {_or_dash(info.kv_heads)})",
            "head_size": _or_dash(info.head_size), "vocab": _or_dash(info.vocab_size),
            "gguf": str(info.gguf_version), "tensors": f"{info.tensor_count:,}",
        }
        for key, text in values.items():
            self.values[key].setText(text)
        fit = row.entry.fit
        if fit is not None:
            self.fit.setText(explain_fit(fit))


VERDICT_SENTENCES = {FULL_GPU: "Runs entirely on the GPU", PARTIAL_GPU: "Runs partly on the GPU",
                     CPU_ONLY: "Runs on the CPU", WILL_NOT_FIT: "Will not fit this machine"}


def explain_fit(fit: Fit) -> str:
    """The verdict, then each part of the estimate's reason on its own line."""
    lines = [f"{VERDICT_SENTENCES.get(fit.verdict, fit.verdict)} at {fit.context:,} tokens of context."]
    lines += [_sentence(part) for part in fit.reason.split("; ") if part.strip()]
    return "\n".join(lines)


def _or_dash(value: int | None) -> str:
    return f"{value:,}" if value is not None else "—"


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else ""


class EmptyLibraryPanel(QWidget):
    """What to do when no model was found anywhere."""

    def __init__(self, add_folder: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyLibrary")
        title = QLabel("No models yet")
        title.setObjectName("pageTitle")
        explain = QLabel(
            "ModelScout runs GGUF models on this machine. It looks for them in its own models folder "
            f"({paths.user_models_dir()}), in folders you add, and where other apps keep theirs: LM Studio, "
            "Ollama, GPT4All, the Hugging Face cache and llama.cpp's cache. None were found.")
        explain.setObjectName("emptyState")
        explain.setWordWrap(True)
        explain.setTextFormat(Qt.TextFormat.PlainText)
        button = QPushButton(add_folder.text())
        button.setObjectName("primary")
        button.setToolTip(add_folder.toolTip())
        button.clicked.connect(add_folder.trigger)
        hint = QLabel("…or drag .gguf files or a folder of models onto this window.")
        hint.setObjectName("hint")
        for label in (title, explain, hint):
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        button_row = QHBoxLayout()
        button_row.addStretch(1)
        button_row.addWidget(button)
        button_row.addStretch(1)

        # A fixed-width column between stretches, not centred layout items: a centred item gets
        # its height for the layout's full width, which clips wrapped text.
        column = QWidget()
        column.setFixedWidth(580)
        column_layout = QVBoxLayout(column)
        column_layout.setSpacing(12)
        column_layout.addStretch(1)
        column_layout.addWidget(title)
        column_layout.addWidget(explain)
        column_layout.addLayout(button_row)
        column_layout.addWidget(hint)
        column_layout.addStretch(2)
        layout = QHBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(column)
        layout.addStretch(1)
        self.explain = explain


class ModelsPage(QWidget):
    scanned = Signal()  # a scan finished and the table shows its result

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setAcceptDrops(True)
        self.model = LibraryModel(self)
        self.proxy = LibraryProxy(self)
        self.proxy.setSourceModel(self.model)
        self._scan_worker: GeneratorWorker | None = None
        self._scan_again = False
        self._select_after_scan: str | None = None
        self._ever_scanned = False
        self._jobs: set[GeneratorWorker] = set()  # loads and unloads in flight
        self._busy: dict[str, str] = {}
        self._emitting = False
        self.quantize_dialog: QuantizeDialog | None = None

        self._make_actions()
        self._build()
        self.memory_timer = QTimer(self)
        self.memory_timer.setInterval(MEMORY_REFRESH_MS)
        self.memory_timer.timeout.connect(self.refresh_loaded)

        ctx.settings_changed.connect(self.rescan)
        ctx.library_changed.connect(self._library_changed_elsewhere)
        ctx.runs_changed.connect(lambda _run_id: self.refresh_loaded())  # runs load models into the pool
        self._update_actions()
        self.rescan()

    # Building ------------------------------------------------------------------------------

    def _action(self, text: str, tip: str, slot: Any, shortcut: QKeySequence | str | None = None) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        self.add_folder_action = self._action(
            "Add folder…", "Add a folder of .gguf models to the library", self.choose_folder, "Ctrl+O")
        self.rescan_action = self._action("Rescan", "Look for models again", self.rescan, QKeySequence.StandardKey.Refresh)
        self.load_action = self._action(
            "Load", "Load the model into memory now, so that runs start at once", self.load_selected, "Ctrl+L")
        self.unload_action = self._action(
            "Unload", "Stop the model's worker and give its memory back", self.unload_selected, "Ctrl+U")
        self.quantize_action = self._action(
            "Make quantized variant…", "Write a smaller, lower-bit copy of the model with llama.cpp",
            self.quantize_selected)
        self.open_folder_action = self._action(
            "Open containing folder", "Show the model file in your file manager", self.open_selected_folder)
        self.remove_action = self._action(
            "Remove from library", "Forget this file you added (the file itself stays on disk)",
            self.remove_selected)
        self.copy_path_action = self._action(
            "Copy path", "Copy the model file's full path", self.copy_selected_path)
        self.load_key_action = QAction("Load", self)
        self.load_key_action.triggered.connect(self.load_selected)
        self.search_action = self._action("Search", "Search the library", self._focus_search,
                                          QKeySequence.StandardKey.Find)

    def _button(self, action: QAction, object_name: str = "") -> QPushButton:
        button = QPushButton(action.text())
        if object_name:
            button.setObjectName(object_name)
        button.setToolTip(action.toolTip())
        button.clicked.connect(action.trigger)
        button.setEnabled(action.isEnabled())
        action.changed.connect(lambda: button.setEnabled(action.isEnabled()))
        return button

    def _build(self) -> None:
        title = QLabel("Models")
        title.setObjectName("pageTitle")
        hint = QLabel("Every GGUF model on this machine, where it came from, and whether it fits. "
                      "Drag .gguf files or folders here to add them.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        self.search = QLineEdit()
        self.search.setObjectName("modelSearch")
        self.search.setPlaceholderText("Search name, type, source, path…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(260)
        self.search.textChanged.connect(self._search_changed)
        self.scan_label = QLabel("Scanning…")
        self.scan_label.setObjectName("hint")
        self.count_label = QLabel()
        self.count_label.setObjectName("hint")

        toolbar = QHBoxLayout()
        toolbar.setSpacing(6)
        toolbar.addWidget(self._button(self.add_folder_action))
        toolbar.addWidget(self._button(self.rescan_action))
        toolbar.addSpacing(14)
        self.load_button = self._button(self.load_action, "primary")
        toolbar.addWidget(self.load_button)
        toolbar.addWidget(self._button(self.unload_action))
        toolbar.addWidget(self._button(self.quantize_action))
        toolbar.addStretch(1)
        toolbar.addWidget(self.scan_label)
        toolbar.addWidget(self.search)

        self.table = QTableView()
        self.table.setObjectName("modelTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # discovery order until a header is clicked
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(28)
        self.table.setItemDelegateForColumn(COL_FIT, FitBadgeDelegate(self.table))
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        # Keys that only mean something on the table (Ctrl+C in the search box copies its text).
        for action, keys in ((self.copy_path_action, [QKeySequence.StandardKey.Copy]),
                             (self.load_key_action, [QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])):
            action.setShortcuts(keys)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.table.addAction(action)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in ((COL_NAME, 250), (COL_ARCH, 95), (COL_PARAMS, 85), (COL_QUANT, 95), (COL_SIZE, 85),
                              (COL_CONTEXT, 70), (COL_SOURCE, 110), (COL_FIT, 110)):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.detail = DetailPanel()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("modelsSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([380, 260])  # until the remembered sizes are restored

        footer = QHBoxLayout()
        footer.addWidget(self.count_label)
        footer.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 10)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(toolbar)
        self.empty = EmptyLibraryPanel(self.add_folder_action)
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.splitter)
        self.table_stack.addWidget(self.empty)
        layout.addWidget(self.table_stack, 1)
        layout.addLayout(footer)

    # Scanning ------------------------------------------------------------------------------

    def is_scanning(self) -> bool:
        return self._scan_worker is not None

    def rescan(self) -> None:
        if self._scan_worker is not None:
            self._scan_again = True  # settings changed mid-scan: its result may be stale
            return
        ctx = self.ctx
        settings, catalog = ctx.settings, ctx.catalog
        self.scan_label.setText("Scanning…")
        self.scan_label.show()
        self.rescan_action.setEnabled(False)
        worker = run_in_background(lambda: scan_rows(settings, catalog, ctx.hardware), self._scanned,
                                   self._scan_failed, self)
        worker.finished.connect(self._scan_finished)
        self._scan_worker = worker

    def _scanned(self, rows: list[LibraryRow]) -> None:
        selected = self._select_after_scan or self.selected_key()
        self._select_after_scan = None
        self.model.set_rows(rows, self.ctx.settings.context_size)
        self._ever_scanned = True
        self.refresh_loaded()
        if selected:
            self.select_path(selected)
        self._update_empty_state()
        self._selection_changed()

    def _scan_failed(self, exc: BaseException) -> None:
        show_exception(self, "Could not list the models", exc)

    def _scan_finished(self) -> None:
        self._scan_worker = None
        self.rescan_action.setEnabled(True)
        if self._scan_again:
            self._scan_again = False
            self.rescan()
            return
        self.scan_label.hide()
        self.scanned.emit()

    def _update_empty_state(self) -> None:
        empty = self._ever_scanned and not self.model.rows
        self.table_stack.setCurrentWidget(self.empty if empty else self.splitter)
        self._update_count()

    def _update_count(self) -> None:
        rows = self.model.rows
        if not rows:
            self.count_label.setText("")
            return
        unreadable = sum(1 for row in rows if row.entry.error)
        loaded = [self.model.memory.get(row.key) for row in rows if row.key in self.model.memory]
        parts = [f"{len(rows)} model{'s' if len(rows) != 1 else ''}"]
        if unreadable:
            parts.append(f"{unreadable} unreadable")
        if loaded:
            used = sum(m for m in loaded if m)
            parts.append(f"{len(loaded)} loaded, using {format_bytes(used)}")
        self.count_label.setText(" · ".join(parts))

    def _library_changed_elsewhere(self) -> None:
        if not self._emitting:
            self.rescan()

    def _emit_library_changed(self) -> None:
        self._emitting = True
        try:
            self.ctx.library_changed.emit()
        finally:
            self._emitting = False

    # Selection -----------------------------------------------------------------------------

    def selected_row(self) -> LibraryRow | None:
        indexes = self.table.selectionModel().selectedRows()
        if not indexes:
            return None
        source = self.proxy.mapToSource(indexes[0])
        return self.model.rows[source.row()] if source.isValid() else None

    def selected_key(self) -> str | None:
        row = self.selected_row()
        return row.key if row else None

    def select_path(self, path: str | Path) -> bool:
        source_row = self.model.row_of(path)
        if source_row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if not index.isValid():  # hidden by the search
            self.search.clear()
            index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    def _selection_changed(self, *_: Any) -> None:
        self._update_actions()
        self.detail.show_row(self.selected_row())
        self._show_loaded_detail()

    def _show_loaded_detail(self) -> None:
        row = self.selected_row()
        loaded_text = ""
        if row is not None:
            if row.key in self._busy:
                loaded_text = self._busy[row.key]
            elif row.key in self.model.memory:
                used = self.model.memory[row.key]
                loaded_text = (f"Loaded: its worker process uses {format_bytes(used)} now." if used is not None
                               else "Loaded.")
        self.detail.set_loaded(loaded_text)

    def _update_actions(self) -> None:
        row = self.selected_row()
        usable = row is not None and row.entry.info is not None
        busy = row is not None and row.key in self._busy
        loaded = row is not None and row.key in self.model.memory
        self.load_action.setEnabled(usable and not busy and not loaded and bool(row.entry.fit and row.entry.fit.fits))
        self.unload_action.setEnabled(loaded and not busy)
        self.quantize_action.setEnabled(usable and self.quantize_dialog is None)
        self.open_folder_action.setEnabled(row is not None)
        self.copy_path_action.setEnabled(row is not None)
        self.remove_action.setEnabled(row is not None and row.source_name == ADDED_FILE and not busy and not loaded)

    def _search_changed(self, text: str) -> None:
        self.proxy.set_search(text)

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _context_menu(self, pos: Any) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        self.table.selectRow(index.row())
        menu = QMenu(self)
        for action in (self.load_action, self.unload_action, self.quantize_action, None,
                       self.open_folder_action, self.copy_path_action, self.remove_action):
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # Adding models -------------------------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of models", str(Path.home()))
        if folder:
            self.add_paths([Path(folder)])

    def add_paths(self, dropped: list[Path]) -> list[Path]:
        """Add folders and .gguf files to the library; returns what was refused (not a folder or .gguf)."""
        settings = self.ctx.settings
        folders, files = list(settings.model_folders), list(settings.model_files)
        refused: list[Path] = []
        added: list[Path] = []
        for path in dropped:
            path = path.expanduser()
            if path.is_dir():  # a stat per dropped item: quick enough here
                target = folders
            elif path.suffix.lower() == ".gguf" and path.is_file():
                target = files
            else:
                refused.append(path)
                continue
            text = str(path.resolve())
            if text not in target:
                target.append(text)
            added.append(path)
        if folders != settings.model_folders or files != settings.model_files:
            try:
                self.ctx.save_settings(dataclasses.replace(settings, model_folders=folders, model_files=files))
            except (UserError, OSError) as exc:
                show_exception(self, "Could not save the library", exc)
                return refused
            # save_settings emitted settings_changed, which started the rescan.
            self._emit_library_changed()
            if added and added[-1].is_file():
                self._select_after_scan = str(added[-1].resolve())
        elif added:
            self.select_path(added[-1])
        if refused:
            names = "\n".join(f"  {p.name}" for p in refused[:10]) + ("\n  …" if len(refused) > 10 else "")
            show_error(self, "Not a GGUF model",
                       f"ModelScout runs GGUF model files (.gguf), so these were not added:\n{names}\n\n"
                       f"Drop .gguf files or folders that contain them. A Hugging Face model in another "
                       f"format can be converted with llama.cpp's convert_hf_to_gguf.py.")
        return refused

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        dropped = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if not dropped:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(dropped)

    def remove_selected(self) -> None:
        row = self.selected_row()
        if row is None or not self.remove_action.isEnabled():
            return
        settings = self.ctx.settings
        kept = [f for f in settings.model_files if str(Path(f).expanduser().resolve()) != row.key]
        try:
            self.ctx.save_settings(dataclasses.replace(settings, model_files=kept))  # rescans
        except (UserError, OSError) as exc:
            show_exception(self, "Could not save the library", exc)
            return
        self._emit_library_changed()

    # Quantizing ----------------------------------------------------------------------------

    def quantize_selected(self) -> None:
        row = self.selected_row()
        if row is None or row.entry.info is None or self.quantize_dialog is not None:
            return
        dialog = QuantizeDialog(Path(row.key), row.entry.info, self.ctx.settings.threads, self)
        dialog.created.connect(self._variant_created)
        dialog.finished.connect(self._quantize_dialog_closed)
        self.quantize_dialog = dialog
        self._update_actions()
        dialog.open()

    def _variant_created(self, path: str) -> None:
        self._select_after_scan = str(Path(path).resolve())
        self.rescan()
        self._emit_library_changed()

    def _quantize_dialog_closed(self) -> None:
        dialog, self.quantize_dialog = self.quantize_dialog, None
        if dialog is not None:
            dialog.deleteLater()
        self._update_actions()

    # Loading -------------------------------------------------------------------------------

    def load_selected(self) -> None:
        row = self.selected_row()
        if row is None or not self.load_action.isEnabled():
            return
        spec = spec_for(self.ctx.settings, self.ctx.hardware, row)
        pool, label = self.ctx.pool, row.entry.display_name

        def load() -> None:
            pool.get(spec, label=label).load()

        self._start_job(row.key, "Loading…", load, "Could not load the model")

    def unload_selected(self) -> None:
        row = self.selected_row()
        if row is None or not self.unload_action.isEnabled():
            return
        pool, key = self.ctx.pool, row.key
        self._start_job(key, "Unloading…", lambda: pool.unload(key), "Could not unload the model")

    def _start_job(self, key: str, doing: str, work: Any, failure_title: str) -> None:
        self._busy[key] = doing
        self.refresh_loaded()

        def failed(exc: BaseException) -> None:
            show_exception(self, failure_title, exc)

        worker = run_in_background(work, None, failed, self)

        def finished() -> None:
            self._jobs.discard(worker)
            self._busy.pop(key, None)
            self.refresh_loaded()
            self._emit_library_changed()

        worker.finished.connect(finished)
        self._jobs.add(worker)

    def refresh_loaded(self) -> None:
        """Read which models are loaded and their memory (a psutil call per worker: sub-millisecond)."""
        memory = {provider.spec.path: provider.memory_bytes() for provider in self.ctx.pool.loaded()}
        self.model.set_loaded(memory, self._busy)
        if memory or self._busy:
            if not self.memory_timer.isActive():
                self.memory_timer.start()
        else:
            self.memory_timer.stop()
        self._update_count()
        self._update_actions()
        self._show_loaded_detail()

    # Other actions -------------------------------------------------------------------------

    def open_selected_folder(self) -> None:
        row = self.selected_row()
        if row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(row.key).parent)))

    def copy_selected_path(self) -> None:
        row = self.selected_row()
        if row is not None:
            QGuiApplication.clipboard().setText(row.key)

    # Screen hooks --------------------------------------------------------------------------

    def on_shown(self) -> None:
        self.refresh_loaded()  # a run may have loaded models since

    def save_state(self, state: QSettings) -> None:
        state.setValue("models/header", self.table.horizontalHeader().saveState())

    def restore_state(self, state: QSettings) -> None:
        if header := state.value("models/header"):
            self.table.horizontalHeader().restoreState(header)

    def shutdown(self) -> None:
        self.memory_timer.stop()
        if self.quantize_dialog is not None:
            self.quantize_dialog.cancel_and_wait()
        for worker in [self._scan_worker, *self._jobs]:
            if worker is not None:
                worker.wait(30)
