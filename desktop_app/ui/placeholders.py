"""`{name}` placeholders in prompts, by the suite loader's own rule: a name starts with a letter, and `{{`
and `}}` are literal braces, so JSON or code in a prompt is left alone."""

from __future__ import annotations

import re

from desktop_app.suites.loader import _PLACEHOLDER as PLACEHOLDER  # one rule for suites and the screens


def placeholders(*texts: str) -> list[str]:
    """The `{name}` placeholders in the texts, each once, in order of appearance."""
    names: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            if match.group(1):
                names.setdefault(match.group(1).strip())
    return list(names)


def fill(text: str, values: dict[str, str]) -> str:
    """The text with each placeholder replaced by its value and `{{`, `}}` by single braces."""

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return values[match.group(1).strip()]

    return PLACEHOLDER.sub(substitute, text)


def braces(names: list[str]) -> str:
    """["city", "day"] -> "{city}, {day}"."""
    return ", ".join(f"{{{name}}}" for name in names)
