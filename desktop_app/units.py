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
