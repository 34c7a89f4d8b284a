"""Pick any number of models: local ones from the library (scanned off the UI thread) and API models."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from desktop_app.models.fit import WILL_NOT_LOAD
from desktop_app.providers.api import api_model_name, parse_model_ref
from desktop_app.providers.prompt_formats import BASE_MODEL_ADVICE, BASE_MODEL_WARNING, describe_choice
from desktop_app.ui.context import AppContext
from desktop_app.ui.library import LibraryEntry, scan_library
from desktop_app.ui.workers import run_in_background
from desktop_app.units import format_bytes


class ModelPicker(QWidget):
    selection_changed = Signal()
    scanned = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.entries: list[LibraryEntry] = []
        self.list = QListWidget()
        self.list.setObjectName("modelPickerList")
        self.list.itemChanged.connect(lambda *_: self.selection_changed.emit())
        self.empty = QLabel("No models yet: add some on the Models screen, or add an API model.")
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        self.add_api = QPushButton("Add API model…")
        self.add_api.setObjectName("addApiModel")
        self.add_api.setToolTip("OpenAI, Anthropic, or any OpenAI-compatible server (llama-server, Ollama, vLLM, "
                                "OpenRouter…)")
        self.add_api.clicked.connect(self.open_api_dialog)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addWidget(self.empty)
        layout.addWidget(self.add_api)
        self.empty.hide()
        ctx.library_changed.connect(self.refresh)
        ctx.settings_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        ctx = self.ctx
        run_in_background(lambda: scan_library(ctx.settings, ctx.catalog, ctx.hardware),
                          self._fill, lambda exc: None, self)

    def _fill(self, entries: list[LibraryEntry]) -> None:
        checked = set(self.selected_paths())
        self.entries = [e for e in entries if e.info is not None]
        self.list.blockSignals(True)
        self.list.clear()
        for entry in self.entries:
            item = QListWidgetItem(f"{entry.display_name}  ·  {entry.info.quantization}  ·  "
                                   f"{format_bytes(entry.info.file_size)}")
            item.setData(Qt.ItemDataRole.UserRole, str(entry.path))
            item.setToolTip(f"{entry.path}\n{entry.fit.reason if entry.fit else ''}")
            short, warning = self._template_notice(entry)
            if short:  # the list is narrow: a short mark, the column and the tooltip say the rest
                item.setText(f"{item.text()}  ·  ⚠ no chat template")
                item.setToolTip(f"{item.toolTip()}\n\n{short[:1].upper()}{short[1:]}. {warning}")
            fits = entry.fit is None or entry.fit.fits
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            if not fits:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setText(item.text() + ("  ·  won't load" if entry.fit.verdict == WILL_NOT_LOAD
                                            else "  ·  won't fit"))
            item.setCheckState(Qt.CheckState.Checked if str(entry.path) in checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        for ref in self.ctx.settings.api_models:
            spec = parse_model_ref(ref)
            item = QListWidgetItem(f"{api_label(ref, self.ctx.settings.api_model_names)}  ·  {spec.provider}")
            item.setData(Qt.ItemDataRole.UserRole, ref)
            item.setToolTip(f"{ref}\nAn API model: answers are priced per token (or per hour), not by "
                            f"electricity.")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if ref in checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.empty.setVisible(not self.entries and not self.ctx.settings.api_models)
        self.selection_changed.emit()
        self.scanned.emit()

    def selected_paths(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def set_selected(self, model_paths: list[str | Path]) -> None:
        wanted = {_identity(str(p)) for p in model_paths}
        for i in range(self.list.count()):
            item = self.list.item(i)
            key = _identity(item.data(Qt.ItemDataRole.UserRole))
            item.setCheckState(Qt.CheckState.Checked if key in wanted else Qt.CheckState.Unchecked)

    def template_notice(self, path: str) -> tuple[str, str]:
        """For a local model file without a chat template: a short warning and what it means; else ("", "")."""
        entry = next((e for e in self.entries if str(e.path) == path), None)
        return self._template_notice(entry) if entry is not None else ("", "")

    def _template_notice(self, entry: LibraryEntry) -> tuple[str, str]:
        if entry.info is None or entry.info.has_chat_template:
            return "", ""
        choice = self.ctx.settings.chat_templates.get(str(Path(entry.path).resolve()))
        if choice is None:
            return BASE_MODEL_WARNING, BASE_MODEL_ADVICE
        return (f"no chat template: prompted as {choice}",
                f"The file has no chat template (probably a base model); its prompts use "
                f"{describe_choice(choice, False)}, as chosen on the Models screen.")

    def label_for(self, path: str) -> str:
        """What a column or a list calls the model before the run names it."""
        if parse_model_ref(path) is not None:
            return api_label(path, self.ctx.settings.api_model_names)
        entry = next((e for e in self.entries if str(e.path) == path), None)
        return entry.display_name if entry else Path(path).stem

    def open_api_dialog(self) -> None:
        from desktop_app.ui.widgets.api_model_dialog import ApiModelDialog

        dialog = ApiModelDialog(self.ctx, self)
        dialog.added.connect(self._api_model_added)
        dialog.open()
        self.api_dialog = dialog  # for tests and to keep it alive while open

    def _api_model_added(self, ref: str) -> None:
        self.scanned.connect(lambda: self.set_selected([*self.selected_paths(), ref]),
                             Qt.ConnectionType.SingleShotConnection)


def api_label(ref: str, names: dict[str, str] | None = None) -> str:
    """What runs will call the API model (the core's rule): the name the user gave it (`names`, by
    reference), else openai:gpt-4o-mini as it is, a compatible server's model as model @ host:port."""
    spec = parse_model_ref(ref)
    if spec is None:
        return ref
    return api_model_name(dataclasses.replace(spec, display_name=spec.display_name or (names or {}).get(spec.ref)))


def _identity(value: str) -> str:
    return value if parse_model_ref(value) is not None else str(Path(value).resolve())
