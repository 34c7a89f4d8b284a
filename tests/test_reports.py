"""`modelscout report`: one self-contained HTML file that runs nothing, CSV tables and JSON, all with the figures
`results` shows and what makes the run reproducible; on the session's stored demo run, and on a real run of the
demo model whose suite, model name and prompts are hostile markup."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path

import pytest

from desktop_app import paths
from desktop_app.reports.html import CSP
from desktop_app.reports.tables import cell
from tests.conftest import modelscout_here

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = '<a href="javascript:alert(1)">click</a>'
HOSTILE_MODEL = IMG  # the model's file is "<img src=x onerror=alert(1)>.gguf", and its key starts so


class Page(HTMLParser):
    """What a browser would make of the file: its elements with their attributes, and its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    def shows(self, text: str) -> bool:
        return any(text in chunk for chunk in self.texts)


def assert_runs_nothing(page: Page) -> None:
    """No script, no event handler, no javascript: URL, nothing fetched from outside the file."""
    assert page.tags("script") == []
    for tag, attrs in page.elements:
        assert tag not in ("iframe", "object", "embed", "link", "base", "form"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in ("src", "href", "action", "srcset", "poster", "data"):
                assert (value or "").startswith("data:"), (tag, name, value)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name, value)
    assert [a.get("content") for a in page.tags("meta") if a.get("http-equiv") == "Content-Security-Policy"] == [CSP]


def embedded_svg(page: Page) -> ET.Element:
    images = page.tags("img")
    assert len(images) == 1
    src = images[0]["src"]
    prefix = "data:image/svg+xml;base64,"
    assert src.startswith(prefix)
    return ET.fromstring(base64.b64decode(src[len(prefix):]).decode("utf-8"))


def install(demo_run_db) -> str:
    """The session's stored demo run, copied into this test's data folder: its id."""
    database, run_id = demo_run_db
    shutil.copy(database, paths.database_path())
    return run_id


def cli_json(*args: str) -> dict:
    return json.loads(modelscout_here(*args, "--json", check=True).stdout)


# The stored demo run ---------------------------------------------------------------------------------------

def test_the_html_report_is_one_file_that_shows_the_run_and_runs_nothing(demo_run_db, tmp_path: Path) -> None:
    run_id = install(demo_run_db)
    target = tmp_path / "report.html"
    done = modelscout_here("report", run_id[:5], "--html", str(target), check=True)  # a prefix, as elsewhere
    assert done.stdout.strip() == f"wrote {target}"
    text = target.read_text(encoding="utf-8")
    page = Page(text)
    assert_runs_nothing(page)

    results = cli_json("results", run_id)
    recommendation = cli_json("recommend", run_id)
    svg = embedded_svg(page)
    labels = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    for m in results["models"]:
        assert m["model"] in labels  # every model is a point of the plot
        quality = f"{m['quality']:.0%} ({m['quality_low']:.0%}–{m['quality_high']:.0%})"
        assert page.shows(quality), quality  # the same figure `results` shows, with its interval
    assert recommendation["recommended"] in labels and page.shows(recommendation["reason"])
    assert len(list(svg.iter("{http://www.w3.org/2000/svg}circle"))) >= len(results["models"])
    store_rows = sqlite3.connect(paths.database_path()).execute(
        "select case_id, model_key, text, grade_reason from results where run_id = ?", [run_id]).fetchall()
    assert len(store_rows) == 6
    for case_id, _model, answer, reason in store_rows:  # every answer side by side, with its grade's reason
        assert page.shows(case_id) and page.shows(answer) and page.shows(reason)


def test_the_report_states_what_makes_the_run_reproducible(demo_run_db, demo_model: Path, demo_variant: Path,
                                                           tmp_path: Path) -> None:
    run_id = install(demo_run_db)
    modelscout_here("report", run_id, "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html"),
                    check=True)
    facts = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["reproducibility"]
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    db = sqlite3.connect(paths.database_path())
    db.row_factory = sqlite3.Row
    run = db.execute("select * from runs where id = ?", [run_id]).fetchone()
    assert facts["llama_cpp_version"] == run["llama_cpp_version"] == version("llama-cpp-python")
    assert facts["modelscout_version"] == run["app_version"]
    assert facts["sampling"] == json.loads(run["sampling_json"]) and facts["seed"] == 0
    assert facts["hardware"] == json.loads(run["hardware_json"])
    assert facts["suite"]["sha256"] == run["suite_hash"]
    files = {"SmolLM2-135M-Instruct.Q4_1": demo_model, "SmolLM2-135M-Instruct.Q2_K": demo_variant}
    for model in facts["models"]:
        assert model["sha256"] == hashlib.sha256(files[model["model"]].read_bytes()).hexdigest()  # the file's own
        assert model["quantization"] == model["model"].rsplit(".", 1)[1]
        assert model["llama_cpp_version"] == run["llama_cpp_version"]
        assert model["load_settings"]["n_threads"] == 2 and model["load_settings"]["n_ctx"] == 1024
        assert model["sha256"] in html and f"quantization: {model['quantization']}" in html
    prices = facts["prices"]
    assert prices["local"]["electricity_usd_per_kwh"] == 0.17  # the settings `results` priced the figures under
    assert prices["local_at_run_time"]["electricity_usd_per_kwh"] == json.loads(run["settings_json"])[
        "electricity_usd_per_kwh"]
    assert prices["genai_prices_version"] == version("genai-prices")
    assert f"genai-prices version</th><td><pre>{prices['genai_prices_version']}" in html
    assert f"Figures priced on</th><td><pre>{prices['priced_on']}" in html
    assert f"llama.cpp version</th><td><pre>{run['llama_cpp_version']}" in html
    assert "seed: 0" in html and f"cpu_name: {json.loads(run['hardware_json'])['cpu_name']}" in html


def test_what_the_store_does_not_hold_is_said_not_recorded(demo_run_db, tmp_path: Path) -> None:
    run_id = install(demo_run_db)
    with sqlite3.connect(paths.database_path()) as db:  # as a run stored by an older ModelScout would be
        db.execute("update runs set llama_cpp_version = null, hardware_json = null, settings_json = null "
                   "where id = ?", [run_id])
        db.execute("update run_models set identity_json = '{}' where run_id = ? and position = 0", [run_id])
    modelscout_here("report", run_id, "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html"),
                    check=True)
    facts = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["reproducibility"]
    assert facts["llama_cpp_version"] == facts["hardware"] == "not recorded"
    assert facts["prices"]["local_at_run_time"] == "not recorded"
    first, second = facts["models"]
    assert first["sha256"] == first["llama_cpp_version"] == "not recorded"
    assert len(second["sha256"]) == 64  # the other model's is still there
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "llama.cpp version</th><td><pre>not recorded" in html and "Hardware</th><td><pre>not recorded" in html
    assert "sha256: not recorded" in html


def test_csv_and_json_hold_the_figures_results_shows(demo_run_db, tmp_path: Path) -> None:
    run_id = install(demo_run_db)
    (tmp_path / "tables").mkdir()
    modelscout_here("report", run_id, "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "tables"),
                    check=True)
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    results = cli_json("results", run_id)
    assert report["models"] == results["models"]  # every per-model figure, interval and note alike
    assert report["recommendation"] == cli_json("recommend", run_id)
    assert {k: report["run"][k] for k in results if k != "models"} == {k: v for k, v in results.items()
                                                                        if k != "models"}

    prefix = tmp_path / "tables" / f"modelscout-report-{run_id}"
    with open(f"{prefix}-models.csv", encoding="utf-8", newline="") as handle:
        models = list(csv.DictReader(handle))
    assert [row["model"] for row in models] == [m["model"] for m in results["models"]]
    for row, figures in zip(models, results["models"]):
        for field in ("quality", "quality_low", "quality_high", "cost_per_answer_usd", "tokens_per_second",
                      "wall_time_ms", "pass_rate"):
            assert float(row[field]) == figures[field], field  # written exactly, read back exactly
        assert int(row["answered"]) == figures["answered"] and int(row["passed"]) == figures["passed"]
        assert row["recommended"] == str(figures["model"] == report["recommendation"]["recommended"])
    with open(f"{prefix}-answers.csv", encoding="utf-8", newline="") as handle:
        answers = list(csv.DictReader(handle))
    stored = {(c, m): (t, r) for c, m, t, r in sqlite3.connect(paths.database_path()).execute(
        "select case_id, model_key, text, grade_reason from results where run_id = ?", [run_id])}
    assert {(a["case_id"], a["model"]): (a["answer"], a["reason"]) for a in answers} == stored
    with open(f"{prefix}-run.csv", encoding="utf-8", newline="") as handle:
        facts = dict(csv.reader(handle))
    assert facts["reproducibility.llama_cpp_version"] == report["reproducibility"]["llama_cpp_version"]
    assert facts["reproducibility.models.SmolLM2-135M-Instruct.Q4_1.sha256"] == \
        report["reproducibility"]["models"][0]["sha256"]


def test_bad_input_is_one_plain_line_and_leaves_no_file(demo_run_db, tmp_path: Path) -> None:
    run_id = install(demo_run_db)
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.html").write_text("the report made before", encoding="utf-8")
    (tmp_path / "a-file").write_text("")
    (out / "t-answers.csv").mkdir()  # where a CSV table would go is a folder
    cases = [
        (["nope", "--html", str(out / "r.html")], "no run with id 'nope'"),
        ([run_id, "--html", str(out)], f"{out} is a folder; give the HTML report a file name"),
        ([run_id, "--html", str(tmp_path / "missing" / "r.html")], "the folder"),
        ([run_id, "--json", str(tmp_path / "a-file" / "r.json")], "is a file, not a folder"),
        ([run_id, "--html", str(out / "kept.html"), "--csv", str(out / "t.csv")], "t-answers.csv is a folder"),
        ([run_id], "say what to write: --html FILE"),
    ]
    def files() -> list[Path]:  # besides the data folder, where the store keeps its journal
        return sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "modelscout-home" not in p.parts)

    before = files()
    for args, words in cases:
        done = modelscout_here("report", *args)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith("modelscout: error: ") and words in done.stderr, done.stderr
    assert files() == before  # no file, no temporary one
    assert (out / "kept.html").read_text(encoding="utf-8") == "the report made before"


def test_a_csv_cell_never_starts_a_spreadsheet_formula() -> None:
    assert cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert [cell(x) for x in ("+1", "-1", "@SUM(A1)", "Paris", 0.5, -0.25, None)] == [
        "'+1", "'-1", "'@SUM(A1)", "Paris", 0.5, -0.25, ""]


def test_the_report_code_loads_no_gui_library(tmp_path: Path) -> None:
    """Reports are core: the plot is drawn without Qt or pyqtgraph, so the CLI and a headless server make them."""
    code = ("import sys; from desktop_app.reports import svg, html, tables, data; "
            "svg.tradeoff_svg([{'model': 'm', 'provider': 'llama.cpp', 'quality': 0.5, 'quality_low': 0.2, "
            "'quality_high': 0.8, 'cost_per_answer_usd': 1e-5}], ['m'], 'm'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'superqt', "
            "'shiboken6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"


# A hostile suite and model name, answered for real ----------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_run_db(tmp_path_factory, demo_model: Path):
    """(database, run id): the demo model, under a file name that is an HTML tag, answering two cases whose
    ids, prompts, system prompt and expected answers are markup, 8 tokens each."""
    from desktop_app.models.catalog import ModelCatalog
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings
    from desktop_app.storage.store import Store
    from desktop_app.suites import load_suite

    home = tmp_path_factory.mktemp("hostile")
    model = Path(shutil.copy(demo_model, home / f"{HOSTILE_MODEL}.gguf"))
    suite = home / "hostile.jsonl"
    lines = [{"suite": {"name": f"hostile {SCRIPT}", "version": "1", "system": f"Answer briefly. {LINK}"}},
             {"id": SCRIPT, "prompt": f"Repeat exactly: {SCRIPT}", "expected": SCRIPT},
             {"id": IMG, "prompt": f"Repeat exactly: {IMG} {LINK}", "expected": IMG}]
    suite.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELSCOUT_HOME", str(home))
        store = Store(home / "modelscout.db")
        runner = Runner(store, Settings(threads=2, context_size=512), ModelCatalog(home / "models.json"))
        run_id = runner.create_run(load_suite(suite), [runner.spec_for(model)], Sampling(max_tokens=8))
        assert list(runner.execute(run_id))[-1].status == "complete"
        store.close()
    return home / "modelscout.db", run_id


def test_markup_from_models_and_suites_shows_as_text(hostile_run_db, tmp_path: Path) -> None:
    run_id = install(hostile_run_db)
    target = tmp_path / "hostile.html"
    modelscout_here("report", run_id, "--html", str(target), "--csv", str(tmp_path / "t.csv"), check=True)
    text = target.read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "<img src=x" not in text.lower() and "<a href" not in text.lower()
    page = Page(text)
    assert_runs_nothing(page)
    for hostile in (SCRIPT, IMG, LINK, f"hostile {SCRIPT}", f"Repeat exactly: {IMG} {LINK}"):
        assert page.shows(hostile), hostile  # the characters, as written
    answers = sqlite3.connect(paths.database_path()).execute(
        "select model_key, text from results where run_id = ?", [run_id]).fetchall()
    (model,) = {model for model, _ in answers}
    assert model.startswith(HOSTILE_MODEL) and page.shows(model)  # named by its file (and quantization)
    for _, answer in answers:
        assert answer.strip() and page.shows(answer.strip())  # the model's own words, whatever they are

    svg = embedded_svg(page)  # the plot is well-formed, holds no script, and draws the name as text
    assert not [e for e in svg.iter() if e.tag.endswith("script") or any(a.startswith("on") for a in e.attrib)]
    assert any(model in (t.text or "") for t in svg.iter("{http://www.w3.org/2000/svg}text"))

    with open(tmp_path / "t-answers.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["case_id"] for row in rows) == sorted([SCRIPT, IMG])  # CSV keeps the data as it is
