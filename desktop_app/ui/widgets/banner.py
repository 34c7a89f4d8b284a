"""A message across the top of a screen: a problem or a note, with an optional action; the person can hide it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

# kind -> (background, border, text)
BANNER_COLORS = {"error": ("#fdecea", "#f1b0ab", "#7a1c16"), "info": ("#e8f0fd", "#a9c3f0", "#1d3f7a"),
                 "warning": ("#fff4e0", "#f0cf8f", "#6b4500")}


class Banner(QFrame):
    action_clicked = Signal()

    def __init__(self, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.title = QLabel()
        self.title.setObjectName("bannerTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setStyleSheet("font-weight: 600; background: transparent; border: none;")
        self.text = QLabel()
        self.text.setObjectName("bannerText")
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setStyleSheet("background: transparent; border: none;")
        self.action = QPushButton()
        self.action.setObjectName("bannerAction")
        self.action.clicked.connect(self.action_clicked)
        self.action.hide()
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Hide this message")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.hide)
        text_box = QVBoxLayout()
        text_box.setSpacing(2)
        text_box.addWidget(self.title)
        text_box.addWidget(self.text)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 6, 8)
        layout.addLayout(text_box, 1)
        layout.addWidget(self.action, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, title: str, text: str, kind: str = "error", action: str | None = None,
                     action_tip: str = "") -> None:
        background, border, foreground = BANNER_COLORS[kind]
        name = self.objectName()
        self.setProperty("kind", kind)
        self.setStyleSheet(f"#{name} {{ background: {background}; border: 1px solid {border}; border-radius: 6px; }} "
                           f"#{name} QLabel {{ color: {foreground}; }}")
        self.title.setText(title)
        self.text.setText(text)
        self.action.setText(action or "")
        self.action.setToolTip(action_tip)
        self.action.setVisible(bool(action))
        self.show()

    def message(self) -> str:
        """The title and text while shown, else ""."""
        return f"{self.title.text()}\n{self.text.text()}" if self.isVisible() else ""
