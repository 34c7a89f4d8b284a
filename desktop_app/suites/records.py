"""Shared validation for every suite format: the header and case records, their checks, and the errors.

Each reader turns its file into plain records (dicts) with a line number; this module checks them
against one contract, so a case reads the same, and fails with the same words, from any format.
Mistakes are collected, so one load lists every one of them (file, line, field, how to fix).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from desktop_app.suites.limits import too_long
from desktop_app.suites.model import PLACEHOLDER, Case, Check, SuiteError, Unsupported, parse_number


@dataclass
class Source:
    """A suite file as read: where it is, how to name it in messages, its text, and the most tokens of
    context any model it is run on can be given (None: no limit checked)."""

    path: Path
    shown: str
    text: str
    max_prompt_tokens: int | None = None

    def relative(self, reference: str) -> tuple[Path, str]:
        """A file the suite refers to (relative to the suite's folder), and how to name it."""
        target = Path(reference).expanduser()
        if target.is_absolute():
            return target, str(target)
        return self.path.parent / target, str(Path(self.shown).parent / target)


@dataclass
class Parsed:
    """What a reader found: the header (if the format has one), the cases, and what it skipped."""

    header: Header | None
    cases: list[Case]
    unsupported: list[Unsupported] = field(default_factory=list)
    # Other files the suite is made of (promptfoo prompt and test files): part of its version.
    extra_files: list[tuple[str, bytes]] = field(default_factory=list)


class Problems:
    """The mistakes found in a file so far; `raise_any` reports all of them at once."""

    def __init__(self, shown: str):
        self.shown = shown
        self.errors: list[SuiteError] = []

    def error(self, line: int | None, field_name: str | None, problem: str, *, path: str | None = None) -> SuiteError:
        path = path or self.shown
        where = (f"{path} line {line}" if line is not None else path) + (f', field "{field_name}"' if field_name else "")
        return SuiteError(f"{where}: {problem}", path=path, line=line, field=field_name)

    def add(self, line: int | None, field_name: str | None, problem: str, *, path: str | None = None) -> None:
        self.errors.append(self.error(line, field_name, problem, path=path))

    def raise_any(self) -> None:
        if self.errors:  # in file order: this file's first, then the files it refers to; each once
            unique = list({str(error): error for error in self.errors}.values())
            ordered = sorted(unique, key=lambda error: (error.path != self.shown, error.path, error.line or 0))
            raise SuiteError.combine(ordered, self.shown)

    def __len__(self) -> int:
        return len(self.errors)


# --- words used in messages -----------------------------------------------------------------------

def format_number(value: float) -> str:
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:.15g}"


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {format_number(value)}"
    if isinstance(value, str):
        return f"the text {json.dumps(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"the value {value} ({type(value).__name__}; quote it to make it text)"


def closest_hint(name: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    prefix = f'did you mean "{close[0]}"? ' if close else ""
    return f"{prefix}known: {', '.join(choices)}"


def unknown_field_hint(name: str, choices: tuple[str, ...] | list[str]) -> str:
    return f"unknown field; {closest_hint(name, choices)}"


def text_of(value: Any) -> str:
    """A variable's value as text: numbers as written, true/false in lower case, lists and objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, default=str)


# --- the records, validated by pydantic; each validator says what is wrong in plain words ----------

def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be text, got {json_kind(value)}")
    return value if value.strip() else None


def _case_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be non-empty text, got {json_kind(value)}")
    return value.strip()


def _prompt(value: Any) -> str:
    if value is None:
        raise ValueError(MISSING["prompt"])
    if not isinstance(value, str):
        raise ValueError(f"must be text, got {json_kind(value)}")
    if not value.strip():
        raise ValueError("empty; every case needs a non-empty prompt")
    return value


def _variables(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f'must be an object of names to values, e.g. {{"city": "Paris"}}, got {json_kind(value)}')
    variables: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ValueError(f'the value of "{name}" must be text or a number, got {json_kind(item)}')
        variables[str(name).strip()] = text_of(item)
    return variables


def _expected(value: Any) -> str | int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"must be text or a number, got {json_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if isinstance(value, str) and not value.strip():
        raise ValueError("empty; give the reference answer or remove the field")
    return value


def _check_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f'must be a list, e.g. ["contains"] or [{{"type": "regex", "pattern": "..."}}], got {json_kind(value)}')
    return value


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(tag, str) and tag.strip() for tag in value):
        raise ValueError('must be a list of non-empty text, e.g. ["math", "easy"]')
    return tuple(dict.fromkeys(tag.strip() for tag in value))


def _max_tokens(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        shown = json.dumps(value) if isinstance(value, (int, float, str)) else json_kind(value)
        raise ValueError(f"must be a whole number of at least 1, got {shown}")
    return value


def _fraction(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"must be a number from 0 to 1, e.g. 0.8, got {json_kind(value)}")
    return float(value)


def _header_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be non-empty text, got {json_kind(value)}")
    return value.strip()


def _version(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    return _header_text(value)


class CaseRecord(BaseModel):
    """One case as any format spells it."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str | None, BeforeValidator(_case_id)] = None
    prompt: Annotated[str, BeforeValidator(_prompt)]
    system: Annotated[str | None, BeforeValidator(_optional_text)] = None
    vars: Annotated[dict[str, str] | None, BeforeValidator(_variables)] = None
    expected: Annotated[str | int | float | None, BeforeValidator(_expected)] = None
    checks: Annotated[list[Any], BeforeValidator(_check_list)] = []
    tags: Annotated[tuple[str, ...], BeforeValidator(_tags)] = ()
    max_tokens: Annotated[int | None, BeforeValidator(_max_tokens)] = None
    rubric: Annotated[str | None, BeforeValidator(_optional_text)] = None
    threshold: Annotated[float | None, BeforeValidator(_fraction)] = None


class Header(BaseModel):
    """What a suite says about itself and how its answers are graded."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, BeforeValidator(_header_text)] = None
    version: Annotated[str | None, BeforeValidator(_version)] = None
    description: Annotated[str | None, BeforeValidator(_header_text)] = None
    system: Annotated[str | None, BeforeValidator(_header_text)] = None  # default for cases without one
    judge: Annotated[str | None, BeforeValidator(_header_text)] = None  # a model, as `run --model` takes it
    reference: Annotated[str | None, BeforeValidator(_header_text)] = None  # a model whose answers are the reference
    rubric: Annotated[str | None, BeforeValidator(_header_text)] = None
    threshold: Annotated[float | None, BeforeValidator(_fraction)] = None


CASE_FIELDS = tuple(CaseRecord.model_fields)
HEADER_FIELDS = tuple(Header.model_fields)
MISSING = {"prompt": "missing; every case needs a non-empty prompt"}


def validate_record(model: type[BaseModel], record: dict[str, Any],
                    prefix: str = "") -> tuple[Any, list[tuple[str, str]]]:
    """The record as `model`, or None and each (field, problem) found; unknown fields come first."""
    try:
        return model.model_validate(record), []
    except ValidationError as error:
        known = tuple(model.model_fields)
        unknown: list[tuple[str, str]] = []
        others: list[tuple[str, str]] = []
        missing: list[str] = []
        for item in error.errors(include_url=False):
            name = ".".join(str(part) for part in item["loc"])
            if item["type"] == "extra_forbidden":
                unknown.append((prefix + name, unknown_field_hint(name, known)))
            elif item["type"] == "missing":
                missing.append(name)
                others.append((prefix + name, MISSING.get(name, "missing")))
            elif item["type"] == "value_error":
                others.append((prefix + name, str(item["ctx"]["error"])))
            else:
                others.append((prefix + name, item["msg"]))
        # A misspelt field ("promt") and the field it misses ("prompt") are one mistake: say it once.
        for name, _ in unknown:
            close = difflib.get_close_matches(name[len(prefix):], missing, n=1)
            if close:
                others = [(f, p) for f, p in others if f != prefix + close[0]]
        return None, unknown + others


# --- cases ----------------------------------------------------------------------------------------

class CaseBuilder:
    """Turns records from any format into Cases under one set of rules, ids unique across the suite."""

    def __init__(self, problems: Problems, *, variables_from: str = "vars", max_prompt_tokens: int | None = None):
        self.problems = problems
        self.variables_from = variables_from  # "vars" or "column": where a missing placeholder's value goes
        self.max_prompt_tokens = max_prompt_tokens  # a prompt that cannot fit this many tokens is a mistake
        self.seen_ids: dict[str, int] = {}

    def case(self, record: dict[str, Any], line: int, ordinal: int, *,
             field_lines: dict[str, int] | None = None) -> Case | None:
        """The case, or None when it has mistakes (each one added to the problems)."""
        lines = field_lines or {}

        def fail(field_name: str | None, problem: str) -> None:
            self.problems.add(lines.get((field_name or "").split(".")[0], line), field_name, problem)

        valid, found = validate_record(CaseRecord, record)
        for field_name, problem in found:
            fail(field_name, problem)
        if valid is None:
            return None
        before = len(self.problems)
        case_id = valid.id or f"case-{ordinal}"
        if case_id in self.seen_ids:
            fail("id", f'duplicate id "{case_id}" (first used on line {self.seen_ids[case_id]}); give each case its own id')
        else:
            self.seen_ids[case_id] = line

        prompt, system = valid.prompt, valid.system
        if valid.vars is not None:
            prompt = self.render(prompt, valid.vars, fail, "prompt")
            if system is not None:
                system = self.render(system, valid.vars, fail, "system")

        if (problem := too_long(prompt, system, self.max_prompt_tokens)) is not None:
            fail("prompt", problem)
        if "checks" in valid.model_fields_set:
            checks = self.checks(valid.checks, valid.expected, lambda problem: fail("checks", problem))
        elif valid.expected is not None:
            checks = default_checks(valid.expected)
        else:
            checks = ()
        if len(self.problems) > before:
            return None
        return Case(id=case_id, prompt=prompt, system=system, expected=valid.expected, checks=checks,
                    tags=valid.tags, max_tokens=valid.max_tokens, line=line, rubric=valid.rubric,
                    threshold=valid.threshold, vars=dict(valid.vars or {}))

    def render(self, template: str, variables: dict[str, str], fail: Any, field_name: str) -> str:
        """`{name}` placeholders filled from the variables; `{{` and `}}` are literal braces."""

        def substitute(match: re.Match[str]) -> str:
            token = match.group(0)
            if token in ("{{", "}}"):
                return token[0]
            name = match.group(1).strip()
            if name in variables:
                return variables[name]
            close = difflib.get_close_matches(name, list(variables), n=1)
            hint = f"did you mean {{{close[0]}}}? " if close else ""
            source = f'add a "{name}" column' if self.variables_from == "column" else f'add "{name}" to vars'
            fail(field_name, f"placeholder {{{name}}} has no value; {hint}{source}, or write {{{{{name}}}}} for literal braces")
            return token

        return PLACEHOLDER.sub(substitute, template)

    @staticmethod
    def checks(items: list[Any], expected: str | float | None, fail: Any) -> tuple[Check, ...]:
        """Each check validated; `fail(problem)` is called for each bad one."""
        checks = []
        for position, item in enumerate(items, 1):
            try:
                checks.append(check_from_spec(item, expected, f"check {position}"))
            except ValueError as error:
                fail(str(error))
        return tuple(checks)


def default_checks(expected: str | float | None) -> tuple[Check, ...]:
    """A case with an expected answer and no checks: numeric for a number, else contains."""
    if expected is None:
        return ()
    numeric = not isinstance(expected, str) or parse_number(expected) is not None
    return (Check("numeric" if numeric else "contains"),)


def check_from_spec(item: Any, expected: str | float | None, label: str) -> Check:
    """A check as a suite writes it ("contains" or {"type": ..., params}), validated by its scorer.

    Raises ValueError naming the check (`label`, e.g. "check 2") and what to fix.
    """
    from desktop_app.scoring import registry  # scoring imports this package's Case and Check

    if not isinstance(item, (str, dict)):
        raise ValueError(f'{label} must be a check name or an object like {{"type": "regex", "pattern": "..."}}, '
                         f"got {json_kind(item)}")
    check_type = item if isinstance(item, str) else item.get("type")
    if not isinstance(check_type, str) or not check_type.strip():
        raise ValueError(f'{label} has no "type"; use one of {", ".join(registry.CHECK_TYPES)}')
    try:
        return registry.validate_check(item, expected)
    except ValueError as error:
        named = f" ({check_type})" if check_type in registry.CHECK_TYPES and check_type not in label.split() else ""
        raise ValueError(f"{label}{named}: {error}") from None


def case_from_record(record: dict[str, Any], line: int = 0, ordinal: int = 1, shown: str = "case") -> Case:
    """One case validated on its own (the app's case editor); raises its first mistake as a SuiteError."""
    problems = Problems(shown)
    case = CaseBuilder(problems).case(record, line, ordinal)
    if case is None:
        raise problems.errors[0]
    return case


def header_from(body: dict[str, Any], line: int, problems: Problems, *, prefix: str = "",
                field_lines: dict[str, int] | None = None) -> Header | None:
    """The suite's header fields; None (mistakes added) when one is wrong. Empty values count as absent."""
    body = {key: value for key, value in body.items() if value is not None}
    header, found = validate_record(Header, body, prefix)
    for field_name, problem in found:
        at = (field_lines or {}).get(field_name[len(prefix):].split(".")[0], line)
        problems.add(at, field_name, problem)
    return header
