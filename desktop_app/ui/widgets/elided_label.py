"""Labels that fit their room: one line that gives way ("…", the whole text in its tooltip), or lines that wrap
a long name (an environment variable, a URL) at its natural places instead of mid-letter."""

from __future__ import annotations

import re

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """Plain text on one line, elided to the width it is given (at the end, or in the middle for paths).

    Its size hint asks for the whole text; its minimum is a few letters, so a layout may shrink it. The tooltip
    is the whole text (plus `tip`, if given) whenever part of it is hidden.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight, tip: str = "") -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(False)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.mode = mode
        self.tip = tip
        self.full_text = ""
        self.setText(text)

    def setText(self, text: str) -> None:
        self.full_text = text
        self._elide()

    def set_tip(self, tip: str) -> None:
        """More to say on hover than the text itself (always shown)."""
        self.tip = tip
        self._elide()

    def text(self) -> str:
        """The whole text, as set (what is drawn may be shorter: text_shown())."""
        return self.full_text

    def text_shown(self) -> str:
        return super().text()

    def is_elided(self) -> bool:
        return super().text() != self.full_text

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(self.full_text) + margins.left() + margins.right() + 2
        return QSize(width, hint.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance("M…M"), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self.full_text, self.mode, room) if room > 0 else self.full_text
        if shown != super().text():
            super().setText(shown)
        tips = [self.full_text] if shown != self.full_text and self.full_text not in self.tip else []
        if self.tip:
            tips.append(self.tip)
        self.setToolTip("\n".join(tips))


BREAKS_AFTER = re.compile(r"([_.:/@])(?=\w)")
LONG_WORD = re.compile(r"\S{24,}")  # shorter words fit any line; breaking them would split figures like $0.15
ZERO_WIDTH_SPACE = "\u200b"


def breakable(text: str) -> str:
    """`text` with its long names (environment variables, hosts, model references) free to wrap after their
    _ . : / @: Qt breaks a word too long for its line mid-letter, where these marks are the natural places."""
    return LONG_WORD.sub(lambda word: BREAKS_AFTER.sub(lambda mark: mark.group(1) + ZERO_WIDTH_SPACE, word.group()),
                         text)


class WrappingLabel(QLabel):
    """Word-wrapped plain text whose long names wrap at their natural places (see breakable); text() gives
    the text as set."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self._text = ""
        self.setText(text)

    def setText(self, text: str) -> None:
        self._text = text
        super().setText(breakable(text))

    def text(self) -> str:
        return self._text
