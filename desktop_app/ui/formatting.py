"""Numbers, times and user text as the screens show them (one way everywhere)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt

from desktop_app import units

MISSING = "–"  # a measurement that is not there (not answered, not measured)


def format_usd(value: float | None, digits: int = 2) -> str:
    """Dollars as plain decimals at any size: $1,234.50, $0.50, $0.0042, $0.0000021."""
    return units.format_usd(value, digits, missing=MISSING)


def format_usd_per_1k(value: float | None) -> str:
    """A per-answer (per-request) figure in a table: the cost of 1,000, the header saying so."""
    return units.format_usd_per_1k(value, missing=MISSING)


def format_ms(value: float | None) -> str:
    """A duration: 120 ms under a second, else seconds (1.5 s, 12.3 s)."""
    if value is None:
        return MISSING
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.3g} s"


def format_rate(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f} tok/s"


def format_when(iso: str | None) -> str:
    """A stored UTC timestamp in the user's local time."""
    if not iso:
        return ""
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso[:16].replace("T", " ")


def plain_tooltip(text: str) -> str:
    """Tooltips guess rich text from '<'; escape so answers and reasons show exactly as written."""
    return GuiQt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)
