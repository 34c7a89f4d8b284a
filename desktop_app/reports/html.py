"""A report as one self-contained HTML file that runs nothing.

Answers, prompts, case ids and model names come from models and suite files, and the file is made to be sent to
other people: every such text is escaped (it shows as the characters it is), the page has no script, no event
attribute and no link to anything outside itself, and a Content-Security-Policy forbids anything but inline
styles and data: images, so even a mistake here could not make it fetch or run anything.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from desktop_app.reports.svg import tradeoff_svg
from desktop_app.units import format_bytes, format_usd, format_usd_per_1k

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
VERDICT_WORDS = {"best": "best", "good_enough": "good enough", "worse": "worse", "undecided": "undecided"}
STATE_WORDS = {"passed": "Passed", "failed": "Failed", "error": "Error", "ungraded": "Not graded",
               "missing": "No answer"}

STYLE = """
body { font-family: system-ui, sans-serif; color: #2b303b; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #dcdfe6; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.muted { color: #5b6270; } .small { font-size: 12px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #dcdfe6; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f5f6f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.recommendation { background: #eef7f1; border: 1px solid #cfe6d7; border-radius: 6px; padding: 10px 14px; }
.plot { max-width: 100%; height: auto; border: 1px solid #dcdfe6; }
.case { border-top: 1px solid #dcdfe6; padding-top: 6px; }
.answers { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 8px; }
.answer { border: 1px solid #dcdfe6; border-radius: 6px; padding: 6px 8px; background: #fff; }
.answer.passed { border-left: 4px solid #1f8a4c; } .answer.failed { border-left: 4px solid #cf3b3b; }
.answer.error { border-left: 4px solid #d9822b; } .answer.ungraded, .answer.missing { border-left: 4px solid #8a93a3; }
pre { white-space: pre-wrap; word-break: break-word; margin: 4px 0; font-size: 12.5px; background: #f8f9fb;
      padding: 4px 6px; border-radius: 4px; }
code { font-size: 12px; word-break: break-all; }
"""


def e(value: Any) -> str:
    """Text for HTML: escaped, quotes included (the same text may sit in an attribute)."""
    return escape("" if value is None else str(value), quote=True)


def render_html(report: dict[str, Any]) -> str:
    """The whole page; every section reads only the report dict, so it shows what CSV and JSON hold."""
    run = report["run"]
    title = f"ModelScout report: run {run['run_id']} ({run['suite']} v{run['suite_version']})"
    body = [f"<h1>{e(title)}</h1>",
            (f'<p class="muted">{e(run_line(run))}. Report made {e(report["generated_at"])} by '
             f'{e(report["generated_by"])}.</p>'),
            recommendation_section(report), plot_section(report), models_section(report),
            cases_section(report), reproducibility_section(report["reproducibility"])]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">\n'
            '<meta name="referrer" content="no-referrer">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def run_line(run: dict[str, Any]) -> str:
    line = f"{run['kind']} run, {run['status']}, started {str(run['created_at'])[:19].replace('T', ' ')} UTC"
    return line + (f" ({run['status_reason']})" if run.get("status_reason") else "")


# Sections ----------------------------------------------------------------------------------------------

def recommendation_section(report: dict[str, Any]) -> str:
    rec = report["recommendation"]
    frontier = report["frontier"]
    head = (f"Recommended: <strong>{e(rec['recommended'])}</strong>" if rec.get("recommended")
            else "<strong>No model is recommended</strong>")
    if rec.get("recommended") and not rec.get("decided"):
        head += " (for now: the cases so far cannot decide)"
    return ("<h2>Recommendation</h2>\n"
            f'<div class="recommendation"><p>{head}</p><p>{e(rec["reason"])}</p></div>\n'
            f'<p class="small muted">Tolerance {rec["tolerance"] * 100:g} points below the best, on '
            f'{e(rec["axis"])}; monthly figures at {rec["requests_per_day"] or 0:,.0f} requests a day.</p>\n'
            "<p>Pareto frontier (no other model is both better and cheaper), cheapest first: "
            + (", ".join(f"<strong>{e(m)}</strong>" for m in frontier) if frontier else "none yet") + ".</p>")


def plot_section(report: dict[str, Any]) -> str:
    """The plot as a data: image: a picture cannot run anything, whatever its labels say."""
    svg = tradeoff_svg(report["models"], report["frontier"], report["recommendation"].get("recommended"))
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return ("<h2>Quality against cost</h2>\n"
            f'<img class="plot" alt="{e("Quality against cost per answer, one point per model")}" '
            f'src="data:image/svg+xml;base64,{data}">\n'
            '<p class="small muted">Circles: local models; diamonds: API models; bars: 95% intervals of the mean '
            "score; dashed line: the Pareto frontier; ringed: the recommended model.</p>")


MODEL_COLUMNS = ("model", "provider", "quantization", "answers", "passed", "quality (95% interval)", "verdict",
                 "vs best, points (95% interval)", "errors", "tok/s", "first token", "time/answer",
                 "$/1K answers", "$/M tokens", "peak memory")


def models_section(report: dict[str, Any]) -> str:
    verdicts = {v["model"]: v for v in report["recommendation"]["models"]}
    rows, notes = [], []
    for m in report["models"]:
        v = verdicts.get(m["model"], {})
        for note in m.get("measurement_notes") or ():
            notes.append(f"{m['model']}: {note}")
        rows.append([e(m["model"]) + (" ★" if m["model"] == report["recommendation"].get("recommended") else ""),
                     e(m["provider"]), e(m.get("quantization") or "-"), e(f"{m['answered']}/{m['cases']}"),
                     e(f"{m['passed']}/{m['graded']}"), e(quality_text(m)), e(verdict_text(v)), e(difference_text(v)),
                     e(m["errors"]), e(number(m.get("tokens_per_second"), "{:.1f}")),
                     e(number(m.get("time_to_first_token_ms"), "{:,.0f} ms")),
                     e(number(m.get("wall_time_ms"), "{:,.0f} ms")),
                     e(format_usd_per_1k(m.get("cost_per_answer_usd"))),
                     e(format_usd(m.get("cost_per_million_tokens_usd"))),
                     e(format_bytes(m["peak_memory_bytes"])) if m.get("peak_memory_bytes") else "-"])
    table = _table(MODEL_COLUMNS, rows, numeric=range(3, 15))
    notes_html = "".join(f"<li>{e(n)}</li>" for n in notes)
    return ("<h2>Models</h2>\n" + table
            + (f'\n<ul class="small">{notes_html}</ul>' if notes else "")
            + '\n<p class="small muted">★ recommended. Costs are priced under the settings listed in '
              "Reproducibility; quality is the mean score, a failed answer scoring 0.</p>")


def cases_section(report: dict[str, Any]) -> str:
    """Every case, its prompt and expected answer, and each model's answer side by side with its grade."""
    parts = [f"<h2>Answers ({len(report['cases'])} cases)</h2>"]
    for case in report["cases"]:
        tags = f' <span class="muted small">{e(", ".join(case["tags"]))}</span>' if case["tags"] else ""
        parts.append(f'<div class="case"><h3>{e(case["id"])}{tags}</h3>')
        if case.get("system"):
            parts.append(f'<div class="small muted">System prompt</div><pre>{e(case["system"])}</pre>')
        parts.append(f'<div class="small muted">Prompt</div><pre>{e(case["prompt"])}</pre>')
        if case.get("expected") is not None:
            parts.append(f'<div class="small muted">Expected</div><pre>{e(case["expected"])}</pre>')
        parts.append('<div class="answers">' + "".join(answer_card(a) for a in case["answers"]) + "</div></div>")
    return "\n".join(parts)


def answer_card(answer: dict[str, Any]) -> str:
    state = answer["state"]
    grade = STATE_WORDS.get(state, state)
    if answer.get("score") is not None:
        grade += f", score {answer['score']:.2f}"
    lines = [f'<div class="answer {e(state)}"><strong>{e(answer["model"])}</strong> · {e(grade)}']
    if answer.get("your_verdict"):
        lines.append(f'<div class="small">Your verdict: {e(answer["your_verdict"])}</div>')
    if answer.get("reason"):
        lines.append(f'<div class="small muted">{e(answer["reason"])}</div>')
    if answer.get("error"):
        lines.append(f'<div class="small">Error: {e(answer["error"])}</div>')
    if state != "missing":
        lines.append(f"<pre>{e(answer.get('text') or '')}</pre>")
        facts = [f"{answer['completion_tokens']} tokens" if answer.get("completion_tokens") is not None else "",
                 f"{answer['wall_time_ms']:,.0f} ms" if answer.get("wall_time_ms") is not None else "",
                 f"stopped: {answer['finish_reason']}" if answer.get("finish_reason") else "",
                 f"reused from run {answer['reused_from_run']}" if answer.get("reused_from_run") else ""]
        lines.append(f'<div class="small muted">{e(" · ".join(f for f in facts if f))}</div>')
    return "".join(lines) + "</div>"


def reproducibility_section(facts: dict[str, Any]) -> str:
    """What makes the run reproducible, as stored with it; "not recorded" where the store holds nothing."""
    general = [("ModelScout version (run)", facts["modelscout_version"]),
               ("Report made by", facts["report_made_by"]),
               ("llama.cpp version", facts["llama_cpp_version"]),
               ("Suite", f"{facts['suite']['name']} v{facts['suite']['version']}, sha256 {facts['suite']['sha256']}"),
               ("Sampling", facts["sampling"]), ("Seed", facts["seed"]),
               ("Cases with their own token limit", facts["case_max_tokens"] or "none"),
               ("Intervals", facts["interval_seeds"]), ("Hardware", facts["hardware"])]
    prices = facts["prices"]
    price_rows = [("Figures priced on", prices["priced_on"]), ("Local prices used", prices["local"]),
                  ("Local prices when the run was made", prices["local_at_run_time"]),
                  ("genai-prices version", prices["genai_prices_version"])]
    price_rows += [(f"API price: {p['model']}", {k: v for k, v in p.items() if k != "model"}) for p in prices["api"]]
    models = [(m["model"], {k: v for k, v in m.items() if k != "model"}) for m in facts["models"]]
    return ("<h2>Reproducibility</h2>\n" + _facts_table(general)
            + "\n<h3>Models</h3>\n" + _facts_table(models)
            + "\n<h3>Prices</h3>\n" + _facts_table(price_rows))


# Pieces -------------------------------------------------------------------------------------------------

def quality_text(m: dict[str, Any]) -> str:
    if m.get("quality") is None:
        return "-"
    text = f"{m['quality']:.0%}"
    if m.get("quality_low") is not None:
        text += f" ({m['quality_low']:.0%}–{m['quality_high']:.0%})"
    return text


def verdict_text(v: dict[str, Any]) -> str:
    words = VERDICT_WORDS.get(v.get("verdict"), v.get("verdict") or "-")
    return words + (f" (left out: {v['excluded']})" if v.get("excluded") else "")


def difference_text(v: dict[str, Any]) -> str:
    if v.get("verdict") == "best":
        return "0"
    if v.get("difference_to_best") is None:
        return "-"
    return (f"{v['difference_to_best'] * 100:+.1f} ({v['difference_low'] * 100:+.1f} to "
            f"{v['difference_high'] * 100:+.1f})")


def number(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def fact_text(value: Any, nested: bool = False) -> str:
    """A stored value in words: a mapping as `key: value` lines (`key=value` within a line when nested), a list
    comma-separated, an empty value as "none" (it was recorded, and empty)."""
    if value is None or value in ({}, [], ()):
        return "none"
    if isinstance(value, dict):
        if nested:
            return ", ".join(f"{k}={fact_text(v, True)}" for k, v in value.items())
        return "\n".join(f"{k}: {fact_text(v, True)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(fact_text(v, True) for v in value)
    return str(value)


def _facts_table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{e(name)}</th><td><pre>{e(fact_text(value))}</pre></td></tr>" for name, value in rows)
    return f"<table>{body}</table>"


def _table(headers: tuple[str, ...], rows: list[list[str]], numeric: range = range(0)) -> str:
    """A table of cells already escaped (they hold markup of ours: ★, strong)."""
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
