"""Load a suite file of any supported format into one immutable, versioned Suite; save suites as JSONL.

Formats, each read by its own module behind the one Suite contract (suites/model.py):
  .jsonl  ModelScout cases (jsonl.py), or OpenAI evals samples with `input` and `ideal` (openai_evals.py)
  .csv    a header row, then one case a row (csvfile.py)
  .yaml   ModelScout cases under `cases:` (yamlfile.py), or a promptfoo config with `prompts` (promptfoo.py)
  .json   a promptfoo config
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from desktop_app.suites.csvfile import CSV_COLUMNS, read_csv
from desktop_app.suites.jsonl import read_jsonl
from desktop_app.suites.model import (NUMBER_PATTERN, REGEX_FLAGS, Case, Check, Suite, SuiteError,
                                      Unsupported, parse_number)
from desktop_app.suites.openai_evals import looks_like_evals, read_evals
from desktop_app.suites.promptfoo import looks_like_promptfoo, read_promptfoo
from desktop_app.suites.records import CASE_FIELDS, HEADER_FIELDS, Parsed, Problems, Source
from desktop_app.suites.yamlfile import load_json, load_yaml, read_yaml_suite

__all__ = ["CASE_FIELDS", "CHECK_TYPES", "CSV_COLUMNS", "HEADER_FIELDS", "NUMBER_PATTERN", "NUMERIC_WHICH",
           "REGEX_FLAGS", "SUPPORTED_EXTENSIONS", "Case", "Check", "Suite", "SuiteError", "Unsupported",
           "adhoc_suite", "load_suite", "parse_number", "save_suite", "suite_from_cases"]

SUPPORTED_EXTENSIONS = (".jsonl", ".csv", ".yaml", ".yml", ".json")
# The checks that compare an answer with a reference (the short `name:arg` form knows them); every
# check type, with its parameters, is in scoring.registry.
CHECK_TYPES = ("exact", "contains", "regex", "numeric")
NUMERIC_WHICH = ("last", "first", "any")

_FORMATS_HINT = (".jsonl (one JSON object per line), .csv (a header row with id, prompt, expected, ...), "
                 ".yaml (cases: a list of cases), or a promptfoo config (.yaml or .json with prompts and tests)")


def load_suite(path: str | Path, *, max_prompt_tokens: int | None = None) -> Suite:
    """Read a suite file of any supported format; returns the whole suite or raises SuiteError, never half of one.

    With `max_prompt_tokens` (the largest context a model it runs on is given: runner.specs.largest_context),
    a case whose prompt certainly cannot fit is one of the mistakes reported, with its line.
    """
    path = Path(path)
    shown = str(path)
    raw = _read_bytes(path, shown)
    text = _decode(raw, shown)
    if not text.strip():
        raise SuiteError(
            f'{shown}: the file is empty; add at least one case, e.g. {{"id": "q1", "prompt": "...", "expected": "..."}}',
            path=shown,
        )
    parsed = _read(Source(path, shown, text, max_prompt_tokens))
    header = parsed.header
    cases = parsed.cases
    if header is not None and header.system:
        cases = [case if case.system else _with_system(case, header.system) for case in cases]
    if not cases:
        raise SuiteError(f"{shown}: the suite has no cases; add at least one case with a prompt", path=shown)
    content_hash = _content_hash(raw, list(dict.fromkeys(parsed.extra_files)))
    return Suite(
        name=(header and header.name) or path.stem,
        version=(header and header.version) or "sha-" + content_hash[:12],
        description=header and header.description,
        cases=tuple(cases),
        source_path=str(path.resolve()),
        content_hash=content_hash,
        judge=header and header.judge,
        reference=header and header.reference,
        rubric=header and header.rubric,
        threshold=header and header.threshold,
        unsupported=tuple(dict.fromkeys(parsed.unsupported)),
    )


def _read(source: Source) -> Parsed:
    """The format's reader, chosen by the file's extension and, where two formats share one, its content."""
    suffix = source.path.suffix.lower()
    if suffix == ".csv":
        return read_csv(source)
    if suffix == ".jsonl":
        return read_evals(source) if looks_like_evals(source.text) else read_jsonl(source)
    problems = Problems(source.shown)  # a key written twice is reported with the reader's findings
    if suffix == ".json":
        document = load_json(source.text, source.shown, problems)
    else:
        document = load_yaml(source.text, source.shown, problems)  # line numbers are kept
    if looks_like_promptfoo(document):
        return read_promptfoo(document, source, problems)
    if suffix == ".json":
        raise SuiteError(
            f"{source.shown}: unsupported suite format .json for anything but a promptfoo config "
            "(an object with prompts and tests); save a list of cases as .jsonl (one JSON object per line) "
            "or .csv (a header row with id, prompt, expected, ...)",
            path=source.shown,
        )
    return read_yaml_suite(document, source, problems)


def _with_system(case: Case, system: str) -> Case:
    return replace(case, system=system)


def _content_hash(raw: bytes, extra_files: list[tuple[str, bytes]]) -> str:
    """The file's sha256; a suite made of several files (a promptfoo config) hashes them all."""
    digest = hashlib.sha256(raw)
    if not extra_files:
        return digest.hexdigest()
    digest = hashlib.sha256()
    for name, content in [("", raw), *extra_files]:
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _read_bytes(path: Path, shown: str) -> bytes:
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS)
        hint = f" (it holds {', '.join(inside[:5])})" if inside else ""
        raise SuiteError(f"{shown} is a folder, not a suite file; give the path of a suite file: "
                         f".jsonl, .csv, .yaml or .json{hint}", path=shown)
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
        raise SuiteError(f"{shown}: unsupported suite format {suffix}; save it as {_FORMATS_HINT}", path=shown)
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


def suite_from_cases(name: str, cases: list[Case] | tuple[Case, ...], *, description: str | None = None,
                     version: str | None = None, source_path: str = "", judge: str | None = None,
                     reference: str | None = None, rubric: str | None = None,
                     threshold: float | None = None) -> Suite:
    """A suite built in memory (edited in the app, or one ad-hoc prompt), versioned by its content."""
    shown = source_path or name
    problems: list[SuiteError] = []  # every mistake, reported at once
    ids = [case.id for case in cases]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(SuiteError(f"case id {duplicate!r} is used {ids.count(duplicate)} times; give every case "
                                   f"its own id", path=shown, field="id"))
    for case in cases:
        if not case.prompt.strip():
            problems.append(SuiteError(f'case {case.id!r}, field "prompt": missing; every case needs a non-empty '
                                       f"prompt", path=shown, field="prompt"))
    if problems:
        raise SuiteError.combine(problems, shown)
    grading = _grading(judge, reference, rubric, threshold)
    body = "\n".join(json.dumps(record, sort_keys=True, ensure_ascii=False)
                     for record in ([{"suite": grading}] if grading else []) + [_case_record(c) for c in cases])
    content_hash = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return Suite(name=name, version=version or "sha-" + content_hash[:12], description=description,
                 cases=tuple(cases), source_path=source_path, content_hash=content_hash, judge=judge,
                 reference=reference, rubric=rubric, threshold=threshold)


def adhoc_suite(prompt: str, system: str | None = None, name: str = "compare") -> Suite:
    """One prompt as a suite, so a side-by-side comparison is stored as a run like any other."""
    return suite_from_cases(name, [Case(id="prompt", prompt=prompt, system=system or None)])


def save_suite(suite: Suite, path: str | Path) -> Path:
    """Write a suite as JSONL (a header line, then one case a line); the file appears whole."""
    path = Path(path)
    header = {"suite": {k: v for k, v in (("name", suite.name), ("version", suite.version),
                                          ("description", suite.description)) if v}
                       | _grading(suite.judge, suite.reference, suite.rubric, suite.threshold)}
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps(_case_record(case), ensure_ascii=False) for case in suite.cases]
    partial = path.with_name(f".{path.name}.part")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


def _grading(judge: str | None, reference: str | None, rubric: str | None, threshold: float | None) -> dict[str, Any]:
    values = {"judge": judge, "reference": reference, "rubric": rubric, "threshold": threshold}
    return {key: value for key, value in values.items() if value is not None}


def _case_record(case: Case) -> dict[str, Any]:
    # The prompt is saved as rendered, without its vars: braces in it are then read as written.
    record: dict[str, Any] = {"id": case.id, "prompt": case.prompt}
    if case.system:
        record["system"] = case.system
    if case.expected is not None:
        record["expected"] = case.expected
    if case.checks or case.expected is not None:  # [] with an expected answer: graded by nothing
        record["checks"] = [check.to_dict() for check in case.checks]
    if case.tags:
        record["tags"] = list(case.tags)
    if case.max_tokens:
        record["max_tokens"] = case.max_tokens
    if case.rubric:
        record["rubric"] = case.rubric
    if case.threshold is not None:
        record["threshold"] = case.threshold
    return record
