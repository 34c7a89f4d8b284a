"""The Settings screen: prices, inference defaults, model folders and the data folder, saved on request."""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app import paths
from desktop_app import settings as settings_module
from desktop_app.costing.energy import EnergyMeter
from desktop_app.models.hardware import Hardware
from desktop_app.providers.llama_caps import gpu_build_hint
from desktop_app.settings import Settings, SettingsError
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_error, show_exception
from desktop_app.ui.formatting import format_usd
from desktop_app.ui.workers import GeneratorWorker, run_in_background
from desktop_app.units import format_bytes

# Settings field -> the words the form uses for it (error messages name fields by these).
LABELS = {
    "electricity_usd_per_kwh": "Electricity price",
    "device_watts": "Device wattage",
    "threads": "Threads",
    "parallel": "Cases at once",
    "gpu_layers": "GPU layers",
    "context_size": "Context size",
    "max_tokens": "Max tokens",
    "temperature": "Temperature",
    "seed": "Seed",
    "model_folders": "Model folders",
    "model_files": "Single model files",
    "data_folder": "Data folder",
    "hardware_usd": "Hardware price",
    "hardware_lifetime_years": "Hardware lifetime",
    "hardware_busy_share": "Time answering",
    "api_models": "API models",
    "api_timeout_s": "Request timeout",
    "api_max_retries": "Retries",
    "api_max_concurrency": "Requests at once",
    "api_reuse_days": "Reuse API answers for",
    "api_max_answer_s": "Longest API answer",
}

GPU_ALL, GPU_NONE, GPU_SOME = range(3)
ERROR_COLOR = "#c0392b"
SAVED_COLOR = "#1e8e4e"


def plain_error(exc: SettingsError) -> tuple[str | None, str]:
    """("device_watts", "Device wattage must be more than 0 (…)") from "settings: device_watts must be …"."""
    match = re.match(r"^[^:]*: (\w+) (.*)$", str(exc), re.DOTALL)
    if not match or match.group(1) not in LABELS:
        return None, str(exc)
    field, why = match.groups()
    return field, f"{LABELS[field]} {why}"


class PathList(QListWidget):
    """A list of paths that says so when it is empty."""

    def __init__(self, empty_text: str) -> None:
        super().__init__()
        self.empty_text = empty_text

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.count() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#8a8f99"))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)


class _Columns(QWidget):
    """Groups in two columns, or the second column under the first when the two do not fit side by side."""

    def __init__(self, left: list[QWidget], right: list[QWidget]) -> None:
        super().__init__()
        self._outer = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self._outer.setContentsMargins(0, 4, 4, 4)
        self._outer.setSpacing(16)
        self._columns: list[QVBoxLayout] = []
        for groups in (left, right):
            column = QVBoxLayout()
            column.setSpacing(14)
            for group in groups:
                column.addWidget(group)
            column.addStretch(1)
            self._outer.addLayout(column, 1)
            self._columns.append(column)

    def two_columns_from(self) -> int:
        """The narrowest width at which both columns fit side by side: their widest rows decide it, so a
        longer note or label can never cut the right column off."""
        margins = self._outer.contentsMargins()
        return (sum(column.minimumSize().width() for column in self._columns) + self._outer.spacing()
                + margins.left() + margins.right())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Follows the scroll area's viewport, the room there is: its own width never drops below what two
        columns need once they are side by side, so it cannot tell when they stop fitting."""
        if event.type() == QEvent.Type.Resize and isinstance(watched, QWidget):
            self.fit(watched.width())
        return False

    def fit(self, width: int) -> None:
        direction = (QBoxLayout.Direction.LeftToRight if width >= self.two_columns_from()
                     else QBoxLayout.Direction.TopToBottom)
        if direction != self._outer.direction():
            self._outer.setDirection(direction)


class _Field:
    """One setting on the form: how to read it, how to show it, and the row that shows its error."""

    def __init__(self, get: Callable[[], Any], set_: Callable[[Any], None], focus: QWidget, error: QLabel) -> None:
        self.get, self.set, self.focus, self.error = get, set_, focus, error


class SettingsPage(QWidget):
    saved = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.fields: dict[str, _Field] = {}
        self._line_height = max(QLineEdit().sizeHint().height(), QSpinBox().sizeHint().height())
        self._loading = False
        self._loaded: dict[str, Any] = {}  # the form's values for ctx.settings, to tell what the user changed
        self._data_folder: str | None = None
        self._hardware_worker: GeneratorWorker | None = None
        self.energy_source = EnergyMeter(ctx.settings.device_watts).source  # a few tiny sysfs reads

        title = QLabel("Settings")
        title.setObjectName("pageTitle")
        hint = QLabel("How ModelScout prices answers, runs local models and where it keeps its data. "
                      "Changes take effect when you press Save.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        content = _Columns([self._build_cost(), self._build_api()],
                           [self._build_inference(), self._build_models(), self._build_data()])
        scroll = QScrollArea()
        scroll.setObjectName("settingsScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)  # a scroll bar either way where the window is too small for a column
        scroll.viewport().installEventFilter(content)

        self.status = QLabel()
        self.status.setObjectName("settingsStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setObjectName("revertButton")
        self.revert_button.setToolTip("Go back to the saved settings")
        self.revert_button.clicked.connect(self.revert)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primary")
        self.save_button.setToolTip("Save and apply these settings (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        footer = QHBoxLayout()
        footer.setSpacing(8)
        footer.addWidget(self.status, 1)
        footer.addWidget(self.revert_button)
        footer.addWidget(self.save_button)

        # Stylesheet fonts do not pass to children, so this makes only the group titles bold.
        self.setStyleSheet("QGroupBox { font-weight: 600; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(scroll, 1)
        layout.addLayout(footer)

        self.save_shortcut = QShortcut(QKeySequence.StandardKey.Save, self)
        self.save_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.save_shortcut.activated.connect(self.save)

        self._load(ctx.settings)
        ctx.settings_changed.connect(self._settings_changed_elsewhere)
        self._show_hardware()

    # Building ------------------------------------------------------------------------------

    @staticmethod
    def _form(group: QGroupBox) -> QFormLayout:
        form = QFormLayout(group)
        form.setContentsMargins(14, 12, 14, 12)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(6)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        return form

    @staticmethod
    def _note(text: str = "") -> QLabel:
        label = QLabel(text)
        label.setObjectName("hint")
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        label.setTextFormat(Qt.TextFormat.PlainText)  # notes quote paths and device names
        return label

    def _row_label(self, text: str, buddy: QWidget) -> QLabel:
        """A form label as tall as a one-line control, so it lines up with the control's text."""
        label = QLabel(text)
        label.setBuddy(buddy)
        label.setFixedHeight(self._line_height)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return label

    def _add(self, form: QFormLayout, name: str, widget: QWidget, get: Callable[[], Any],
             set_: Callable[[Any], None], *notes: QLabel, focus: QWidget | None = None) -> None:
        """One form row for a setting: its control, notes under it, and its error (hidden until needed).

        They share one cell: word-wrapped labels in rows of their own get a wrong height from QFormLayout.
        """
        error = QLabel()
        error.setObjectName(f"error-{name}")
        error.setWordWrap(True)
        error.setTextFormat(Qt.TextFormat.PlainText)
        error.setStyleSheet(f"color: {ERROR_COLOR};")
        error.hide()
        cell = QWidget()
        column = QVBoxLayout(cell)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(3)
        column.addWidget(widget)
        for note in notes:
            column.addWidget(note)
        column.addWidget(error)
        form.addRow(self._row_label(LABELS[name] + ":", focus or widget), cell)
        self.fields[name] = _Field(get, set_, focus or widget, error)

    def _spin(self, name: str, minimum: int, maximum: int, step: int = 1, suffix: str = "") -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(minimum, maximum)
        spin.setSingleStep(step)
        spin.setSuffix(suffix)
        spin.setGroupSeparatorShown(True)
        spin.setMaximumWidth(220)
        spin.valueChanged.connect(self._changed)
        return spin

    def _double(self, name: str, minimum: float, maximum: float, decimals: int, step: float,
                prefix: str = "", suffix: str = "") -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setObjectName(name)
        spin.setRange(minimum, maximum)
        spin.setDecimals(decimals)
        spin.setSingleStep(step)
        spin.setPrefix(prefix)
        spin.setSuffix(suffix)
        spin.setMaximumWidth(220)
        spin.valueChanged.connect(self._changed)
        return spin

    def _build_cost(self) -> QGroupBox:
        group = QGroupBox("Cost")
        form = self._form(group)
        self.price = self._double("electricity_usd_per_kwh", 0, 10, 3, 0.01, "$ ", " per kWh")
        self.price.setToolTip("What you pay for electricity; local answers are priced as energy × this price")
        self._add(form, "electricity_usd_per_kwh", self.price, self.price.value, self.price.setValue)

        self.watts = self._double("device_watts", 0, 5000, 0, 5, suffix=" W")
        self.watts.setToolTip("The machine's power draw while a model answers")
        if self.energy_source == "rapl":
            energy = ("Measured CPU power (RAPL) is readable here and is used instead; this wattage is "
                      "the fallback.")
        else:
            energy = ("Measured CPU power (RAPL) is not readable here, so answers are priced at this wattage.")
        self.energy_note = self._note(energy)
        self.energy_note.setObjectName("energyNote")
        self.hour_cost = self._note()
        self.hour_cost.setObjectName("hourCost")
        self._add(form, "device_watts", self.watts, self.watts.value, self.watts.setValue, self.energy_note,
                  self.hour_cost)

        self.hardware_price = self._double("hardware_usd", 0, 1_000_000, 0, 100, "$ ")
        self.hardware_price.setSpecialValueText("Not counted")
        self.hardware_price.setToolTip("What this machine cost. Local answers then also carry a share of it, "
                                       "so they compare fairly with API prices")
        self._add(form, "hardware_usd", self.hardware_price, self.hardware_price.value,
                  self.hardware_price.setValue)
        self.lifetime = self._double("hardware_lifetime_years", 0.1, 20, 1, 0.5, suffix=" years")
        self.lifetime.setToolTip("How long the machine will be in use")
        self._add(form, "hardware_lifetime_years", self.lifetime, self.lifetime.value, self.lifetime.setValue)
        self.busy_share = self._double("hardware_busy_share", 1, 100, 0, 5, suffix=" % of its lifetime")
        self.busy_share.setToolTip("How much of its lifetime the machine spends answering prompts "
                                   "(25 % is about 6 hours a day)")
        self.hardware_note = self._note()
        self.hardware_note.setObjectName("hardwareNote")
        self._add(form, "hardware_busy_share", self.busy_share, lambda: round(self.busy_share.value() / 100, 4),
                  lambda share: self.busy_share.setValue(share * 100), self.hardware_note)
        return group

    def _build_api(self) -> QGroupBox:
        from desktop_app.ui.widgets.api_keys import ApiKeys

        group = QGroupBox("API models")
        form = self._form(group)
        self.api_list = self._list("apiModels", "API models offered next to local ones in Compare and Suites",
                                   "No API models added")
        self.api_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # long URLs elide
        self.add_api_button = QPushButton("Add…")
        self.add_api_button.setObjectName("addApiModelSettings")
        self.add_api_button.setToolTip("Add an OpenAI, Anthropic or OpenAI-compatible model")
        self.add_api_button.clicked.connect(self.add_api_model)
        self.remove_api_button = QPushButton("Remove")
        self.remove_api_button.setObjectName("removeApiModel")
        self.remove_api_button.clicked.connect(lambda: self._remove_selected(self.api_list))
        self.api_list.itemSelectionChanged.connect(
            lambda: self.remove_api_button.setEnabled(bool(self.api_list.selectedItems())))
        self.remove_api_button.setEnabled(False)
        models = self._list_with_buttons(self.api_list, self.add_api_button, self.remove_api_button)
        self._add(form, "api_models", models, lambda: self._items(self.api_list),
                  lambda values: self._set_items(self.api_list, values), focus=self.api_list)

        self.api_keys = ApiKeys(self.ctx)
        self.api_keys.setObjectName("apiKeys")
        keys_note = self._note("Keys are kept in the OS keychain (or read from the environment), never in "
                               "ModelScout's files. They take effect at once.")
        form.addRow(self._row_label("API keys:", self.api_keys), self.api_keys)
        form.addRow("", keys_note)

        self.api_timeout = self._double("api_timeout_s", 1, 3600, 0, 5, suffix=" s")
        self.api_timeout.setToolTip("The longest wait for a response to start, or between two parts of it")
        self._add(form, "api_timeout_s", self.api_timeout, self.api_timeout.value, self.api_timeout.setValue)
        self.api_retries = self._spin("api_max_retries", 0, 20)
        self.api_retries.setToolTip("Tries again after a rate limit (429), a server error or a dropped "
                                    "connection, waiting longer each time (and as long as the server asks)")
        self._add(form, "api_max_retries", self.api_retries, self.api_retries.value, self.api_retries.setValue)
        self.api_concurrency = self._spin("api_max_concurrency", 1, 64)
        self.api_concurrency.setToolTip("Requests in flight to one provider at once during a run")
        self._add(form, "api_max_concurrency", self.api_concurrency, self.api_concurrency.value,
                  self.api_concurrency.setValue)
        self.api_reuse_days = self._double("api_reuse_days", 0, 3650, 1, 1, suffix=" days")
        self.api_reuse_days.setSpecialValueText("Never")
        self.api_reuse_days.setToolTip("A model name like gpt-4o-mini may move to a newer model: an answer it "
                                       "gave is reused for an identical request only this long (0: never)")
        self._add(form, "api_reuse_days", self.api_reuse_days, self.api_reuse_days.value,
                  self.api_reuse_days.setValue)
        self.api_max_answer = self._double("api_max_answer_s", 1, 86_400, 0, 30, suffix=" s")
        self.api_max_answer.setToolTip("An API answer is stopped after this long; for a server priced by the "
                                       "hour, this bounds each answer's cost so a cost cap can hold")
        self._add(form, "api_max_answer_s", self.api_max_answer, self.api_max_answer.value,
                  self.api_max_answer.setValue)
        return group

    def add_api_model(self) -> None:
        from desktop_app.ui.widgets.api_model_dialog import ApiModelDialog

        self.api_dialog = ApiModelDialog(self.ctx, self)
        self.api_dialog.open()

    def _build_inference(self) -> QGroupBox:
        group = QGroupBox("Inference")
        form = self._form(group)

        self.threads = self._spin("threads", 0, 512)
        self.threads.setSpecialValueText("Automatic")
        self.threads.setToolTip("CPU threads llama.cpp uses per model; Automatic uses one per physical core")
        self.threads_note = self._note("Reading this machine's processor…")
        self.threads_note.setObjectName("threadsNote")
        self._add(form, "threads", self.threads, lambda: self.threads.value() or None,
                  lambda value: self.threads.setValue(value or 0), self.threads_note)

        self.parallel = self._spin("parallel", 0, 256)
        self.parallel.setSpecialValueText("Automatic")
        self.parallel.setToolTip("Cases of a suite a local model decodes together: several at once finish a "
                                 "suite sooner for about the cost of one. Automatic: as many as memory allows "
                                 "(at most 32); 1: one at a time")
        self._add(form, "parallel", self.parallel, lambda: self.parallel.value() or None,
                  lambda value: self.parallel.setValue(value or 0))

        self.gpu_mode = QComboBox()
        self.gpu_mode.setObjectName("gpuMode")
        self.gpu_mode.addItems(["All layers", "None (CPU only)", "This many layers:"])
        self.gpu_mode.setToolTip("How much of each model llama.cpp puts on the GPU")
        self.gpu_layers = self._spin("gpu_layers", 1, 1000, suffix=" layers")
        self.gpu_mode.currentIndexChanged.connect(self._gpu_mode_changed)
        gpu_row = QWidget()
        gpu_layout = QHBoxLayout(gpu_row)
        gpu_layout.setContentsMargins(0, 0, 0, 0)
        gpu_layout.addWidget(self.gpu_mode)
        gpu_layout.addWidget(self.gpu_layers)
        gpu_layout.addStretch(1)
        self.gpu_note = self._note("Looking for GPUs…")
        self.gpu_note.setObjectName("gpuNote")
        self.gpu_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # a command to copy
        self._add(form, "gpu_layers", gpu_row, self._gpu_value, self._set_gpu_value, self.gpu_note,
                  focus=self.gpu_mode)

        self.context_size = self._spin("context_size", 16, 1_048_576, 512, " tokens")
        self.context_size.setToolTip("Tokens a model can see at once (prompt + answer); more needs more memory")
        self._add(form, "context_size", self.context_size, self.context_size.value, self.context_size.setValue)
        self.max_tokens = self._spin("max_tokens", 1, 1_048_576, 64, " tokens")
        self.max_tokens.setToolTip("The longest answer a model may give")
        self._add(form, "max_tokens", self.max_tokens, self.max_tokens.value, self.max_tokens.setValue)
        self.temperature = self._double("temperature", 0, 5, 2, 0.1)
        self.temperature.setToolTip("0 always picks the likeliest token: the same prompt gives the same answer")
        self._add(form, "temperature", self.temperature, self.temperature.value, self.temperature.setValue)
        self.seed = self._spin("seed", 0, 2**31 - 1)
        self.seed.setToolTip("The random seed for sampling, stored with every answer so it can be reproduced")
        self._add(form, "seed", self.seed, self.seed.value, self.seed.setValue)
        return group

    def _list(self, name: str, tooltip: str, empty_text: str) -> PathList:
        listing = PathList(empty_text)
        listing.setObjectName(name)
        listing.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        listing.setMinimumHeight(72)
        listing.setMaximumHeight(110)
        listing.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        listing.setToolTip(tooltip)
        delete = QShortcut(QKeySequence.StandardKey.Delete, listing)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(lambda: self._remove_selected(listing))
        return listing

    def _build_models(self) -> QGroupBox:
        group = QGroupBox("Models")
        form = self._form(group)

        self.folder_list = self._list("modelFolders", "Folders searched for .gguf models, besides the usual places",
                                      "No folders added")
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setObjectName("addFolder")
        self.add_folder_button.setToolTip("Search another folder for .gguf models")
        self.add_folder_button.clicked.connect(self.add_folder)
        self.remove_folder_button = QPushButton("Remove")
        self.remove_folder_button.setObjectName("removeFolder")
        self.remove_folder_button.setToolTip("Stop searching the selected folders (nothing is deleted)")
        self.remove_folder_button.clicked.connect(lambda: self._remove_selected(self.folder_list))
        folders = self._list_with_buttons(self.folder_list, self.add_folder_button, self.remove_folder_button)
        self._add(form, "model_folders", folders, lambda: self._items(self.folder_list),
                  lambda values: self._set_items(self.folder_list, values),
                  self._note("ModelScout also finds models in its own folder, LM Studio, Ollama, GPT4All "
                             "and the Hugging Face cache."), focus=self.folder_list)

        self.file_list = self._list("modelFiles", "Single .gguf files added by dropping them on the Models screen",
                                    "No single files added")
        self.remove_file_button = QPushButton("Remove")
        self.remove_file_button.setObjectName("removeFile")
        self.remove_file_button.setToolTip("Forget the selected files (the files stay on disk)")
        self.remove_file_button.clicked.connect(lambda: self._remove_selected(self.file_list))
        files = self._list_with_buttons(self.file_list, self.remove_file_button)
        self._add(form, "model_files", files, lambda: self._items(self.file_list),
                  lambda values: self._set_items(self.file_list, values),
                  self._note("Add single files by dragging them onto the Models screen."), focus=self.file_list)
        for listing, button in ((self.folder_list, self.remove_folder_button),
                                (self.file_list, self.remove_file_button)):
            listing.itemSelectionChanged.connect(
                lambda listing=listing, button=button: button.setEnabled(bool(listing.selectedItems())))
            button.setEnabled(False)
        return group

    @staticmethod
    def _list_with_buttons(listing: QListWidget, *buttons: QPushButton) -> QWidget:
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(listing, 1)
        column = QVBoxLayout()
        for button in buttons:
            button.setMinimumWidth(110)  # the same width in both lists, so the lists line up
            column.addWidget(button)
        column.addStretch(1)
        layout.addLayout(column)
        return box

    def _build_data(self) -> QGroupBox:
        group = QGroupBox("Data")
        form = self._form(group)

        self.database_field = QLineEdit()
        self.database_field.setObjectName("databasePath")
        self.database_field.setReadOnly(True)
        self.change_data_button = QPushButton("Change…")
        self.change_data_button.setObjectName("changeDataFolder")
        self.change_data_button.setToolTip("Keep new runs in another folder")
        self.change_data_button.clicked.connect(self.choose_data_folder)
        self.reset_data_button = QPushButton("Reset to default")
        self.reset_data_button.setObjectName("resetDataFolder")
        self.reset_data_button.setToolTip(f"Go back to {paths.database_path().parent}")
        self.reset_data_button.clicked.connect(lambda: self._set_data_folder(None))
        self.open_data_button = QPushButton("Open data folder")
        self.open_data_button.setObjectName("openDataFolder")
        self.open_data_button.setToolTip("Show the folder that holds the run database in your file manager")
        self.open_data_button.clicked.connect(self.open_data_folder)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.change_data_button)
        buttons.addWidget(self.reset_data_button)
        buttons.addStretch(1)
        buttons.addWidget(self.open_data_button)
        data = QWidget()
        data_layout = QVBoxLayout(data)
        data_layout.setContentsMargins(0, 0, 0, 0)
        data_layout.addWidget(self.database_field)
        data_layout.addLayout(buttons)
        self.data_note = self._note()
        self.data_note.setObjectName("dataNote")
        self._add(form, "data_folder", data, lambda: self._data_folder, self._set_data_folder, self.data_note,
                  focus=self.change_data_button)

        self.settings_file = QLineEdit(str(paths.settings_path()))
        self.settings_file.setObjectName("settingsFile")
        self.settings_file.setReadOnly(True)
        self.settings_file.setCursorPosition(0)
        self.settings_file.setToolTip(f"Where these settings are saved:\n{paths.settings_path()}\n"
                                      f"Window sizes are kept in window.ini beside it.")
        form.addRow(self._row_label("Settings file:", self.settings_file), self.settings_file)
        return group

    # Reading and showing values ------------------------------------------------------------

    def form_values(self) -> dict[str, Any]:
        return {name: field.get() for name, field in self.fields.items()}

    def pending_settings(self) -> Settings:
        """ctx.settings with what the user changed here; untouched fields keep their exact saved value."""
        changed = {name: value for name, value in self.form_values().items() if value != self._loaded.get(name)}
        return dataclasses.replace(self.ctx.settings, **changed)

    def is_dirty(self) -> bool:
        return self.form_values() != self._loaded

    def _load(self, settings: Settings, keep: dict[str, Any] | None = None) -> None:
        """Show settings; `keep` holds the user's unsaved edits to put back on top."""
        self._loading = True
        try:
            for name, field in self.fields.items():
                field.set(getattr(settings, name))
            self._loaded = self.form_values()
            for name, value in (keep or {}).items():
                self.fields[name].set(value)
        finally:
            self._loading = False
        self._changed()

    def _settings_changed_elsewhere(self) -> None:
        current = self.form_values()
        edits = {name: value for name, value in current.items() if value != self._loaded.get(name)}
        self._load(self.ctx.settings, keep=edits)

    def _changed(self) -> None:
        if self._loading:
            return
        self.status.setText("")
        self._update_notes()
        dirty = self.is_dirty()
        self.revert_button.setEnabled(dirty)
        self.save_button.setEnabled(dirty)
        self._show_validation()
        if dirty and not self.status.text():
            self._set_status("Unsaved changes", None)

    def _show_validation(self) -> str | None:
        """Puts the first invalid value's error under it; returns the field's name."""
        field_name, message = None, ""
        try:
            self.pending_settings().validate()
        except SettingsError as exc:
            field_name, message = plain_error(exc)
        for name, field in self.fields.items():
            field.error.setText(message if name == field_name else "")
            field.error.setVisible(name == field_name)
        if message:
            self._set_status("Fix the value marked in red to save." if field_name else message, ERROR_COLOR)
        return field_name if message else None

    def _set_status(self, text: str, color: str | None) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {color};" if color else "color: #5b6270;")

    def _update_notes(self) -> None:
        from desktop_app.costing.energy import electricity_cost_usd, hardware_usd_per_second

        price, watts = self.price.value(), self.watts.value()
        self.hour_cost.setText(f"At {watts:g} W, an hour of local inference costs about "
                               f"{format_usd(electricity_cost_usd(watts * 3600, price))}.")
        hourly = 3600 * hardware_usd_per_second(self.hardware_price.value(), self.lifetime.value(),
                                                max(self.busy_share.value(), 1) / 100)
        self.hardware_note.setText(f"The machine adds {format_usd(hourly)} per hour of answering." if hourly else
                                   "Set a price to add the machine's cost, spread over its working life.")
        pending = self._data_folder
        folder = Path(pending).expanduser() if pending else paths.data_dir()
        database = settings_module.database_path(dataclasses.replace(self.ctx.settings, data_folder=pending))
        self.database_field.setText(str(database))
        self.database_field.setToolTip(f"The SQLite file that holds every run and answer:\n{database}")
        self.database_field.setCursorPosition(0)
        self.reset_data_button.setEnabled(pending is not None)
        notes = []
        if os.environ.get(paths.HOME_ENV):
            notes.append(f"{paths.HOME_ENV} is set, so runs are kept there whatever folder is chosen here.")
        if pending != self._loaded.get("data_folder"):
            notes.append(f"After Save, new runs go to {folder}. Runs already stored stay in "
                         f"{self.ctx.database_path().parent}; move modelscout.db yourself to bring them along.")
        else:
            notes.append("Changing the folder starts a new database there; runs already stored stay in the old folder.")
        self.data_note.setText(" ".join(notes))

    def _show_hardware(self) -> None:
        if "hardware" in self.ctx.__dict__:  # probed already by another screen
            self._hardware_ready(self.ctx.hardware)
            return
        # Probing (NVML, /proc/cpuinfo) takes tens of milliseconds: not on the UI thread.
        self._hardware_worker = run_in_background(lambda: self.ctx.hardware, self._hardware_ready,
                                                  self._hardware_failed, self)

    def _hardware_ready(self, hardware: Hardware) -> None:
        automatic = hardware.default_threads  # the runner's own rule, so the two agree
        self.threads_note.setText(f"This machine has {hardware.physical_cores} cores / "
                                  f"{hardware.logical_threads} threads. Automatic uses one per physical core: "
                                  f"{automatic} thread{'s' if automatic != 1 else ''} here.")
        if hardware.gpus:
            gpus = "; ".join(f"{gpu.name} (unified memory)" if gpu.shares_ram else
                             f"{gpu.name} ({format_bytes(gpu.vram_total)})" for gpu in hardware.gpus)
            if hardware.cpu_only_build:  # found, but llama.cpp would ignore any layers given to it
                self.gpu_note.setText(f"Detected: {gpus}.\n{gpu_build_hint(hardware.gpus[0].backend)}")
            else:
                self.gpu_note.setText(f"Detected: {gpus}.")
        else:
            self.gpu_note.setText("No GPU detected: models run on the CPU whatever is chosen here.")

    def _hardware_failed(self, exc: BaseException) -> None:
        self.threads_note.setText("Automatic uses one thread per physical core.")
        self.gpu_note.setText(f"Could not look for GPUs ({exc}).")

    # Field helpers ---------------------------------------------------------------------------

    def _gpu_value(self) -> int:
        mode = self.gpu_mode.currentIndex()
        return -1 if mode == GPU_ALL else 0 if mode == GPU_NONE else self.gpu_layers.value()

    def _set_gpu_value(self, layers: int) -> None:
        if layers > 0:
            self.gpu_layers.setValue(layers)
        self.gpu_mode.setCurrentIndex(GPU_ALL if layers < 0 else GPU_NONE if layers == 0 else GPU_SOME)
        self.gpu_layers.setVisible(layers > 0)

    def _gpu_mode_changed(self, mode: int) -> None:
        self.gpu_layers.setVisible(mode == GPU_SOME)
        if mode == GPU_SOME and not self._loading:
            self.gpu_layers.setFocus()
        self._changed()

    @staticmethod
    def _items(listing: QListWidget) -> list[str]:
        return [listing.item(row).data(Qt.ItemDataRole.UserRole) for row in range(listing.count())]

    def _set_items(self, listing: QListWidget, values: list[str]) -> None:
        listing.clear()
        for value in values:
            item = QListWidgetItem(value)
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setToolTip(value)
            listing.addItem(item)
        self._changed()

    def _remove_selected(self, listing: QListWidget) -> None:
        for item in listing.selectedItems():
            listing.takeItem(listing.row(item))
        self._changed()

    def _set_data_folder(self, folder: str | None) -> None:
        self._data_folder = folder
        self._changed()

    # Actions ---------------------------------------------------------------------------------

    def add_folder(self) -> None:
        start = self._items(self.folder_list)[-1] if self.folder_list.count() else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of models", start)
        if not folder:
            return
        if folder in self._items(self.folder_list):
            self.folder_list.setCurrentRow(self._items(self.folder_list).index(folder))
            return
        self._set_items(self.folder_list, [*self._items(self.folder_list), folder])
        self.folder_list.setCurrentRow(self.folder_list.count() - 1)

    def choose_data_folder(self) -> None:
        start = str(Path(self._data_folder).expanduser() if self._data_folder else paths.data_dir())
        folder = QFileDialog.getExistingDirectory(self, "Choose where to keep runs", start)
        if folder:
            self._set_data_folder(folder)

    def open_data_folder(self) -> None:
        folder = self.ctx.database_path().parent
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            show_error(self, "Cannot open the data folder",
                       f"No file manager opened {folder}. Open it from your file manager instead.")

    def revert(self) -> None:
        self._load(self.ctx.settings)
        self._set_status("Back to the saved settings.", None)

    def save(self) -> bool:
        """Validates, saves and applies; an invalid value is shown under its field and nothing is saved."""
        if not self.is_dirty():
            return True
        invalid = self._show_validation()
        if invalid:
            self.fields[invalid].focus.setFocus()
            return False
        settings = self.pending_settings()
        if settings.data_folder and settings.data_folder != self.ctx.settings.data_folder:
            try:
                Path(settings.data_folder).expanduser().mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                field = self.fields["data_folder"]
                field.error.setText(f"Data folder cannot be used: {exc.strerror or exc}. Choose another folder.")
                field.error.setVisible(True)
                self._set_status("Fix the value marked in red to save.", ERROR_COLOR)
                return False
        try:
            self.ctx.save_settings(settings)  # emits settings_changed, which reloads this form
        except SettingsError as exc:
            self._set_status(plain_error(exc)[1], ERROR_COLOR)
            return False
        except OSError as exc:
            show_exception(self, "Cannot save the settings", exc)
            return False
        self._load(self.ctx.settings)
        self._set_status(f"Saved at {time.strftime('%H:%M')}.", SAVED_COLOR)
        self.saved.emit()
        return True

    def maybe_leave(self) -> bool:
        """The person is switching to another screen: unsaved changes are saved, dropped or keep them here."""
        return self._settle_unsaved("Leaving Settings")

    def maybe_close(self) -> bool:
        """The window is closing: unsaved changes are saved, dropped or keep it open, as the person says."""
        return self._settle_unsaved("Closing ModelScout")

    def _settle_unsaved(self, doing: str) -> bool:
        """True when it is fine to go on: saved, discarded (the form shows the saved values again), or none.
        Unsaved values apply nowhere, so leaving them behind in silence would surprise whoever runs next."""
        if not self.is_dirty():
            return True
        if not self.isVisible():
            self.ctx.navigate.emit("Settings")  # the person sees what the question is about
        answer = QMessageBox.question(
            self, "Unsaved settings", f"Save the changed settings?\n\n{doing} drops the changes that are not "
            f"saved: {self._changed_labels()}.",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()  # an invalid value stays, marked in red
        if answer == QMessageBox.StandardButton.Discard:
            self.revert()
            return True
        return False

    def _changed_labels(self) -> str:
        loaded = self._loaded
        return ", ".join(LABELS[name] for name, value in self.form_values().items() if value != loaded.get(name))

    def shutdown(self) -> None:
        if self._hardware_worker is not None:
            self._hardware_worker.wait(5)
