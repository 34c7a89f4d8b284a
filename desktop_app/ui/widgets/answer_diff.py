"""Two answers side by side with their word-level differences highlighted (plain text, never HTML)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeySequence, QShortcut, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QGridLayout, QHBoxLayout, QLabel, QPlainTextEdit,
                               QVBoxLayout, QWidget)

from desktop_app.ui.widgets.text import read_only_text

# Words and single punctuation marks; whitespace is not a token, so re-spacing is no difference.
_TOKEN = re.compile(r"\w+|[^\w\s]")

DIFF_KIND = QTextFormat.Property.UserProperty + 1  # "deleted" or "inserted" on a highlighted span
DELETED_BACKGROUND = QColor("#ffd9d6")
DELETED_FOREGROUND = QColor("#8c1d18")
INSERTED_BACKGROUND = QColor("#d3f5dc")
INSERTED_FOREGROUND = QColor("#14572a")


@dataclass(frozen=True)
class WordDiff:
    deleted: list[tuple[int, int]]  # character spans of the left text that the right one lacks
    inserted: list[tuple[int, int]]  # character spans of the right text that the left one lacks
    similarity: float  # 0..1, over words
    deleted_words: int
    inserted_words: int


def word_diff(left: str, right: str) -> WordDiff:
    """Compare two texts word by word; spans are Python string offsets [start, end)."""
    left_tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(left)]
    right_tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(right)]
    # autojunk would treat frequent words ("the") in long answers as noise and misalign the rest.
    matcher = difflib.SequenceMatcher(None, [t[2] for t in left_tokens], [t[2] for t in right_tokens],
                                      autojunk=False)
    deleted: list[tuple[int, int]] = []
    inserted: list[tuple[int, int]] = []
    deleted_words = inserted_words = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            deleted.append((left_tokens[i1][0], left_tokens[i2 - 1][1]))
            deleted_words += _words(left_tokens[i1:i2])
        if tag in ("replace", "insert"):
            inserted.append((right_tokens[j1][0], right_tokens[j2 - 1][1]))
            inserted_words += _words(right_tokens[j1:j2])
    similarity = matcher.ratio() if left_tokens or right_tokens else 1.0
    return WordDiff(deleted, inserted, similarity, deleted_words, inserted_words)


def _words(tokens: list[tuple[int, int, str]]) -> int:
    return sum(1 for token in tokens if token[2][0].isalnum() or token[2][0] == "_")


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _utf16_offsets(text: str) -> list[int]:
    """Qt counts UTF-16 code units: map each Python index (0..len) to a document position."""
    offsets = [0]
    for char in text:
        offsets.append(offsets[-1] + (2 if ord(char) > 0xFFFF else 1))
    return offsets


def _highlight_format(kind: str) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setBackground(DELETED_BACKGROUND if kind == "deleted" else INSERTED_BACKGROUND)
    fmt.setForeground(DELETED_FOREGROUND if kind == "deleted" else INSERTED_FOREGROUND)
    fmt.setProperty(DIFF_KIND, kind)
    return fmt


def show_highlighted(view: QPlainTextEdit, text: str, spans: list[tuple[int, int]], kind: str) -> None:
    """Put text in the view as plain text, then colour the spans through char formats."""
    view.setPlainText(text)
    offsets = _utf16_offsets(text)
    cursor = QTextCursor(view.document())
    fmt = _highlight_format(kind)
    for start, end in spans:
        cursor.setPosition(offsets[start])
        cursor.setPosition(offsets[end], QTextCursor.MoveMode.KeepAnchor)
        cursor.mergeCharFormat(fmt)
    view.moveCursor(QTextCursor.MoveOperation.Start)


def _count(words: int) -> str:
    return f"{words} word{'s' if words != 1 else ''}"


class AnswerDiffDialog(QDialog):
    """Left answer with its removed words in red, right answer with its added words in green."""

    def __init__(self, left_title: str, left_text: str, right_title: str, right_text: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("answerDiffDialog")
        self.setWindowTitle("Compare answers")
        self.resize(980, 560)
        left_text, right_text = normalize_newlines(left_text), normalize_newlines(right_text)
        self.diff = word_diff(left_text, right_text)

        self.left_view = self._view("diffLeft")
        self.right_view = self._view("diffRight")
        show_highlighted(self.left_view, left_text, self.diff.deleted, "deleted")
        show_highlighted(self.right_view, right_text, self.diff.inserted, "inserted")

        panes = QGridLayout()
        panes.setHorizontalSpacing(12)
        for column, (title, view) in enumerate(((left_title, self.left_view), (right_title, self.right_view))):
            label = QLabel(title)
            label.setTextFormat(Qt.TextFormat.PlainText)  # titles hold model names, which are user data
            label.setStyleSheet("font-weight: 600;")
            label.setWordWrap(True)
            panes.addWidget(label, 0, column)
            panes.addWidget(view, 1, column)

        self.summary = QLabel(self._summary_text())
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)
        self.sync_scroll = QCheckBox("Scroll together")
        self.sync_scroll.setChecked(True)
        self.sync_scroll.setToolTip("Scroll both answers at once")
        for source, target in ((self.left_view, self.right_view), (self.right_view, self.left_view)):
            source.verticalScrollBar().valueChanged.connect(
                lambda value, target=target: self._follow(target, value))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        QShortcut(QKeySequence.StandardKey.Close, self, self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.sync_scroll)
        bottom.addStretch(1)
        bottom.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(10)
        layout.addWidget(self.summary)
        layout.addLayout(panes, 1)
        layout.addLayout(bottom)

    _view = staticmethod(read_only_text)

    def _summary_text(self) -> str:
        diff = self.diff
        if not diff.deleted and not diff.inserted:
            return "The two answers have the same words."
        return (f"{diff.similarity:.0%} alike. Red: what only the left answer says ({_count(diff.deleted_words)}). "
                f"Green: what only the right answer says ({_count(diff.inserted_words)}).")

    def _follow(self, target: QPlainTextEdit, value: int) -> None:
        if self.sync_scroll.isChecked():
            bar = target.verticalScrollBar()
            bar.blockSignals(True)
            bar.setValue(min(value, bar.maximum()))
            bar.blockSignals(False)
