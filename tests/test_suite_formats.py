"""Suites people already have: YAML, promptfoo configs and OpenAI evals samples, each read into the one Suite."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.suites import Case, Check, Suite, SuiteError, Unsupported, load_suite

SUITES = Path(__file__).resolve().parent.parent / "resources" / "suites"
EXAMPLES = SUITES / "examples"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(folder: Path, name: str, *records: dict) -> Path:
    return write(folder, name, "\n".join(json.dumps(record) for record in records) + "\n")


def cases_of(suite: Suite) -> list[Case]:
    """The cases without where they are in their file (the one thing formats cannot share)."""
    return [replace(case, line=0) for case in suite.cases]


def load_error(path: Path) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return info.value


def problems_of(error: SuiteError) -> list[tuple[str, int | None, str | None]]:
    return [(Path(p.path).name, p.line, p.field) for p in error.problems]


# --- YAML -----------------------------------------------------------------------------------------

def test_yaml_demo_is_the_jsonl_demo() -> None:
    from_yaml, from_jsonl = load_suite(SUITES / "demo.yaml"), load_suite(SUITES / "demo.jsonl")
    assert cases_of(from_yaml) == cases_of(from_jsonl)
    assert (from_yaml.name, from_yaml.version, from_yaml.description) == ("demo", "1", from_jsonl.description)
    assert from_yaml.case("gold-symbol").line == 15 and from_yaml.unsupported == ()


def test_yaml_header_grading_fields_and_case_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "graded.yaml", """\
version: 1.0
judge: openai:gpt-4o-mini
reference: local_models/big.gguf
rubric: Correct, complete and brief.
threshold: 0.7
cases:
  - prompt: |
      Explain {topic} in one sentence.
    vars: {topic: tides}
    rubric: Mentions the Moon.
    threshold: 0.5
    checks:
      - {type: judge, weight: 2}
      - {type: length, max_words: 40}
  - prompt: Say hi
""")
    suite = load_suite(path)
    assert suite.version == "1.0"  # as written, not the float 1.0 printed back as "1"
    assert (suite.judge, suite.reference, suite.rubric, suite.threshold) == (
        "openai:gpt-4o-mini", "local_models/big.gguf", "Correct, complete and brief.", 0.7)
    first, second = suite.cases
    assert first.prompt == "Explain tides in one sentence.\n" and first.vars == {"topic": "tides"}
    assert (first.rubric, first.threshold, first.line) == ("Mentions the Moon.", 0.5, 7)
    assert first.checks == (Check("judge", {"weight": 2}), Check("length", {"max_words": 40}))
    assert (second.id, second.rubric, second.threshold) == ("case-2", None, None)


def test_yaml_mistakes_are_reported_together_each_at_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", """\
name: x
threshod: 0.5
cases:
  - id: a
    prompt: hi
    expected: [1]
  - prompt: hello
    checks:
      - type: regex
        pattern: "("
  - prompt: 3
  - prompt: x
    prompt: y
""")
    error = load_error(path)
    assert problems_of(error) == [("bad.yaml", 2, "threshod"), ("bad.yaml", 6, "expected"),
                                  ("bad.yaml", 8, "checks"), ("bad.yaml", 11, "prompt"), ("bad.yaml", 13, "prompt")]
    message = str(error)
    assert message.splitlines()[0].endswith("bad.yaml: 5 problems; fix each of them:")
    assert 'did you mean "threshold"' in message and "invalid pattern" in message
    assert "written twice (first on line 12)" in message
    assert (error.line, error.field) == (2, "threshod")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "broken.yaml", 'name: x\ncases:\n  - prompt: "unclosed\n  - prompt: b\n'))
    assert error.line == 5 and "invalid YAML" in str(error) and "from line 3" in str(error)


def test_yaml_syntax_errors_name_what_was_found(tmp_path: Path) -> None:
    """Suites are read by libyaml's parser, whose messages leave out the character or alias it stopped at: a
    refused file is read again by PyYAML's own, which names them."""
    tab = load_error(write(tmp_path, "tab.yaml", "name: x\ncases:\n\t- prompt: a\n"))
    assert tab.line == 3 and "found character '\\t' that cannot start any token" in str(tab), str(tab)
    alias = load_error(write(tmp_path, "alias.yaml", "name: x\ncases:\n  - prompt: *intro\n"))
    assert alias.line == 3 and "found undefined alias 'intro'" in str(alias), str(alias)


def test_yaml_needs_cases(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "nocases.yaml", "name: x\ndescription: nothing here\n"))
    assert (error.line, error.field) == (1, "cases") and "list the cases under cases:" in str(error)


# --- promptfoo ------------------------------------------------------------------------------------

def test_promptfoo_example_asks_every_prompt_with_every_test() -> None:
    suite = load_suite(EXAMPLES / "promptfooconfig.yaml")
    tests = ["france", "japan", "peru", "kenya", "italy"]
    assert [case.id for case in suite.cases] == [f"p{p}-{t}" for p in (1, 2) for t in tests]
    assert suite.description == "Capitals, asked two ways" and suite.name == "promptfooconfig"
    assert suite.case("p1-peru").prompt == "Answer in one word: what is the capital of Peru?"
    assert suite.case("p2-japan").prompt == ("You are a geography quiz. Reply with the capital of Japan and "
                                             "nothing else.")  # from prompts/capital.txt
    assert suite.case("p2-japan").tags == ("p2",) and suite.case("p2-japan").vars == {"country": "Japan"}
    japan = suite.case("p1-japan")
    assert japan.threshold == 0.5
    assert japan.checks == (Check("exact", {"value": "Tokyo", "weight": 2}),
                            Check("judge", {"rubric": "Names the capital of Japan and nothing else"}),
                            Check("regex", {"pattern": "^[A-Z]"}))
    assert suite.case("p1-france").checks == (
        Check("contains", {"value": "paris", "ignore_case": True}),
        Check("not", {"check": {"type": "contains", "value": "London"}}))
    # From tests.csv: __expected cells, promptfoo's similar(threshold) form.
    assert suite.case("p1-peru").checks == (Check("contains", {"value": "Lima"}),)
    kenya = suite.case("p2-kenya")
    assert kenya.checks == (Check("rouge_l", {"threshold": 0.6}),)
    assert kenya.expected == "Nairobi is the capital of Kenya"  # similar's text is the reference answer


def test_promptfoo_unsupported_parts_are_listed_with_file_line_and_kind() -> None:
    suite = load_suite(EXAMPLES / "promptfooconfig.yaml")
    config, tests = str(EXAMPLES / "promptfooconfig.yaml"), str(EXAMPLES / "tests.csv")
    assert [(u.path, u.line, u.kind) for u in suite.unsupported] == [
        (config, 9, "providers"),
        (config, 13, "assertion javascript"),  # in defaultTest: listed once, not once per test
        (config, 37, "transform"),
        (tests, 4, "assertion python"),
    ]
    assert str(suite.unsupported[1]) == f"{config}:13: assertion javascript is not supported and was skipped"
    assert suite.case("p1-italy").checks == ()  # its only assertion was python: asked, not graded


def test_promptfoo_loads_to_the_same_suite_as_its_jsonl_equivalent(tmp_path: Path) -> None:
    promptfoo = write(tmp_path, "pf.yaml", """\
description: capitals
prompts: ["Capital of {{ country }}?"]
tests:
  - description: fr
    vars: {country: France}
    assert:
      - {type: contains, value: Paris}
      - {type: is-json}
  - description: jp
    vars: {country: Japan}
    threshold: 0.5
    assert:
      - {type: icontains, value: tokyo, weight: 2}
      - {type: llm-rubric, value: "Short, and right about {{ country }}"}
      - {type: not-regex, value: "\\\\d"}
""")
    equivalent = jsonl(tmp_path, "same.jsonl",
                       {"suite": {"description": "capitals"}},
                       {"id": "fr", "prompt": "Capital of {country}?", "vars": {"country": "France"},
                        "checks": [{"type": "contains", "value": "Paris"}, "is_json"]},
                       {"id": "jp", "prompt": "Capital of {country}?", "vars": {"country": "Japan"}, "threshold": 0.5,
                        "checks": [{"type": "contains", "value": "tokyo", "ignore_case": True, "weight": 2},
                                   {"type": "judge", "rubric": "Short, and right about Japan"},
                                   {"type": "not", "check": {"type": "regex", "pattern": "\\d"}}]})
    a, b = load_suite(promptfoo), load_suite(equivalent)
    assert cases_of(a) == cases_of(b)
    assert (a.description, a.judge, a.rubric, a.threshold, a.unsupported) == (b.description, None, None, None, ())


def test_promptfoo_assertion_types_map_to_checks(tmp_path: Path) -> None:
    path = write(tmp_path, "asserts.yaml", """\
prompts: ["Q {{ n }}"]
tests:
  - vars: {n: 1}
    assert:
      - {type: equals, value: 42}
      - {type: starts-with, value: "A."}
      - {type: contains-any, value: "red, blue"}
      - {type: icontains-all, value: [x, y]}
      - {type: is-json, value: {type: object, required: [name]}}
      - {type: contains-json}
      - {type: not-contains-json}
      - {type: similar, value: the reference}
      - {type: llm-rubric, value: polite, threshold: 0.8}
      - type: assert-set
        weight: 3
        assert:
          - {type: contains, value: a}
          - {type: not-icontains, value: b}
""")
    (case,) = load_suite(path).cases
    assert [check.to_dict() for check in case.checks] == [
        {"type": "exact", "value": 42},
        {"type": "regex", "pattern": r"\AA\."},
        {"type": "any", "checks": [{"type": "contains", "value": "red"}, {"type": "contains", "value": "blue"}]},
        {"type": "all", "checks": [{"type": "contains", "value": "x", "ignore_case": True},
                                   {"type": "contains", "value": "y", "ignore_case": True}]},
        {"type": "json_schema", "schema": {"type": "object", "required": ["name"]}},
        {"type": "is_json", "contains": True},
        {"type": "not", "check": {"type": "is_json", "contains": True}},
        {"type": "rouge_l", "threshold": 0.75},
        {"type": "judge", "rubric": "polite", "threshold": 0.8},
        {"type": "all", "weight": 3, "checks": [
            {"type": "contains", "value": "a"},
            {"type": "not", "check": {"type": "contains", "value": "b", "ignore_case": True}}]},
    ]
    assert case.expected == "the reference"


def test_promptfoo_skips_what_it_cannot_grade_and_says_where(tmp_path: Path) -> None:
    write(tmp_path, "gen.js", "module.exports = () => 'x'")
    path = write(tmp_path, "skips.yaml", """\
prompts:
  - "Hi {{ name }}"
  - file://gen.js:makePrompt
  - raw: "Hey {{ name | shout }}"
tests:
  - vars: {name: Ann}
    metadata: {team: a}
    options:
      rubricPrompt: grade it
    assert:
      - {type: javascript, value: "output.length < 9"}
      - {type: python, value: "len(output) < 9"}
      - {type: webhook, value: "http://localhost/grade"}
      - {type: levenshtein, value: hi, threshold: 2}
      - {type: contains, value: Ann, transform: output.toUpperCase()}
      - {type: contains, value: Hi, metric: greeting}
      - {type: contains, value: Ann, weight: 0}
      - {type: made-up, value: x}
scenarios: []
""")
    suite = load_suite(path)
    assert [(u.line, u.kind) for u in suite.unsupported] == [
        (19, "config field scenarios"),
        (3, "prompt function file"),
        (4, "prompt template"),  # a custom Nunjucks filter
        (7, "test field metadata"),
        (9, "option rubricPrompt"),
        (11, "assertion javascript"), (12, "assertion python"), (13, "assertion webhook"),
        (14, "assertion levenshtein"), (15, "transform"), (16, "assertion field metric"),
        (17, "assertion weight 0"), (18, "assertion made-up"),
    ]
    assert all(u.path == str(path) for u in suite.unsupported)
    (case,) = suite.cases  # the run goes ahead with what is supported
    assert case.prompt == "Hi Ann" and case.checks == (Check("contains", {"value": "Hi"}),)


def test_promptfoo_default_test_var_lists_and_options(tmp_path: Path) -> None:
    path = write(tmp_path, "merge.yaml", """\
prompts: ["Greet {{ name }} in {{ lang }}."]
defaultTest:
  vars: {lang: French}
  threshold: 0.6
  assert:
    - {type: icontains, value: "{{ name }}"}
  options:
    provider: openai:chat:gpt-4o-mini
tests:
  - description: Two people
    vars: {name: [Ann, Bob]}
  - description: In German
    vars: {name: Carl, lang: German}
    threshold: 0.9
    options: {prefix: "Q: ", suffix: " A:"}
""")
    suite = load_suite(path)
    assert suite.judge == "openai:gpt-4o-mini"  # promptfoo's grader: the judge of llm-rubric
    assert [(case.id, case.prompt, case.threshold) for case in suite.cases] == [
        ("two-people-1", "Greet Ann in French.", 0.6),
        ("two-people-2", "Greet Bob in French.", 0.6),
        ("in-german", "Q: Greet Carl in German. A:", 0.9),
    ]
    assert suite.cases[1].checks == (Check("contains", {"value": "Bob", "ignore_case": True}),)
    assert suite.unsupported == ()


def test_promptfoo_prompt_files_chat_prompts_and_test_files(tmp_path: Path) -> None:
    write(tmp_path, "prompts/two.txt", "Say hi to {{ name }}.\n---\nGreet {{ name }}.\n")
    write(tmp_path, "prompts/chat.json", json.dumps([{"role": "system", "content": "Be {{ mood }}."},
                                                      {"role": "user", "content": "Hello {{ name }}"}]))
    write(tmp_path, "prompts/turns.json", json.dumps([{"role": "user", "content": "Hi"},
                                                       {"role": "assistant", "content": "Hello"},
                                                       {"role": "user", "content": "Bye {{ name }}"}]))
    write(tmp_path, "tests/people.yaml", "- vars: {name: Ann, mood: kind}\n- vars: {name: Bob, mood: glad}\n")
    path = write(tmp_path, "files.json", json.dumps({
        "prompts": ["file://prompts/two.txt", "file://prompts/chat.json", "file://prompts/turns.json"],
        "tests": "file://tests/*.yaml"}, indent="\t"))
    suite = load_suite(path)
    assert [(c.id, c.prompt, c.system) for c in suite.cases] == [
        ("p1-t1", "Say hi to Ann.", None), ("p1-t2", "Say hi to Bob.", None),
        ("p2-t1", "Greet Ann.", None), ("p2-t2", "Greet Bob.", None),
        ("p3-t1", "Hello Ann", "Be kind."), ("p3-t2", "Hello Bob", "Be glad."),
    ]
    assert [c.line for c in suite.cases[:2]] == [1, 2]  # the lines in tests/people.yaml
    turns = str(tmp_path / "prompts" / "turns.json")
    assert [(u.path, u.line, u.kind) for u in suite.unsupported] == [(turns, 1, "multi-turn prompt")]


def test_promptfoo_version_follows_the_files_it_refers_to(tmp_path: Path) -> None:
    prompt = write(tmp_path, "p.txt", "Hi {{ name }}")
    path = write(tmp_path, "v.yaml", "prompts: [file://p.txt]\ntests: [{vars: {name: Ann}}]\n")
    before = load_suite(path).version
    prompt.write_text("Hello {{ name }}", encoding="utf-8")
    assert load_suite(path).version != before


def test_promptfoo_mistakes_are_reported_together(tmp_path: Path) -> None:
    path = write(tmp_path, "err.yaml", """\
prompts:
  - "Hi {{ name }} from {{ city }}"
  - file://missing.txt
  - "Broken {{ name "
tests:
  - vars: {name: Ann}
    assert:
      - {type: regex, value: "("}
      - {type: contains}
      - {value: x}
  - vars: {name: Bob, city: Rome}
    threshold: 3
  - 42
""")
    error = load_error(path)
    assert problems_of(error) == [
        ("err.yaml", 3, "prompts"), ("err.yaml", 4, "prompts"), ("err.yaml", 6, "vars"), ("err.yaml", 8, "assert"),
        ("err.yaml", 9, "assert"), ("err.yaml", 10, "assert"), ("err.yaml", 12, "threshold"), ("err.yaml", 13, "tests"),
    ]
    message = str(error)
    assert "missing.txt (No such file or directory)" in message and "relative to the config's folder" in message
    assert "'city' is undefined" in message and "prompt p1 (" in message and "defaultTest.vars" in message
    assert "invalid pattern" in message and 'needs a "value"' in message and 'needs a "type"' in message


# --- OpenAI evals ---------------------------------------------------------------------------------

def test_openai_evals_samples_load_to_the_same_suite_as_their_jsonl_equivalent(tmp_path: Path) -> None:
    samples = load_suite(EXAMPLES / "evals-samples.jsonl")
    equivalent = load_suite(jsonl(
        tmp_path, "same.jsonl",
        {"id": "sample-1", "system": "Answer with the capital only.", "prompt": "What is the capital of France?",
         "expected": "Paris"},
        {"id": "sample-2", "system": "Answer with the number only.", "prompt": "How many days are in a leap year?",
         "expected": "366"},
        {"id": "sample-3", "prompt": "Name a primary colour.", "expected": "red",
         "checks": [{"type": "any", "checks": [{"type": "contains", "value": v} for v in ("red", "blue", "yellow")]}]},
    ))
    assert cases_of(samples) == cases_of(equivalent)
    assert samples.case("sample-2").checks == (Check("numeric"),)
    (skipped,) = samples.unsupported  # the fourth sample has earlier turns: not asked without them
    assert (Path(skipped.path).name, skipped.line, skipped.kind) == ("evals-samples.jsonl", 4, "multi-turn input")


def test_openai_evals_header_fields_and_mistakes(tmp_path: Path) -> None:
    path = jsonl(tmp_path, "graded.jsonl",
                 {"suite": {"name": "evals", "judge": "anthropic:claude-3-5-haiku-latest", "rubric": "Accurate"}},
                 {"input": "What is 2+2?", "ideal": "4", "metadata": {"source": "x"}},
                 {"input": [{"role": "user", "content": [{"type": "text", "text": "Describe "},
                                                         {"type": "text", "text": "this."}]}]},
                 {"input": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
                 {"input": [{"role": "user", "content": "Q"}], "metadata": 1})
    suite = load_suite(path)
    assert (suite.name, suite.judge, suite.rubric) == ("evals", "anthropic:claude-3-5-haiku-latest", "Accurate")
    assert [(c.id, c.prompt, c.checks) for c in suite.cases] == [
        ("sample-1", "What is 2+2?", (Check("numeric"),)), ("sample-2", "Describe this.", ()), ("sample-4", "Q", ())]
    assert [(u.line, u.kind) for u in suite.unsupported] == [(2, "sample field metadata"), (4, "non-text input")]
    assert "and 1 more lines" in suite.unsupported[0].detail

    bad = jsonl(tmp_path, "bad.jsonl", {"input": [{"role": "user", "content": "a"}], "ideal": {"x": 1}},
                {"input": 5, "ideal": "a"}, {"input": [{"role": "user"}], "ideal": "a"})
    assert problems_of(load_error(bad)) == [("bad.jsonl", 1, "ideal"), ("bad.jsonl", 2, "input"),
                                            ("bad.jsonl", 3, "input")]


# --- what is refused ------------------------------------------------------------------------------

def test_a_promptfoo_tests_csv_alone_says_to_run_its_config(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "tests.csv", "country,__expected\nPeru,contains: Lima\n"))
    assert (error.line, error.field) == (1, "prompt") and "promptfoo tests file" in str(error)


def test_other_extensions_name_every_format(tmp_path: Path) -> None:
    message = str(load_error(write(tmp_path, "cases.txt", "Capital of France?")))
    assert "unsupported suite format .txt" in message
    assert all(kind in message for kind in (".jsonl", ".csv", ".yaml", "promptfoo"))


def test_unsupported_round_trips_through_the_stored_suite() -> None:
    suite = load_suite(EXAMPLES / "promptfooconfig.yaml")
    again = Suite.from_dict(json.loads(json.dumps(suite.to_dict())))
    assert again == suite and again.unsupported[0] == Unsupported(suite.unsupported[0].path, 9, "providers",
                                                                  suite.unsupported[0].detail)


# --- the command line -----------------------------------------------------------------------------

def test_a_dry_run_of_a_promptfoo_config_lists_what_it_skips(demo_model: Path, modelscout_home: Path) -> None:
    from tests.conftest import modelscout_here
    from tests.test_cli import stored_runs

    config = EXAMPLES / "promptfooconfig.yaml"
    proc = modelscout_here("run", "--suite", str(config), "--model", str(demo_model), "--dry-run", check=True)
    for where, kind in ((f"{config}:9", "providers"), (f"{config}:13", "assertion javascript"),
                        (f"{config}:37", "transform"), (f"{EXAMPLES / 'tests.csv'}:4", "assertion python")):
        assert f"{where}: {kind} is not supported and was skipped" in proc.stderr
    assert "dry run" in proc.stderr and stored_runs(modelscout_home) == 0


@pytest.mark.model
def test_run_a_promptfoo_config_says_what_it_skips_then_runs_the_rest(demo_model: Path, modelscout_home: Path,
                                                                       tmp_path: Path) -> None:
    from tests.conftest import modelscout_here

    write(tmp_path, "tests.csv", "city,__expected\nLima,python: len(output) < 50\n")
    config = write(tmp_path, "promptfooconfig.yaml", """\
prompts: ["Say {{ city }}."]
tests:
  - vars: {city: Paris}
    assert:
      - {type: javascript, value: "output.length < 50"}
      - {type: icontains, value: paris, weight: 2}
      - {type: not-contains, value: London}
      - {type: llm-rubric, value: Says Paris}
  - file://tests.csv
""")
    proc = modelscout_here("run", "--suite", str(config), "--model", str(demo_model), "--max-tokens", "2", "--json",
                           check=True)
    before_run = proc.stderr.split("\nrun ")[0]
    assert f"{config}:5: assertion javascript is not supported and was skipped" in before_run
    assert f"{tmp_path / 'tests.csv'}:2: assertion python is not supported and was skipped" in before_run
    (model,) = json.loads(proc.stdout)["models"]
    assert model["cases"] == 2 and model["errors"] == 0
