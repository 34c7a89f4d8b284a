"""A row of controls that wraps onto more lines when the window is narrow, so toolbars never force a width."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLayout, QLayoutItem, QSizePolicy, QSpacerItem, QWidget


class FlowLayout(QLayout):
    """Items left to right at their preferred widths; an item that does not fit starts a new line.

    On each line the room left over goes to the items that expand horizontally (a line edit, or a stretch
    added with add_stretch()), so a one-line toolbar looks like a QHBoxLayout with the same items.
    """

    def __init__(self, parent: QWidget | None = None, spacing: int = 6, line_spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._line_spacing = line_spacing
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    # QLayout ------------------------------------------------------------------------------

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def add_stretch(self) -> None:
        """Space that pushes what follows to the end of its line (nothing at the start of a wrapped line)."""
        self.addItem(QSpacerItem(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum))

    def add_spacing(self, width: int) -> None:
        self.addItem(QSpacerItem(width, 0, QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Minimum))

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:
        """Everything on one line."""
        items = self._shown()
        width = sum(self._width(item) for item in items) + self.spacing() * max(0, len(items) - 1)
        height = max((item.sizeHint().height() for item in items), default=0)
        margins = self.contentsMargins()
        return QSize(width + margins.left() + margins.right(), height + margins.top() + margins.bottom())

    def minimumSize(self) -> QSize:
        """As narrow as the widest single item; the height for that comes from heightForWidth."""
        items = self._shown()
        width = max((max(item.minimumSize().width(), 0) for item in items if item.widget() is not None), default=0)
        height = max((item.minimumSize().height() for item in items), default=0)
        margins = self.contentsMargins()
        return QSize(width + margins.left() + margins.right(), height + margins.top() + margins.bottom())

    # Placing ------------------------------------------------------------------------------

    def _shown(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty() or item.spacerItem() is not None]

    @staticmethod
    def _width(item: QLayoutItem) -> int:
        return max(item.sizeHint().width(), item.minimumSize().width())

    @staticmethod
    def _expands(item: QLayoutItem) -> bool:
        return bool(item.expandingDirections() & Qt.Orientation.Horizontal)

    def _arrange(self, rect: QRect, apply: bool) -> int:
        """Lay the items out in rect (or only measure); the height used."""
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        spacing = self.spacing()
        lines: list[list[QLayoutItem]] = [[]]
        used = 0
        for item in self._shown():
            width = self._width(item)
            line = lines[-1]
            if line and used + spacing + width > area.width():
                lines.append([])
                line, used = lines[-1], 0
            if not line and item.spacerItem() is not None:
                continue  # no gap at the start of a line
            used += (spacing if line else 0) + width
            line.append(item)
        y = area.top()
        for line in lines:
            if not line:
                continue
            height = max(item.sizeHint().height() for item in line)
            if apply:
                self._place_line(line, area, y, height)
            y += height + self._line_spacing
        return max(0, y - self._line_spacing - area.top()) + margins.top() + margins.bottom()

    def _place_line(self, line: list[QLayoutItem], area: QRect, y: int, height: int) -> None:
        spacing = self.spacing()
        widths = [min(self._width(item), area.width()) for item in line]
        room = area.width() - sum(widths) - spacing * (len(line) - 1)
        growing = [n for n, item in enumerate(line) if self._expands(item)]
        for n in growing:  # the room left over, shared by the items that expand (within their maximum)
            share = room // len(growing) if room > 0 else 0
            widths[n] = min(widths[n] + share, max(widths[n], line[n].maximumSize().width()))
        if room < 0:  # a single item wider than the line: it shrinks to its minimum
            widths = [max(item.minimumSize().width(), min(w, area.width())) for item, w in zip(line, widths)]
        x = area.left()
        for item, width in zip(line, widths):
            item_height = min(height, max(item.sizeHint().height(), item.minimumSize().height()))
            if item.expandingDirections() & Qt.Orientation.Vertical:
                item_height = height
            item.setGeometry(QRect(QPoint(x, y + (height - item_height) // 2), QSize(width, item_height)))
            x += width + spacing


def together(*widgets: QWidget, spacing: int = 6, right: bool = False) -> QWidget:
    """Widgets side by side as one item, so a wrapping row keeps them on one line; with `right`, the item
    takes the room left on its line and sits at its end."""
    group = QWidget()
    layout = QHBoxLayout(group)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(spacing)
    if right:
        group.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout.addStretch(1)
    for widget in widgets:
        layout.addWidget(widget)
    return group


def labelled(label: QWidget, field: QWidget) -> QWidget:
    """A label and its field, never on different lines."""
    return together(label, field)
