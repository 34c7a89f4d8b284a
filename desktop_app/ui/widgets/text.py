"""Shared text widgets: model output and user text are always shown as plain text."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPlainTextEdit


def read_only_text(name: str) -> QPlainTextEdit:
    """A selectable, read-only plain-text view (never interprets an answer as markup)."""
    view = QPlainTextEdit()
    view.setObjectName(name)
    view.setReadOnly(True)
    view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                 | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    return view


def plain_label(object_name: str = "", wrap: bool = True) -> QLabel:
    """A selectable label that shows its text as written (grade reasons and names quote model output)."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if object_name:
        label.setObjectName(object_name)
    return label
