"""YAML suites (header fields at the top, then `cases:`), and a YAML reader that keeps line numbers."""

from __future__ import annotations

import json
from typing import Any

import yaml

from desktop_app.suites.model import SuiteError
from desktop_app.suites.records import (HEADER_FIELDS, CaseBuilder, Parsed, Problems, Source, header_from,
                                        json_kind, unknown_field_hint)


class LineDict(dict):
    """A YAML mapping that remembers where it and each of its keys are (1-based lines)."""

    line: int = 0
    key_lines: dict[Any, int]
    raw: dict[Any, str]  # each scalar value as written ("1.0" stays "1.0" where it matters)

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A YAML sequence that remembers where it and each of its items are."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _Lines:
    """What both loaders below keep besides the document: the keys written twice."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[Any, int, int]] = []  # key, first line, repeated line


class _LineLoader(_Lines, yaml.SafeLoader):
    """PyYAML's parser in Python: its error messages name what it found (a tab, an alias)."""


class _FastLineLoader(_Lines, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """libyaml's parser (PyYAML's wheels have it): the same nodes and marks, a large suite read several times
    faster. Its error messages say less, so a document it refuses is read again by _LineLoader."""


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)  # YAML merge keys (<<: *defaults)
    mapping = LineDict()
    mapping.line, mapping.key_lines, mapping.raw = node.start_mark.line + 1, {}, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "a key must be text, not a list or mapping",
                                                    key_node.start_mark) from None
        line = key_node.start_mark.line + 1
        if key in mapping.key_lines:
            loader.duplicates.append((key, mapping.key_lines[key], line))
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
        if isinstance(value_node, yaml.ScalarNode):
            mapping.raw[key] = value_node.value
    return mapping


def _sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    items = LineList(loader.construct_object(item, deep=True) for item in node.value)
    items.line, items.item_lines = node.start_mark.line + 1, [item.start_mark.line + 1 for item in node.value]
    return items


for _loader in (_LineLoader, _FastLineLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def _parse(text: str, loader_class: type) -> tuple[Any, list[tuple[Any, int, int]]]:
    loader = loader_class(text)
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()


def load_yaml(text: str, shown: str, problems: Problems | None = None) -> Any:
    """The document with line numbers kept. A syntax error raises SuiteError; a repeated key is a
    mistake added to `problems` (so it is reported with the file's others), or raised without them."""
    own = problems is None
    problems = Problems(shown) if problems is None else problems
    try:
        try:
            document, duplicates = _parse(text, _FastLineLoader)
        except yaml.YAMLError:  # said again by the parser whose message names what it found
            document, duplicates = _parse(text, _LineLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        started = error.context_mark
        context = error.context or ""
        if context and started is not None and mark is not None and started.line != mark.line:
            context += f" (from line {started.line + 1})"
        problem = ", ".join(part for part in (context, error.problem) if part)
        raise Problems(shown).error(mark.line + 1 if mark else None, None,
                                    f"invalid YAML: {problem}; check the indentation, and quote text that holds "
                                    '": " or starts with a special character ({, [, *, &, !, |, >, %, @)') from None
    except yaml.YAMLError as error:
        raise Problems(shown).error(None, None, f"invalid YAML: {error}") from None
    for key, first, line in duplicates:
        problems.add(line, str(key), f"this key is written twice (first on line {first}); keep one")
    if own:
        problems.raise_any()
    return document


def load_json(text: str, shown: str, problems: Problems) -> Any:
    """A JSON document with line numbers kept (read as YAML, which JSON is, once tabs are made spaces)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise Problems(shown).error(error.lineno, None, f"invalid JSON at column {error.colno}: {error.msg}; "
                                                        "fix the JSON syntax (text in double quotes, no trailing "
                                                        "commas)") from None
    # Outside strings a tab is only a space in JSON (inside one it would be invalid), so this is the same document.
    found = Problems(shown)
    try:
        document = load_yaml(text.replace("\t", " "), shown, found)
    except SuiteError:
        document = None
    if document != value:
        return _without_lines(value)
    problems.errors += found.errors
    return document


def _without_lines(value: Any) -> Any:
    if isinstance(value, dict):
        mapping = LineDict((key, _without_lines(item)) for key, item in value.items())
        mapping.line, mapping.key_lines, mapping.raw = 0, {}, {}
        return mapping
    if isinstance(value, list):
        items = LineList(_without_lines(item) for item in value)
        items.line, items.item_lines = 0, []
        return items
    return value


def read_yaml_suite(document: Any, source: Source, problems: Problems) -> Parsed:
    """A ModelScout YAML suite: header fields (name, version, judge, ...) and `cases:`, or just a list of cases."""
    builder = CaseBuilder(problems, max_prompt_tokens=source.max_prompt_tokens)
    header = None
    if isinstance(document, list):
        items = document
    elif isinstance(document, dict):
        body = {key: value for key, value in document.items() if key != "cases"}
        for key in body:
            if key not in HEADER_FIELDS:
                problems.add(document.line_of(key), str(key), unknown_field_hint(str(key), (*HEADER_FIELDS, "cases")))
        if "version" in body and isinstance(body["version"], float):
            body["version"] = document.raw.get("version", body["version"])  # 1.0 stays "1.0"
        known = {key: value for key, value in body.items() if key in HEADER_FIELDS}
        header = header_from(known, document.line, problems, field_lines=document.key_lines)
        items = document.get("cases")
        if items is None:
            problems.add(document.line, "cases", "missing; list the cases under cases:, each with a prompt")
            items = []
        elif not isinstance(items, list):
            problems.add(document.line_of("cases"), "cases",
                         f"must be a list of cases (- prompt: ...), got {json_kind(items)}")
            items = []
    else:
        problems.add(1, None, "a YAML suite is a mapping with cases: (and name, version, ...), "
                              f"got {json_kind(document)}")
        items = []
    cases = []
    for ordinal, item in enumerate(items, 1):
        line = items.line_of(ordinal - 1) if isinstance(items, LineList) else 0
        if not isinstance(item, dict):
            problems.add(line, None, f"each case must be a mapping (id: ..., prompt: ...), got {json_kind(item)}")
            continue
        record = {str(key): value for key, value in item.items()}
        field_lines = {str(key): at for key, at in getattr(item, "key_lines", {}).items()}
        case = builder.case(record, getattr(item, "line", line), ordinal, field_lines=field_lines)
        if case is not None:
            cases.append(case)
    problems.raise_any()
    return Parsed(header, cases)
