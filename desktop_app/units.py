"""Human-readable sizes shared by the core, the CLI and the UI."""

from __future__ import annotations

import math

SMALLEST_USD = 1e-9
_BINARY_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(n: float) -> str:
    """Binary units with one decimal: 98_362_432 -> "93.8 MiB", 512 -> "512 B"."""
    size = float(n)
    if abs(size) < 1024:
        return f"{int(size)} B"
    for unit in _BINARY_UNITS:
        size /= 1024
        if abs(size) < 1024 or unit == _BINARY_UNITS[-1]:
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")


def format_usd(value: float | None, digits: int = 2, missing: str = "-") -> str:
    """Dollars as people write money, never in scientific notation: $1,234.50, $1.25, $0.50,
    $0.0042, $0.0000032. Under a dollar, `digits` significant digits and at least the cents."""
    if value is None:
        return missing
    sign = "-" if value < 0 else ""
    size = abs(value)
    if size == 0:
        return "$0"
    if size < SMALLEST_USD:  # a billionth of a dollar: below any price or meter reading
        return f"{sign}<${SMALLEST_USD:.9f}"
    if size < 1:
        places = max(2, digits - 1 - math.floor(math.log10(size)))
        text = f"{size:.{places}f}"
        if float(text) < 1:  # rounding may reach a dollar: 0.999 -> $1.00 below
            whole, cents = text.split(".")
            return f"{sign}${whole}.{cents[:2]}{cents[2:].rstrip('0')}"
    return f"{sign}${size:,.2f}"


def format_usd_price(value: float) -> str:
    """A price as it was set, never rounded past a millionth of a dollar: $2.50, $0.075, $1.875."""
    text = f"{abs(value):,.6f}".rstrip("0")
    whole, cents = text.split(".")
    if whole == "0" and not cents.strip("0"):
        return format_usd(value)  # below a millionth: its significant digits
    return f"{'-' if value < 0 else ''}${whole}.{cents.ljust(2, '0')}"


def format_usd_per_1k(value: float | None, missing: str = "-") -> str:
    """A tiny per-answer figure as a table shows it: the cost of 1,000 (the header says so)."""
    return format_usd(None if value is None else value * 1000, missing=missing)
