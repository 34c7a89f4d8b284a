"""Load and validate prompt suites (JSONL or CSV) into immutable, versioned Suite objects."""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from desktop_app.errors import UserError

SUPPORTED_EXTENSIONS = (".jsonl", ".csv")
CASE_FIELDS = ("id", "prompt", "system", "vars", "expected", "checks", "tags", "max_tokens")
HEADER_FIELDS = ("name", "version", "description", "system")  # system: default for cases without one
CSV_COLUMNS = ("id", "prompt", "system", "expected", "checks", "tags", "max_tokens")

# Each check type with the parameters it accepts. A check that needs a reference value takes it
# from its own parameter (`value` or `pattern`) or, failing that, from the case's `expected`.
CHECK_PARAMS: dict[str, tuple[str, ...]] = {
    "exact": ("value",),
    "contains": ("value",),
    "regex": ("pattern", "flags"),
    "numeric": ("value", "tolerance", "relative", "which"),
}
CHECK_TYPES = tuple(CHECK_PARAMS)
REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
NUMERIC_WHICH = ("last", "first", "any")

# A number as people and models write it: "42", "-3.5", "1,234.5", ".5", "1e3", "−7" (Unicode minus).
# It must not start right after a letter, digit or dot, so "v1.2" and "H2O" hold no numbers.
_NUMBER_BODY = r"(?:\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
NUMBER_PATTERN = re.compile(r"(?<![\w.])[-+\u2212]?" + _NUMBER_BODY)
_WHOLE_NUMBER = re.compile(r"[-+\u2212]?" + _NUMBER_BODY)

# `{name}` placeholders; anything else in braces (JSON, code) is not one and stays as written.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\s*[^\W\d][\w .-]*?\s*)\}")


def parse_number(text: str) -> float | None:
    """The number a whole string spells ("1,234.5", "-3", "1e3"), or None if it is not one."""
    stripped = text.strip()
    if not _WHOLE_NUMBER.fullmatch(stripped):
        return None
    value = float(stripped.replace(",", "").replace("\u2212", "-"))
    return value if math.isfinite(value) else None


class SuiteError(UserError):
    """A suite file that cannot be loaded; the message names the file, line and field and the fix."""

    def __init__(self, message: str, *, path: str, line: int | None = None, field: str | None = None):
        super().__init__(message)
        self.path = path
        self.line = line
        self.field = field


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
        )


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    description: str | None
    cases: tuple[Case, ...]
    source_path: str
    content_hash: str  # sha256 hex of the file's bytes

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
        )


def load_suite(path: str | Path) -> Suite:
    """Read a .jsonl or .csv suite; returns the whole suite or raises SuiteError, never half of one."""
    path = Path(path)
    shown = str(path)
    raw = _read_bytes(path, shown)
    text = _decode(raw, shown)
    if not text.strip():
        raise SuiteError(
            f'{shown}: the file is empty; add at least one case, e.g. {{"id": "q1", "prompt": "...", "expected": "..."}}',
            path=shown,
        )
    content_hash = hashlib.sha256(raw).hexdigest()
    reader = _CaseReader(shown)
    if path.suffix.lower() == ".csv":
        header, cases = reader.read_csv(text)
    else:
        header, cases = reader.read_jsonl(text)
    if header.get("system"):
        cases = [case if case.system else replace(case, system=header["system"]) for case in cases]
    if not cases:
        raise SuiteError(f"{shown}: the suite has no cases; add at least one case with a prompt", path=shown)
    return Suite(
        name=header.get("name") or path.stem,
        version=header.get("version") or "sha-" + content_hash[:12],
        description=header.get("description"),
        cases=tuple(cases),
        source_path=str(path.resolve()),
        content_hash=content_hash,
    )


def _read_bytes(path: Path, shown: str) -> bytes:
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS)
        hint = f" (it holds {', '.join(inside[:5])})" if inside else ""
        raise SuiteError(f"{shown} is a folder, not a suite file; give the path of a .jsonl or .csv file{hint}", path=shown)
    if not path.exists():
        hint = ""
        if path.parent.is_dir():
            siblings = [p.name for p in path.parent.iterdir()]
            close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.75)
            if close:
                hint = f'; did you mean "{close[0]}"?'
        raise SuiteError(f"{shown}: no such suite file; check the path{hint}", path=shown)
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        suffix = path.suffix or "(no extension)"
        raise SuiteError(
            f"{shown}: unsupported suite format {suffix}; save it as .jsonl (one JSON object per line) "
            "or .csv (a header row with id, prompt, expected, ...)",
            path=shown,
        )
    try:
        return path.read_bytes()
    except OSError as error:
        raise SuiteError(
            f"{shown}: cannot read the file ({error.strerror or error}); check that it exists and you may read it",
            path=shown,
        ) from error


def _decode(raw: bytes, shown: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise SuiteError(
            f"{shown} line {line}: byte 0x{raw[error.start]:02x} at column {column} is not UTF-8 text; "
            "save the file with UTF-8 encoding",
            path=shown,
            line=line,
        ) from error


class _CaseReader:
    """Validates raw records from either format into Cases, tracking ids across the file."""

    def __init__(self, shown: str):
        self.shown = shown
        self.seen_ids: dict[str, int] = {}

    def fail(self, line: int, field_name: str | None, problem: str) -> SuiteError:
        where = f'{self.shown} line {line}' + (f', field "{field_name}"' if field_name else "")
        return SuiteError(f"{where}: {problem}", path=self.shown, line=line, field=field_name)

    # --- JSONL -------------------------------------------------------------------------------

    def read_jsonl(self, text: str) -> tuple[dict[str, str], list[Case]]:
        header: dict[str, str] = {}
        cases: list[Case] = []
        first_record = True
        for index, raw_line in enumerate(text.split("\n")):
            line_number = index + 1
            stripped = raw_line.strip()
            if not stripped or stripped.startswith(("//", "#")):
                continue
            try:
                record = json.loads(stripped, parse_constant=_reject_constant)
            except (json.JSONDecodeError, ValueError) as error:
                raise self._json_error(line_number, raw_line, error) from error
            if not isinstance(record, dict):
                raise self.fail(
                    line_number, None,
                    f"expected a JSON object per line, got {_json_kind(record)}; "
                    'write each case as {"id": ..., "prompt": ...} on its own line',
                )
            if first_record and "suite" in record:
                header = self._header(record, line_number)
            else:
                if "suite" in record:
                    raise self.fail(
                        line_number, "suite",
                        "the suite header must be the first line of the file; move it to the top",
                    )
                cases.append(self._case(record, line_number, len(cases) + 1, csv_variables=False))
            first_record = False
        return header, cases

    def _json_error(self, line_number: int, raw_line: str, error: ValueError) -> SuiteError:
        if isinstance(error, json.JSONDecodeError):
            # JSON's column counts from the stripped line; report it against the line as written.
            indent = len(raw_line) - len(raw_line.lstrip())
            detail = f"invalid JSON at column {error.colno + indent}: {error.msg}"
        else:
            detail = f"invalid JSON: {error}"
        if raw_line.rstrip().endswith("}"):
            fix = 'fix the JSON syntax (text in double quotes, no trailing commas)'
        else:
            fix = "each line must be one complete JSON object (a case cannot span several lines)"
        return self.fail(line_number, None, f"{detail}; {fix}")

    def _header(self, record: dict[str, Any], line_number: int) -> dict[str, str]:
        extra = [key for key in record if key != "suite"]
        if extra:
            raise self.fail(line_number, extra[0], 'the header line holds only {"suite": {...}}; move other fields into it or remove them')
        body = record["suite"]
        if not isinstance(body, dict):
            raise self.fail(line_number, "suite", f'must be an object like {{"name": "...", "version": "1"}}, got {_json_kind(body)}')
        header: dict[str, str] = {}
        for key, value in body.items():
            if key not in HEADER_FIELDS:
                raise self.fail(line_number, f"suite.{key}", _unknown_field_hint(key, HEADER_FIELDS))
            if key == "version" and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = _format_number(value)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise self.fail(line_number, f"suite.{key}", f"must be non-empty text, got {_json_kind(value)}")
            header[key] = value.strip()
        return header

    # --- CSV ---------------------------------------------------------------------------------

    def read_csv(self, text: str) -> tuple[dict[str, str], list[Case]]:
        first_line = text.split("\n", 1)[0]
        delimiter = ","
        if "," not in first_line:
            # Spreadsheets in some locales save with ";" or tabs; the header row tells which.
            delimiter = "\t" if "\t" in first_line else ";" if ";" in first_line else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            rows = [(row, reader.line_num) for row in reader]
        except csv.Error as error:
            raise self.fail(reader.line_num, None, f"malformed CSV ({error}); check the quotes on this line") from error
        header_index = next((i for i, (row, _) in enumerate(rows) if any(cell.strip() for cell in row)), None)
        if header_index is None:
            return {}, []
        header_row, header_line = rows[header_index]
        columns = self._csv_columns(header_row, header_line)
        cases: list[Case] = []
        previous_end = header_line
        for row, end_line in rows[header_index + 1:]:
            start_line = previous_end + 1
            previous_end = end_line
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(columns):
                raise self.fail(
                    start_line, None,
                    f"{len(row)} cells but the header has {len(columns)} columns; "
                    "quote cells that contain the separator, or add a column name to the header",
                )
            record: dict[str, Any] = {}
            variables: dict[str, str] = {}
            for (name, known), cell in zip(columns, row):
                if name is None:
                    if cell.strip():
                        raise self.fail(start_line, None, "a value sits under a column with no name; name that column in the header row")
                    continue
                if known:
                    if cell.strip():
                        record[name] = cell
                else:
                    variables[name] = cell
            if "prompt" in record:
                record["prompt"] = record["prompt"].strip()
            if variables:
                record["vars"] = variables
            for key in ("id", "system", "expected"):
                if key in record:
                    record[key] = record[key].strip()
            if "tags" in record:
                record["tags"] = [tag.strip() for tag in record["tags"].split(";") if tag.strip()]
            if "checks" in record:
                record["checks"] = self._csv_checks(record["checks"].strip(), start_line)
            if "max_tokens" in record:
                record["max_tokens"] = self._csv_int(record["max_tokens"], start_line)
            cases.append(self._case(record, start_line, len(cases) + 1, csv_variables=True))
        return {}, cases

    def _csv_columns(self, header_row: list[str], line: int) -> list[tuple[str | None, bool]]:
        columns: list[tuple[str | None, bool]] = []
        seen: set[str] = set()
        for cell in header_row:
            name = cell.strip()
            if not name:
                columns.append((None, False))
                continue
            known = name.lower() in CSV_COLUMNS
            key = name.lower() if known else name
            if key in seen:
                raise self.fail(line, name, "this column appears twice in the header row; keep one")
            seen.add(key)
            columns.append((key, known))
        if "prompt" not in seen:
            raise self.fail(
                line, "prompt",
                f"the header row has no prompt column; the first row must name the columns, e.g. {','.join(CSV_COLUMNS[:6])}",
            )
        return columns

    def _csv_checks(self, cell: str, line: int) -> list[Any]:
        if cell.startswith("["):
            try:
                value = json.loads(cell)
            except json.JSONDecodeError as error:
                raise self.fail(line, "checks", f"invalid JSON list at column {error.colno}: {error.msg}; write a JSON list or name:arg items separated by ;") from error
            if not isinstance(value, list):
                raise self.fail(line, "checks", "must be a JSON list")
            return value
        checks: list[Any] = []
        for item in (part.strip() for part in cell.split(";")):
            if not item:
                continue
            name, has_arg, arg = item.partition(":")
            name = name.strip().lower()
            if not has_arg:
                checks.append(name)
            elif name == "regex":
                checks.append({"type": name, "pattern": arg})
            elif name == "numeric":
                tolerance = parse_number(arg)
                if tolerance is None:
                    raise self.fail(line, "checks", f'"numeric:{arg}": the argument of numeric is its tolerance and must be a number, e.g. numeric:0.01')
                checks.append({"type": name, "tolerance": tolerance})
            else:
                checks.append({"type": name, "value": arg.strip()})
        return checks

    def _csv_int(self, cell: str, line: int) -> int:
        try:
            return int(cell.strip())
        except ValueError as error:
            raise self.fail(line, "max_tokens", f'"{cell.strip()}" is not a whole number; write e.g. 64') from error

    # --- shared validation -----------------------------------------------------------------------

    def _case(self, record: dict[str, Any], line: int, ordinal: int, *, csv_variables: bool) -> Case:
        for key in record:
            if key not in CASE_FIELDS:
                raise self.fail(line, key, _unknown_field_hint(key, CASE_FIELDS))

        case_id = record.get("id")
        if case_id is None:
            case_id = f"case-{ordinal}"
        elif isinstance(case_id, int) and not isinstance(case_id, bool):
            case_id = str(case_id)
        elif not isinstance(case_id, str) or not case_id.strip():
            raise self.fail(line, "id", f"must be non-empty text, got {_json_kind(case_id)}")
        case_id = case_id.strip()
        if case_id in self.seen_ids:
            raise self.fail(line, "id", f'duplicate id "{case_id}" (first used on line {self.seen_ids[case_id]}); give each case its own id')
        self.seen_ids[case_id] = line

        prompt = record.get("prompt")
        if prompt is None:
            raise self.fail(line, "prompt", "missing; every case needs a non-empty prompt")
        if not isinstance(prompt, str):
            raise self.fail(line, "prompt", f"must be text, got {_json_kind(prompt)}")
        if not prompt.strip():
            raise self.fail(line, "prompt", "empty; every case needs a non-empty prompt")

        system = record.get("system")
        if system is not None and not isinstance(system, str):
            raise self.fail(line, "system", f"must be text, got {_json_kind(system)}")
        system = system if system and system.strip() else None

        variables = self._variables(record.get("vars"), line)
        if variables is not None:
            prompt = self._render(prompt, variables, line, "prompt", csv_variables)
            if system is not None:
                system = self._render(system, variables, line, "system", csv_variables)

        expected = record.get("expected")
        if expected is not None:
            if isinstance(expected, bool) or not isinstance(expected, (str, int, float)):
                raise self.fail(line, "expected", f"must be text or a number, got {_json_kind(expected)}")
            if isinstance(expected, float) and not math.isfinite(expected):
                raise self.fail(line, "expected", "must be a finite number")
            if isinstance(expected, str) and not expected.strip():
                raise self.fail(line, "expected", "empty; give the reference answer or remove the field")

        if "checks" in record:
            checks = self._checks(record["checks"], expected, line)
        elif expected is not None:
            numeric = not isinstance(expected, str) or parse_number(expected) is not None
            checks = (Check("numeric" if numeric else "contains"),)
        else:
            checks = ()

        tags = record.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) and tag.strip() for tag in tags):
            raise self.fail(line, "tags", 'must be a list of non-empty text, e.g. ["math", "easy"]')
        tags = tuple(dict.fromkeys(tag.strip() for tag in tags))

        max_tokens = record.get("max_tokens")
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
            raise self.fail(line, "max_tokens", f"must be a whole number of at least 1, got {json.dumps(max_tokens)}")

        return Case(
            id=case_id, prompt=prompt, system=system, expected=expected, checks=checks,
            tags=tags, max_tokens=max_tokens, line=line,
        )

    def _variables(self, value: Any, line: int) -> dict[str, str] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(line, "vars", f'must be an object of names to values, e.g. {{"city": "Paris"}}, got {_json_kind(value)}')
        variables: dict[str, str] = {}
        for name, item in value.items():
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise self.fail(line, "vars", f'the value of "{name}" must be text or a number, got {_json_kind(item)}')
            variables[name.strip()] = item if isinstance(item, str) else _format_number(item)
        return variables

    def _render(self, template: str, variables: dict[str, str], line: int, field_name: str, csv_variables: bool) -> str:
        def substitute(match: re.Match[str]) -> str:
            token = match.group(0)
            if token == "{{":
                return "{"
            if token == "}}":
                return "}"
            name = match.group(1).strip()
            if name in variables:
                return variables[name]
            close = difflib.get_close_matches(name, list(variables), n=1)
            hint = f'did you mean {{{close[0]}}}? ' if close else ""
            source = f'add a "{name}" column' if csv_variables else f'add "{name}" to vars'
            raise self.fail(
                line, field_name,
                f"placeholder {{{name}}} has no value; {hint}{source}, or write {{{{{name}}}}} for literal braces",
            )

        return _PLACEHOLDER.sub(substitute, template)

    def _checks(self, value: Any, expected: str | float | None, line: int) -> tuple[Check, ...]:
        if not isinstance(value, list):
            raise self.fail(line, "checks", f'must be a list, e.g. ["contains"] or [{{"type": "regex", "pattern": "..."}}], got {_json_kind(value)}')
        return tuple(self._check(item, position, expected, line) for position, item in enumerate(value, 1))

    def _check(self, item: Any, position: int, expected: str | float | None, line: int) -> Check:
        label = f"check {position}"
        if isinstance(item, str):
            spec: dict[str, Any] = {"type": item}
        elif isinstance(item, dict):
            spec = dict(item)
        else:
            raise self.fail(line, "checks", f'{label} must be a check name or an object like {{"type": "regex", "pattern": "..."}}, got {_json_kind(item)}')
        check_type = spec.pop("type", None)
        if not isinstance(check_type, str) or not check_type:
            raise self.fail(line, "checks", f'{label} has no "type"; use one of {", ".join(CHECK_TYPES)}')
        if check_type not in CHECK_PARAMS:
            raise self.fail(line, "checks", f'{label}: unknown check type "{check_type}"; ' + _closest_hint(check_type, CHECK_TYPES))
        allowed = CHECK_PARAMS[check_type]
        for key in spec:
            if key not in allowed:
                raise self.fail(line, "checks", f'{label} ({check_type}): unknown parameter "{key}"; ' + _closest_hint(key, allowed))
        if check_type in ("exact", "contains"):
            self._check_reference(spec, "value", expected, check_type, label, line)
        elif check_type == "regex":
            self._check_regex(spec, expected, label, line)
        else:
            self._check_numeric(spec, expected, label, line)
        return Check(check_type, spec)

    def _check_reference(self, spec: dict[str, Any], key: str, expected: Any, check_type: str, label: str, line: int) -> Any:
        value = spec.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)) or (isinstance(value, str) and not value.strip()):
                raise self.fail(line, "checks", f'{label} ({check_type}): "{key}" must be non-empty text or a number')
            return value
        if expected is None:
            raise self.fail(
                line, "checks",
                f'{label} ({check_type}) needs a reference answer but the case has no "expected"; add "expected" or give the check a "{key}"',
            )
        return expected

    def _check_regex(self, spec: dict[str, Any], expected: Any, label: str, line: int) -> None:
        pattern = self._check_reference(spec, "pattern", expected, "regex", label, line)
        if not isinstance(pattern, str):
            pattern = _format_number(pattern)
        flags_text = spec.get("flags", "")
        if not isinstance(flags_text, str) or any(letter not in REGEX_FLAGS for letter in flags_text):
            raise self.fail(line, "checks", f'{label} (regex): "flags" must be letters from "{"".join(REGEX_FLAGS)}", e.g. "i" to ignore case')
        flags = 0
        for letter in flags_text:
            flags |= REGEX_FLAGS[letter]
        try:
            re.compile(pattern, flags)
        except re.error as error:
            raise self.fail(line, "checks", f"{label} (regex): invalid pattern {pattern!r}: {error}; fix the regular expression (escape special characters with \\)") from error

    def _check_numeric(self, spec: dict[str, Any], expected: Any, label: str, line: int) -> None:
        reference = self._check_reference(spec, "value", expected, "numeric", label, line)
        if isinstance(reference, str) and parse_number(reference) is None:
            raise self.fail(line, "checks", f'{label} (numeric) needs a number but the reference is "{reference}"; use "contains" or "exact" for text')
        for key in ("tolerance", "relative"):
            tolerance = spec.get(key)
            if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance >= 0):
                raise self.fail(line, "checks", f'{label} (numeric): "{key}" must be a number of at least 0, e.g. 0.01')
        which = spec.get("which")
        if which is not None and which not in NUMERIC_WHICH:
            raise self.fail(line, "checks", f'{label} (numeric): "which" must be one of {", ".join(NUMERIC_WHICH)}')


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON value; write a finite number")


def _format_number(value: float) -> str:
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:.15g}"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {_format_number(value)}"
    if isinstance(value, str):
        return f"the text {json.dumps(value)}"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _closest_hint(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    prefix = f'did you mean "{close[0]}"? ' if close else ""
    return f"{prefix}known: {', '.join(choices)}"


def _unknown_field_hint(name: str, choices: tuple[str, ...]) -> str:
    return f"unknown field; {_closest_hint(name, choices)}"


def suite_from_cases(name: str, cases: list[Case] | tuple[Case, ...], *, description: str | None = None,
                     version: str | None = None, source_path: str = "") -> Suite:
    """A suite built in memory (edited in the app, or one ad-hoc prompt), versioned by its content."""
    ids = [case.id for case in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SuiteError(f"case id {duplicates[0]!r} is used twice; give every case its own id",
                         path=source_path or name, field="id")
    for case in cases:
        if not case.prompt.strip():
            raise SuiteError(f'case {case.id!r}, field "prompt": missing; every case needs a non-empty prompt',
                             path=source_path or name, field="prompt")
    body = "\n".join(json.dumps(_case_record(c), sort_keys=True, ensure_ascii=False) for c in cases)
    content_hash = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return Suite(name=name, version=version or "sha-" + content_hash[:12], description=description,
                 cases=tuple(cases), source_path=source_path, content_hash=content_hash)


def adhoc_suite(prompt: str, system: str | None = None, name: str = "compare") -> Suite:
    """One prompt as a suite, so a side-by-side comparison is stored as a run like any other."""
    return suite_from_cases(name, [Case(id="prompt", prompt=prompt, system=system or None)])


def save_suite(suite: Suite, path: str | Path) -> Path:
    """Write a suite as JSONL (a header line, then one case a line); the file appears whole."""
    path = Path(path)
    header = {"suite": {k: v for k, v in (("name", suite.name), ("version", suite.version),
                                          ("description", suite.description)) if v}}
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps(_case_record(case), ensure_ascii=False) for case in suite.cases]
    partial = path.with_name(f".{path.name}.part")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


def _case_record(case: Case) -> dict[str, Any]:
    record: dict[str, Any] = {"id": case.id, "prompt": case.prompt}
    if case.system:
        record["system"] = case.system
    if case.expected is not None:
        record["expected"] = case.expected
    if case.checks:
        record["checks"] = [check.to_dict() for check in case.checks]
    if case.tags:
        record["tags"] = list(case.tags)
    if case.max_tokens:
        record["max_tokens"] = case.max_tokens
    return record
