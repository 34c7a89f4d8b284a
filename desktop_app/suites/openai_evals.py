"""OpenAI evals samples as suites: JSONL records with `input` (chat messages or text) and `ideal`.

A sample's system messages become the case's system prompt and its last message, a user message,
the prompt. A model is asked one system and one user message, so a sample with earlier turns
(few-shot examples, an assistant reply) is skipped and listed, never asked without its context.
`ideal` is the expected answer, graded as ModelScout grades one: numeric for a number, else
contains. A list of ideals passes when any of them does (one check of `any`), and its first is the
case's expected answer, the reference for similarity checks and judges. A sample with no ideal
has no checks (a judge may still grade it). A ModelScout header line ({"suite": {...}}) may come
first, to name the suite or give it a judge.
"""

from __future__ import annotations

import json
from typing import Any

from desktop_app.suites.jsonl import json_records, read_header_line
from desktop_app.suites.model import Unsupported, parse_number
from desktop_app.suites.records import CaseBuilder, Header, Parsed, Problems, Source, json_kind


def looks_like_evals(text: str) -> bool:
    """True when the first record (after an optional header line) has `input` and no `prompt`."""
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith(("//", "#")):
            continue
        try:
            record = json.loads(stripped)
        except ValueError:
            return False
        if not isinstance(record, dict):
            return False
        if set(record) == {"suite"}:
            continue
        return "input" in record and "prompt" not in record
    return False


def read_evals(source: Source) -> Parsed:
    problems = Problems(source.shown)
    builder = CaseBuilder(problems, max_prompt_tokens=source.max_prompt_tokens)
    header: Header | None = None
    cases = []
    unsupported: list[Unsupported] = []
    other_fields: dict[str, list[int]] = {}  # a field ModelScout does not read: the lines it is on
    ordinal = 0
    for line, record in json_records(source, problems):
        if set(record) == {"suite"} and not ordinal and header is None:
            header = read_header_line(record, line, problems) or Header()
            continue
        ordinal += 1
        for key in record:
            if key not in ("input", "ideal"):
                other_fields.setdefault(key, []).append(line)
        if "input" not in record:
            problems.add(line, "input", 'missing; every sample needs "input": a list of {"role", "content"} messages')
            continue
        asked = _asked(record["input"], line, problems, source.shown, unsupported)
        if asked is None:
            continue
        system, prompt = asked
        case_record: dict[str, Any] = {"id": f"sample-{ordinal}", "prompt": prompt, "system": system}
        ideal = record.get("ideal")
        ideals = ideal if isinstance(ideal, list) else [] if ideal is None else [ideal]
        if not all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in ideals):
            problems.add(line, "ideal", f"must be text, a number or a list of them, got {json_kind(ideal)}")
            continue
        ideals = [item for item in ideals if not isinstance(item, str) or item.strip()]
        if ideals:
            case_record["expected"] = ideals[0]
        if len(ideals) > 1:
            case_record["checks"] = [{"type": "any", "checks": [_check_for(item) for item in ideals]}]
        case = builder.case(case_record, line, ordinal)
        if case is not None:
            cases.append(case)
    problems.raise_any()
    for key, lines in other_fields.items():
        more = f" and {len(lines) - 1} more lines" if len(lines) > 1 else ""
        unsupported.insert(0, Unsupported(source.shown, lines[0], f"sample field {key}",
                                          f"on line {lines[0]}{more}; ModelScout reads input and ideal"))
    return Parsed(header, cases, unsupported)


def _asked(value: Any, line: int, problems: Problems, shown: str,
           unsupported: list[Unsupported]) -> tuple[str | None, str] | None:
    """(system, prompt) of a sample's input; None when it is wrong (reported) or cannot be asked (listed)."""
    if isinstance(value, str):
        return None, value
    if not isinstance(value, list) or not value:
        problems.add(line, "input", f'must be a list of {{"role", "content"}} messages or text, got {json_kind(value)}')
        return None
    messages = []
    for position, message in enumerate(value, 1):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            problems.add(line, "input", f'message {position} must be an object with "role" and "content", '
                                        f"got {json_kind(message)}")
            return None
        content = message.get("content")
        if isinstance(content, list):  # parts: text, image_url, input_audio, ...
            kinds = {part.get("type") if isinstance(part, dict) else None for part in content}
            if kinds - {"text"}:
                others = ", ".join(sorted(map(str, kinds - {"text"})))
                unsupported.append(Unsupported(shown, line, "non-text input",
                                               f"message {position} has {others} parts; the sample was skipped"))
                return None
            content = "".join(part.get("text", "") for part in content)
        if not isinstance(content, str):
            problems.add(line, "input", f'message {position} needs "content" text, got {json_kind(content)}')
            return None
        messages.append((message["role"], message.get("name"), content))
    leading = 0
    while leading < len(messages) and messages[leading][0] == "system" and not messages[leading][1]:
        leading += 1
    if leading == len(messages) - 1 and messages[-1][0] == "user":
        system = "\n\n".join(content for _, _, content in messages[:leading]) or None
        return system, messages[-1][2]
    roles = ", ".join(role + (f" ({name})" if name else "") for role, name, _ in messages)
    unsupported.append(Unsupported(shown, line, "multi-turn input", f"messages {roles}; ModelScout asks one "
                                   "system and one user message, so the sample was skipped"))
    return None


def _check_for(ideal: str | float) -> dict[str, Any]:
    numeric = not isinstance(ideal, str) or parse_number(ideal) is not None
    return {"type": "numeric" if numeric else "contains", "value": ideal}
