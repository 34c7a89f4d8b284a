"""promptfoo configs as suites: every prompt asked with every test's vars, as promptfoo does.

Read: `prompts` (text with Nunjucks {{ var }} placeholders, rendered by Jinja2, Nunjucks' Python
original; `file://` text files, several prompts split by `---` lines; chat JSON/YAML of one system
and one user message), `tests` (a list, or `file://` YAML, JSON, JSONL or CSV files of tests) with
`vars` (a list value asks every value, as promptfoo expands it), `assert`, `threshold` and
`description`, and `defaultTest`, merged into each test. A case is one prompt with one test: its id
is the test's description (or t3), led by the prompt (p1-) when there are several prompts.

Assertions become checks: equals -> exact, contains -> contains, icontains -> contains(ignore_case),
contains-any/all -> any/all of contains, starts-with -> regex, regex -> regex, is-json -> is_json
(json_schema with a schema value), contains-json -> is_json(contains) or json_schema(contains),
llm-rubric -> judge(rubric), similar -> rouge_l (threshold or 0.75; the value becomes the case's
expected answer, its reference: promptfoo compares embeddings, ROUGE-L is the nearest offline
measure), assert-set -> all, `not-` -> not; `weight` and `threshold` carry over. A grader given
as defaultTest.options.provider (openai:... or anthropic:...) becomes the suite's judge.

Everything else (javascript, python and webhook assertions, transforms, providers, a prompt
function...) is skipped and listed as Unsupported with its file and line: the run goes ahead with
the rest, and says what it left out.
"""

from __future__ import annotations

import glob
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.suites.csvfile import csv_rows
from desktop_app.suites.limits import too_long
from desktop_app.suites.model import Case, Check, SuiteError, Unsupported
from desktop_app.suites.records import Parsed, Problems, Source, check_from_spec, header_from, json_kind, text_of
from desktop_app.suites.yamlfile import LineDict, LineList, load_json, load_yaml

SIMILAR_THRESHOLD = 0.75  # promptfoo's default for `similar`
_CODE_SUFFIXES = (".js", ".cjs", ".mjs", ".ts", ".py")
_UNSUPPORTED_TYPES = (  # promptfoo assertion types ModelScout knows by name but cannot grade (yet)
    "javascript", "python", "webhook", "levenshtein", "rouge-n", "bleu", "gleu", "meteor", "perplexity",
    "perplexity-score", "cost", "latency", "answer-relevance", "context-faithfulness", "context-recall",
    "context-relevance", "factuality", "model-graded-closedqa", "model-graded-factuality", "select-best",
    "moderation", "classifier", "is-xml", "contains-xml", "is-sql", "contains-sql", "is-html", "contains-html",
    "is-valid-openai-function-call", "is-valid-openai-tools-call", "is-valid-function-call", "is-refusal",
    "g-eval", "guardrails", "finish-reason", "pi", "max-score", "word-count",
)
_MAPPED_TYPES = ("equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any",
                 "icontains-all", "starts-with", "regex", "is-json", "contains-json", "llm-rubric", "similar",
                 "assert-set")
_ASSERTION_KEYS = ("type", "value", "threshold", "weight")  # others are listed as skipped
_TEST_KEYS = ("description", "vars", "assert", "options", "threshold")
_OPTION_KEYS = ("prefix", "suffix", "provider", "disableVarExpansion")
_CSV_ALIASES = {"grade": "llm-rubric", "fn": "javascript", "eval": "javascript"}
_CSV_ASSERTION = re.compile(r"(?P<type>(?:not-)?[a-z][a-z0-9-]*)(?:\((?P<threshold>[0-9.]+)\))?(?::(?P<value>.*))?",
                            re.DOTALL)


def looks_like_promptfoo(document: Any) -> bool:
    """A promptfoo config: a mapping with `prompts` (and usually `tests`), not a ModelScout `cases:` suite."""
    return isinstance(document, dict) and "prompts" in document and "cases" not in document


def read_promptfoo(document: LineDict, source: Source, problems: Problems | None = None) -> Parsed:
    return _Reader(source, problems or Problems(source.shown)).read(document)


@dataclass
class _Prompt:
    key: str  # p1, p2, ...
    user: Any  # a compiled template
    system: Any | None
    path: str
    line: int


@dataclass
class _Test:
    key: str  # from its description, else t3
    vars: dict[str, Any]
    checks: list[Check]
    expected: str | None
    threshold: float | None
    prefix: str
    suffix: str
    path: str
    line: int


@dataclass
class _Raw:
    """A test as written (or a CSV row made into one), with where it is."""

    data: LineDict
    path: str
    line: int


@dataclass
class _Reader:
    source: Source
    problems: Problems
    unsupported: list[Unsupported] = field(default_factory=list)
    extra_files: list[tuple[str, bytes]] = field(default_factory=list)
    judge: str | None = None

    def __post_init__(self) -> None:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        self.env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True,
                                                 autoescape=False)
        self.env.filters["dump"] = lambda value, *_: json.dumps(value, ensure_ascii=False)  # Nunjucks' JSON filter

    # --- the whole config ---------------------------------------------------------------------

    def read(self, document: LineDict) -> Parsed:
        shown = self.source.shown
        for key in document:
            if key in ("prompts", "tests", "defaultTest", "description", "$schema"):
                continue
            if key in ("providers", "targets"):
                self.skip(shown, document.line_of(key), "providers",
                          "ModelScout asks the models given to run --model or ticked in the app")
            else:
                self.skip(shown, document.line_of(key), f"config field {key}")
        header = header_from({"description": document.get("description")}, document.line, self.problems,
                             field_lines=document.key_lines)
        prompts = self.prompts(document["prompts"], document.line_of("prompts"))
        default = self.default_test(document.get("defaultTest"), document.line_of("defaultTest"))
        raw_tests = self.raw_tests(document.get("tests"), document.line_of("tests"))
        tests: list[_Test] = []
        taken: set[str] = set()
        for number, raw in enumerate(raw_tests, 1):
            tests += self.test(raw, default, number, taken)
        cases = self.cases(prompts, tests)
        self.problems.raise_any()
        if not prompts:
            raise SuiteError(f"{shown}: none of the prompts can be asked (see what was skipped); "
                             "give at least one prompt as text or a file:// text file", path=shown)
        if header is not None and self.judge:
            header = header.model_copy(update={"judge": self.judge})
        return Parsed(header, cases, self.unsupported, self.extra_files)

    def skip(self, path: str, line: int | None, kind: str, detail: str = "") -> None:
        self.unsupported.append(Unsupported(path, line, kind, detail))

    # --- prompts --------------------------------------------------------------------------------

    def prompts(self, value: Any, line: int) -> list[_Prompt]:
        shown = self.source.shown
        if isinstance(value, str):
            items = [(value, line)]
        elif isinstance(value, list):
            items = [(item, value.line_of(i)) for i, item in enumerate(value)]
        elif isinstance(value, dict):  # the older form: {file://path: label}
            items = [({"id": key, "label": label}, value.line_of(key)) for key, label in value.items()]
        else:
            self.problems.add(line, "prompts", f"must be a list of prompts, got {json_kind(value)}")
            return []
        found: list[tuple[str, str | None, str, int]] = []  # text, system, path, line
        for item, at in items:
            if isinstance(item, str):
                found += self.prompt_texts(item, at)
            elif isinstance(item, dict):
                for key in item:
                    if key not in ("raw", "id", "label"):
                        self.skip(shown, item.line_of(key) if isinstance(item, LineDict) else at, f"prompt field {key}")
                raw, ref = item.get("raw"), item.get("id")
                if isinstance(raw, str):
                    found += self.prompt_texts(raw, at, inline_only=True)
                elif isinstance(ref, str) and ref.startswith("file://"):
                    found += self.prompt_texts(ref, at)
                else:
                    self.skip(shown, at, "prompt", f"a prompt given as {ref or 'an object'} (only text and "
                                                  "file:// text files are read)")
            else:
                self.problems.add(at, "prompts", f"each prompt must be text or an object with raw or id, "
                                                 f"got {json_kind(item)}")
        prompts = []
        for text, system, path, at in found:
            user_template = self.template(text, path, at)
            system_template = self.template(system, path, at) if system is not None else None
            if user_template is not None and (system is None or system_template is not None):
                prompts.append(_Prompt(f"p{len(prompts) + 1}", user_template, system_template, path, at))
        return prompts

    def prompt_texts(self, text: str, line: int, inline_only: bool = False) -> list[tuple[str, str | None, str, int]]:
        """(user text, system text, path, line) of each prompt a prompt entry stands for."""
        shown = self.source.shown
        if inline_only or not text.startswith("file://"):
            chat = _chat_messages(text)
            if chat is None:
                return [(text, None, shown, line)]
            return self.chat_prompt(chat, shown, line)
        found = []
        for file_path, file_shown, content in self.files(text, shown, line, "prompt"):
            suffix = file_path.suffix.lower()
            if suffix in (".json", ".yaml", ".yml"):
                ok, document = self.parse(file_path, file_shown, content)
                if ok:
                    found += self.chat_prompt(document, file_shown, 1)
            elif suffix == ".jsonl":
                for number, row in enumerate(content.split("\n"), 1):
                    if row.strip():
                        found += self.chat_prompt(_chat_messages(row) or row, file_shown, number)
            else:
                # promptfoo's text files hold one prompt, or several separated by lines of ---.
                at = 1
                for part in re.split(r"^---[ \t]*$", content, flags=re.MULTILINE):
                    if part.strip():
                        found.append((part.strip("\n"), None, file_shown, at + len(part) - len(part.lstrip("\n"))))
                    at += part.count("\n")
        return found

    def chat_prompt(self, messages: Any, path: str, line: int) -> list[tuple[str, str | None, str, int]]:
        """A chat prompt of system messages then one user message; others are skipped."""
        if not isinstance(messages, list) or not all(isinstance(m, dict) and isinstance(m.get("content"), str)
                                                     for m in messages):
            self.skip(path, line, "prompt", "a chat prompt must be a list of {role, content} messages with "
                                            "text content")
            return []
        roles = [m.get("role") for m in messages]
        systems = [m["content"] for m in messages if m.get("role") == "system"]
        if roles[-1:] != ["user"] or roles.count("user") != 1 or len(systems) != len(messages) - 1:
            self.skip(path, line, "multi-turn prompt", f"roles {', '.join(map(str, roles))}; ModelScout asks "
                                                       "one system and one user message")
            return []
        return [(messages[-1]["content"], "\n\n".join(systems) if systems else None, path, line)]

    def template(self, text: str, path: str, line: int) -> Any | None:
        from jinja2 import TemplateSyntaxError
        from jinja2.exceptions import TemplateAssertionError

        try:
            return self.env.from_string(text)
        except TemplateAssertionError as error:  # a filter or test promptfoo users add in JavaScript
            self.skip(path, line + (error.lineno or 1) - 1, "prompt template", error.message or str(error))
        except TemplateSyntaxError as error:
            self.problems.add(line + (error.lineno or 1) - 1, "prompts",
                              f"invalid template: {(error.message or '').rstrip('.')}; fix the {{{{ }}}} or {{% %}} tags",
                              path=path)
        return None

    # --- tests ----------------------------------------------------------------------------------

    def raw_tests(self, value: Any, line: int) -> list[_Raw]:
        shown = self.source.shown
        if value is None:
            return [_Raw(_located({}, line), shown, line)]  # promptfoo asks each prompt once
        items = [(value, line)] if isinstance(value, str) else (
            [(item, value.line_of(i)) for i, item in enumerate(value)] if isinstance(value, list) else None)
        if items is None:
            self.problems.add(line, "tests", f"must be a list of tests or a file:// path, got {json_kind(value)}")
            return []
        raws = []
        for item, at in items:
            if isinstance(item, dict):
                raws.append(_Raw(item if isinstance(item, LineDict) else _located(item, at), shown, at))
            elif isinstance(item, str) and item.startswith("file://"):
                raws += self.test_files(item, at)
            else:
                self.problems.add(at, "tests", f"each test must be a mapping (vars: ..., assert: ...) or a "
                                               f"file:// path, got {json_kind(item)}")
        return raws

    def test_files(self, reference: str, line: int) -> list[_Raw]:
        raws = []
        for path, shown, content in self.files(reference, self.source.shown, line, "tests"):
            suffix = path.suffix.lower()
            if suffix == ".csv":
                raws += self.csv_tests(content, shown)
            elif suffix == ".jsonl":
                for number, row in enumerate(content.split("\n"), 1):
                    if not row.strip():
                        continue
                    try:
                        data = json.loads(row)
                    except ValueError as error:
                        self.problems.add(number, None, f"invalid JSON: {error}", path=shown)
                        continue
                    if isinstance(data, dict):
                        raws.append(_Raw(_located(data, number), shown, number))
                    else:
                        self.problems.add(number, None, f"each line must be a test object, got {json_kind(data)}",
                                          path=shown)
            else:
                ok, document = self.parse(path, shown, content)
                if not ok:
                    continue
                tests = document if isinstance(document, list) else [document]
                for index, test in enumerate(tests):
                    at = tests.line_of(index) if isinstance(tests, LineList) else getattr(test, "line", 1)
                    if isinstance(test, dict):
                        raws.append(_Raw(test if isinstance(test, LineDict) else _located(test, at), shown, at))
                    else:
                        self.problems.add(at, None, f"each test must be a mapping, got {json_kind(test)}", path=shown)
        return raws

    def csv_tests(self, content: str, shown: str) -> list[_Raw]:
        """promptfoo's CSV tests: a column per var, plus __expected (assertions), __description, ..."""
        rows = [(row, line) for row, line in csv_rows(content, self.problems, shown) if any(c.strip() for c in row)]
        if not rows:
            return []
        (header, header_line), body = rows[0], rows[1:]
        names = [name.strip() for name in header]
        for name in names:
            if name.startswith("__") and not name.startswith(("__expected", "__description", "__threshold",
                                                               "__prefix", "__suffix")):
                self.skip(shown, header_line, f"column {name}")
        raws = []
        for row, line in body:
            test: dict[str, Any] = {"vars": {}, "assert": []}
            for name, cell in zip(names, row):
                if name.startswith("__expected"):
                    if cell.strip():
                        test["assert"].append(_located(_assertion_from_text(cell.strip()), line))
                elif name == "__description" and cell.strip():
                    test["description"] = cell.strip()
                elif name == "__threshold" and cell.strip():
                    try:
                        test["threshold"] = float(cell)
                    except ValueError:
                        self.problems.add(line, name, f'"{cell}" is not a number; write e.g. 0.8', path=shown)
                elif name in ("__prefix", "__suffix"):
                    test.setdefault("options", {})[name[2:]] = cell
                elif name and not name.startswith("__"):
                    test["vars"][name] = cell
            raws.append(_Raw(_located(test, line), shown, line))
        return raws

    def default_test(self, value: Any, line: int) -> _Raw | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.skip(self.source.shown, line, "defaultTest", f"given as {json_kind(value)}; only a mapping is read")
            return None
        raw = _Raw(value, self.source.shown, line)
        # The grader promptfoo uses for llm-rubric and similar: the suite's judge, when ModelScout can call it.
        options = value.get("options")
        if isinstance(options, dict) and options.get("provider") is not None:
            self.judge = _judge_model(options["provider"])
            if self.judge is None:
                self.skip(raw.path, options.line_of("provider") if isinstance(options, LineDict) else line,
                          "grader provider", f"{_provider_id(options['provider'])}; give a judge with run --judge "
                                             "(openai:MODEL, anthropic:MODEL or a local .gguf)")
        return raw

    def test(self, raw: _Raw, default: _Raw | None, number: int, taken: set[str]) -> list[_Test]:
        """One test as promptfoo runs it, defaultTest merged in; several when a var lists values."""
        data, path = raw.data, raw.path
        merged_vars: dict[str, Any] = {}
        assertions: list[tuple[Any, str]] = []
        options: dict[str, Any] = {}
        threshold = None
        for part, is_default in ((default, True), (raw, False)):
            if part is None:
                continue
            for key in part.data:
                if key not in _TEST_KEYS and not (is_default and key == "options"):
                    self.skip(part.path, part.data.line_of(key), f"test field {key}")
            merged_vars.update(self.test_vars(part.data.get("vars"), part))
            items = part.data.get("assert")
            if isinstance(items, list):
                assertions += [(item, part.path) for item in items]
            elif items is not None:
                self.problems.add(part.data.line_of("assert"), "assert", f"must be a list of assertions, "
                                                                          f"got {json_kind(items)}", path=part.path)
            part_options = part.data.get("options")
            if isinstance(part_options, dict):
                for key, value in part_options.items():
                    if key == "provider" and is_default:
                        continue  # the judge (see default_test)
                    if key not in _OPTION_KEYS or key == "provider":
                        transform = key in ("transform", "postprocess")
                        self.skip(part.path, _line_in(part_options, key, part.line),
                                  "transform" if transform else f"option {key}",
                                  "the test's checks grade the answer as the model gave it" if transform else "")
                    else:
                        options[key] = value
            if part.data.get("threshold") is not None:
                threshold = part.data["threshold"]
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0 <= threshold <= 1):
            self.problems.add(data.line_of("threshold"), "threshold", f"must be a number from 0 to 1, e.g. 0.8, "
                                                                      f"got {json_kind(threshold)}", path=path)
            threshold = None
        description = data.get("description")
        base = _slug(description) if isinstance(description, str) else ""
        base = base or f"t{number}"
        combos = _expand(merged_vars, expand=not options.get("disableVarExpansion"))
        tests = []
        for index, variables in enumerate(combos, 1):
            key = _unique(base if len(combos) == 1 else f"{base}-{index}", taken)
            checks, expected = self.checks(assertions, variables, raw)
            tests.append(_Test(key, variables, checks, expected, threshold, text_of(options.get("prefix", "")),
                               text_of(options.get("suffix", "")), path, raw.line))
        return tests

    def test_vars(self, value: Any, part: _Raw) -> dict[str, Any]:
        if value is None:
            return {}
        line = part.data.line_of("vars")
        if isinstance(value, str) and value.startswith("file://"):
            loaded = {}
            for path, shown, content in self.files(value, part.path, line, "vars"):
                ok, document = self.parse(path, shown, content)
                if not ok:
                    continue
                if isinstance(document, dict):
                    loaded.update(document)
                else:
                    self.problems.add(1, None, f"a vars file must hold a mapping, got {json_kind(document)}",
                                      path=shown)
            value = loaded
        if not isinstance(value, dict):
            self.problems.add(line, "vars", f"must be a mapping of names to values, got {json_kind(value)}",
                              path=part.path)
            return {}
        variables = {}
        for name, item in value.items():
            at = _line_in(value, name, line)
            if isinstance(item, str) and item.startswith("file://"):
                variables[str(name)] = self.var_file(item, part.path, at)
            elif isinstance(item, list):
                variables[str(name)] = [self.var_file(v, part.path, at)
                                        if isinstance(v, str) and v.startswith("file://") else _plain(v)
                                        for v in item]
            else:
                variables[str(name)] = _plain(item)
        return variables

    def var_file(self, reference: str, path: str, line: int) -> Any:
        """A var's value read from a file: text as is, JSON and YAML parsed; code files are skipped."""
        contents = self.files(reference, path, line, "var")
        if not contents:
            return ""
        file_path, shown, content = contents[0]
        if file_path.suffix.lower() in (".json", ".yaml", ".yml"):
            ok, document = self.parse(file_path, shown, content)
            return document if ok else ""
        return content

    def parse(self, path: Path, shown: str, content: str) -> tuple[bool, Any]:
        """(True, the document) of a JSON or YAML file, line numbers kept; (False, None) when it is invalid."""
        try:
            if path.suffix.lower() == ".json":
                return True, load_json(content, shown, self.problems)
            return True, load_yaml(content, shown, self.problems)
        except SuiteError as error:
            self.problems.errors.extend(error.problems)
            return False, None

    # --- assertions -----------------------------------------------------------------------------

    def checks(self, assertions: list[tuple[Any, str]], variables: dict[str, Any],
               raw: _Raw) -> tuple[list[Check], str | None]:
        """The test's assertions as checks; `similar`'s value becomes the expected answer."""
        checks: list[Check] = []
        state: dict[str, Any] = {"expected": None}
        for item, path in assertions:
            line = item.line if isinstance(item, LineDict) else raw.line
            spec = self.assertion(item, path, line, variables, state)
            if spec is None:
                continue
            try:
                checks.append(check_from_spec(spec, state["expected"], f"assertion {item.get('type')}"))
            except ValueError as error:
                self.problems.add(line, "assert", str(error), path=path)
        return checks, state["expected"]

    def assertion(self, item: Any, path: str, line: int, variables: dict[str, Any],
                  state: dict[str, Any]) -> dict[str, Any] | None:
        """The check an assertion maps to, or None when it is skipped (and listed) or wrong (and reported)."""
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            self.problems.add(line, "assert", 'each assertion needs a "type", e.g. {type: contains, value: Paris}',
                              path=path)
            return None
        kind = item["type"]
        negate = kind.startswith("not-")
        base = kind[4:] if negate else kind
        if base not in _MAPPED_TYPES:
            known = base in _UNSUPPORTED_TYPES
            self.skip(path, line, f"assertion {kind}",
                      "" if known else "not a promptfoo assertion type ModelScout knows")
            return None
        for key in item:
            if key not in _ASSERTION_KEYS and not (base == "assert-set" and key == "assert"):
                if key == "transform":
                    self.skip(path, _line_in(item, key, line), "transform", f"the {kind} assertion is skipped with it")
                    return None
                self.skip(path, _line_in(item, key, line), f"assertion field {key}", f"on {kind}")
        weight = item.get("weight")
        if weight == 0:
            self.skip(path, line, "assertion weight 0", f"{kind} only reported, never counted, in promptfoo")
            return None
        value = item.get("value")
        if isinstance(value, str) and value.startswith("file://"):
            if Path(value[7:].split(":")[0]).suffix.lower() in _CODE_SUFFIXES:
                self.skip(path, line, f"assertion {kind} from code", value)
                return None
            value = self.var_file(value, path, line)
        value = self.render_value(value, variables, path, line)
        threshold = item.get("threshold")
        spec = self.mapped(base, value, threshold, item, path, line, variables, state)
        if spec is None:
            return None
        if threshold is not None and base not in ("similar", "llm-rubric", "assert-set"):
            self.skip(path, _line_in(item, "threshold", line), "assertion threshold", f"{kind} passes or fails")
        if negate:
            spec = {"type": "not", "check": spec}
        if weight is not None:
            spec["weight"] = weight
        return spec

    def mapped(self, base: str, value: Any, threshold: Any, item: dict[str, Any], path: str, line: int,
               variables: dict[str, Any], state: dict[str, Any]) -> dict[str, Any] | None:
        def needs_value() -> None:
            self.problems.add(line, "assert", f'assertion {item["type"]} needs a "value"', path=path)

        if value is None and base in ("equals", "contains", "icontains", "starts-with", "regex", "llm-rubric",
                                      "similar"):
            needs_value()
            return None
        if base == "equals":
            if isinstance(value, (dict, list)):
                self.skip(path, line, "assertion equals with a JSON value", "it compares JSON, not text")
                return None
            return {"type": "exact", "value": value}
        if base in ("contains", "icontains"):
            return {"type": "contains", "value": value, **({"ignore_case": True} if base == "icontains" else {})}
        if base in ("contains-any", "contains-all", "icontains-any", "icontains-all"):
            values = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
            if not isinstance(values, list) or not values:
                needs_value()
                return None
            ignore = {"ignore_case": True} if base.startswith("i") else {}
            return {"type": "any" if base.endswith("any") else "all",
                    "checks": [{"type": "contains", "value": v, **ignore} for v in values]}
        if base == "starts-with":
            return {"type": "regex", "pattern": r"\A" + re.escape(text_of(value))}
        if base == "regex":
            return {"type": "regex", "pattern": value}
        if base in ("is-json", "contains-json"):
            contains = {"contains": True} if base == "contains-json" else {}
            if value is None:
                return {"type": "is_json", **contains}
            return {"type": "json_schema", "schema": value, **contains}
        if base == "llm-rubric":
            spec = {"type": "judge", "rubric": text_of(value)}
            return spec if threshold is None else {**spec, "threshold": threshold}
        if base == "similar":
            if isinstance(value, list):
                self.skip(path, line, "assertion similar with several values", "one reference text per test")
                return None
            if state["expected"] is not None and state["expected"] != text_of(value):
                self.skip(path, line, "a second similar reference", "a case has one reference answer")
                return None
            state["expected"] = text_of(value)
            return {"type": "rouge_l", "threshold": SIMILAR_THRESHOLD if threshold is None else threshold}
        # assert-set: a group of assertions that passes together
        if threshold is not None:
            self.skip(path, line, "assertion assert-set with a threshold")
            return None
        children = item.get("assert")
        if not isinstance(children, list) or not children:
            self.problems.add(line, "assert", 'assert-set needs "assert": a list of assertions', path=path)
            return None
        specs = [self.assertion(child, path, _item_line(children, i, line), variables, state)
                 for i, child in enumerate(children)]
        specs = [spec for spec in specs if spec is not None]
        return {"type": "all", "checks": specs} if specs else None

    def render_value(self, value: Any, variables: dict[str, Any], path: str, line: int) -> Any:
        """promptfoo renders an assertion's text with the test's vars."""
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        template = self.template(value, path, line)
        return self.render(template, variables, path, line, "assertion value") if template is not None else value

    def render(self, template: Any, variables: dict[str, Any], path: str, line: int, what: str) -> str:
        from jinja2 import TemplateError, UndefinedError

        try:
            return template.render(**variables)
        except UndefinedError as error:
            self.problems.add(line, "vars", f"{what} uses a variable this test does not give ({error.message}); "
                                            "add it to the test's vars or to defaultTest.vars", path=path)
        except TemplateError as error:
            self.problems.add(line, "vars", f"{what} cannot be rendered: {error.message or error}", path=path)
        return ""

    # --- prompt x test --------------------------------------------------------------------------

    def cases(self, prompts: list[_Prompt], tests: list[_Test]) -> list[Case]:
        cases = []
        several = len(prompts) > 1
        for prompt in prompts:
            for test in tests:
                where = f"prompt {prompt.key} ({prompt.path} line {prompt.line})"
                before = len(self.problems)
                text = self.render(prompt.user, test.vars, test.path, test.line, where)
                system = (self.render(prompt.system, test.vars, test.path, test.line, where)
                          if prompt.system is not None else None)
                if len(self.problems) > before:
                    continue
                text = f"{test.prefix}{text}{test.suffix}"
                if not text.strip():
                    self.problems.add(test.line, "prompts", f"{where} is empty with this test's vars", path=test.path)
                    continue
                problem = too_long(text, system, self.source.max_prompt_tokens)
                if problem is not None:
                    self.problems.add(test.line, "prompts", f"{where} with this test's vars: {problem}",
                                      path=test.path)
                    continue
                cases.append(Case(
                    id=f"{prompt.key}-{test.key}" if several else test.key, prompt=text,
                    system=system if system and system.strip() else None, expected=test.expected,
                    checks=tuple(test.checks), tags=(prompt.key,) if several else (), line=test.line,
                    threshold=None if test.threshold is None else float(test.threshold),
                    vars={name: text_of(value) for name, value in test.vars.items()},
                ))
        return cases

    # --- files ----------------------------------------------------------------------------------

    def files(self, reference: str, referrer: str, line: int, what: str) -> list[tuple[Path, str, str]]:
        """(path, shown name, text) of each file a file:// reference names (a glob may name several)."""
        target = reference[len("file://"):]
        if Path(target.split(":")[0]).suffix.lower() in _CODE_SUFFIXES:
            kind = {"prompt": "prompt function file", "tests": "tests generator"}.get(what, f"{what} from code")
            self.skip(referrer, line, kind, target)
            return []
        field_name = {"prompt": "prompts", "var": "vars"}.get(what, what)
        path, shown = self.source.relative(target)
        if any(sign in target for sign in "*?["):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            if not matches:
                self.problems.add(line, field_name, f"no file matches {target}; check the pattern", path=referrer)
            pairs = [(match, str(Path(shown).parent / match.relative_to(path.parent))
                      if match.is_relative_to(path.parent) else str(match)) for match in matches]
        else:
            pairs = [(path, shown)]
        found = []
        for file_path, file_shown in pairs:
            try:
                raw = file_path.read_bytes()
            except OSError as error:
                hint = "check the path (it is relative to the config's folder)" if not file_path.exists() else \
                    "check that you may read it"
                self.problems.add(line, field_name, f"cannot read {file_shown} ({error.strerror or error}); {hint}",
                                  path=referrer)
                continue
            try:
                content = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.problems.add(line, field_name, f"{file_shown} is not UTF-8 text; save it with UTF-8 encoding",
                                  path=referrer)
                continue
            self.extra_files.append((file_shown, raw))
            found.append((file_path, file_shown, content))
        return found


# --- small helpers ----------------------------------------------------------------------------------

def _located(data: dict[str, Any], line: int) -> LineDict:
    located = LineDict(data)
    located.line, located.key_lines, located.raw = line, {}, {}
    return located


def _line_in(mapping: Any, key: Any, default: int) -> int:
    return mapping.line_of(key) if isinstance(mapping, LineDict) else default


def _item_line(items: Any, index: int, default: int) -> int:
    return items.line_of(index) if isinstance(items, LineList) else default


def _plain(value: Any) -> Any:
    """A var's value as a template sees it: numbers and true/false as promptfoo prints them."""
    if isinstance(value, (bool, int, float)) or value is None:
        return text_of(value)
    return value


def _expand(variables: dict[str, Any], expand: bool) -> list[dict[str, Any]]:
    """Every combination of the values of vars that list several, as promptfoo asks them."""
    if not expand:
        return [variables]
    names = list(variables)
    choices = [variables[name] if isinstance(variables[name], list) and variables[name] else [variables[name]]
               for name in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*choices)]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-")


def _unique(key: str, taken: set[str]) -> str:
    candidate, n = key, 2
    while candidate in taken:
        candidate, n = f"{key}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _chat_messages(text: str) -> list[Any] | None:
    """The messages of a prompt written as a JSON chat ([{"role": ..., "content": ...}, ...]), else None."""
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return value
    return None


def _assertion_from_text(text: str) -> dict[str, Any]:
    """An __expected cell as promptfoo reads it: `contains: Paris`, `similar(0.8): ...`, or else equals."""
    match = _CSV_ASSERTION.fullmatch(text)
    if match:
        kind = match["type"]
        negate = kind.startswith("not-")
        base = _CSV_ALIASES.get(kind[4:] if negate else kind, kind[4:] if negate else kind)
        value = match["value"]
        if base in _MAPPED_TYPES + _UNSUPPORTED_TYPES and (value is not None or base in ("is-json", "contains-json")):
            assertion: dict[str, Any] = {"type": ("not-" if negate else "") + base}
            if value is not None and value.strip():
                assertion["value"] = value.strip()
            if match["threshold"]:
                assertion["threshold"] = float(match["threshold"])
            return assertion
    return {"type": "equals", "value": text}


def _provider_id(provider: Any) -> str:
    if isinstance(provider, dict):
        return str(provider.get("id", "an object"))
    return str(provider)


def _judge_model(provider: Any) -> str | None:
    """A promptfoo provider id as a ModelScout model (openai:MODEL, anthropic:MODEL), else None."""
    if isinstance(provider, dict) and set(provider) - {"id"}:
        return None  # a provider with its own config: ModelScout would not call it the same way
    match = re.fullmatch(r"(openai|anthropic)(?::(?:chat|messages))?:([^:\s]+)", _provider_id(provider))
    return f"{match[1]}:{match[2]}" if match else None
