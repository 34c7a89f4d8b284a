"""A judge in the app: scoring a stored run from Results (a scripted judge on loopback), its verdicts and reasons
in the answer's detail, what it cost apart from the answers, and a suite's own judge on the Suites screen."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.ui.pages.results import ResultsPage
from tests.servers import ScriptedJudge
from tests.ui.conftest import app_look, install_run


@pytest.fixture
def seeded(ctx, demo_run_db) -> str:
    return install_run(demo_run_db, ctx)


@pytest.fixture
def judges():
    servers: list[ScriptedJudge] = []

    def start(reply) -> ScriptedJudge:
        servers.append(ScriptedJudge(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def ref(judge: ScriptedJudge) -> str:
    return f"openai-compatible:scripted-judge@{judge.base_url}"


def know_judge(ctx, judge: ScriptedJudge) -> str:
    """The judge as an API model of the app's settings, as Settings > API models adds one."""
    ctx.save_settings(dataclasses.replace(ctx.settings, api_models=[*ctx.settings.api_models, ref(judge)]))
    return ref(judge)


def open_results(qtbot, open_page, ctx, run_id: str) -> ResultsPage:
    page = open_page(ResultsPage, ctx, (1280, 800))
    qtbot.waitUntil(lambda: page.run_data is not None and page.run_data.run_id == run_id, timeout=10_000)
    return page


def score(qtbot, page: ResultsPage, judge_ref: str, *, pairwise: bool = False, rubric: str = ""):
    """Open Score…, choose the judge, press Score; wait for the scoring and for the run to load again."""
    with qtbot.waitSignal(page.score_dialog_opened, timeout=10_000):  # how the run is scored is read off the UI thread
        page.score_button.click()
    dialog = page.score_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.select_judge(judge_ref)
    dialog.pairwise_box.setChecked(pairwise)
    dialog.rubric_edit.setPlainText(rubric)
    statuses: list[str] = []
    # The run loads again once scored: wait for both, the scoring first.
    with qtbot.waitSignal(page.loaded, timeout=30_000), \
            qtbot.waitSignal(dialog.finished_scoring, timeout=30_000) as done:
        dialog.score_button.click()
        assert dialog.is_running() and not dialog.close_button.isEnabled() and dialog.stop_button.isVisible()
        dialog.worker.yielded.connect(lambda _event: statuses.append(dialog.status.text()))
    return dialog, done.args[0], statuses


def test_score_dialog_runs_a_judge_and_results_show_its_verdict_reason_and_cost(qtbot, open_page, ctx, seeded,
                                                                                judges, shots) -> None:
    run_id = seeded
    judge = judges(lambda body: "Both are fine. [[C]]" if "[[A]]" in json.dumps(body)
                   else "The answer is fine and brief. Rating: [[8]]")
    judge_ref = know_judge(ctx, judge)
    page = open_results(qtbot, open_page, ctx, run_id)
    before = {(r["case_id"], r["model_key"]): r["text"] for r in ctx.store.results(run_id)}
    assert "judge cost" not in page.run_info.text()

    dialog, finished, statuses = score(qtbot, page, judge_ref, pairwise=True, rubric="Correct and brief.")
    assert finished is not None and finished.judged == 6 + 3 and finished.errors == 0
    assert any(text.startswith("Judging answers: ") and " of 6" in text for text in statuses)
    assert any(text.startswith("Judging pairs: ") for text in statuses)
    assert dialog.status.text().startswith("Done: 6 answers graded, 9 judged now, 0 reused.")
    assert "apart from the answers" in dialog.status.text()
    assert dialog.close_button.isEnabled() and dialog.score_button.text() == "Score again"
    assert {(r["case_id"], r["model_key"]): r["text"] for r in ctx.store.results(run_id)} == before
    assert any("Correct and brief." in text for text in judge.user_texts())

    # The answer's detail: the judge's rating, its reason, the pairwise verdict against the other model.
    models = page.run_data.model_keys
    case_id = page.run_data.cases[0]["id"]
    page._select_cell(case_id, models[1])
    detail = page.detail
    assert detail.judge_verdict.isVisibleTo(page) and detail.judge_reason.isVisibleTo(page)
    assert detail.judge_verdict.text().startswith("scripted-judge @ 127.0.0.1:") \
        and "rates it 8 out of 10 (score 0.78)" in detail.judge_verdict.text()
    assert detail.judge_reason.text() == "The answer is fine and brief. Rating: [[8]]"
    assert detail.pair_label.text() == f"Against {models[0]}: the judge called it a tie."
    assert "pass · judge: The answer is fine and brief. Rating: [[8]]" in detail.parts_label.text().splitlines()
    # The judge's cost is said apart from the answers'.
    assert page.run_info.text().startswith("judge cost $0 · ")
    assert "apart from what the answers cost" in page.run_info.toolTip()

    with app_look(QApplication.instance()):
        QApplication.processEvents()
        assert page.grab().save(str(shots / "results-judged.png"))
        assert dialog.grab().save(str(shots / "score-dialog.png"))


def test_an_unusable_verdict_reads_not_scored_never_a_zero(qtbot, open_page, ctx, seeded, judges) -> None:
    run_id = seeded
    judge_ref = know_judge(ctx, judges("I think it is good."))
    page = open_results(qtbot, open_page, ctx, run_id)
    dialog, finished, _ = score(qtbot, page, judge_ref)
    assert finished.errors == 6 and "6 verdicts unusable (not scored)" in dialog.status.text()
    case_id, model = page.run_data.cases[0]["id"], page.run_data.model_keys[0]
    page._select_cell(case_id, model)
    detail = page.detail
    parts = detail.parts_label.text().splitlines()
    judged = [line for line in parts if "judge" in line]
    assert judged and all(line.startswith("not scored · judge: ") for line in judged), parts
    assert not any(line.startswith("fail · judge") for line in parts)
    assert "not scored: the judge's answer has no [[rating]]" in detail.judge_verdict.text()
    assert detail.judge_reason.text() == "I think it is good."
    assert "not scored: judge: the judge's verdict is unusable" in detail.grade_label.text()


def test_stop_ends_judging_and_keeps_the_verdicts_made(qtbot, open_page, ctx, seeded, judges) -> None:
    run_id = seeded
    started = threading.Event()

    def slow(_body):
        started.set()
        time.sleep(0.4)
        return "Rating: [[6]]"

    judge_ref = know_judge(ctx, judges(slow))
    page = open_results(qtbot, open_page, ctx, run_id)
    with qtbot.waitSignal(page.score_dialog_opened, timeout=10_000):
        page.score_button.click()
    dialog = page.score_dialog
    dialog.select_judge(judge_ref)
    with qtbot.waitSignal(dialog.finished_scoring, timeout=30_000) as done:
        dialog.score_button.click()
        qtbot.waitUntil(lambda: dialog.progress.value() >= 1, timeout=15_000)
        dialog.stop_button.click()
        assert dialog.status.text() == "Stopping…" and not dialog.stop_button.isEnabled()
    assert done.args == [None]
    assert dialog.status.text().startswith("Stopped.")
    kept = ctx.store.judgments(run_id, "single")
    assert 1 <= len(kept) < 6, "the verdicts so far are kept; the rest are not asked"
    assert dialog.score_button.isEnabled() and dialog.close_button.isEnabled()


def test_a_suites_judge_is_shown_and_the_run_panel_follows_its_judging(qtbot, ctx, tmp_path, smol_tiny,
                                                                        judges) -> None:
    import dataclasses

    from desktop_app.ui.pages.suites import SuitesPage
    from tests.ui.test_suites_page import make_page, open_and_wait

    judge = judges("Fine. Rating: [[9]]")
    suite = tmp_path / "judged.jsonl"
    suite.write_text("\n".join(json.dumps(line) for line in [
        {"suite": {"name": "judged", "version": "1", "judge": ref(judge), "rubric": "Short and correct."}},
        {"id": "add", "prompt": "What is 2 + 2? Reply with just the number.", "expected": 4},
        {"id": "sea", "prompt": "One sentence about the sea."},
    ]) + "\n", encoding="utf-8")
    ctx.save_settings(dataclasses.replace(ctx.settings, model_files=[str(smol_tiny)]))  # the judge reads any answer
    page: SuitesPage = make_page(qtbot, ctx)
    try:
        ctx.settings.max_tokens = 8
        open_and_wait(qtbot, page, suite)
        line = page.scoring_label.text()
        assert page.scoring_label.isVisibleTo(page)
        assert line == f"Scored by judge {ref(judge)} · rubric “Short and correct.”"
        assert "Rubric: Short and correct." in page.scoring_label.toolTip()

        page.picker.set_selected([smol_tiny])
        texts = []
        with qtbot.waitSignal(page.run_finished, timeout=180_000) as blocker:
            page.run_button.click()
            page.worker.yielded.connect(lambda _event: texts.append(page.progress_label.text()))
        run_id, status = blocker.args
        assert status == "complete"
        assert "Judging 0/2" in texts and "Judging 2/2 · answers" in texts
        assert texts.index("Judging 0/2") > max(i for i, t in enumerate(texts) if "answers ·" in t and "of 2" in t)
        notes = [page.log.topLevelItem(i).text(0) for i in range(page.log.topLevelItemCount())]
        assert any(n.startswith("Judged: 2 verdicts made; the judge cost $0") for n in notes), notes
        assert page.progress.maximum() == 2 and "Done: 2 answers" in page.progress_label.text()
        assert len(ctx.store.judgments(run_id, "single")) == 2
    finally:
        page.shutdown()

    # A suite without scoring of its own shows no such line.
    other = tmp_path / "plain.jsonl"
    other.write_text(json.dumps({"id": "x", "prompt": "Hi"}) + "\n", encoding="utf-8")
    page = make_page(qtbot, ctx)
    try:
        open_and_wait(qtbot, page, other)
        assert page.scoring_label.isHidden() and page.scoring_label.text() == ""
    finally:
        page.shutdown()


def test_the_run_panel_says_when_judging_was_stopped_midway(qtbot, ctx) -> None:
    from desktop_app.runner import events as ev
    from desktop_app.runner.scoring import JudgingStarted, JudgmentMade
    from desktop_app.ui.widgets.suite_run_panel import SuiteRunPanel

    panel = SuiteRunPanel(ctx)
    qtbot.addWidget(panel)
    panel.begin()
    panel.show_event(ev.RunStarted("r1", 4, 0))
    panel.show_event(JudgingStarted("judge-x", 4))
    panel.show_event(JudgmentMade("single", "c1", "m1", "", False, "no verdict", 1, 4))
    assert panel.progress_label.text() == "Judging 1/4 · answers" and panel.progress.value() == 1
    panel.show_event(ev.RunFinished("r1", "complete"))  # cancelled while judging: the run itself is complete
    panel.finish("r1", "complete")
    notes = [panel.log.topLevelItem(i).text(0) for i in range(panel.log.topLevelItemCount())]
    assert notes == ["The judge could not grade c1 on m1: no verdict",
                     "Judging was stopped: the verdicts made so far are kept; Score… on the Results screen "
                     "finishes it"]
    assert panel.progress.maximum() == 4 and panel.progress_label.text().startswith("Done: 4 answers")
