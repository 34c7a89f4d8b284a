"""The wrapping row the toolbars use: one line when there is room, more lines (never clipped) when not."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QPushButton, QWidget

from desktop_app.ui.widgets.flow_layout import FlowLayout


def test_items_wrap_onto_new_lines_and_the_stretch_fills_a_line(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    row = FlowLayout(host, spacing=6)
    buttons = [QPushButton(f"Button number {n}") for n in range(4)]
    for button in buttons:
        row.addWidget(button)
    row.add_stretch()
    search = QLineEdit()
    row.addWidget(search)
    one_line = row.sizeHint()
    assert row.heightForWidth(one_line.width()) == one_line.height()
    assert row.minimumSize().width() == max(b.minimumSizeHint().width() for b in buttons + [search])

    host.resize(one_line.width() + 200, 200)
    host.show()
    qtbot.wait(10)
    middles = {w.geometry().center().y() for w in [*buttons, search]}  # one line, each item centred on it
    assert max(middles) - min(middles) <= 1
    assert search.geometry().right() > one_line.width()  # the line edit takes the room left over

    narrow = buttons[0].sizeHint().width() * 2 + 20
    host.resize(narrow, row.heightForWidth(narrow))
    qtbot.wait(10)
    assert row.heightForWidth(narrow) > 2 * one_line.height()
    for widget in [*buttons, search]:
        assert host.rect().contains(widget.geometry()), widget.text() if hasattr(widget, "text") else widget
    assert len({b.y() for b in buttons}) >= 2
