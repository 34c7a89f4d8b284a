"""Windows that follow their content: a note that grows a line makes its dialog taller, never cuts it off."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def grow_to_content(window: QWidget) -> None:
    """Make `window` as tall as its content needs at its present width (word-wrapped notes included), and at
    least that tall from now on; it never shrinks here, so a size the person chose stays when it suffices."""
    layout = window.layout()
    if layout is None:
        return
    width = max(window.width(), layout.totalMinimumSize().width())
    needed = (layout.totalHeightForWidth(width) if layout.hasHeightForWidth()
              else layout.totalSizeHint().height())
    if needed > window.height() or width > window.width():
        window.resize(width, max(needed, window.height()))
    window.setMinimumHeight(needed)
