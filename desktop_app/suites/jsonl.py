"""JSON Lines suites: an optional {"suite": {...}} header line, then one case object a line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from desktop_app.suites.records import (CaseBuilder, Header, Parsed, Problems, Source, header_from, json_kind)


def json_records(source: Source, problems: Problems) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, object) for each JSON object line; comments (// or #) and blank lines are skipped."""
    for index, raw_line in enumerate(source.text.split("\n")):
        line = index + 1
        stripped = raw_line.strip()
        if not stripped or stripped.startswith(("//", "#")):
            continue
        try:
            record = json.loads(stripped, parse_constant=_reject_constant)
        except ValueError as error:
            problems.add(line, None, _json_problem(raw_line, error))
            continue
        if not isinstance(record, dict):
            problems.add(line, None, f"expected a JSON object per line, got {json_kind(record)}; "
                                     'write each case as {"id": ..., "prompt": ...} on its own line')
            continue
        yield line, record


def read_header_line(record: dict[str, Any], line: int, problems: Problems) -> Header | None:
    """The {"suite": {...}} line's fields."""
    extra = [key for key in record if key != "suite"]
    if extra:
        problems.add(line, extra[0], 'the header line holds only {"suite": {...}}; move other fields into it or remove them')
        return None
    body = record["suite"]
    if not isinstance(body, dict):
        problems.add(line, "suite", f'must be an object like {{"name": "...", "version": "1"}}, got {json_kind(body)}')
        return None
    return header_from(body, line, problems, prefix="suite.")


def read_jsonl(source: Source) -> Parsed:
    problems = Problems(source.shown)
    builder = CaseBuilder(problems, max_prompt_tokens=source.max_prompt_tokens)
    header: Header | None = None
    cases = []
    ordinal = 0
    for line, record in json_records(source, problems):
        if "suite" in record:
            if ordinal or header is not None:
                problems.add(line, "suite", "the suite header must be the first line of the file; move it to the top")
            else:
                header = read_header_line(record, line, problems) or Header()
            continue
        ordinal += 1
        case = builder.case(record, line, ordinal)
        if case is not None:
            cases.append(case)
    problems.raise_any()
    return Parsed(header, cases)


def _json_problem(raw_line: str, error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        # JSON's column counts from the stripped line; report it against the line as written.
        indent = len(raw_line) - len(raw_line.lstrip())
        detail = f"invalid JSON at column {error.colno + indent}: {error.msg}"
    else:
        detail = f"invalid JSON: {error}"
    if raw_line.rstrip().endswith("}"):
        fix = "fix the JSON syntax (text in double quotes, no trailing commas)"
    else:
        fix = "each line must be one complete JSON object (a case cannot span several lines)"
    return f"{detail}; {fix}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON value; write a finite number")
