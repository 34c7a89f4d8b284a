"""Every UI test runs in the app's real look, and none leaves a look of its own on the application: a style
sheet, style, palette or font set by one test would change how every later test's widgets lay out, so
results would hang on test order."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette

from desktop_app.ui.style import STYLE_SHEET
from tests.ui.conftest import app_look, current_look

FIRST_LOOK = {}


def test_a_test_that_restyles_the_whole_app(qapp) -> None:
    """Changes everything a test can change app-wide and puts nothing back: the autouse fixture must."""
    FIRST_LOOK["look"] = current_look(qapp)
    assert qapp.styleSheet() == STYLE_SHEET and FIRST_LOOK["look"].style == "fusion", "the look `make run` has"
    qapp.setStyle("Windows")
    qapp.setStyleSheet("QLabel { color: red; }")
    palette = QPalette(qapp.palette())
    palette.setColor(QPalette.ColorRole.Window, QColor("#123456"))
    qapp.setPalette(palette)
    qapp.setFont(QFont("Serif", 31))


def test_the_next_test_starts_from_the_look_before_it(qapp) -> None:
    assert "look" in FIRST_LOOK, "runs after the test above"
    assert current_look(qapp) == FIRST_LOOK["look"]
    assert qapp.styleSheet() == STYLE_SHEET and qapp.font().pointSize() != 31
    assert qapp.palette().color(QPalette.ColorRole.Window) != QColor("#123456")


def test_the_apps_look_for_a_picture_is_undone_after_it(qapp) -> None:
    before = current_look(qapp)
    with app_look(qapp):
        assert qapp.styleSheet() == STYLE_SHEET
        qapp.setFont(QFont("Serif", 29))  # what a screenshot helper might do on the way
    assert current_look(qapp) == before


def test_a_picture_in_a_test_that_changed_the_look_gets_the_real_one_then_the_tests_again(qapp) -> None:
    qapp.setStyleSheet("")
    qapp.setStyle("Windows")
    mine = current_look(qapp)
    with app_look(qapp):
        assert qapp.styleSheet() == STYLE_SHEET and current_look(qapp).style == "fusion"
    assert current_look(qapp) == mine
