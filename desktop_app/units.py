"""Human-readable sizes shared by the core, the CLI and the UI."""

from __future__ import annotations

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
    """Dollars readable at any size: $1.25, $0.0042, $2.1e-6."""
    if value is None:
        return missing
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.001:
        return f"${value:.{max(digits, 2)}g}"
    mantissa, exponent = f"{value:.{max(digits, 1) - 1}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"${mantissa}e{int(exponent)}"
