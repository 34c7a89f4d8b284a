"""A dialog that makes a lower-bit variant of a model with llama.cpp's quantizer, off the UI thread."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.models.gguf_meta import ModelInfo
from desktop_app.models.quantize import QUANT_TYPES, default_output, quantize
from desktop_app.ui.errors import show_exception
from desktop_app.ui.workers import GeneratorWorker, run_in_background

DEFAULT_TYPE = "Q4_K_M"

# A word on each type, to help pick one (bits per weight are approximate).
TYPE_NOTES: dict[str, str] = {
    "F16": "16 bits: unquantized, the reference quality, largest",
    "BF16": "16 bits: unquantized (bfloat16), largest",
    "Q8_0": "8.5 bits: nearly lossless",
    "Q6_K": "6.6 bits: very close to the original",
    "Q5_K_M": "5.7 bits: high quality",
    "Q5_K_S": "5.5 bits: high quality, a little smaller",
    "Q5_1": "6 bits: older format",
    "Q5_0": "5.5 bits: older format",
    "Q4_K_M": "4.9 bits: the usual balance of size and quality",
    "Q4_K_S": "4.6 bits: a little smaller than Q4_K_M",
    "Q4_1": "5 bits: older format",
    "Q4_0": "4.5 bits: older format, fast on many CPUs",
    "Q3_K_L": "4.3 bits: small, noticeable quality loss",
    "Q3_K_M": "3.9 bits: small, noticeable quality loss",
    "Q3_K_S": "3.5 bits: smaller still",
    "Q2_K": "3.4 bits: smallest K type, large quality loss",
    "Q2_K_S": "3.2 bits: smallest, large quality loss",
}


class QuantizeCancelled(Exception):
    """Raised inside quantize's progress callback to stop it (quantize then removes its partial file)."""


class _ProgressBridge(QObject):
    """Lives on the UI thread: a signal emitted from the quantizer's thread is queued over to it."""

    progress = Signal(float)


class QuantizeDialog(QDialog):
    """Choose a type and an output file, then watch the variant being written."""

    created = Signal(str)  # the new model's path

    def __init__(self, source: Path, info: ModelInfo | None = None, threads: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quantizeDialog")
        self.setWindowTitle("Make a quantized variant")
        self.setMinimumWidth(560)
        self.source = Path(source)
        self.threads = threads
        self.worker: GeneratorWorker | None = None
        self._running = False
        self._closing = False
        self._cancel = threading.Event()
        self._output_edited = False
        self._bridge = _ProgressBridge(self)
        self._bridge.progress.connect(self._on_progress)

        intro = QLabel(f"Write a lower-bit copy of {self.source.name} with llama.cpp's quantizer. "
                       f"Fewer bits make a smaller, faster model that is usually a little less accurate; "
                       f"compare both on your suite to see whether it is still good enough.")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)

        self.type_box = QComboBox()
        self.type_box.setObjectName("quantType")
        current = (info.quantization.upper() if info else "")
        for name in QUANT_TYPES:
            note = TYPE_NOTES.get(name, "")
            if name == current:
                note += " (this model's type now)"
            self.type_box.addItem(f"{name}  —  {note}" if note else name, name)
        self.type_box.setCurrentIndex(self.type_box.findData(DEFAULT_TYPE))
        self.type_box.currentIndexChanged.connect(self._type_changed)

        self.output = QLineEdit()
        self.output.setObjectName("quantOutput")
        self.output.textEdited.connect(self._output_text_edited)
        self.output.textChanged.connect(self._check_output)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output, 1)
        output_row.addWidget(browse)

        self.warning = QLabel()
        self.warning.setObjectName("hint")
        self.warning.setWordWrap(True)
        self.warning.setTextFormat(Qt.TextFormat.PlainText)

        self.progress = QProgressBar()
        self.progress.setObjectName("quantProgress")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.status = QLabel("")
        self.status.setObjectName("hint")

        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Make variant", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setObjectName("primary")
        self.start_button.setDefault(True)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel_or_close)

        form = QFormLayout()
        form.addRow("Model", QLabel(self.source.name))
        form.addRow("Type", self.type_box)
        form.addRow("Save as", output_row)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.warning)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self._type_changed()

    # Choosing ------------------------------------------------------------------------------

    def selected_type(self) -> str:
        return self.type_box.currentData()

    def set_type(self, qtype: str) -> None:
        index = self.type_box.findData(qtype.upper())
        if index < 0:
            raise ValueError(f"unknown quantization type {qtype!r}")
        self.type_box.setCurrentIndex(index)

    def output_path(self) -> Path:
        return Path(self.output.text().strip()).expanduser()

    def _type_changed(self) -> None:
        if not self._output_edited:
            self.output.setText(str(default_output(self.source, self.selected_type())))

    def _output_text_edited(self) -> None:
        self._output_edited = True

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(self, "Save the variant as", str(self.output_path()),
                                                "GGUF models (*.gguf)")
        if chosen:
            if not chosen.lower().endswith(".gguf"):
                chosen += ".gguf"
            self._output_edited = True
            self.output.setText(chosen)

    def _check_output(self) -> None:
        # A stat of one chosen path: quick enough for the UI thread.
        text = self.output.text().strip()
        problem = ""
        if not text:
            problem = "Choose where to save the variant."
        elif self.output_path().exists():
            problem = "A file with this name exists already: choose another name, or delete that file first."
        elif self.output_path().resolve() == self.source.resolve():
            problem = "The output cannot be the model itself."
        self.warning.setText(problem)
        self.warning.setVisible(bool(problem))
        self.start_button.setEnabled(not problem and not self.is_running())

    # Running -------------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self._running

    def start(self) -> None:
        if self.is_running():
            return
        self._check_output()
        if not self.start_button.isEnabled():
            return
        source, qtype, out, threads = self.source, self.selected_type(), self.output_path(), self.threads
        self._cancel.clear()
        self._running = True
        for widget in (self.type_box, self.output, self.start_button):
            widget.setEnabled(False)
        self.progress.setValue(0)
        self.status.setText(f"Writing {out.name}…")
        cancel, bridge = self._cancel, self._bridge

        def report(fraction: float) -> None:  # called on the quantizer's thread
            if cancel.is_set() and fraction < 1.0:
                raise QuantizeCancelled()
            bridge.progress.emit(fraction)

        self.worker = run_in_background(
            lambda: quantize(source, qtype, out, threads=threads, on_progress=report),
            self._on_done, self._on_error, self)

    @Slot(float)
    def _on_progress(self, fraction: float) -> None:
        self.progress.setValue(round(fraction * 100))

    def _on_done(self, path: Path) -> None:
        self._running = False
        self.progress.setValue(100)
        self.status.setText(f"Saved {Path(path).name}.")
        self.created.emit(str(path))
        self.accept()

    def _on_error(self, exc: BaseException) -> None:
        self._running = False
        self._restore_inputs()
        if isinstance(exc, QuantizeCancelled):
            self.status.setText("Cancelled; nothing was written.")
            if self._closing:
                self.reject()
            return
        self.status.setText("Failed.")
        show_exception(self, "Could not make the variant", exc)

    def _restore_inputs(self) -> None:
        self.progress.setValue(0)
        for widget in (self.type_box, self.output):
            widget.setEnabled(True)
        self._check_output()

    def _cancel_or_close(self) -> None:
        if self.is_running():
            self._closing = True
            self.status.setText("Cancelling…")
            self._cancel.set()
        else:
            self.reject()

    def cancel_and_wait(self, seconds: float = 30.0) -> None:
        """Stop a running quantization (for the screen's shutdown)."""
        self._cancel.set()
        if self.worker is not None:
            self.worker.wait(seconds)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.is_running():
            self._cancel_or_close()
            event.ignore()
            return
        super().closeEvent(event)

    def reject(self) -> None:
        if self.is_running():  # Escape while writing: cancel first, close when it has stopped
            self._cancel_or_close()
            return
        super().reject()
