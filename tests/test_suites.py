"""Suite loading: every format feature, every bad input, and the shipped demo suites."""

from __future__ import annotations

import hashlib
import os
import socket
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.errors import UserError
from desktop_app.suites import Case, Check, Suite, SuiteError, load_suite
from tests.unprivileged import as_ordinary_user, open_folder

SUITES = Path(__file__).resolve().parent.parent / "resources" / "suites"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path, *, line: int | None, field: str | None) -> str:
    """Load a bad suite and check its error names the file, the line and the field."""
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert path.name in message
    assert info.value.line == line
    assert info.value.field == field
    if line is not None:
        assert f"line {line}" in message
    if field is not None:
        assert f'field "{field}"' in message
    return message


# --- JSONL features -------------------------------------------------------------------------------

def test_jsonl_header_cases_and_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "geo.jsonl", "\n".join([
        '{"suite": {"name": "geography", "version": "2.1", "description": "capitals"}}',
        "",
        "// a comment",
        "# another comment",
        '{"id": "fr", "prompt": "Capital of France?", "expected": "Paris", "tags": ["facts", "easy"]}',
        '{"prompt": "How many legs has a spider?", "expected": 8, "system": "Be brief.", "max_tokens": 12}',
        '{"prompt": "Give a number", "expected": "1,234"}',
        '{"prompt": "No reference here"}',
    ]) + "\n")
    suite = load_suite(path)
    assert (suite.name, suite.version, suite.description) == ("geography", "2.1", "capitals")
    assert suite.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert suite.source_path == str(path.resolve())
    first, second, third, fourth = suite.cases
    assert (first.id, first.line, first.tags, first.checks) == ("fr", 5, ("facts", "easy"), (Check("contains"),))
    assert (second.id, second.line, second.expected, second.system, second.max_tokens) == ("case-2", 6, 8, "Be brief.", 12)
    assert second.checks == (Check("numeric"),)
    assert third.checks == (Check("numeric"),)  # a numeric string is graded as a number
    assert (fourth.id, fourth.checks, fourth.expected) == ("case-4", (), None)


def test_version_defaults_to_content_hash_and_name_to_stem(tmp_path: Path) -> None:
    path = write(tmp_path, "my-suite.jsonl", '{"prompt": "hi"}\n')
    suite = load_suite(path)
    assert suite.name == "my-suite"
    assert suite.version == "sha-" + suite.content_hash[:12]
    path.write_text('{"prompt": "hello"}\n', encoding="utf-8")
    assert load_suite(path).version != suite.version


def test_header_system_is_the_default_for_cases_without_one(tmp_path: Path) -> None:
    path = write(tmp_path, "s.jsonl", '{"suite": {"name": "s", "version": 3, "system": "Answer briefly."}}\n'
                 '{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": "y", "system": "Own."}\n')
    suite = load_suite(path)
    assert suite.version == "3"
    assert [case.system for case in suite.cases] == ["Answer briefly.", "Own."]


def test_variables_are_rendered_and_braces_escaped(tmp_path: Path) -> None:
    path = write(tmp_path, "v.jsonl", "\n".join([
        r'{"id": "a", "prompt": "Capital of {country}? Reply as {{\"city\": ...}}", "system": "About { country }.", "vars": {"country": "Peru"}}',
        '{"id": "b", "prompt": "What is {a} x {b}?", "vars": {"a": 9, "b": 2.5}}',
        '{"id": "c", "prompt": "Keep {\\"json\\": {name}} as written"}',
        '{"id": "d", "prompt": "Fill {\\"a\\": 1} and {x}", "vars": {"x": "X"}}',
    ]))
    a, b, c, d = load_suite(path).cases
    assert a.prompt == 'Capital of Peru? Reply as {"city": ...}'
    assert a.system == "About Peru."
    assert b.prompt == "What is 9 x 2.5?"
    assert c.prompt == 'Keep {"json": {name}} as written'  # no vars: braces stay literally
    assert d.prompt == 'Fill {"a": 1} and X'  # JSON in braces is not a placeholder


def test_check_objects_and_names(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", "\n".join([
        '{"prompt": "p", "expected": "Paris", "checks": ["exact", {"type": "contains", "value": "Par"}, {"type": "regex", "pattern": "^P", "flags": "i"}]}',
        '{"prompt": "p", "expected": 3.14, "checks": [{"type": "numeric", "tolerance": 0.01, "which": "any"}]}',
        '{"prompt": "p", "checks": [{"type": "regex", "pattern": "\\\\d+"}]}',
        '{"prompt": "p", "expected": "a+", "checks": ["regex"], "tags": []}',
        '{"prompt": "p", "expected": "Paris", "checks": []}',
    ]))
    first, second, third, fourth, fifth = load_suite(path).cases
    assert first.checks == (Check("exact"), Check("contains", {"value": "Par"}), Check("regex", {"pattern": "^P", "flags": "i"}))
    assert second.checks == (Check("numeric", {"tolerance": 0.01, "which": "any"}),)
    assert third.checks == (Check("regex", {"pattern": r"\d+"}),)
    assert fourth.checks == (Check("regex"),)
    assert fifth.checks == ()  # an explicit empty list keeps the reference but grades nothing


def test_header_and_cases_set_how_answers_are_graded(tmp_path: Path) -> None:
    path = write(tmp_path, "g.jsonl", lines(
        '{"suite": {"name": "g", "judge": "openai:gpt-4o-mini", "reference": "anthropic:claude-sonnet-4-5", '
        '"rubric": "Correct and brief.", "threshold": 0.75}}',
        '{"id": "a", "prompt": "Explain tides.", "rubric": "Mentions the Moon.", "threshold": 1, '
        '"checks": [{"type": "judge", "weight": 2}, {"type": "rouge_l", "threshold": 0.3}]}',
        '{"id": "b", "prompt": "p", "expected": "Paris", "checks": [{"type": "any", "checks": ["exact", '
        '{"type": "contains", "value": "Paname"}]}, {"type": "not", "check": {"type": "contains", "value": "Lyon"}}, '
        '{"type": "length", "max_words": 5}, "is_json", {"type": "json_schema", "schema": {"type": "object"}}]}',
    ))
    suite = load_suite(path)
    assert (suite.judge, suite.reference, suite.rubric, suite.threshold) == (
        "openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5", "Correct and brief.", 0.75)
    a, b = suite.cases
    assert (a.rubric, a.threshold) == ("Mentions the Moon.", 1.0)
    assert a.checks == (Check("judge", {"weight": 2}), Check("rouge_l", {"threshold": 0.3}))
    assert [check.type for check in b.checks] == ["any", "not", "length", "is_json", "json_schema"]
    assert (b.rubric, b.threshold) == (None, None)


def test_several_mistakes_are_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "many.jsonl", lines(
        '{"id": "a", "prompt": "ok"}',
        '{"prompt": "b", "expected": ""}',
        '{"prompt": "c",}',
        '{"id": "a", "prompt": "d"}',
        '{"prompt": "e", "checks": ["contians"], "tags": "x"}',
    ))
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    error = info.value
    assert [(p.line, p.field) for p in error.problems] == [(2, "expected"), (3, None), (4, "id"), (5, "tags")]
    message = str(error)
    assert message.splitlines()[0] == f"{path}: 4 problems; fix each of them:"
    assert f'{path} line 4, field "id": duplicate id "a" (first used on line 1)' in message
    assert (error.line, error.field) == (2, "expected")  # the first one's


def test_save_keeps_the_grading_fields(tmp_path: Path) -> None:
    from desktop_app.suites import save_suite

    source = write(tmp_path, "g.jsonl", lines(
        '{"suite": {"name": "g", "version": "2", "judge": "openai:gpt-4o-mini", "threshold": 0.8}}',
        '{"id": "a", "prompt": "x", "rubric": "Kind.", "threshold": 0.5, "checks": ["judge"]}',
        '{"id": "b", "prompt": "y", "expected": "z", "checks": []}',
    ))
    suite = load_suite(source)
    again = load_suite(save_suite(suite, tmp_path / "copy.jsonl"))
    assert (again.judge, again.threshold, again.version) == ("openai:gpt-4o-mini", 0.8, "2")
    assert [replace(c, line=0) for c in again.cases] == [replace(c, line=0) for c in suite.cases]
    assert again.case("b").checks == ()  # an explicit empty list stays empty, not graded by default


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prompt": "a"}\r\n{"prompt": "b"}\r\n')
    suite = load_suite(path)
    assert [(case.prompt, case.line) for case in suite.cases] == [("a", 1), ("b", 2)]


def test_round_trip_through_dict(tmp_path: Path) -> None:
    suite = load_suite(SUITES / "demo.jsonl")
    rebuilt = Suite.from_dict(suite.to_dict())
    assert rebuilt == suite
    assert hash(rebuilt) == hash(suite)
    case = suite.cases[0]
    assert Case.from_dict(case.to_dict()) == case


# --- CSV features ---------------------------------------------------------------------------------

def test_csv_columns_checks_tags_and_variables(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "\n".join([
        "id,prompt,system,expected,checks,tags,max_tokens,city,Year",
        "a,Weather in {city} in {Year}?,Be brief.,sunny,contains;regex:^\\w+,weather;easy,20,Lima,2024",
        "b,What is 2+2?,,4,numeric:0.5,math,,,",
        '"","Multi-line\nprompt with {city}",,xy,"[""exact"", {""type"": ""regex"", ""pattern"": ""x;y""}]",,,Oslo,',
        ",,,,,,,,",
        "c,Year {Year},,1999,,,,,1999",
    ]) + "\n")
    suite = load_suite(path)
    assert suite.name == "t"
    a, b, c, d = suite.cases
    assert a.prompt == "Weather in Lima in 2024?"
    assert (a.system, a.expected, a.tags, a.max_tokens, a.line) == ("Be brief.", "sunny", ("weather", "easy"), 20, 2)
    assert a.checks == (Check("contains"), Check("regex", {"pattern": r"^\w+"}))
    assert (b.checks, b.expected, b.system, b.line) == ((Check("numeric", {"tolerance": 0.5}),), "4", None, 3)
    assert c.id == "case-3" and c.prompt == "Multi-line\nprompt with Oslo" and c.line == 4
    assert c.checks == (Check("exact"), Check("regex", {"pattern": "x;y"}))
    assert (d.id, d.line, d.checks) == ("c", 7, (Check("numeric"),))  # the blank record is skipped


def test_csv_rubric_and_threshold_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "id,prompt,rubric,threshold,checks\na,Explain tides,Mentions the Moon,0.6,judge:Is kind\n")
    (case,) = load_suite(path).cases
    assert (case.rubric, case.threshold) == ("Mentions the Moon", 0.6)
    assert case.checks == (Check("judge", {"rubric": "Is kind"}),)


def test_csv_semicolon_separated_file(tmp_path: Path) -> None:
    path = write(tmp_path, "excel.csv", "id;prompt;expected\nq1;Capital of France?;Paris\n")
    (case,) = load_suite(path).cases
    assert (case.id, case.prompt, case.expected) == ("q1", "Capital of France?", "Paris")


def test_csv_missing_variable_names_the_column_to_add(tmp_path: Path) -> None:
    path = write(tmp_path, "v.csv", "id,prompt,city\na,Weather in {city}?,Lima\nb,Weather in {town}?,Oslo\n")
    message = load_error(path, line=3, field="prompt")
    assert "{town}" in message and 'add a "town" column' in message and "{{town}}" in message


def test_csv_record_line_is_its_first_physical_line(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", 'id,prompt\na,"one\ntwo\nthree"\nb,"x\ny"\nc,\n')
    load_error(path, line=7, field="prompt")


@pytest.mark.parametrize("text, line, field, words", [
    ("id,question\na,hi\n", 1, "prompt", "no prompt column"),
    ("id,prompt,id\na,hi,b\n", 1, "id", "twice"),
    ("id,prompt\na,hi,extra\n", 2, None, "3 cells"),
    ("id,prompt,checks\na,hi,numeric:abc\n", 2, "checks", "tolerance"),
    ("id,prompt,max_tokens\na,hi,lots\n", 2, "max_tokens", "whole number"),
    ("id,prompt,checks\na,hi,[oops\n", 2, "checks", "invalid JSON"),
    ("id,prompt,checks\na,hi,contians\n", 2, "checks", 'did you mean "contains"'),
])
def test_csv_errors(tmp_path: Path, text: str, line: int, field: str | None, words: str) -> None:
    assert words in load_error(write(tmp_path, "bad.csv", text), line=line, field=field)


# --- file-level errors ----------------------------------------------------------------------------

def test_missing_file_suggests_a_close_name(tmp_path: Path) -> None:
    write(tmp_path, "demo.jsonl", '{"prompt": "x"}\n')
    message = load_error(tmp_path / "dmeo.jsonl", line=None, field=None)
    assert "no such suite file" in message and 'did you mean "demo.jsonl"' in message


def test_folder_is_refused_and_its_suites_listed(tmp_path: Path) -> None:
    write(tmp_path, "one.jsonl", '{"prompt": "x"}\n')
    with pytest.raises(SuiteError, match=r"is a folder.*one\.jsonl"):
        load_suite(tmp_path)


def test_unsupported_extension(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "cases.json", '[{"prompt": "x"}]'), line=None, field=None)
    assert "unsupported suite format .json" in message and ".jsonl" in message and ".csv" in message


@pytest.mark.skipif(os.name != "posix", reason="only POSIX systems make a chmod 000 file unreadable")
def test_unreadable_file(tmp_path: Path) -> None:
    with open_folder(tmp_path) as folder:
        path = write(folder, "locked.jsonl", '{"prompt": "x"}\n')
        path.chmod(0)
        try:
            assert "cannot read" in as_ordinary_user(lambda: load_error(path, line=None, field=None))
        finally:
            path.chmod(0o600)


def test_unreadable_file_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A Unix socket exists and is not a folder, but opening it fails for every user.
    monkeypatch.chdir(tmp_path)  # a relative name keeps the socket path under its length limit
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("socket.jsonl")
        assert "cannot read" in load_error(Path("socket.jsonl"), line=None, field=None)


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("\n  \n", "empty"),
    ("// only comments\n# here\n", "no cases"),
    ('{"suite": {"name": "x"}}\n', "no cases"),
])
def test_empty_suites(tmp_path: Path, text: str, words: str) -> None:
    assert words in load_error(write(tmp_path, "e.jsonl", text), line=None, field=None)


def test_empty_csv_with_only_a_header(tmp_path: Path) -> None:
    assert "no cases" in load_error(write(tmp_path, "e.csv", "id,prompt\n"), line=None, field=None)


def test_non_utf8_bytes_name_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n')
    message = load_error(path, line=2, field=None)
    assert "0xe9" in message and "column 16" in message and "UTF-8" in message


# --- line-level errors (JSONL) --------------------------------------------------------------------

def lines(*records: str) -> str:
    return "\n".join(records) + "\n"


@pytest.mark.parametrize("text, line, field, words", [
    (lines('{"prompt": "a"}', '{"prompt": "b",}'), 2, None, "invalid JSON at column 16: Expecting property name"),
    (lines('{"prompt": "a",}'), 1, None, "no trailing commas"),
    (lines('{"prompt": "a"}', '    {"prompt": }'), 2, None, "column 16"),
    (lines("{", '  "prompt": "a"', "}"), 1, None, "cannot span several lines"),
    (lines('["prompt", "a"]'), 1, None, "got a list"),
    (lines('"just text"'), 1, None, "JSON object per line"),
    (lines('{"prompt": NaN}'), 1, None, "NaN"),
    (lines('{"promt": "a"}'), 1, "promt", 'did you mean "prompt"'),
    (lines('{"id": "x"}', '// c', '{"id": "y", "expected": "1"}'), 1, "prompt", "missing; every case needs a non-empty prompt"),
    (lines('{"prompt": "  "}'), 1, "prompt", "empty"),
    (lines('{"prompt": 5}'), 1, "prompt", "must be text, got the number 5"),
    (lines('{"prompt": "a", "system": ["x"]}'), 1, "system", "must be text"),
    (lines('{"prompt": "a", "id": true}'), 1, "id", "non-empty text"),
    (lines('{"prompt": "a", "expected": [1]}'), 1, "expected", "text or a number"),
    (lines('{"prompt": "a", "expected": ""}'), 1, "expected", "empty"),
    (lines('{"prompt": "a", "tags": "math"}'), 1, "tags", "list of non-empty text"),
    (lines('{"prompt": "a", "max_tokens": 0}'), 1, "max_tokens", "at least 1"),
    (lines('{"prompt": "a", "max_tokens": 2.5}'), 1, "max_tokens", "whole number"),
    (lines('{"prompt": "a", "vars": ["x"]}'), 1, "vars", "must be an object"),
    (lines('{"prompt": "a", "vars": {"x": {"y": 1}}}'), 1, "vars", '"x" must be text or a number'),
    (lines('{"prompt": "{cty} {x}", "vars": {"city": "A", "x": "B"}}'), 1, "prompt", "did you mean {city}?"),
    (lines('{"id": "q", "prompt": "a"}', '{"id": "q", "prompt": "b"}'), 2, "id", 'duplicate id "q" (first used on line 1)'),
    (lines('{"prompt": "a"}', '{"id": "case-1", "prompt": "b"}'), 2, "id", "duplicate id"),
    (lines('{"prompt": "a", "expected": "x", "checks": "exact"}'), 1, "checks", "must be a list"),
    (lines('{"prompt": "a", "expected": "x", "checks": ["exakt"]}'), 1, "checks", 'unknown check type "exakt"; did you mean "exact"'),
    (lines('{"prompt": "a", "expected": "x", "checks": [{"pattern": "x"}]}'), 1, "checks", 'no "type"'),
    (lines('{"prompt": "a", "expected": "x", "checks": [3]}'), 1, "checks", "check 1 must be"),
    (lines('{"prompt": "a", "expected": "x", "checks": [{"type": "regex", "patern": "x"}]}'), 1, "checks", 'did you mean "pattern"'),
    (lines('{"prompt": "a", "checks": [{"type": "regex", "pattern": "(unclosed"}]}'), 1, "checks", "missing ), unterminated subpattern"),
    (lines('{"prompt": "a", "expected": "[a-", "checks": ["regex"]}'), 1, "checks", "invalid pattern"),
    (lines('{"prompt": "a", "checks": [{"type": "regex", "pattern": "x", "flags": "q"}]}'), 1, "checks", '"flags"'),
    (lines('{"prompt": "a", "checks": ["contains"]}'), 1, "checks", 'no "expected"'),
    (lines('{"prompt": "a", "checks": ["exact"]}'), 1, "checks", 'needs a reference answer'),
    (lines('{"prompt": "a", "checks": ["numeric"]}'), 1, "checks", 'no "expected"'),
    (lines('{"prompt": "a", "checks": ["regex"]}'), 1, "checks", 'give the check a "pattern"'),
    (lines('{"prompt": "a", "expected": "Paris", "checks": ["numeric"]}'), 1, "checks", "needs a number"),
    (lines('{"prompt": "a", "expected": 1, "checks": [{"type": "numeric", "tolerance": -1}]}'), 1, "checks", "at least 0"),
    (lines('{"prompt": "a", "expected": 1, "checks": [{"type": "numeric", "which": "middle"}]}'), 1, "checks", "last, first, any"),
    (lines('{"prompt": "a", "rubric": ["x"]}'), 1, "rubric", "must be text"),
    (lines('{"prompt": "a", "threshold": 1.5}'), 1, "threshold", "from 0 to 1"),
    (lines('{"prompt": "a", "checks": [{"type": "length"}]}'), 1, "checks", "give at least one limit"),
    (lines('{"prompt": "a", "checks": [{"type": "contains", "value": "x", "weight": 0}]}'), 1, "checks", '"weight" must be'),
    (lines('{"prompt": "a", "checks": [{"type": "any", "checks": ["contains"]}]}'), 1, "checks",
     'check 1 (any): check 1 of "checks" (contains): needs a reference answer'),
    (lines('{"prompt": "a", "checks": [{"type": "judge", "threshold": 7}]}'), 1, "checks", '"threshold" must be'),
    (lines('{"suite": {"threshold": "high"}}', '{"prompt": "a"}'), 1, "suite.threshold", "from 0 to 1"),
    (lines('{"suite": {"judge": 5}}', '{"prompt": "a"}'), 1, "suite.judge", "non-empty text"),
    (lines('{"prompt": "a"}', '{"suite": {"name": "late"}}'), 2, "suite", "must be the first line"),
    (lines('{"suite": {"nmae": "x"}}', '{"prompt": "a"}'), 1, "suite.nmae", 'did you mean "name"'),
    (lines('{"suite": "demo"}', '{"prompt": "a"}'), 1, "suite", "must be an object"),
    (lines('{"suite": {"name": ""}}', '{"prompt": "a"}'), 1, "suite.name", "non-empty text"),
])
def test_jsonl_errors(tmp_path: Path, text: str, line: int, field: str | None, words: str) -> None:
    message = load_error(write(tmp_path, "bad.jsonl", text), line=line, field=field)
    assert words in message


def test_errors_are_user_errors_and_never_half_load(tmp_path: Path) -> None:
    path = write(tmp_path, "half.jsonl", lines('{"id": "ok", "prompt": "a"}', '{"id": "ok", "prompt": "b"}'))
    with pytest.raises(UserError):
        load_suite(path)


# --- the shipped demo suites ----------------------------------------------------------------------

def test_demo_suite_loads_with_cases_spread_over_categories() -> None:
    suite = load_suite(SUITES / "demo.jsonl")
    assert (suite.name, suite.version) == ("demo", "1")
    assert 18 <= len(suite.cases) <= 26
    categories = Counter(case.tags[0] for case in suite.cases)
    assert set(categories) == {"facts", "arithmetic", "classification", "extraction", "formatting"}
    assert min(categories.values()) >= 3
    assert all(case.checks for case in suite.cases)
    assert all(case.system for case in suite.cases)
    assert {check.type for case in suite.cases for check in case.checks} == {"exact", "contains", "regex", "numeric"}
    assert all(case.max_tokens and case.max_tokens <= 96 for case in suite.cases)
    assert suite.case("multiply-vars").prompt == "What is 9 multiplied by 8? Reply with just the number."


def test_demo_csv_uses_variables_columns() -> None:
    suite = load_suite(SUITES / "demo.csv")
    assert 5 <= len(suite.cases) <= 10
    assert suite.case("capital-japan").prompt == "What is the capital of Japan?"
    assert suite.case("capital-japan").tags == ("facts", "capitals")
    assert suite.case("gold-symbol").checks == (Check("regex", {"pattern": r"\bAu\b"}),)
    assert suite.case("sentiment-negative").prompt.count("\n") == 1
