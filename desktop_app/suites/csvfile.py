"""CSV suites: a header row naming the columns, then one case a row; other columns are variables."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from desktop_app.suites.model import parse_number
from desktop_app.suites.records import CaseBuilder, Parsed, Problems, Source

MAX_CELL_BYTES = 1 << 30
CSV_COLUMNS = ("id", "prompt", "system", "expected", "checks", "tags", "max_tokens", "rubric", "threshold")


def csv_rows(text: str, problems: Problems, path: str | None = None) -> list[tuple[list[str], int]]:
    """(cells, line the row starts on) of each row; the separator is a comma, semicolon or tab."""
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line else ";" if ";" in first_line else ","
    # The csv module refuses a cell over 128 KB as "malformed"; a long prompt is not, and its length is
    # judged against the models' context (limits.py), with a message that says so.
    if csv.field_size_limit() < MAX_CELL_BYTES:
        csv.field_size_limit(MAX_CELL_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[list[str], int]] = []
    previous_end = 0
    try:
        for row in reader:
            rows.append((row, previous_end + 1))
            previous_end = reader.line_num
    except csv.Error as error:
        problems.add(reader.line_num, None, f"malformed CSV ({error}); check the quotes on this line", path=path)
    return rows


def read_csv(source: Source) -> Parsed:
    problems = Problems(source.shown)
    builder = CaseBuilder(problems, variables_from="column", max_prompt_tokens=source.max_prompt_tokens)
    rows = [(row, line) for row, line in csv_rows(source.text, problems) if any(cell.strip() for cell in row)]
    if not rows:
        problems.raise_any()
        return Parsed(None, [])
    (header_row, header_line), body = rows[0], rows[1:]
    columns = _columns(header_row, header_line, problems)
    if all(name != "prompt" for name, _ in columns):  # no row can be read as a case: say what is wrong so far
        problems.raise_any()
    # Otherwise every row is read too, so one load lists every mistake (a quote left open included).
    cases = []
    for ordinal, (row, line) in enumerate(body, 1):
        record = _record(row, line, columns, problems)
        if record is not None:
            case = builder.case(record, line, ordinal)
            if case is not None:
                cases.append(case)
    problems.raise_any()
    return Parsed(None, cases)


def _columns(header_row: list[str], line: int, problems: Problems) -> list[tuple[str | None, bool]]:
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
            problems.add(line, name, "this column appears twice in the header row; keep one")
        seen.add(key)
        columns.append((key, known))
    if "prompt" not in seen:
        if any(name.startswith("__expected") for name in seen):
            problem = ("this is a promptfoo tests file (it has __expected columns and no prompt column); "
                       "run the promptfoo config that lists it under tests: file://...")
        else:
            problem = (f"the header row has no prompt column; the first row must name the columns, "
                       f"e.g. {','.join(CSV_COLUMNS[:6])}")
        problems.add(line, "prompt", problem)
    return columns


def _record(row: list[str], line: int, columns: list[tuple[str | None, bool]],
            problems: Problems) -> dict[str, Any] | None:
    before = len(problems)
    if len(row) > len(columns):
        problems.add(line, None, f"{len(row)} cells but the header has {len(columns)} columns; "
                                 "quote cells that contain the separator, or add a column name to the header")
        return None
    record: dict[str, Any] = {}
    variables: dict[str, str] = {}
    for (name, known), cell in zip(columns, row):
        if name is None:
            if cell.strip():
                problems.add(line, None, "a value sits under a column with no name; name that column in the header row")
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
    for key in ("id", "system", "expected", "rubric"):
        if key in record:
            record[key] = record[key].strip()
    if "tags" in record:
        record["tags"] = [tag.strip() for tag in record["tags"].split(";") if tag.strip()]
    if "checks" in record:
        try:
            record["checks"] = parse_checks_text(record["checks"].strip())
        except ValueError as error:
            problems.add(line, "checks", str(error))
    if "max_tokens" in record:
        try:
            record["max_tokens"] = int(record["max_tokens"].strip())
        except ValueError:
            problems.add(line, "max_tokens", f'"{record["max_tokens"].strip()}" is not a whole number; write e.g. 64')
    if "threshold" in record:
        number = parse_number(record["threshold"])
        if number is None:
            problems.add(line, "threshold", f'"{record["threshold"].strip()}" is not a number; write e.g. 0.8')
        record["threshold"] = number
    return record if len(problems) == before else None


def parse_checks_text(cell: str) -> list[Any]:
    """A checks cell: a JSON list, or `name` and `name:argument` items separated by ";".

    The argument is a regex's pattern, numeric's tolerance, a judge's rubric, else the check's value.
    Raises ValueError with what to write instead.
    """
    if cell.startswith("["):
        try:
            value = json.loads(cell)
        except json.JSONDecodeError as error:
            raise ValueError(f"invalid JSON list at column {error.colno}: {error.msg}; "
                             "write a JSON list or name:arg items separated by ;") from error
        if not isinstance(value, list):
            raise ValueError("must be a JSON list")
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
                raise ValueError(f'"numeric:{arg}": the argument of numeric is its tolerance and must be a number, '
                                 "e.g. numeric:0.01")
            checks.append({"type": name, "tolerance": tolerance})
        elif name == "judge":
            checks.append({"type": name, "rubric": arg.strip()})
        else:
            checks.append({"type": name, "value": arg.strip()})
    return checks
