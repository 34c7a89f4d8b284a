"""The one Suite contract every reader produces: immutable cases, checks, skipped parts, and errors."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from desktop_app.errors import UserError

# A number as people and models write it: "42", "-3.5", "1,234.5", ".5", "1e3", "−7" (Unicode minus).
# It must not start right after a letter, digit or dot, so "v1.2" and "H2O" hold no numbers.
_NUMBER_BODY = r"(?:\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
NUMBER_PATTERN = re.compile(r"(?<![\w.])[-+\u2212]?" + _NUMBER_BODY)
_WHOLE_NUMBER = re.compile(r"[-+\u2212]?" + _NUMBER_BODY)

REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}

# `{name}` placeholders; anything else in braces (JSON, code) is not one and stays as written.
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\s*[^\W\d][\w .-]*?\s*)\}")

MAX_LISTED_PROBLEMS = 20  # a file with more mistakes lists this many, then says how many more


def placeholder_names(*texts: str) -> list[str]:
    """The `{name}` placeholders in the texts, each once, in order of appearance (`{{` is a literal brace)."""
    names: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            if match.group(1):
                names.setdefault(match.group(1).strip())
    return list(names)


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """The text with each placeholder replaced by its value and `{{`, `}}` by single braces, as a suite's
    vars fill a case's prompt; every placeholder must have a value (see placeholder_names)."""

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return values[match.group(1).strip()]

    return PLACEHOLDER.sub(substitute, text)


def parse_number(text: str) -> float | None:
    """The number a whole string spells ("1,234.5", "-3", "1e3"), or None if it is not one."""
    stripped = text.strip()
    if not _WHOLE_NUMBER.fullmatch(stripped):
        return None
    value = float(stripped.replace(",", "").replace("\u2212", "-"))
    return value if math.isfinite(value) else None


class SuiteError(UserError):
    """A suite file that cannot be loaded; the message names the file, line and field and the fix.

    When a file has several mistakes, one SuiteError lists them all: `problems` holds each, and
    `line` and `field` are the first one's.
    """

    def __init__(self, message: str, *, path: str, line: int | None = None, field: str | None = None):
        super().__init__(message)
        self.path = path
        self.line = line
        self.field = field
        self.problems: tuple[SuiteError, ...] = (self,)

    @classmethod
    def combine(cls, errors: list[SuiteError], shown: str) -> SuiteError:
        if len(errors) == 1:
            return errors[0]
        listed = "\n".join(f"  {error}" for error in errors[:MAX_LISTED_PROBLEMS])
        more = len(errors) - MAX_LISTED_PROBLEMS
        if more > 0:
            listed += f"\n  ... and {more} more"
        first = errors[0]
        combined = cls(f"{shown}: {len(errors)} problems; fix each of them:\n{listed}",
                       path=first.path, line=first.line, field=first.field)
        combined.problems = tuple(errors)
        return combined


@dataclass(frozen=True)
class Check:
    type: str
    # Not part of the hash so that Case and Suite stay hashable; equality still compares params.
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        params = {key: value for key, value in data.items() if key != "type"}
        return cls(type=data["type"], params=params)


@dataclass(frozen=True)
class Case:
    id: str
    prompt: str  # already rendered with the case's variables
    system: str | None = None
    expected: str | float | None = None  # a JSON integer stays an int, so it prints as written
    checks: tuple[Check, ...] = ()
    tags: tuple[str, ...] = ()
    max_tokens: int | None = None
    line: int = 0  # where the case starts in its file, 1-based
    rubric: str | None = None  # what a judge grades this case's answers against (else the suite's)
    threshold: float | None = None  # pass when the weighted score reaches it (else: every check passes)
    # The variables the prompt was rendered with, as text (shown beside a case; not sent to models).
    vars: dict[str, str] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "system": self.system,
            "expected": self.expected,
            "checks": [check.to_dict() for check in self.checks],
            "tags": list(self.tags),
            "max_tokens": self.max_tokens,
            "line": self.line,
            "rubric": self.rubric,
            "threshold": self.threshold,
            "vars": dict(self.vars),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Case:
        return cls(
            id=data["id"],
            prompt=data["prompt"],
            system=data.get("system"),
            expected=data.get("expected"),
            checks=tuple(Check.from_dict(item) for item in data.get("checks") or ()),
            tags=tuple(data.get("tags") or ()),
            max_tokens=data.get("max_tokens"),
            line=data.get("line", 0),
            rubric=data.get("rubric"),
            threshold=data.get("threshold"),
            vars=dict(data.get("vars") or {}),
        )


@dataclass(frozen=True)
class Unsupported:
    """A part of an imported suite file that ModelScout skipped (e.g. a promptfoo javascript assertion)."""

    path: str
    line: int | None
    kind: str  # e.g. "assertion javascript", "transform"
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.kind} is not supported and was skipped" + (f" ({self.detail})" if self.detail else "")

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    description: str | None
    cases: tuple[Case, ...]
    source_path: str
    content_hash: str  # sha256 hex of the file's bytes (and of the files it refers to, if any)
    judge: str | None = None  # a model (as `run --model` takes it) that grades answers with the rubric
    reference: str | None = None  # a model whose answers are the reference where a case has no expected
    rubric: str | None = None  # what the judge grades against, for cases without their own
    threshold: float | None = None  # default pass threshold of the cases' weighted scores
    unsupported: tuple[Unsupported, ...] = ()  # parts of an imported file that were skipped

    def case(self, case_id: str) -> Case:
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(case_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "source_path": self.source_path,
            "content_hash": self.content_hash,
            "judge": self.judge,
            "reference": self.reference,
            "rubric": self.rubric,
            "threshold": self.threshold,
            "unsupported": [u.to_dict() for u in self.unsupported],
            "cases": [case.to_dict() for case in self.cases],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Suite:
        return cls(
            name=data["name"],
            version=data["version"],
            description=data.get("description"),
            cases=tuple(Case.from_dict(item) for item in data["cases"]),
            source_path=data.get("source_path", ""),
            content_hash=data.get("content_hash", ""),
            judge=data.get("judge"),
            reference=data.get("reference"),
            rubric=data.get("rubric"),
            threshold=data.get("threshold"),
            unsupported=tuple(Unsupported(**u) for u in data.get("unsupported") or ()),
        )


def unsupported_lines(items: tuple[Unsupported, ...] | list[Unsupported], limit: int = 30) -> list[str]:
    """Each skipped part on a line, at most `limit`, then a count of the rest by kind (for stderr and the app)."""
    lines = [str(item) for item in items[:limit]]
    rest = items[limit:]
    if rest:
        counts: dict[str, int] = {}
        for item in rest:
            counts[item.kind] = counts.get(item.kind, 0) + 1
        lines.append(f"... and {len(rest)} more: " + ", ".join(f"{kind} x{count}" for kind, count in counts.items()))
    return lines
