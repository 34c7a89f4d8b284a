"""What the Models screen shows when no model was found anywhere: where it looked, and how to add some."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app import paths


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
