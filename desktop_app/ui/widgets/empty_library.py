"""What the Models screen shows when no model was found anywhere: on a first run, a guided start (fetch the demo
model or choose a folder, then run the demo suite); after "Not now", where it looked and how to add models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from desktop_app import paths
from desktop_app.models.demo_model import PYPI_URL
from desktop_app.ui.widgets.first_run import FirstRunPanel
from desktop_app.ui.widgets.library_table import LibraryRow


class EmptyLibraryPanel(QWidget):
    """What to do when no model was found anywhere."""

    changed = Signal()  # whether the panel wants to be on screen may have changed (the guided start ended)
    fetched = Signal(str)  # the demo model, just fetched
    run_demo = Signal(list)  # run the demo suite on these model paths

    def __init__(self, add_folder: QAction, parent: QWidget | None = None, *,
                 add_paths: Callable[[list[Path]], Any] | None = None, index_url: str = PYPI_URL) -> None:
        super().__init__(parent)
        self.setObjectName("emptyLibrary")
        self.guiding = True  # the guided start is offered until the person ends it (this session only)
        self._engaged = False  # a model came through the guided start: it stays on to its last step
        self._add_paths = add_paths
        self.plain = self._build_plain(add_folder)
        self.guide = FirstRunPanel(self._add_from_guide, index_url=index_url)
        self.guide.skipped.connect(self._end_guide)
        self.guide.fetched.connect(self._model_came)
        self.guide.fetched.connect(self.fetched)
        self.guide.run_demo.connect(self._run_demo)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plain)
        self.stack.addWidget(self.guide)
        self.stack.setCurrentWidget(self.guide)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    def _build_plain(self, add_folder: QAction) -> QWidget:
        plain = QWidget()
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
        self.guide_button = QPushButton("Guided start…")
        self.guide_button.setObjectName("showFirstRun")
        self.guide_button.setToolTip("Fetch the demo model or choose a models folder, then run the demo suite")
        self.guide_button.clicked.connect(self.show_guide)
        hint = QLabel("…or drag .gguf files or a folder of models onto this window.")
        hint.setObjectName("hint")
        for label in (title, explain, hint):
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        button_row = QHBoxLayout()
        button_row.addStretch(1)
        button_row.addWidget(button)
        button_row.addWidget(self.guide_button)
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
        layout = QHBoxLayout(plain)
        layout.addStretch(1)
        layout.addWidget(column)
        layout.addStretch(1)
        self.explain = explain
        return plain

    def show_library(self, rows: Sequence[LibraryRow]) -> bool:
        """Tell the panel what the library holds; True while it should be shown instead of the table: the library
        is empty, or the person got a model through the guided start and has its last step (the demo run) to go."""
        self.guide.show_models(rows)
        if not rows:
            self.stack.setCurrentWidget(self.guide if self.guiding else self.plain)
            return True
        # Files that cannot be used are better seen in the library, with the reason for each.
        return self.guiding and self._engaged and bool(self.guide.models)

    def show_guide(self) -> None:
        self.guiding = True
        self.guide.refresh_folders()  # an app may have been installed since
        self.stack.setCurrentWidget(self.guide)
        self.changed.emit()

    def _add_from_guide(self, chosen: list[Path]) -> None:
        self._engaged = True
        if self._add_paths is not None:
            self._add_paths(chosen)

    def _model_came(self, _path: str) -> None:
        self._engaged = True

    def _end_guide(self) -> None:
        self.guiding = self._engaged = False
        self.stack.setCurrentWidget(self.plain)
        self.changed.emit()

    def _run_demo(self, models: list[str]) -> None:
        self._end_guide()  # the Suites screen takes over; the library lists the models from now on
        self.run_demo.emit(models)

    def shutdown(self) -> None:
        self.guide.shutdown()
