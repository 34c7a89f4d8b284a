"""Every check type a suite may use: its parameters, what it needs, how it is validated and scored.

A check scores one answer into a Grade (passed, score 0..1, reason, parts). A check whose input is
missing (no reference answer, no judgment) gives a Grade with `error` set: it is not a zero, and a
case's grade leaves it out of its score and names it in its reason. Suites are validated here
(validate_check), so the suite readers of every format share one set of rules and messages.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Protocol

from desktop_app.scoring import similarity
from desktop_app.scoring.checks import (
    NO_ECHO,
    Echo,
    Grade,
    _format_number,
    _reference_text,
    check_contains,
    check_exact,
    check_numeric,
    check_regex,
    find_echo,
)
from desktop_app.suites.loader import NUMERIC_WHICH, REGEX_FLAGS, Case, Check, parse_number

NEEDS = frozenset({"expected", "reference", "judge"})


class JudgmentLike(Protocol):
    """What a judge check reads of scoring.judge.Judgment."""

    score: float | None  # 0..1; None when the verdict could not be read
    reason: str
    error: str | None


@dataclass(frozen=True)
class ScoreContext:
    """Everything a check may read about one answer."""

    answer: str
    prompt: str = ""
    system: str | None = None
    expected: str | float | None = None  # the case's own expected answer
    reference: str | None = None  # expected as text, else the reference model's answer
    judgment: JudgmentLike | None = None  # this answer's single-answer judgment, when a judge ran

    @classmethod
    def for_case(cls, case: Case, answer: str | None, *, reference_answer: str | None = None,
                 judgment: JudgmentLike | None = None) -> ScoreContext:
        """The context of an answer to a case: its expected answer is the reference, else reference_answer."""
        reference = reference_answer if case.expected is None else _reference_text(case.expected)
        return cls(answer=answer or "", prompt=case.prompt, system=case.system, expected=case.expected,
                   reference=reference, judgment=judgment)


@dataclass(frozen=True)
class ScorerSpec:
    type: str  # the check's "type" in a suite
    needs: frozenset[str]  # of NEEDS; "reference" is case.expected or the reference model's answer
    validate: Callable[[dict[str, Any]], dict[str, Any]]  # params -> normalised params; ValueError(plain message)
    score: Callable[[dict[str, Any], ScoreContext], Grade]
    params: tuple[str, ...] = ()  # the parameters it takes, besides "type" and "weight"
    # The parameter that, when given, stands in for the case's expected answer ("value", "pattern").
    given: str | None = None


SCORERS: dict[str, ScorerSpec] = {}
_COMPOSITES = {"any": "checks", "all": "checks", "not": "check"}  # type -> the parameter holding sub-checks


def register(spec: ScorerSpec) -> ScorerSpec:
    assert spec.needs <= NEEDS, spec.needs
    SCORERS[spec.type] = spec
    return spec


def scorer(type: str) -> ScorerSpec:
    """The registered scorer of a check type; KeyError for an unknown one."""
    try:
        return SCORERS[type]
    except KeyError:
        raise KeyError(f'unknown check type "{type}"; {_closest_hint(type, tuple(SCORERS))}') from None


# --- validation ------------------------------------------------------------------------------------

_UNSET: Any = object()


def validate_check(check: Check | Mapping[str, Any] | str, expected: Any = _UNSET) -> Check:
    """The check with its parameters validated and normalised; ValueError with a plain message if not.

    `check` may also be a check's name or its object as a suite writes it ({"type": ..., ...}).
    Given `expected` (the case's expected answer; None when it has none), a check that takes its
    reference from the case is also checked against it: "contains" with no "value" needs one.
    Messages about a check inside any/all/not say which ('check 2 of "checks" (regex): ...'); the
    caller adds where the outer check is (file, line, field, position).
    """
    validated = _validate(check, "")
    if expected is not _UNSET:
        _validate_reference(validated, expected, "")
    return validated


def needs_of(check: Check) -> frozenset[str]:
    """What the check needs to be scored, through any/all/not, and given its own parameters."""
    needs = _own_needs(scorer(check.type), check.params)
    for child in _children(check):
        needs |= needs_of(child)
    return needs


def _validate(item: Any, label: str) -> Check:
    lead = f"{label}: " if label else ""
    if isinstance(item, Check):
        check_type, params = item.type, dict(item.params)
    elif isinstance(item, str):
        check_type, params = item, {}
    elif isinstance(item, Mapping):
        params = dict(item)
        check_type = params.pop("type", None)
    else:
        raise ValueError(f'{lead}must be a check name or an object like {{"type": "regex", "pattern": "..."}}, '
                         f"got {_kind(item)}")
    if not isinstance(check_type, str) or not check_type.strip():
        raise ValueError(f'{lead}has no "type"; use one of {", ".join(SCORERS)}')
    spec = SCORERS.get(check_type)
    if spec is None:
        raise ValueError(f'{lead}unknown check type "{check_type}"; {_closest_hint(check_type, tuple(SCORERS))}')
    prefix = f"{label} ({check_type}): " if label else ""
    allowed = (*spec.params, "weight")
    try:
        for key in params:
            if key not in allowed:
                raise ValueError(f'unknown parameter "{key}"; {_closest_hint(key, allowed)}')
        weight = params.pop("weight", None)
        if weight is not None and not (_is_number(weight) and weight > 0):
            raise ValueError(f'"weight" must be a number above 0, e.g. 2, got {_kind(weight)}')
        params = spec.validate(params)
    except ValueError as error:
        raise ValueError(f"{prefix}{error}") from None
    return Check(check_type, params if weight is None else {**params, "weight": weight})


def _validate_reference(check: Check, expected: Any, label: str) -> None:
    """A check that takes its reference from the case's expected answer must find a usable one."""
    spec = scorer(check.type)
    prefix = f"{label} ({check.type}): " if label else ""
    if spec.given and check.params.get(spec.given) is None:
        if expected is None:
            raise ValueError(f'{prefix}needs a reference answer but the case has no "expected"; '
                             f'add "expected" or give the check a "{spec.given}"')
        if check.type == "numeric" and isinstance(expected, str) and parse_number(expected) is None:
            raise ValueError(f'{prefix}needs a number but the reference is "{expected}"; '
                             'use "contains" or "exact" for text')
        if check.type == "regex":
            try:
                _compile(_reference_text(expected), check.params.get("flags", ""))
            except ValueError as error:
                raise ValueError(f"{prefix}{error}") from None
    for child_label, child in _labelled_children(check):
        try:
            _validate_reference(child, expected, child_label)
        except ValueError as error:
            raise ValueError(f"{prefix}{error}") from None


def _children(check: Check) -> list[Check]:
    return [child for _, child in _labelled_children(check)]


def _labelled_children(check: Check) -> list[tuple[str, Check]]:
    key = _COMPOSITES.get(check.type)
    if key == "checks":
        return [(f'check {i} of "checks"', Check.from_dict(item)) for i, item in enumerate(check.params["checks"], 1)]
    if key == "check":
        return [('"check"', Check.from_dict(check.params["check"]))]
    return []


def _own_needs(spec: ScorerSpec, params: Mapping[str, Any]) -> frozenset[str]:
    if spec.given and params.get(spec.given) is not None:
        return spec.needs - {"expected"}
    return spec.needs


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text_or_number(params: dict[str, Any], key: str) -> None:
    value = params.get(key)
    if value is not None and not (_is_number(value) or (isinstance(value, str) and value.strip())):
        raise ValueError(f'"{key}" must be non-empty text or a number, got {_kind(value)}')


def _boolean(params: dict[str, Any], key: str) -> None:
    if key in params and not isinstance(params[key], bool):
        raise ValueError(f'"{key}" must be true or false, got {_kind(params[key])}')


def _fraction(params: dict[str, Any], key: str, example: float) -> None:
    value = params.get(key)
    if value is not None and not (_is_number(value) and 0 <= value <= 1):
        raise ValueError(f'"{key}" must be a number from 0 to 1, e.g. {example:g}, got {_kind(value)}')


def _compile(pattern: str, flags_text: str) -> re.Pattern[str]:
    flags = re.MULTILINE  # as check_regex searches
    for letter in flags_text:
        flags |= REGEX_FLAGS[letter]
    try:
        return re.compile(pattern, flags)
    except re.error as error:
        raise ValueError(f"invalid pattern {pattern!r}: {error}; fix the regular expression "
                         "(escape special characters with \\)") from None


def _validate_exact(params: dict[str, Any]) -> dict[str, Any]:
    _text_or_number(params, "value")
    return params


def _validate_contains(params: dict[str, Any]) -> dict[str, Any]:
    _text_or_number(params, "value")
    _boolean(params, "ignore_case")
    return params


def _validate_regex(params: dict[str, Any]) -> dict[str, Any]:
    _text_or_number(params, "pattern")
    flags = params.get("flags", "")
    if not isinstance(flags, str) or any(letter not in REGEX_FLAGS for letter in flags):
        raise ValueError(f'"flags" must be letters from "{"".join(REGEX_FLAGS)}", e.g. "i" to ignore case')
    pattern = params.get("pattern")
    if pattern is not None:
        if not isinstance(pattern, str):
            params = {**params, "pattern": _format_number(pattern)}  # a number in YAML is still a pattern
        _compile(params["pattern"], flags)
    return params


def _validate_numeric(params: dict[str, Any]) -> dict[str, Any]:
    _text_or_number(params, "value")
    value = params.get("value")
    if isinstance(value, str) and parse_number(value) is None:
        raise ValueError(f'needs a number but "value" is "{value}"; use "contains" or "exact" for text')
    for key in ("tolerance", "relative"):
        tolerance = params.get(key)
        if tolerance is not None and not (_is_number(tolerance) and tolerance >= 0):
            raise ValueError(f'"{key}" must be a number of at least 0, e.g. 0.01')
    which = params.get("which")
    if which is not None and which not in NUMERIC_WHICH:
        raise ValueError(f'"which" must be one of {", ".join(NUMERIC_WHICH)}')
    return params


def _validate_group(params: dict[str, Any]) -> dict[str, Any]:
    items = params.get("checks")
    if not isinstance(items, list) or not items:
        raise ValueError('needs "checks": a non-empty list of checks, '
                         'e.g. ["contains", {"type": "regex", "pattern": "..."}]')
    checks = [_validate(item, f'check {i} of "checks"').to_dict() for i, item in enumerate(items, 1)]
    return {**params, "checks": checks}


def _validate_not(params: dict[str, Any]) -> dict[str, Any]:
    if params.get("check") is None:
        raise ValueError('needs "check": the check that must fail, e.g. {"type": "contains", "value": "sorry"}')
    return {**params, "check": _validate(params["check"], '"check"').to_dict()}


LENGTH_LIMITS = (  # parameter, what it counts, whether it is a lower bound
    ("min_chars", "chars", True), ("max_chars", "chars", False),
    ("min_words", "words", True), ("max_words", "words", False),
    ("max_lines", "lines", False),
)


def _validate_length(params: dict[str, Any]) -> dict[str, Any]:
    if not params:
        raise ValueError("give at least one limit: " + ", ".join(name for name, _, _ in LENGTH_LIMITS))
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f'"{name}" must be a whole number of at least 0, e.g. 100, got {_kind(value)}')
    for unit in ("chars", "words"):
        low, high = params.get(f"min_{unit}"), params.get(f"max_{unit}")
        if low is not None and high is not None and low > high:
            raise ValueError(f'"min_{unit}" ({low}) is more than "max_{unit}" ({high}); no answer can pass')
    return params


def _validate_is_json(params: dict[str, Any]) -> dict[str, Any]:
    _boolean(params, "contains")
    return params


def _validate_json_schema(params: dict[str, Any]) -> dict[str, Any]:
    _boolean(params, "contains")
    schema = params.get("schema")
    if not isinstance(schema, (dict, bool)):
        raise ValueError('needs "schema": a JSON Schema object, e.g. {"type": "object", "required": ["name"]}'
                         + ("" if schema is None else f", got {_kind(schema)}"))
    from jsonschema.exceptions import SchemaError

    try:
        _validator_class(schema).check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(step) for step in error.absolute_path)
        at = f' at "{where}"' if where else ""
        raise ValueError(f'"schema" is not a valid JSON Schema{at}: {error.message}') from None
    _check_references(schema)
    return params


def _check_references(schema: Any) -> None:
    """Every "$ref" must point within the schema: no schema is fetched from elsewhere."""
    refs: list[str] = []
    nested_ids = False

    def walk(node: Any, root: bool) -> None:
        nonlocal nested_ids
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            nested_ids |= not root and isinstance(node.get("$id"), str)
            for value in node.values():
                walk(value, False)
        elif isinstance(node, list):
            for value in node:
                walk(value, False)

    walk(schema, True)
    if nested_ids:  # refs resolve against other bases then: scoring reports one that cannot be followed
        return
    for ref in refs:
        if not ref.startswith("#"):
            raise ValueError(f'"schema": "$ref" {json.dumps(ref)} points outside the schema; ModelScout reads '
                             'no other schema files: put the definition under "$defs" and use "#/$defs/..."')
        node = schema
        for step in filter(None, ref[1:].split("/")):
            step = step.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and step in node:
                node = node[step]
            elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
                node = node[int(step)]
            else:
                raise ValueError(f'"schema": "$ref" {json.dumps(ref)} points to nothing in the schema')


def _validate_similarity(params: dict[str, Any]) -> dict[str, Any]:
    _fraction(params, "threshold", 0.5)
    return params


def _validate_judge(params: dict[str, Any]) -> dict[str, Any]:
    rubric = params.get("rubric")
    if rubric is not None and not (isinstance(rubric, str) and rubric.strip()):
        raise ValueError(f'"rubric" must be non-empty text, got {_kind(rubric)}')
    _fraction(params, "threshold", 0.7)
    return params


# --- scoring ---------------------------------------------------------------------------------------

def score_check(check: Check, ctx: ScoreContext) -> Grade:
    """One check's grade, or a Grade with `error` when its input is missing; echoes are not looked for."""
    spec = scorer(check.type)
    missing = _missing(_own_needs(spec, check.params), ctx)
    if missing:
        return _unscored(check.type, missing)
    return spec.score(check.params, ctx)


def grade_answer(case: Case, ctx: ScoreContext) -> Grade | None:
    """The answer's grade by all of the case's checks; None when no check could score it.

    The score is the weighted mean of the parts that could be scored. The answer passes when every
    such part passes or, when the case sets a threshold, when the score reaches it. An answer never
    passes a check only through the prompt it repeats (see checks.find_echo).
    """
    if not case.checks:
        return None
    allowed = [_reference_text(text) for text in (ctx.expected, ctx.reference, *_values(case.checks))
               if text is not None]
    echo = find_echo(ctx.answer, ctx.prompt, ctx.system, allowed) if ctx.answer else NO_ECHO
    parts = [_graded_without_echo(check, ctx, echo) for check in case.checks]
    return _combine(parts, [check.params.get("weight", 1) for check in case.checks], case.threshold, echo)


def _graded_without_echo(check: Check, ctx: ScoreContext, echo: Echo) -> Grade:
    """The check's grade, failing an answer that passes only through the prompt it repeats.

    With an echo the check is scored twice, with and without the repeated text, and the answer gets
    the lower score: repeating the prompt can neither pass a check nor raise a score.
    """
    full = score_check(check, ctx)
    if not echo or full.error:
        return full
    alone = score_check(check, replace(ctx, answer=echo.remove(ctx.answer)))
    score = min(full.score, alone.score)
    if not full.passed:
        return replace(full, score=score, reason=f"{full.reason}; {echo.note}")
    if alone.passed:
        return replace(alone, score=score, reason=f"{alone.reason}; {echo.note}")
    return replace(alone, score=score, reason=f"{echo.note}, and only the repeated text passes the check; "
                                              f"the rest of the answer: {alone.reason}")


def _combine(parts: list[Grade], weights: list[float], threshold: float | None, echo: Echo) -> Grade | None:
    scored = [(part, weight) for part, weight in zip(parts, weights) if part.error is None]
    if not scored:
        return None
    if len(parts) == 1 and threshold is None:
        return parts[0]
    score = _weighted_mean(scored)
    failed = [part for part, _ in scored if not part.passed]
    if len(scored) == 1:
        only = scored[0][0]
        summary = f"{only.check} {'failed' if failed else 'passed'}: {only.reason}"
    elif failed:
        summary = f"{len(failed)} of {len(scored)} checks failed: " + "; ".join(
            f"{p.check}: {p.reason}" for p in failed)
    else:
        summary = f"all {len(scored)} checks passed" + (f"; {echo.note}" if echo else "")
    if threshold is None:
        passed, reason = not failed, summary
    else:
        passed = score >= threshold - 1e-9
        verdict = "reaches" if passed else "is below"
        reason = f"score {score:.2f} {verdict} the threshold {threshold:g} ({summary})"
    unscored = [part for part in parts if part.error]
    if unscored:
        reason += "; not scored: " + "; ".join(f"{part.check}: {part.error}" for part in unscored)
    return Grade(passed=passed, score=score, reason=reason, parts=tuple(parts),
                 check="+".join(part.check for part in parts))


def _weighted_mean(scored: list[tuple[Grade, float]]) -> float:
    return sum(part.score * weight for part, weight in scored) / sum(weight for _, weight in scored)


def _values(checks: tuple[Check, ...] | list[Check]) -> Iterator[Any]:
    """The reference values written in the checks, through any/all/not."""
    for check in checks:
        yield check.params.get("value")
        yield from _values(_children(check))


def _missing(needs: frozenset[str], ctx: ScoreContext) -> str | None:
    """Why a check with these needs cannot score this answer, or None when it can."""
    if "expected" in needs and ctx.expected is None:
        return "the case has no expected answer"
    if "reference" in needs and not (ctx.reference or "").strip():
        return "no reference answer (the case has no expected answer and no reference model answered it)"
    if "judge" in needs:
        judgment = ctx.judgment
        if judgment is None:
            return "no judgment of this answer (no judge has graded it)"
        if judgment.error:
            return f"the judge's verdict is unusable: {judgment.error}"
        if judgment.score is None:
            return "the judge gave no score"
    return None


def _unscored(check: str, why: str, parts: tuple[Grade, ...] = ()) -> Grade:
    return Grade(passed=False, score=0.0, reason=f"not scored: {why}", parts=parts, check=check, error=why)


def _score_all(params: dict[str, Any], ctx: ScoreContext) -> Grade:
    """Passes when every sub-check passes; its score is their weighted mean."""
    parts = tuple(score_check(Check.from_dict(item), ctx) for item in params["checks"])
    scored = [(part, item.get("weight", 1)) for part, item in zip(parts, params["checks"]) if part.error is None]
    missing = "; ".join(f"{part.check}: {part.error}" for part in parts if part.error)
    if not scored:
        return _unscored("all", missing, parts)
    failed = [part for part, _ in scored if not part.passed]
    if not failed and missing:  # the rest passed; whether all pass turns on the parts that cannot be scored
        return _unscored("all", missing, parts)
    if failed:
        reason = f"{len(failed)} of {len(parts)} failed: " + "; ".join(f"{p.check}: {p.reason}" for p in failed)
        reason += f"; not scored: {missing}" if missing else ""
    else:
        reason = f"all {len(parts)} passed"
    return Grade(passed=not failed, score=_weighted_mean(scored), reason=reason, parts=parts, check="all")


def _score_any(params: dict[str, Any], ctx: ScoreContext) -> Grade:
    """Passes when one sub-check passes; its score is the best of theirs."""
    parts = tuple(score_check(Check.from_dict(item), ctx) for item in params["checks"])
    scored = [part for part in parts if part.error is None]
    winner = next((part for part in scored if part.passed), None)
    score = max((part.score for part in scored), default=0.0)
    if winner is not None:
        return Grade(passed=True, score=score, reason=f"{winner.check} passed: {winner.reason}", parts=parts,
                     check="any")
    missing = "; ".join(f"{part.check}: {part.error}" for part in parts if part.error)
    if missing:  # none of the others passed; one that cannot be scored might have
        return _unscored("any", missing, parts)
    reason = f"none of {len(parts)} passed: " + "; ".join(f"{p.check}: {p.reason}" for p in parts)
    return Grade(passed=False, score=score, reason=reason, parts=parts, check="any")


def _score_not(params: dict[str, Any], ctx: ScoreContext) -> Grade:
    """Passes when its check fails; its score is 1 minus that check's."""
    part = score_check(Check.from_dict(params["check"]), ctx)
    if part.error:
        return _unscored("not", part.error, (part,))
    if part.passed:
        return Grade(passed=False, score=1 - part.score, reason=f"{part.check} should fail but passed: {part.reason}",
                     parts=(part,), check="not")
    return Grade(passed=True, score=1 - part.score, reason=f"{part.check} failed, as required: {part.reason}",
                 parts=(part,), check="not")


_UNITS = {"chars": "character", "words": "word", "lines": "line"}


def _score_length(params: dict[str, Any], ctx: ScoreContext) -> Grade:
    """Characters and words of the answer without surrounding spaces; lines, blank ones inside included."""
    text = ctx.answer.strip()
    counts = {"chars": len(text), "words": len(text.split()), "lines": len(text.splitlines())}
    problems = []
    for name, unit, lower in LENGTH_LIMITS:
        bound = params.get(name)
        if bound is None:
            continue
        if lower and counts[unit] < bound:
            problems.append(f"{_count(counts[unit], unit)}, fewer than the {bound} required")
        elif not lower and counts[unit] > bound:
            problems.append(f"{_count(counts[unit], unit)}, more than the {bound} allowed")
    if problems:
        return _fail("length", "the answer has " + "; ".join(problems))
    limited = {unit for name, unit, _ in LENGTH_LIMITS if params.get(name) is not None}
    measured = [unit for unit in _UNITS if unit in limited]
    shown = [_count(counts[unit], unit) for unit in measured]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    return _pass("length", f"the answer has {listed}, within the limits")


def _count(number: int, unit: str) -> str:
    return f"{number:,} {_UNITS[unit]}{'' if number == 1 else 's'}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(text: str) -> tuple[Any, str | None]:
    """(the value, None) when the whole text is one JSON value, else (None, why not)."""
    stripped = text.strip()
    if not stripped:
        return None, "the answer is empty"
    try:
        return json.loads(stripped, parse_constant=_reject_constant), None
    except json.JSONDecodeError as error:
        why = f"the answer is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
    except ValueError as error:
        why = f"the answer is not valid JSON ({error})"
    if stripped.startswith("```"):
        why += "; it is inside a ``` code block (the check's \"contains\": true accepts JSON within text)"
    return None, why


def find_json(text: str) -> list[Any]:
    """Every JSON object or array written in the text, outermost first, in order."""
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    found = []
    at = 0
    while True:
        starts = [i for i in (text.find("{", at), text.find("[", at)) if i >= 0]
        if not starts:
            return found
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            at = start + 1
            continue
        found.append(value)
        at = end


def _json_values(params: dict[str, Any], text: str) -> tuple[list[Any], str | None]:
    if params.get("contains"):
        values = find_json(text)
        return values, None if values else "no JSON object or array found in the answer"
    value, why = _parse_json(text)
    return ([] if why else [value]), why


def _score_is_json(params: dict[str, Any], ctx: ScoreContext) -> Grade:
    _, why = _json_values(params, ctx.answer)
    if why:
        return _fail("is_json", why)
    return _pass("is_json", "the answer holds valid JSON" if params.get("contains") else "the answer is valid JSON")


def _score_json_schema(params: dict[str, Any], ctx: ScoreContext) -> Grade:
    from jsonschema.exceptions import best_match

    values, why = _json_values(params, ctx.answer)
    if why:
        return _fail("json_schema", why)
    from referencing.exceptions import Unresolvable

    validator = _validator(json.dumps(params["schema"], sort_keys=True))
    first_error = None
    for value in values:
        try:
            error = best_match(validator.iter_errors(value))
        except Unresolvable as unresolvable:  # a "$ref" the schema's own checks could not follow
            return _unscored("json_schema", f"the schema's $ref cannot be followed ({unresolvable})")
        if error is None:
            return _pass("json_schema", "the JSON matches the schema")
        first_error = first_error or error
    at = "" if first_error.json_path == "$" else f" at {first_error.json_path}"
    return _fail("json_schema", f"the JSON does not match the schema{at}: {first_error.message}")


def _validator_class(schema: Any) -> Any:
    from jsonschema.validators import Draft202012Validator, validator_for

    return validator_for(schema, default=Draft202012Validator)


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    return _validator_class(schema)(schema)


def _similarity_scorer(check: str, name: str, measure: Callable[[str, str], float],
                       default: float) -> Callable[[dict[str, Any], ScoreContext], Grade]:
    def score(params: dict[str, Any], ctx: ScoreContext) -> Grade:
        threshold = params.get("threshold", default)
        value = measure(ctx.answer, ctx.reference or "")
        passed = value >= threshold
        verdict = "at least" if passed else "below"
        return Grade(passed=passed, score=value, check=check,
                     reason=f"{name} {value:.2f} with the reference, {verdict} the threshold {threshold:g}")

    return score


JUDGE_THRESHOLD = 0.7


def _score_judge(params: dict[str, Any], ctx: ScoreContext) -> Grade:
    """The judge's score (its verdict scaled to 0..1); passes at the threshold."""
    judgment = ctx.judgment
    assert judgment is not None and judgment.score is not None  # score_check saw to it
    threshold = params.get("threshold", JUDGE_THRESHOLD)
    score = float(judgment.score)
    passed = score >= threshold
    reason = (judgment.reason or "").strip() or (
        f"the judge scored {score:.2f}, {'at least' if passed else 'below'} the threshold {threshold:g}")
    return Grade(passed=passed, score=score, reason=reason, check="judge")


def _pass(check: str, reason: str) -> Grade:
    return Grade(passed=True, score=1.0, reason=reason, check=check)


def _fail(check: str, reason: str) -> Grade:
    return Grade(passed=False, score=0.0, reason=reason, check=check)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {_format_number(value)}"
    if isinstance(value, str):
        return f"the text {json.dumps(value)}"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "an object"


def _closest_hint(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    prefix = f'did you mean "{close[0]}"? ' if close else ""
    return f"{prefix}known: {', '.join(choices)}"


def _legacy(check: Callable[[dict[str, Any], str | float | None, str], Grade],
            ) -> Callable[[dict[str, Any], ScoreContext], Grade]:
    return lambda params, ctx: check(params, ctx.expected, ctx.answer)


_EXPECTED = frozenset({"expected"})
_REFERENCE = frozenset({"reference"})
_NOTHING: frozenset[str] = frozenset()

for _spec in (
    ScorerSpec("exact", _EXPECTED, _validate_exact, _legacy(check_exact), ("value",), given="value"),
    ScorerSpec("contains", _EXPECTED, _validate_contains, _legacy(check_contains), ("value", "ignore_case"),
               given="value"),
    ScorerSpec("regex", _EXPECTED, _validate_regex, _legacy(check_regex), ("pattern", "flags"), given="pattern"),
    ScorerSpec("numeric", _EXPECTED, _validate_numeric, _legacy(check_numeric),
               ("value", "tolerance", "relative", "which"), given="value"),
    ScorerSpec("any", _NOTHING, _validate_group, _score_any, ("checks",)),
    ScorerSpec("all", _NOTHING, _validate_group, _score_all, ("checks",)),
    ScorerSpec("not", _NOTHING, _validate_not, _score_not, ("check",)),
    ScorerSpec("length", _NOTHING, _validate_length, _score_length, tuple(name for name, _, _ in LENGTH_LIMITS)),
    ScorerSpec("is_json", _NOTHING, _validate_is_json, _score_is_json, ("contains",)),
    ScorerSpec("json_schema", _NOTHING, _validate_json_schema, _score_json_schema, ("schema", "contains")),
    ScorerSpec("f1", _REFERENCE, _validate_similarity,
               _similarity_scorer("f1", "token F1", similarity.token_f1, 0.5), ("threshold",)),
    ScorerSpec("rouge_l", _REFERENCE, _validate_similarity,
               _similarity_scorer("rouge_l", "ROUGE-L", similarity.rouge_l, 0.4), ("threshold",)),
    ScorerSpec("chrf", _REFERENCE, _validate_similarity,
               _similarity_scorer("chrf", "chrF", similarity.chrf, 0.5), ("threshold",)),
    ScorerSpec("judge", frozenset({"judge"}), _validate_judge, _score_judge, ("rubric", "threshold")),
):
    register(_spec)

CHECK_TYPES = tuple(SCORERS)
