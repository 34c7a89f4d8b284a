"""`{name}` placeholders in prompts, by the suite loader's own rule (suites.model): a name starts with a
letter, and `{{` and `}}` are literal braces, so JSON or code in a prompt is left alone."""

from __future__ import annotations

from desktop_app.suites.model import fill_placeholders as fill  # noqa: F401 - one rule for suites and screens
from desktop_app.suites.model import placeholder_names as placeholders  # noqa: F401

__all__ = ["braces", "fill", "placeholders"]


def braces(names: list[str]) -> str:
    """["city", "day"] -> "{city}, {day}"."""
    return ", ".join(f"{{{name}}}" for name in names)
