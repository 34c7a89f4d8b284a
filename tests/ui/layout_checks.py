"""What makes a screen unreadable, found in a laid-out widget tree: text cut off (at the edge, mid-word, or its
last lines), a control outside the window or its parent with no way to scroll to it, plot labels on each other.

Used by tests/ui/test_window_sizes.py and by scripts/screens_at_sizes.py (which prints them beside each picture).
"""

from __future__ import annotations

import itertools
import re

from PySide6.QtCore import QRect, Qt
from PySide6 import QtGui
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtWidgets import (QAbstractButton, QAbstractScrollArea, QAbstractSpinBox, QComboBox, QGroupBox, QLabel,
                               QLineEdit, QProgressBar, QScrollArea, QWidget)

SLACK = 1  # pixels of rounding

# Widgets we lay out ourselves; the insides of Qt's own composite widgets (a spin box's line edit, a view's
# headers) are Qt's business.
CHECKED = (QLabel, QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QGroupBox, QProgressBar,
           QAbstractScrollArea)
COMPOSITE = (QAbstractSpinBox, QComboBox, QAbstractScrollArea)


def problems_in(root: QWidget) -> list[str]:
    """Every problem found under `root` (shown and laid out), one line each."""
    return [*cut_labels(root), *out_of_reach(root), *overlapping_plot_labels(root)]


def name_of(widget: QWidget) -> str:
    text = widget.text() if isinstance(widget, (QLabel, QAbstractButton)) else ""
    text = " ".join(str(text).split())
    return (widget.objectName() or type(widget).__name__) + (f" “{text[:50]}”" if text else "")


def shown(widget: QWidget, root: QWidget) -> bool:
    return widget.isVisible() and widget.isVisibleTo(root) and widget.width() > 0 and widget.height() > 0


def inside_composite(widget: QWidget, root: QWidget) -> bool:
    """Part of a spin box, combo box or view (but not the content of a scroll area, which is ours)."""
    parent = widget.parentWidget()
    while parent is not None and parent is not root:
        if isinstance(parent, COMPOSITE) and not isinstance(parent, QScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def plain_text(label: QLabel) -> str:
    """The text as drawn (a label class may give its text() as set, before it made it fit)."""
    text = QLabel.text(label)
    if label.textFormat() == Qt.TextFormat.RichText or (label.textFormat() == Qt.TextFormat.AutoText
                                                       and QtGui.Qt.mightBeRichText(text)):
        document = QTextDocument()
        document.setHtml(text)
        return document.toPlainText()
    return text


def cut_labels(root: QWidget) -> list[str]:
    """Labels whose text does not fit: cut at the edge, broken inside a word, or short of lines. A label that
    elides its text and gives the whole of it as its tooltip is fine (ElidedLabel does)."""
    found = []
    for label in root.findChildren(QLabel):
        if not shown(label, root) or not label.text() or inside_composite(label, root):
            continue
        if getattr(label, "full_text", None) is not None:  # an ElidedLabel: it shows what fits
            if label.is_elided() and label.full_text not in label.toolTip():
                found.append(f"{name_of(label)} is elided without its text in a tooltip")
            continue
        room = label.contentsRect().width() - 2 * label.margin() - 2 * label.indent() * (label.indent() > 0)
        metrics = QFontMetrics(label.font())
        if label.wordWrap():
            words = re.split(r"[\s\u200b]+", plain_text(label))  # a zero-width space marks a place to break
            longest = max(words, key=metrics.horizontalAdvance, default="")
            if longest and metrics.horizontalAdvance(longest) > room + SLACK:
                found.append(f"{name_of(label)} breaks “{longest[:40]}” mid-word "
                             f"({metrics.horizontalAdvance(longest)} px in {room} px)")
            elif label.heightForWidth(label.width()) > label.height() + SLACK:
                found.append(f"{name_of(label)} is cut short: {label.heightForWidth(label.width())} px of text "
                             f"in {label.height()} px")
        elif label.sizeHint().width() > label.width() + SLACK:
            found.append(f"{name_of(label)} is cut off: {label.sizeHint().width()} px of text in {label.width()} px")
    return found


def _scrolls(area: QAbstractScrollArea, horizontal: bool) -> bool:
    policy = area.horizontalScrollBarPolicy() if horizontal else area.verticalScrollBarPolicy()
    return policy != Qt.ScrollBarPolicy.ScrollBarAlwaysOff


def out_of_reach(root: QWidget) -> list[str]:
    """Controls and labels that stick out of their parent (which clips them) or out of `root`, where no scroll
    bar brings them into view; and scroll areas whose content is wider or taller than they let you scroll."""
    found = []
    for area in root.findChildren(QScrollArea):
        content = area.widget()
        if content is None or not shown(area, root):
            continue
        viewport = area.viewport().size()
        needed = content.minimumSizeHint().expandedTo(content.minimumSize())
        if not _scrolls(area, True) and needed.width() > viewport.width() + SLACK:
            found.append(f"{name_of(area)}: content needs {needed.width()} px, {viewport.width()} px shown and "
                         f"no horizontal scroll bar")
        if not _scrolls(area, False) and needed.height() > viewport.height() + SLACK:
            found.append(f"{name_of(area)}: content needs {needed.height()} px, {viewport.height()} px shown and "
                         f"no vertical scroll bar")
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CHECKED) or not shown(widget, root) or inside_composite(widget, root):
            continue
        parent = widget.parentWidget()
        if parent is None:
            continue
        if isinstance(parent.parentWidget(), QScrollArea) and parent is parent.parentWidget().viewport():
            continue  # a scroll area's content: it scrolls
        box = widget.geometry()
        if not parent.rect().adjusted(-SLACK, -SLACK, SLACK, SLACK).contains(box):
            found.append(f"{name_of(widget)} sticks out of {name_of(parent)}: {_rect(box)} in {_rect(parent.rect())}")
            continue
        if not _in_scroll_area(widget, root):
            where = widget.rect().translated(widget.mapTo(root, widget.rect().topLeft()))
            if not root.rect().adjusted(-SLACK, -SLACK, SLACK, SLACK).contains(where):
                found.append(f"{name_of(widget)} is outside the window: {_rect(where)}")
    return found


def _in_scroll_area(widget: QWidget, root: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None and parent is not root:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def _rect(rect: QRect) -> str:
    return f"{rect.width()}x{rect.height()}+{rect.x()}+{rect.y()}"


def overlapping_plot_labels(root: QWidget) -> list[str]:
    """Point labels of a Tradeoff plot that cover each other or fall outside the plot."""
    from desktop_app.ui.widgets.tradeoff_plot import TradeoffPlot  # pyqtgraph loads only where a plot is

    found = []
    plots = [root] if isinstance(root, TradeoffPlot) else root.findChildren(TradeoffPlot)
    for plot in plots:
        if not shown(plot, root):
            continue
        boxes = plot.label_boxes()
        for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2):
            if box_a.intersects(box_b):
                found.append(f"plot labels “{a}” and “{b}” overlap")
        view = plot.view_box_rect()
        for key, box in boxes.items():
            if not view.adjusted(-SLACK, -SLACK, SLACK, SLACK).contains(box):
                found.append(f"plot label “{key}” falls outside the plot")
    return found
