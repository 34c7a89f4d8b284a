"""A report as tables and as one document: CSV (models, answers, the run's facts) and JSON, from the same dict
the HTML is made from.

A CSV is opened in spreadsheets, which run a cell that starts with `=`, `+`, `-` or `@` as a formula: text that
came from a model or a suite and starts so is written with a leading apostrophe (OWASP's advice), shown as
written and never run. Numbers are written as Python writes floats, so they read back exactly.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
VERDICT_FIELDS = ("verdict", "difference_to_best", "difference_low", "difference_high", "cases_compared", "p_value",
                  "more_cases_needed", "excluded", "monthly_usd")
ANSWER_COLUMNS = ("case_id", "case_tags", "prompt", "system", "expected", "model", "state", "score", "your_verdict",
                  "reason", "answer", "error", "finish_reason", "completion_tokens", "wall_time_ms",
                  "reused_from_run")


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def render_csv_tables(report: dict[str, Any]) -> dict[str, str]:
    """Three tables: a row per model, a row per answer, and the run's facts as name and value."""
    return {"models": _csv(*model_rows(report)), "answers": _csv(list(ANSWER_COLUMNS), answer_rows(report)),
            "run": _csv(["name", "value"], fact_rows(report))}


def model_rows(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Each model's figures as `results --json` has them, then its verdict against the best and whether it
    is on the frontier or recommended."""
    models = report["models"]
    fields = [k for k in (models[0] if models else {"model": None}) if k != "tags"]
    verdicts = {v["model"]: v for v in report["recommendation"]["models"]}
    headers = [*fields, "tags", *VERDICT_FIELDS, "on_frontier", "recommended"]
    rows = []
    for m in models:
        verdict = verdicts.get(m["model"], {})
        row = [cell(m.get(k)) for k in fields]
        row.append(cell(m.get("tags") or ""))
        row += [cell(verdict.get(k)) for k in VERDICT_FIELDS]
        row += [m["model"] in report["frontier"], m["model"] == report["recommendation"].get("recommended")]
        rows.append(row)
    return headers, rows


def answer_rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for case in report["cases"]:
        for a in case["answers"]:
            rows.append([cell(case["id"]), cell(" ".join(case["tags"])), cell(case["prompt"]), cell(case["system"]),
                         cell(case["expected"]), cell(a["model"]), a["state"], cell(a.get("score")),
                         cell(a.get("your_verdict")), cell(a.get("reason")), cell(a.get("text")), cell(a.get("error")),
                         cell(a.get("finish_reason")), cell(a.get("completion_tokens")), cell(a.get("wall_time_ms")),
                         cell(a.get("reused_from_run"))])
    return rows


def fact_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The run, the recommendation, the frontier and the reproducibility facts, flattened to dotted names."""
    recommendation = {k: v for k, v in report["recommendation"].items() if k != "models"}
    facts = {"report": {k: report[k] for k in ("format", "format_version", "generated_at", "generated_by")},
             "run": report["run"], "recommendation": recommendation, "frontier": report["frontier"],
             "reproducibility": report["reproducibility"]}
    return [[cell(name), cell(value)] for name, value in flatten(facts)]


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested facts as (dotted.name, value); a list of models is named by each model, other lists stay whole."""
    if isinstance(value, dict) and value:
        return [pair for k, v in value.items() for pair in flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list) and value and all(isinstance(v, dict) and "model" in v for v in value):
        return [pair for v in value
                for pair in flatten({k: x for k, x in v.items() if k != "model"}, f"{prefix}.{v['model']}")]
    return [(prefix, value)]


def cell(value: Any) -> Any:
    """A value for a CSV cell: text made safe from spreadsheet formulas, structures as JSON, numbers as they are."""
    if value is None or isinstance(value, (bool, int, float)):
        return "" if value is None else value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv(headers: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()
