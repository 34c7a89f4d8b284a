"""The Results screen on real runs of the demo models and a real SQLite file."""

from __future__ import annotations

import csv
import html
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit

from desktop_app.analysis.summary import summarize
from desktop_app.providers.base import Sampling
from desktop_app.runner.events import CaseFinished, RunFinished
from desktop_app.runner.runner import Runner
from desktop_app.scoring.checks import grade
from desktop_app.settings import Settings
from desktop_app.storage.store import Store, dumps
from desktop_app.suites import Case, Check, load_suite, suite_from_cases
from desktop_app.ui.pages.results import SORT_ROLE, STATE_ROLE, ResultsPage, first_line, result_state
from desktop_app.ui.widgets.answer_diff import DIFF_KIND, word_diff
from desktop_app.ui.workers import GeneratorWorker
from tests.ui.conftest import app_look, install_run

SAMPLING = Sampling(max_tokens=16)


@pytest.fixture
def seeded(ctx, demo_run_db) -> str:
    return install_run(demo_run_db, ctx)


def synthetic_run(store: Store, cases: list[Case], answers: dict[tuple[str, str], str | Exception]) -> str:
    """A run whose answers are written directly (graded by the real checks): exact texts to show."""
    suite = suite_from_cases("synthetic", cases)
    models = list(dict.fromkeys(key for _, key in answers))
    run_id = store.new_run_id()
    store.create_run({"id": run_id, "kind": "suite", "suite_name": suite.name, "suite_version": suite.version,
                      "suite_hash": suite.content_hash, "suite_json": dumps(suite.to_dict()),
                      "sampling_json": dumps(SAMPLING.to_dict())},
                     [{"model_key": key, "provider": "llama.cpp", "spec_json": "{}", "metadata_json": "{}",
                       "identity_json": "{}"} for key in models])
    for (case_id, key), answer in answers.items():
        row = {"run_id": run_id, "model_key": key, "case_id": case_id, "completion_tokens": 7,
               "time_to_first_token_ms": 120.0, "generation_tokens_per_second": 50.0, "wall_time_ms": 260.0,
               "cost_usd": 1e-6}
        if isinstance(answer, Exception):
            row.update(text="", finish_reason="error", error=str(answer))
        else:
            graded = grade(suite.case(case_id), answer)
            row.update(text=answer, finish_reason="stop")
            if graded is not None:
                row.update(grade_passed=int(graded.passed), grade_score=graded.score, grade_reason=graded.reason,
                           grade_json=dumps(graded.to_dict()))
        store.add_result(row)
    store.set_run_status(run_id, "complete")
    return run_id


FILTER_CASES = [
    Case(id="capital", prompt="What is the capital of France?", expected="Paris", tags=("facts",),
         checks=(Check("contains"),)),
    Case(id="sum", prompt="What is 17 + 25?", expected=42, tags=("math",), checks=(Check("numeric"),)),
    Case(id="gold", prompt="Chemical symbol for gold?", expected="Au", tags=("facts",), checks=(Check("contains"),)),
    Case(id="planet", prompt="Largest planet?", expected="Jupiter", tags=("facts",), checks=(Check("contains"),)),
]
FILTER_ANSWERS: dict[tuple[str, str], str | Exception] = {
    ("capital", "model-a"): "Paris", ("capital", "model-b"): "It is Paris.",
    ("sum", "model-a"): "42", ("sum", "model-b"): "41",
    ("gold", "model-a"): "Ag", ("gold", "model-b"): "Silver, I believe",
    ("planet", "model-a"): RuntimeError("llama.cpp stopped answering"), ("planet", "model-b"): "Jupiter",
}


def open_page(qtbot, ctx) -> ResultsPage:
    page = ResultsPage(ctx)
    qtbot.addWidget(page)
    page.resize(1100, 720)
    page.show()
    qtbot.waitUntil(lambda: page.run_picker.loaded, timeout=10_000)  # the run list is read off the UI thread
    return page


def wait_loaded(qtbot, page: ResultsPage, run_id: str) -> None:
    qtbot.waitUntil(lambda: page.run_data is not None and page.run_data.run_id == run_id, timeout=10_000)


def shows_start_of(shown: str, full: str) -> bool:
    """A cell shows an answer's line whole, or as much of it as its column can show, then an ellipsis."""
    return shown == full or (shown.endswith("\u2026") and len(shown) > 20 and full.startswith(shown[:-1]))


def visible_case_ids(page: ResultsPage) -> list[str]:
    return [page.proxy.index(row, 0).data() for row in range(page.proxy.rowCount())]


def cell_index(page: ResultsPage, case_id: str, model_key: str):
    return page.proxy.mapFromSource(page.grid.index_of(case_id, model_key))


def click_cell(qtbot, page: ResultsPage, case_id: str, model_key: str, ctrl: bool = False) -> None:
    index = cell_index(page, case_id, model_key)
    page.view.scrollTo(index)
    modifier = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(page.view.viewport(), Qt.MouseButton.LeftButton, modifier, page.view.visualRect(index).center())


def save_shot(widget, folder: Path, name: str) -> None:
    """A picture as the user sees it: with the app's style sheet, which the tests otherwise leave out."""
    with app_look(QApplication.instance()):
        QApplication.processEvents()
        assert widget.grab().save(str(folder / name))


def highlighted(view: QPlainTextEdit) -> list[tuple[str, str]]:
    """(kind, text) of each run of text the diff coloured, read back from the document's char formats."""
    spans: list[tuple[str, str]] = []
    block = view.document().begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            kind = fragment.charFormat().property(DIFF_KIND)
            if kind:
                if spans and spans[-1][0] == kind and spans[-1][2] == fragment.position():
                    spans[-1] = (kind, spans[-1][1] + fragment.text(), fragment.position() + fragment.length())
                else:
                    spans.append((kind, fragment.text(), fragment.position() + fragment.length()))
            iterator += 1
        block = block.next()
    return [(kind, text) for kind, text, _ in spans]


def test_empty_state_then_a_real_run_appears(qtbot, ctx, small_suite: Path, demo_model: Path) -> None:
    page = open_page(qtbot, ctx)
    assert page.stack.currentWidget() is page.empty
    assert "No runs yet" in page.empty.findChild(QLabel, "emptyState").text()
    with qtbot.waitSignal(ctx.navigate) as to_compare:
        qtbot.mouseClick(page.go_compare, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(ctx.navigate) as to_suites:
        qtbot.mouseClick(page.go_suites, Qt.MouseButton.LeftButton)
    assert (to_compare.args, to_suites.args) == (["Compare"], ["Suites"])

    # A run made by the core on a worker thread in the app's database, announced as the run screens do.
    def run_events():
        store = Store(ctx.database_path())
        try:
            runner = Runner(store, ctx.settings, ctx.catalog, ctx.hardware)
            run_id = runner.create_run(load_suite(small_suite), [runner.spec_for(demo_model)], SAMPLING)
            yield run_id
            yield from runner.execute(run_id)
        finally:
            store.close()

    announced: list[str] = []

    def announce(item) -> None:
        if isinstance(item, str):
            announced.append(item)
        if isinstance(item, (str, CaseFinished, RunFinished)):  # each answer, and the final word at the end
            ctx.runs_changed.emit(announced[0])

    worker = GeneratorWorker(run_events)
    worker.yielded.connect(announce)
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        worker.start()
        qtbot.waitUntil(lambda: page.run_data is not None, timeout=30_000)
        assert page.stack.currentWidget() is page.content
        first_case = page.grid.case_at(0)["id"]
        click_cell(qtbot, page, first_case, page.grid.model_at(1))  # read while the run goes on
    run_id = announced[0]
    qtbot.waitUntil(lambda: len(page.run_data.results) == 3 and page.run_data.run["status"] == "complete",
                    timeout=10_000)
    stored = {row["case_id"]: row for row in ctx.store.results(run_id)}

    assert page.run_combo.count() == 1 and page.current_run_id() == run_id
    assert (page.proxy.rowCount(), page.proxy.columnCount()) == (3, 2)
    assert page.grid.model_at(1) == "SmolLM2-135M-Instruct.Q4_1"
    for row in range(3):
        case_id = page.proxy.index(row, 0).data()
        assert page.proxy.index(row, 1).data(STATE_ROLE) == result_state(stored[case_id])
    qtbot.waitUntil(lambda: "complete" in page.run_combo.currentText())
    # The new answers arrived under the reader's selection without moving it.
    assert page._current_keys() == (first_case, "SmolLM2-135M-Instruct.Q4_1")
    assert page.detail.answer_view.toPlainText() == stored[first_case]["text"]
    page.shutdown()


def test_the_grid_shows_every_stored_grade(qtbot, ctx, seeded: str) -> None:
    page = open_page(qtbot, ctx)
    wait_loaded(qtbot, page, seeded)
    rows = ctx.store.results(seeded)
    models = [m["model_key"] for m in ctx.store.run_models(seeded)]
    cases = [str(case["id"]) for case in ctx.store.suite_cases(seeded)]  # in the suite's order
    assert sorted(cases) == sorted(dict.fromkeys(row["case_id"] for row in rows))

    assert [page.proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(3)] == ["Case", *models]
    assert visible_case_ids(page) == cases
    for row in rows:
        index = cell_index(page, row["case_id"], row["model_key"])
        assert index.data(STATE_ROLE) == ("passed" if row["grade_passed"] else "failed")
        assert shows_start_of(index.data(Qt.ItemDataRole.DisplayRole), first_line(row["text"]))
        assert row["grade_reason"] in html.unescape(index.data(Qt.ItemDataRole.ToolTipRole))
    summary = summarize(ctx.store, seeded)
    assert [card.model_key for card in page.strip.cards] == models
    for card, model in zip(page.strip.cards, summary.models, strict=True):
        assert card.quality_label.text() == f"{model.quality:.0%}"
        assert card.passed_label.text().startswith(f"{model.passed}/{model.graded} passed")
    assert page.count_label.text() == "3 cases"
    page.shutdown()


def test_filters_search_tags_and_sorting(qtbot, ctx) -> None:
    run_id = synthetic_run(ctx.store, FILTER_CASES, FILTER_ANSWERS)
    page = open_page(qtbot, ctx)
    wait_loaded(qtbot, page, run_id)
    assert visible_case_ids(page) == ["capital", "sum", "gold", "planet"]
    assert cell_index(page, "planet", "model-a").data(STATE_ROLE) == "error"

    qtbot.mouseClick(page.failed_only, Qt.MouseButton.LeftButton)
    assert visible_case_ids(page) == ["sum", "gold", "planet"], "the case both models passed is hidden"
    assert page.count_label.text() == "3 of 4 cases shown"
    page.set_focus_model("model-b")
    assert visible_case_ids(page) == ["sum", "gold"], "failed by the highlighted model"
    page.set_focus_model("")
    page.failed_only.setChecked(False)

    page.disagreements_only.setChecked(True)
    assert visible_case_ids(page) == ["sum", "planet"], "an error counts as a failure"
    page.disagreements_only.setChecked(False)

    qtbot.keyClicks(page.search, "SILVER")
    assert visible_case_ids(page) == ["gold"], "search covers answers, case-insensitively"
    page.search.setText("17 + 25")
    assert visible_case_ids(page) == ["sum"], "and prompts"
    page.search.clear()

    assert page.tag_combo.isVisibleTo(page)
    page.tag_combo.setCurrentIndex(page.tag_combo.findData("math"))
    assert visible_case_ids(page) == ["sum"]
    page.tag_combo.setCurrentIndex(0)

    click_cell(qtbot, page, "gold", "model-b")
    page.view.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # model-a's score, best first
    assert visible_case_ids(page) == ["capital", "sum", "gold", "planet"]
    page.view.sortByColumn(2, Qt.SortOrder.AscendingOrder)  # model-b's score, worst first
    assert visible_case_ids(page) == ["sum", "gold", "capital", "planet"]
    assert page._current_keys() == ("gold", "model-b"), "the selected cell follows its case"
    page.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert visible_case_ids(page) == ["capital", "gold", "planet", "sum"]
    assert page.proxy.index(0, 2).data(SORT_ROLE) == 1.0

    out = page.export_csv(Path(ctx.database_path()).parent / "grid.csv")
    with out.open(encoding="utf-8", newline="") as handle:
        exported = list(csv.reader(handle))
    assert exported[0][:4] == ["case", "tags", "prompt", "expected"]
    assert [line[0] for line in exported[1:]] == ["capital", "gold", "planet", "sum"]
    planet = exported[3]
    assert planet[4:7] == ["error", "", "llama.cpp stopped answering"] and planet[7] == "passed"
    page.shutdown()


def test_a_selected_answer_is_shown_literally_and_can_be_labelled(qtbot, ctx) -> None:
    markup = "<b>bold</b> & <i>not italic</i>\n<script>alert(1)</script>"
    cases = [Case(id="html", prompt="Say <b>bold</b>", expected="bold", checks=(Check("contains"),))]
    run_id = synthetic_run(ctx.store, cases, {("html", "model-a"): markup, ("html", "model-b"): "<i>plain</i>"})
    page = open_page(qtbot, ctx)
    wait_loaded(qtbot, page, run_id)
    index = cell_index(page, "html", "model-a")
    assert shows_start_of(index.data(), "<b>bold</b> & <i>not italic</i> \u21b5 <script>alert(1)</script>")
    # A tooltip that quotes model output is escaped, so Qt cannot take it for rich text.
    assert "&lt;i&gt;plain&lt;/i&gt;" in cell_index(page, "html", "model-b").data(Qt.ItemDataRole.ToolTipRole)

    click_cell(qtbot, page, "html", "model-a")
    detail = page.detail
    assert detail.answer_view.toPlainText() == markup
    assert detail.prompt_view.toPlainText() == "Say <b>bold</b>"
    assert detail.verdict.text().startswith("Passed")
    assert detail.metric_values["Tokens"].text() == "0 in · 7 out"
    assert detail.metric_values["First token"].text() == "120 ms"

    result_id = page.grid.result_at(0, 1)["id"]

    def label_of() -> int | None:
        return ctx.store.db["results"].get(result_id)["human_label"]

    # The verdict shows at once; it is written off the UI thread, in the order given.
    qtbot.mouseClick(detail.good_button, Qt.MouseButton.LeftButton)
    assert detail.good_button.isChecked() and "Your verdict: good" in index.data(Qt.ItemDataRole.ToolTipRole)
    qtbot.waitUntil(lambda: label_of() == 1, timeout=5_000)
    qtbot.mouseClick(detail.bad_button, Qt.MouseButton.LeftButton)
    assert detail.bad_button.isChecked() and not detail.good_button.isChecked()
    qtbot.waitUntil(lambda: label_of() == -1, timeout=5_000)
    qtbot.mouseClick(detail.bad_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: label_of() is None, timeout=5_000)

    click_cell(qtbot, page, "html", "model-b")  # its grade reason quotes the answer: still plain text
    assert detail.verdict.text().startswith("Failed")
    assert detail.grade_label.textFormat() == Qt.TextFormat.PlainText
    assert detail.grade_label.text() == 'expected "bold", not found in "<i>plain</i>"'
    page.shutdown()


def test_two_answers_compare_word_by_word(qtbot, ctx, shots) -> None:
    cases = [Case(id="capital", prompt="What is the capital of France?", expected="Paris", checks=(Check("contains"),))]
    left = "The capital of France is Paris, of course."
    right = "The capital of France is <b>Lyon</b>, of course.\nI think."
    run_id = synthetic_run(ctx.store, cases, {("capital", "model-a"): left, ("capital", "model-b"): right})
    page = open_page(qtbot, ctx)
    wait_loaded(qtbot, page, run_id)
    assert not page.compare_button.isEnabled()
    click_cell(qtbot, page, "capital", "model-a")
    assert not page.compare_button.isEnabled()
    click_cell(qtbot, page, "capital", "model-b", ctrl=True)
    assert page.compare_button.isEnabled()
    qtbot.mouseClick(page.compare_button, Qt.MouseButton.LeftButton)

    dialog = page.diff_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.left_view.toPlainText() == left and dialog.right_view.toPlainText() == right
    assert highlighted(dialog.left_view) == [("deleted", "Paris")]
    assert highlighted(dialog.right_view) == [("inserted", "<b>Lyon</b>"), ("inserted", "I think.")]
    cursor = QTextCursor(dialog.right_view.document())
    cursor.setPosition(right.index("capital") + 1)
    assert cursor.charFormat().property(DIFF_KIND) is None, "shared words stay unmarked"
    assert "(1 word)" in dialog.summary.text() and "(5 words)" in dialog.summary.text()
    save_shot(dialog, shots, "diff.png")
    page.shutdown()
    assert page.diff_dialog is None or not page.diff_dialog.isVisible()


def test_word_diff_offsets_survive_characters_outside_the_bmp(qtbot) -> None:
    diff = word_diff("\U0001F642 yes indeed", "\U0001F642 no indeed")
    assert diff.deleted == [(2, 5)] and diff.inserted == [(2, 4)]
    assert word_diff("same  words", "same words").deleted == []

    from desktop_app.ui.widgets.answer_diff import show_highlighted
    view = QPlainTextEdit()
    show_highlighted(view, "\U0001F642 no indeed", diff.inserted, "inserted")
    assert highlighted(view) == [("inserted", "no")]


def test_show_run_selects_the_run_and_the_model_column(qtbot, ctx, seeded: str) -> None:
    other = synthetic_run(ctx.store, FILTER_CASES, FILTER_ANSWERS)  # newer: shown first
    page = open_page(qtbot, ctx)
    wait_loaded(qtbot, page, other)
    models = [m["model_key"] for m in ctx.store.run_models(seeded)]

    page.show_run(seeded[:5], models[1])  # a prefix of the id works, as on the command line
    wait_loaded(qtbot, page, seeded)
    assert page.current_run_id() == seeded
    assert page.focused_model() == models[1] and page.model_combo.currentData() == models[1]
    current = page.proxy.mapToSource(page.view.currentIndex())
    assert page.grid.model_at(current.column()) == models[1]
    assert page.detail.model_label.text() == models[1]
    assert page.proxy.headerData(2, Qt.Orientation.Horizontal, Qt.ItemDataRole.FontRole).bold()
    assert [card.property("focused") for card in page.strip.cards] == [False, True]

    page.show_run(seeded, models[0])  # same run: only the focus moves
    assert page.focused_model() == models[0]
    page.shutdown()


def test_a_fresh_window_on_the_same_data_finds_the_run(qtbot, ctx, seeded: str, shots) -> None:
    from desktop_app.ui.context import AppContext
    from desktop_app.ui.main_window import MainWindow

    first = MainWindow(ctx)
    qtbot.addWidget(first)
    first.show()
    page = first.show_page("Results")
    wait_loaded(qtbot, page, seeded)
    first.close()  # saves the window state, shuts the screens down

    again = AppContext(Settings(threads=2, context_size=1024, max_tokens=32))
    window = MainWindow(again)
    qtbot.addWidget(window)
    window.resize(1240, 780)
    window.show()
    try:
        assert window.current_page_name() == "Results"
        page = window.pages["Results"]
        wait_loaded(qtbot, page, seeded)
        assert page.run_combo.currentData() == seeded and page.proxy.rowCount() == 3
        key = page.grid.model_at(2)
        again.open_run.emit(seeded, key)  # what the Tradeoff screen does when a point is clicked
        assert page.focused_model() == key
        click_cell(qtbot, page, page.grid.case_at(1)["id"], page.grid.model_at(1))
        assert page.detail.answer_view.toPlainText() == page.grid.result_at(1, 1)["text"]
        save_shot(window, shots, "results.png")
    finally:
        window.close()


def test_a_cell_gets_what_its_column_can_show_and_the_detail_all_of_it(qtbot, ctx) -> None:
    """Qt lays out a cell's whole text to elide it on every paint: a long answer is cut to what the widest
    column shows (so a 100,000-answer grid paints quickly), and more arrives as the column widens."""
    long_answer = " ".join(f"word{n}" for n in range(60))  # one line of 400+ characters
    cases = [Case(id="long", prompt="Say many words", expected="word1", checks=(Check("contains"),))]
    run_id = synthetic_run(ctx.store, cases, {("long", f"model-{c}"): long_answer for c in "abcd"})
    page = open_page(qtbot, ctx)
    wait_loaded(qtbot, page, run_id)
    header = page.view.horizontalHeader()
    for column in range(1, 5):
        header.resizeSection(column, 150)
    narrow = cell_index(page, "long", "model-a").data()
    average = page.view.fontMetrics().averageCharWidth()
    assert narrow.endswith("\u2026") and long_answer.startswith(narrow[:-1])
    assert 150 / average <= len(narrow) <= 150 / (average * 0.5) + 8  # all a column can show, and no more
    header.resizeSection(2, 600)
    wider = cell_index(page, "long", "model-a").data()
    assert len(wider) > len(narrow) and long_answer.startswith(wider[:-1])
    click_cell(qtbot, page, "long", "model-a")
    assert page.detail.answer_view.toPlainText() == long_answer
    page.shutdown()
