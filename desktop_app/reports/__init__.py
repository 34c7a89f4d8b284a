"""Reports of a stored run to share: one self-contained HTML file, CSV tables or a JSON document, all made from
one plain report dict (data.py) so they say the same as each other and as `modelscout results`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop_app.reports.data import build_report
from desktop_app.reports.html import render_html
from desktop_app.reports.output import ReportError, file_target, write_all
from desktop_app.reports.tables import render_csv_tables, render_json

__all__ = ["FORMATS", "ReportError", "build_report", "export", "format_for"]

FORMATS = {"html": ".html", "csv": ".csv", "json": ".json"}
SUFFIXES = {".html": "html", ".htm": "html", ".csv": "csv", ".json": "json"}


def export(report: dict[str, Any], html: str | Path | None = None, csv: str | Path | None = None,
           json: str | Path | None = None) -> list[Path]:
    """Write the report in each format given; returns the files written. Every path is checked and every file
    rendered before the first is written, and they land together or not at all."""
    if not (html or csv or json):
        raise ReportError("say what to write: --html FILE, --csv FILE_OR_DIR or --json FILE (any of them)")
    name = f"modelscout-report-{report['run']['run_id']}"
    files: dict[Path, str] = {}
    if html:
        files[file_target(html, "HTML report", name + ".html")] = render_html(report)
    if json:
        files[file_target(json, "JSON report", name + ".json")] = render_json(report)
    if csv:
        files.update(zip(csv_targets(csv, name), render_csv_tables(report).values()))
    return write_all(files)


def csv_targets(path: str | Path, name: str) -> list[Path]:
    """Where the models, answers and run tables go: into a folder as NAME-models.csv, NAME-answers.csv and
    NAME-run.csv; or, for a file, the models table there and the other two beside it (FILE-answers.csv,
    FILE-run.csv)."""
    given = Path(path).expanduser()
    if given.is_dir():
        names = [given / f"{name}-{table}.csv" for table in ("models", "answers", "run")]
    else:
        stem = given.stem.removesuffix("-models")
        suffix = given.suffix or ".csv"
        names = [given, given.with_name(f"{stem}-answers{suffix}"), given.with_name(f"{stem}-run{suffix}")]
    return [file_target(target, "CSV table", f"{name}-{table}.csv")
            for target, table in zip(names, ("models", "answers", "run"))]


def format_for(path: str | Path, chosen: str | None = None) -> tuple[Path, str]:
    """The format a save dialog's answer asks for: by the file's suffix, else the filter chosen (then the file
    gets that format's suffix), else HTML."""
    target = Path(path)
    known = SUFFIXES.get(target.suffix.lower())
    if known:
        return target, known
    kind = chosen if chosen in FORMATS else "html"
    return target.with_name(target.name + FORMATS[kind]), kind
