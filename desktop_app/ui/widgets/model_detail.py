"""The selected model in full: its metadata and why it fits this machine or not."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QScrollArea, QVBoxLayout, QWidget

from desktop_app.ui.widgets.library_table import ADDED_FILE, LibraryRow, explain_fit, format_parameters
from desktop_app.units import format_bytes


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


def _or_dash(value: int | None) -> str:
    return f"{value:,}" if value is not None else "—"
