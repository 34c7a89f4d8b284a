"""How long a prompt can be: a token count no tokenizer goes below, so a case whose prompt certainly cannot
fit any chosen model's context is refused when the suite loads, and at run time before it is sent.

No model's tokenizer is at hand when a suite loads, so the count is a floor that holds for all of
them. A token spans at most LONGEST_TOKEN_BYTES of ordinary text, or LONGEST_RUN_TOKEN_BYTES of
whitespace and of one character repeated (the runs of spaces, dashes or `=` vocabularies learn from
code and tables); weighing each byte by the share of a token it can be, a token weighs at most 1, so
the total weight is a floor on the count. In SmolLM2's vocabulary the heaviest token weighs 0.39
("ManagementPlaneProtection", 25 bytes; its longest, a newline and 80 spaces, 0.32): only a prompt that
truly cannot fit is refused, and the model's own count decides the rest when it runs.
"""

from __future__ import annotations

import math
import re

LONGEST_RUN_TOKEN_BYTES = 256  # a token of one repeated character or of whitespace
LONGEST_TOKEN_BYTES = 64  # any other token
_RUNS = re.compile(r"\s{2,}|(.)\1{7,}", re.DOTALL)


def tokens_at_least(text: str) -> int:
    """A floor on the tokens any tokenizer makes of `text` (before a chat template adds its own)."""
    if not text:
        return 0
    run_bytes = sum(len(match.group().encode("utf-8")) for match in _RUNS.finditer(text))
    other_bytes = len(text.encode("utf-8")) - run_bytes
    weight = run_bytes / LONGEST_RUN_TOKEN_BYTES + other_bytes / LONGEST_TOKEN_BYTES
    return max(1, math.ceil(weight - 1e-9))


def prompt_tokens_at_least(prompt: str, system: str | None = None) -> int:
    return tokens_at_least(prompt) + tokens_at_least(system or "")


def too_long(prompt: str, system: str | None, context_tokens: int | None,
             context_of: str = "the largest context a chosen model is given") -> str | None:
    """Why the prompt cannot fit `context_tokens` (leaving room for one answer token), or None when it may."""
    if not context_tokens:
        return None
    size = len(prompt.encode("utf-8")) + len((system or "").encode("utf-8"))
    if size / LONGEST_TOKEN_BYTES < context_tokens - 1:  # even the heaviest count fits: skip counting
        return None
    least = prompt_tokens_at_least(prompt, system)
    if least < context_tokens:
        return None
    return (f"the prompt is {_size(size)}, at least {least:,} tokens for any model, more than {context_of} "
            f"({context_tokens:,} tokens); shorten it or split it into several cases, or raise the context "
            f"size (Settings, or run --context)")


def _size(size: int) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MB"
    if size >= 1 << 10:
        return f"{size / (1 << 10):.0f} KB"
    return f"{size} bytes"
