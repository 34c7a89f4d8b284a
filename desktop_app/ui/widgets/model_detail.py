"""The selected model in full: its metadata, why it fits this machine or not, and its prompt format."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QScrollArea,
                               QVBoxLayout, QWidget)

from desktop_app.models.fit import WILL_NOT_LOAD
from desktop_app.providers.prompt_formats import BASE_MODEL_WARNING, COMPLETION, describe_choice
from desktop_app.ui.widgets.library_table import ADDED_FILE, LibraryRow, explain_fit, format_parameters
from desktop_app.units import format_bytes


WARNING_COLOUR = "#a66a00"


class DetailPanel(QScrollArea):
    """The selected model's metadata and the fit explanation, as selectable plain text."""

    template_chosen = Signal(str, object)  # model key, a template name / "completion" / None (the file's own)

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
        self.template_warning = self._value_label(wrap=True)  # a file without a chat template
        self.template_warning.setObjectName("templateWarning")
        self.template_warning.setStyleSheet(f"color: {WARNING_COLOUR};")

        self.template_title = QLabel("Prompt format")
        self.template_title.setObjectName("hint")
        self.template_combo = QComboBox()
        self.template_combo.setObjectName("templateChoice")
        self.template_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.template_combo.setToolTip("How prompts are laid out for this model. Its own chat template is right "
                                       "for an instruction-tuned model; a file without one needs the format its "
                                       "model card names, or plain completion for a base model.")
        self.template_combo.activated.connect(self._template_activated)
        self.template_names: tuple[str, ...] = ()  # llama.cpp's built-in templates, once known
        self._row_key: str | None = None
        self._has_template = True
        self._choice: str | None = None

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
        for widget in (self.title, self.path, self.placeholder, self.error, self.template_warning):
            layout.addWidget(widget)
        template_row = QHBoxLayout()  # near the top: a file without a template needs it at once
        template_row.setSpacing(10)
        template_row.addWidget(self.template_title)
        template_row.addWidget(self.template_combo)
        template_row.addStretch(1)
        layout.addLayout(template_row)
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

    def show_row(self, row: LibraryRow | None, chat_template: str | None = None) -> None:
        """Show a model; chat_template is the prompt format chosen for it (None: the file's own)."""
        has_row = row is not None
        self.placeholder.setVisible(not has_row)
        for widget in (self.title, self.path):
            widget.setVisible(has_row)
        info = row.entry.info if row else None
        self.grid.setVisible(info is not None)
        self.fit_title.setVisible(info is not None)
        self.fit.setVisible(info is not None)
        self.error.setVisible(bool(row and row.entry.error))
        self._row_key = row.key if info is not None else None
        self._has_template = bool(info and info.has_chat_template)
        self._choice = chat_template
        self._show_template()
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
            "license": info.license or "not stated",
            "chat": "yes" if info.has_chat_template else "no: probably a base model",
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
            # A file this llama.cpp cannot open reads as an error, not as one more placement.
            self.fit.setStyleSheet("color: #b3261e;" if fit.verdict == WILL_NOT_LOAD else "")


    # Prompt format ----------------------------------------------------------------------------

    def set_template_names(self, names: tuple[str, ...] | list[str]) -> None:
        """llama.cpp's built-in template names, offered once known (asked off the UI thread)."""
        self.template_names = tuple(names)
        self._show_template()

    def _show_template(self) -> None:
        shown = self._row_key is not None
        self.template_title.setVisible(shown)
        self.template_combo.setVisible(shown)
        missing = shown and not self._has_template
        self.template_warning.setVisible(missing)
        self.values["chat"].setStyleSheet(f"color: {WARNING_COLOUR};" if missing else "")
        if not shown:
            return
        if missing:
            then = ("It is prompted with ChatML, a guess: choose the format its model card names below, or "
                    "plain completion for a base model." if self._choice is None
                    else f"Runs use {describe_choice(self._choice, False)}, as chosen below.")
            self.template_warning.setText(f"⚠ {BASE_MODEL_WARNING[:1].upper()}{BASE_MODEL_WARNING[1:]}. {then}")
        combo = self.template_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("The file's own template" if self._has_template else "ChatML (fallback: the file has none)",
                      None)
        combo.addItem("Plain completion (no template)", COMPLETION)
        names = list(self.template_names)
        if self._choice not in (None, COMPLETION) and self._choice not in names:
            names.insert(0, self._choice)  # chosen before, or the list is not known yet
        if names:
            combo.insertSeparator(combo.count())
        for name in names:
            unknown = self.template_names and name not in self.template_names
            combo.addItem(f"{name} (unknown to this llama.cpp)" if unknown else name, name)
        combo.setCurrentIndex(max(0, combo.findData(self._choice)) if self._choice is not None else 0)
        combo.blockSignals(False)

    def _template_activated(self, index: int) -> None:
        choice = self.template_combo.itemData(index)
        if self._row_key is None or choice == self._choice:
            return
        self._choice = choice
        self._show_template()
        self.template_chosen.emit(self._row_key, choice)


def _or_dash(value: int | None) -> str:
    return f"{value:,}" if value is not None else "—"
