"""Reference checks (exact, contains, regex, numeric) that grade an answer against a case.

An answer never passes only because it repeats its prompt: a model prompted in a format it does not
know (a base model given ChatML) often echoes the question, and a question holds the words a
`contains` check looks for. Runs of the prompt's words found in the answer are set aside and the
answer is graded again without them (scoring.registry does so for every check type); the grade's
reason says when the answer repeats the prompt.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from desktop_app.suites.loader import (
    NUMBER_PATTERN,
    REGEX_FLAGS,
    Case,
    Check,
    parse_number,
)

DEFAULT_TOLERANCE = 1e-6
_WRAPPERS = "\"'`*_\u201c\u201d\u2018\u2019\u00ab\u00bb"
_TRAILING_PUNCTUATION = ".!?,;:\u3002"


@dataclass(frozen=True)
class Grade:
    passed: bool
    score: float  # 0..1
    reason: str
    parts: tuple[Grade, ...] = ()
    check: str = ""
    # A part whose input is missing (no reference, no judgment, an unparseable verdict): not scored,
    # left out of its grade's score, with why.
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "score": self.score,
            "reason": self.reason,
            "parts": [part.to_dict() for part in self.parts],
            "check": self.check,
            **({"error": self.error} if self.error else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Grade:
        return cls(
            passed=bool(data["passed"]),
            score=float(data["score"]),
            reason=data.get("reason", ""),
            parts=tuple(cls.from_dict(part) for part in data.get("parts") or ()),
            check=data.get("check", ""),
            error=data.get("error"),
        )


def grade(case: Case, answer: str | None) -> Grade | None:
    """Grade an answer with all of the case's checks; None when the case has none.

    The case's expected answer is the reference; there is no judgment here (a judge check's part is
    left unscored). scoring.registry.grade_answer takes a full ScoreContext.
    """
    from desktop_app.scoring.registry import ScoreContext, grade_answer

    return grade_answer(case, ScoreContext.for_case(case, answer))


def run_check(check: Check, expected: str | float | None, answer: str) -> Grade:
    """One check's grade, without looking for echoes; the check's parameters are already validated."""
    from desktop_app.scoring.registry import ScoreContext, score_check

    reference = None if expected is None else _reference_text(expected)
    return score_check(check, ScoreContext(answer=answer, expected=expected, reference=reference))


# An echo is a run of consecutive prompt words repeated in the answer: most of a short prompt (so that
# restating part of a question, "The capital of France is Paris.", is not one), or a passage of a long
# prompt. Prompts of fewer words than ECHO_MIN_WORDS are never looked for.
ECHO_MIN_WORDS = 3
ECHO_SHARE = 0.8  # of a short prompt's words
ECHO_PASSAGE_WORDS = 12  # a run this long is an echo whatever the prompt's length
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Echo:
    """Where an answer repeats its prompt: character spans of the answer, and what they repeat."""

    spans: tuple[tuple[int, int], ...]
    words: int  # how many of the answer's words are repeated prompt words
    sources: tuple[str, ...]  # "prompt", "system prompt"

    def __bool__(self) -> bool:
        return bool(self.spans)

    @property
    def note(self) -> str:
        return f"the answer repeats the {' and the '.join(self.sources)} ({self.words} words)"

    def remove(self, answer: str) -> str:
        """The answer with the repeated text cut out (a space in its place, so words do not join)."""
        kept, at = [], 0
        for start, end in self.spans:
            kept.append(answer[at:start])
            at = end
        kept.append(answer[at:])
        return " ".join(kept)


NO_ECHO = Echo((), 0, ())


def find_echo(answer: str, prompt: str | None, system: str | None = None,
              references: list[str] | None = None) -> Echo:
    """The runs of the prompt's (and system prompt's) words that the answer repeats, word for word.

    A run that is all within a reference answer is not an echo: "Repeat: the quick brown fox" is
    answered correctly by repeating its words.
    """
    allowed = [" ".join(_words(text)) for text in references or ()]
    answer_words = [(m.start(), m.end(), _fold(m.group(0))) for m in _WORD.finditer(answer)]
    spans: list[tuple[int, int]] = []
    words = 0
    sources = []
    taken: set[int] = set()
    for name, source in (("prompt", prompt), ("system prompt", system)):
        runs = _repeated_runs([w for _, _, w in answer_words], _words(source or ""), taken, allowed)
        if runs:
            sources.append(name)
        for first, count in runs:
            taken.update(range(first, first + count))
            spans.append((answer_words[first][0], answer_words[first + count - 1][1]))
            words += count
    if not spans:
        return NO_ECHO
    return Echo(tuple(sorted(spans)), words, tuple(sources))


def _words(text: str) -> list[str]:
    return [_fold(word) for word in _WORD.findall(text)]


def _fold(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


def _repeated_runs(answer: list[str], prompt: list[str], taken: set[int],
                   allowed: list[str]) -> list[tuple[int, int]]:
    """(first answer word, count) of each longest run of consecutive prompt words, long enough to be an echo."""
    if len(prompt) < ECHO_MIN_WORDS or not answer:
        return []
    least = max(ECHO_MIN_WORDS, min(math.ceil(ECHO_SHARE * len(prompt)), ECHO_PASSAGE_WORDS))
    starts: dict[tuple[str, ...], list[int]] = {}
    for j in range(len(prompt) - ECHO_MIN_WORDS + 1):
        starts.setdefault(tuple(prompt[j:j + ECHO_MIN_WORDS]), []).append(j)
    runs = []
    i = 0
    while i <= len(answer) - ECHO_MIN_WORDS:
        best = 0
        for j in starts.get(tuple(answer[i:i + ECHO_MIN_WORDS]), ()):
            k = ECHO_MIN_WORDS
            while i + k < len(answer) and j + k < len(prompt) and answer[i + k] == prompt[j + k]:
                k += 1
            best = max(best, k)
        if best >= least and not taken.intersection(range(i, i + best)):
            run = " ".join(answer[i:i + best])
            if not any(f" {run} " in f" {text} " for text in allowed):
                runs.append((i, best))
            i += best
        else:
            i += 1
    return runs


def normalize(text: str, *, ignore_case: bool = True) -> str:
    """Compare text the way a reader would: Unicode-normalized, case-insensitive, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text)
    return " ".join((text.casefold() if ignore_case else text).split())


def normalize_strict(text: str, *, ignore_case: bool = True) -> str:
    """normalize(), also dropping surrounding quotes, backticks, markdown emphasis and final punctuation."""
    text = normalize(text, ignore_case=ignore_case)
    previous = None
    while text != previous:
        previous = text
        text = text.strip().strip(_WRAPPERS).rstrip(_TRAILING_PUNCTUATION)
    return text


def find_numbers(text: str) -> list[float]:
    """Every number written in the text, in order ("1,234" is one number, "v1.2" holds none)."""
    numbers = []
    for match in NUMBER_PATTERN.finditer(unicodedata.normalize("NFKC", text)):
        value = parse_number(match.group(0))
        if value is not None:
            numbers.append(value)
    return numbers


def check_exact(params: dict[str, Any], expected: str | float | None, answer: str) -> Grade:
    want = _reference_text(params.get("value", expected))
    if normalize_strict(answer) == normalize_strict(want):
        return _pass("exact", f"answer equals {_quote(want)}")
    return _fail("exact", f"expected exactly {_quote(want)}, answer is {_quote(answer)}")


def check_contains(params: dict[str, Any], expected: str | float | None, answer: str) -> Grade:
    want = _reference_text(params.get("value", expected))
    fold = params.get("ignore_case", True)  # promptfoo's contains is case-sensitive: ignore_case false
    needle = normalize_strict(want, ignore_case=fold) or normalize(want, ignore_case=fold)
    pattern = re.escape(needle)
    # Match whole words and whole numbers: "4" is not in "14", "4.5" or "4,000"; "cat" is not in "category".
    if needle[:1].isalnum() or needle[:1] == "_":
        pattern = r"(?<![\w])(?<![\d][.,])" + pattern if needle[0].isdigit() else r"(?<!\w)" + pattern
    if needle[-1:].isalnum() or needle[-1:] == "_":
        pattern += r"(?![\w])(?![.,]\d)" if needle[-1].isdigit() else r"(?!\w)"
    if re.search(pattern, normalize(answer, ignore_case=fold)):
        return _pass("contains", f"expected {_quote(want)}, found it")
    if not answer.strip():
        return _fail("contains", f"expected {_quote(want)}, the answer is empty")
    return _fail("contains", f"expected {_quote(want)}, not found in {_quote(answer)}")


def check_regex(params: dict[str, Any], expected: str | float | None, answer: str) -> Grade:
    pattern = params.get("pattern")
    if pattern is None:
        pattern = _reference_text(expected)
    flags = re.MULTILINE
    for letter in params.get("flags", ""):
        flags |= REGEX_FLAGS[letter]
    match = re.search(pattern, answer, flags)
    if match:
        return _pass("regex", f"pattern /{pattern}/ matched {_quote(match.group(0))}")
    return _fail("regex", f"pattern /{pattern}/ did not match {_quote(answer)}")


def check_numeric(params: dict[str, Any], expected: str | float | None, answer: str) -> Grade:
    reference = params.get("value", expected)
    want = reference if isinstance(reference, (int, float)) else parse_number(str(reference))
    if want is None:
        return _fail("numeric", f"the reference {_quote(str(reference))} is not a number")
    tolerance = params.get("tolerance", DEFAULT_TOLERANCE)
    relative = params.get("relative", 0.0)
    which = params.get("which", "last")
    shown_want = _format_number(want)
    within = f" (within {_format_number(tolerance)})" if tolerance != DEFAULT_TOLERANCE else ""
    if relative:
        within = f" (within {_format_number(relative * 100)}%)"

    def close(value: float) -> bool:
        return math.isclose(value, want, rel_tol=relative, abs_tol=tolerance)

    numbers = find_numbers(answer)
    if not numbers:
        return _fail("numeric", f"expected {shown_want}, the answer has no number")
    if which == "any":
        if any(close(value) for value in numbers):
            return _pass("numeric", f"expected {shown_want}{within}, found it in the answer")
        listed = ", ".join(_format_number(value) for value in numbers[:8])
        return _fail("numeric", f"expected {shown_want}{within}, the answer's numbers are {listed}")
    value = numbers[-1] if which == "last" else numbers[0]
    message = f"expected {shown_want}{within}, {which} number in the answer is {_format_number(value)}"
    return _pass("numeric", message) if close(value) else _fail("numeric", message)


CHECKS: dict[str, Callable[[dict[str, Any], str | float | None, str], Grade]] = {
    "exact": check_exact,
    "contains": check_contains,
    "regex": check_regex,
    "numeric": check_numeric,
}


def _pass(check: str, reason: str) -> Grade:
    return Grade(passed=True, score=1.0, reason=reason, check=check)


def _fail(check: str, reason: str) -> Grade:
    return Grade(passed=False, score=0.0, reason=reason, check=check)


def _reference_text(value: str | float | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else _format_number(value)


def _format_number(value: float) -> str:
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:.10g}"


def _quote(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "\u2026"
    return f'"{flat}"'
