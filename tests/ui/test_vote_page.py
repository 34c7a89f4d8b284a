"""The Vote screen on a real stored run of both demo models: blind pairs, keys, undo, ratings, a judge's agreement."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QPlainTextEdit

from desktop_app.analysis.ratings import people_verdicts
from desktop_app.storage.store import Store, dumps
from desktop_app.ui.pages.vote import VotePage
from desktop_app.ui.voting import agreement_sentence, pair_key, plan_pairs
from tests.ui.conftest import app_look, install_run


@pytest.fixture
def seeded(ctx, demo_run_db) -> str:
    return install_run(demo_run_db, ctx)


def open_vote(qtbot, open_page, ctx, size=(1080, 760)) -> VotePage:
    page = open_page(VotePage, ctx, size)
    with qtbot.waitSignals([page.session_loaded, page.ratings_shown], timeout=15_000):
        page.on_shown()
    page.activateWindow()
    page.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None
                    and (QApplication.focusWidget() is page or page.isAncestorOf(QApplication.focusWidget())),
                    timeout=2_000)
    return page


def ballot_texts(page: VotePage) -> str:
    """Everything a person reads while voting (labels, buttons, answers, tooltips), the ratings left out."""
    texts = [page.progress_label.text(), page.run_combo.currentText()]
    for widget in page.ballot.findChildren(QLabel) + page.ballot.findChildren(QAbstractButton):
        texts += [widget.text(), widget.toolTip()]
    for view in page.ballot.findChildren(QPlainTextEdit):
        texts += [view.toPlainText(), view.toolTip(), view.placeholderText()]
    return "\n".join(texts)


def stored_answers(ctx, run_id: str) -> dict[tuple[str, str], str]:
    return {(r["case_id"], r["model_key"]): r["text"] for r in ctx.store.results(run_id)}


def vote_rows(ctx, run_id: str, qtbot, page: VotePage) -> list[dict]:
    """The votes stored, once the page has stored what it was given (it does so off the UI thread)."""
    qtbot.waitUntil(lambda: not page.writes_pending(), timeout=10_000)
    return ctx.store.votes(run_id)


def test_pairs_cover_many_cases_first_and_sides_are_drawn_per_pair_stably() -> None:
    answered = {f"case-{i:02d}": ["m-a", "m-b", "m-c"] for i in range(40)}
    pairs = plan_pairs("run-1", list(answered), answered)
    assert len(pairs) == 40 * 3 and len({p.key for p in pairs}) == 40 * 3  # every case x every pair, once
    assert len({p.case_id for p in pairs[:40]}) == 40, "the first round shows every case once"
    assert pairs == plan_pairs("run-1", list(answered), answered), "the same run: the same order and sides"
    first_side = [p.left == min(p.left, p.right) for p in pairs]
    assert 0.3 < sum(first_side) / len(first_side) < 0.7, "sides drawn per pair, not always sorted"
    assert [p.key for p in plan_pairs("run-2", list(answered), answered)] != [p.key for p in pairs]
    # A model that did not answer a case (or failed) is left out of that case's pairs.
    assert [p.case_id for p in plan_pairs("r", ["x", "y"], {"x": ["m-a"], "y": ["m-a", "m-b"]})] == ["y"]


def test_votes_store_the_hidden_models_by_key_then_skip_what_is_voted(qtbot, open_page, ctx, seeded) -> None:
    run_id = seeded
    models = [m["model_key"] for m in ctx.store.run_models(run_id)]
    answers = stored_answers(ctx, run_id)
    page = open_vote(qtbot, open_page, ctx)
    assert page.current_run_id() == run_id and page.stack.currentWidget() is page.content
    pairs = list(page.session.pairs)
    assert len(pairs) == 3 and sorted(p.case_id for p in pairs) == sorted({c for c, _ in answers})
    assert all({p.left, p.right} == set(models) for p in pairs)
    assert page.progress_label.text() == "0 of 3 pairs voted"

    voted = []
    for key, outcome in ((Qt.Key.Key_A, "left"), (Qt.Key.Key_2, "right"), (Qt.Key.Key_T, "tie")):
        pair = page.current_pair()
        # The answers shown are the pair's, A on the left; the models are named nowhere on the ballot.
        assert page.answer_views["left"].toPlainText() == answers[(pair.case_id, pair.left)]
        assert page.answer_views["right"].toPlainText() == answers[(pair.case_id, pair.right)]
        shown = ballot_texts(page)
        assert pair.case_id in shown and not any(model in shown for model in models)
        assert "SmolLM2" not in shown
        qtbot.keyClick(QApplication.focusWidget(), key)
        voted.append((pair, outcome))
    rows = vote_rows(ctx, run_id, qtbot, page)
    assert [(r["case_id"], r["left_model"], r["right_model"], r["outcome"]) for r in rows] == [
        (p.case_id, p.left, p.right, outcome) for p, outcome in voted]
    assert page.current_pair() is None and page.done_label.isVisible()
    assert "All 3 pairs of this run have a vote" in page.done_label.text()
    assert not page.vote_buttons["left"].isEnabled()

    # Opened again, the voted pairs are not asked again; Ctrl+Z takes the last vote back, and only its pair returns.
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(vote_rows(ctx, run_id, qtbot, page)) == 2
    again = open_vote(qtbot, open_page, ctx)
    assert again.progress_label.text() == "2 of 3 pairs voted"
    assert [p.key for p in again.queue] == [voted[2][0].key]
    assert again.current_pair() == voted[2][0], "the same sides as before: drawn per pair, seeded"


def test_undo_takes_back_votes_newest_first_and_skip_moves_a_pair_to_the_end(qtbot, open_page, ctx, seeded) -> None:
    run_id = seeded
    page = open_vote(qtbot, open_page, ctx)
    assert not page.undo_button.isEnabled()
    first, second, third = page.queue
    page.skip()
    assert page.queue == [second, third, first]
    page.vote_buttons["both_bad"].click()  # second
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_X)  # third, "both bad" by its key
    assert [r["outcome"] for r in vote_rows(ctx, run_id, qtbot, page)] == ["both_bad", "both_bad"]
    assert page.current_pair() == first and page.progress_label.text() == "2 of 3 pairs voted"

    assert page.undo_button.isEnabled()
    page.undo_button.click()
    assert page.current_pair() == third and [r["case_id"] for r in vote_rows(ctx, run_id, qtbot, page)] == [second.case_id]
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Backspace)
    assert page.current_pair() == second and vote_rows(ctx, run_id, qtbot, page) == []
    assert not page.undo_button.isEnabled() and not page.undo()
    assert page.progress_label.text() == "0 of 3 pairs voted"


def add_pair_judgment(store: Store, run_id: str, case_id: str, model: str, other: str, outcome: str) -> None:
    store.add_judgment({"run_id": run_id, "kind": "pair", "case_id": case_id, "model_key": model,
                        "other_model_key": other, "judge_key": "judge-x", "judge_identity_json": dumps({}),
                        "rubric_hash": "", "request_hash": f"{case_id}-{model}-{other}", "verdict": "A",
                        "swapped_verdict": "B", "outcome": outcome, "score": None, "reason": "because",
                        "error": None, "error_kind": None, "cost_usd": 0.0, "cost_json": "{}"})


def test_ratings_reveal_the_models_and_the_judges_agreement_is_said_plainly(qtbot, open_page, ctx, seeded,
                                                                             shots) -> None:
    run_id = seeded
    first, second = [m["model_key"] for m in ctx.store.run_models(run_id)]
    page = open_vote(qtbot, open_page, ctx, size=(900, 600))
    assert page.ratings_table.isHidden() and "No votes on this run yet" in page.ratings_note.text()
    assert "No judge has compared answers of this run in pairs" in page.agreement_label.text()

    # A judge's pairwise verdicts on the same pairs: `first` wins every one.
    cases = [p.case_id for p in page.session.pairs]
    for case_id in cases:
        add_pair_judgment(ctx.store, run_id, case_id, second, first, first)
    with qtbot.waitSignals([page.session_loaded, page.ratings_shown], timeout=10_000):
        ctx.runs_changed.emit(run_id)  # the screen hears of the new verdicts
    assert "judge-x compared 3 pairs" in page.agreement_label.text()

    # You prefer `first` twice, then call one a tie.
    for outcome in ("first", "first", "tie"):
        pair = page.current_pair()
        side = "tie" if outcome == "tie" else "left" if pair.left == first else "right"
        with qtbot.waitSignal(page.ratings_shown, timeout=10_000):
            page.vote(side)
    expected = people_verdicts(ctx.store, run_id)
    ratings = {page.ratings_table.item(r, 0).text(): page.ratings_table.item(r, 1).text()
               for r in range(page.ratings_table.rowCount())}
    assert list(ratings) == [r.model for r in expected.ratings] == [first, second]  # strongest first
    assert ratings[first] == f"{expected.ratings[0].elo:,.0f}" and expected.ratings[0].elo > 1000
    assert page.ratings_table.item(0, 3).text() == "3" and page.ratings_table.item(0, 4).text() == "2.5"
    (agreement,) = expected.agreements
    assert (agreement.agreed, agreement.pairs) == (2, 3)
    sentence = agreement_sentence("judge-x", 2, 3, agreement.kappa)
    assert page.agreement_label.text() == sentence
    assert sentence.startswith("The judge judge-x agrees with you on 2 of 3 pairs (kappa")
    assert "From 3 votes" in page.ratings_note.text()
    # Named in the ratings, never on the ballot.
    assert first not in ballot_texts(page) and second not in ballot_texts(page)

    with app_look(QApplication.instance()):
        page.undo()  # a pair on screen for the picture
        QApplication.processEvents()
        assert page.grab().save(str(shots / "vote-900.png"))
        page.resize(1400, 900)
        QApplication.processEvents()
        assert page.grab().save(str(shots / "vote-1400.png"))


def test_a_run_of_one_model_has_nothing_to_vote_on(qtbot, open_page, ctx, seeded) -> None:
    run_id = seeded
    keep = ctx.store.run_models(run_id)[0]["model_key"]
    with ctx.store.transaction():
        ctx.store.db.execute("delete from results where model_key != ?", [keep])
        ctx.store.db.execute("delete from run_models where model_key != ?", [keep])
    page = open_page(VotePage, ctx)
    page.on_shown()
    qtbot.waitUntil(lambda: page.run_picker.loaded, timeout=10_000)  # the run list is read off the UI thread
    assert page.stack.currentWidget() is page.empty and "two or more models" in page.empty_label.text()
    assert not page.vote("left") and page.current_pair() is None
    assert pair_key("c", "b", "a") == ("c", "a", "b")
