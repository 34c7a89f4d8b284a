"""Every figure honest, on screen: answers measured under load, sharing the CPU or reused from another run
are marked and explained; prices follow Settings; incomplete and failed runs say why and offer a retry."""

from __future__ import annotations

import dataclasses
import html
import json
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from desktop_app import keys, paths
from desktop_app.analysis.summary import summarize
from desktop_app.providers.base import Sampling
from desktop_app.runner.runner import CostEstimate, Runner
from desktop_app.storage.store import Store
from desktop_app.suites import load_suite
from desktop_app.ui.runs import is_unfinished, unfinished_runs
from desktop_app.ui.widgets.results_grid import CAVEAT_ROLE, mark_icon
from tests.ui.conftest import app_look, install_run
from tests.ui.test_tradeoff_page import open_page as open_tradeoff_page

SAMPLING = Sampling(max_tokens=16)
DEAD_SERVER = "http://127.0.0.1:9/v1"  # nothing listens there: every request fails at once, a passing fault


@pytest.fixture
def seeded(ctx, demo_run_db) -> str:
    return install_run(demo_run_db, ctx)


def flag(store: Store, result_id: int, **columns) -> None:
    """Set an answer's measurement columns as the runner would have under those conditions."""
    with store.transaction():
        store.db["results"].update(result_id, columns)


def cells(store: Store, run_id: str) -> dict[tuple[str, str], dict]:
    return {(row["case_id"], row["model_key"]): row for row in store.results(run_id)}


def other_run(store: Store, run_id: str) -> tuple[str, int]:
    """A second run holding a copy of one answer: the run a reused answer was measured in."""
    source = store.run(run_id)
    model = store.run_models(run_id)[0]
    origin = store.new_run_id()
    store.create_run({k: source[k] for k in ("kind", "suite_name", "suite_version", "suite_hash", "suite_json",
                                             "sampling_json", "settings_json", "hardware_json")} | {"id": origin},
                     [{k: model[k] for k in ("model_key", "provider", "path", "spec_json", "metadata_json",
                                             "identity_json")}])
    row = store.results(run_id)[0]
    copied = {k: v for k, v in row.items() if k not in ("id", "created_at", "measured_in_run")}
    result_id = store.add_result({**copied, "run_id": origin})
    store.set_run_status(origin, "complete")
    return origin, result_id


@pytest.fixture
def shot(shots):
    """shot(widget, name, size): the widget as the user sees it (the app's style sheet), at a given size,
    saved in this test's screenshot folder; its path."""
    def take(widget, name: str, size: tuple[int, int]) -> Path:
        with app_look(QApplication.instance()):
            widget.resize(*size)
            QTest.qWait(200)  # layouts and the plot's label placement settle after a resize
            path = shots / name
            assert widget.grab().save(str(path))
            return path

    return take


# Results ------------------------------------------------------------------------------------------------

def results_page(qtbot, ctx, run_id: str):
    from desktop_app.ui.pages.results import ResultsPage

    page = ResultsPage(ctx)
    qtbot.addWidget(page)
    page.resize(1100, 720)
    page.show()
    page.show_run(run_id)
    qtbot.waitUntil(lambda: page.run_data is not None and page.run_data.run_id == run_id, timeout=15_000)
    return page


def select(qtbot, page, case_id: str, model_key: str):
    index = page.proxy.mapFromSource(page.grid.index_of(case_id, model_key))
    page.view.scrollTo(index)
    qtbot.mouseClick(page.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     page.view.visualRect(index).center())
    return index


def test_results_mark_and_explain_answers_measured_under_load_sharing_or_reused(qtbot, ctx, seeded, shot) -> None:
    store = ctx.store
    keys_ = [m["model_key"] for m in store.run_models(seeded)]
    a, b = keys_
    by_cell = cells(store, seeded)
    case_ids = list(dict.fromkeys(case for case, _ in by_cell))
    c0, c1, c2 = case_ids
    assert by_cell[c0, a]["threads"] == 2  # the runner's own record of the threads (Settings(threads=2))
    flag(store, by_cell[c0, a]["id"], under_load=1, other_cpu_share=0.45, peak_memory_scope="answer")
    flag(store, by_cell[c1, a]["id"], sharing=1, peak_memory_scope="process")
    origin, origin_answer = other_run(store, seeded)
    flag(store, by_cell[c2, b]["id"], reused_from=origin_answer)
    flag(store, by_cell[c2, a]["id"], error="the server timed out after 60 s", error_kind="transient")
    store.set_run_status(seeded, "incomplete", "1 of 6 answers failed for a reason that may pass (e.g. the server "
                                               "timed out after 60 s); resume to retry them")

    page = results_page(qtbot, ctx, seeded)
    try:
        # The grid: a mark on the cells whose figures carry a caveat, the caveat in their tooltip.
        loaded = page.proxy.mapFromSource(page.grid.index_of(c0, a))
        assert loaded.data(CAVEAT_ROLE) and "other programs used 45% of the CPU" in loaded.data(CAVEAT_ROLE)[0]
        assert "other programs used 45% of the CPU" in html.unescape(loaded.data(Qt.ItemDataRole.ToolTipRole))
        assert loaded.data(Qt.ItemDataRole.DecorationRole).cacheKey() == mark_icon("passed" if by_cell[c0, a][
            "grade_passed"] else "failed", True).cacheKey()
        plain = page.proxy.mapFromSource(page.grid.index_of(c0, b))
        assert plain.data(CAVEAT_ROLE) == ()
        assert plain.data(Qt.ItemDataRole.DecorationRole).cacheKey() != loaded.data(
            Qt.ItemDataRole.DecorationRole).cacheKey()

        # The answer in full: its threads, the load it was measured under, peak memory by its scope.
        detail = page.detail
        select(qtbot, page, c0, a)
        assert detail.metric_values["Threads"].text() == "2"
        assert detail.conditions.isVisible()
        assert "other programs used 45% of the CPU" in detail.conditions.text()
        assert "this answer" in detail.metric_values["Peak memory"].text()
        select(qtbot, page, c1, a)
        assert "1 other local model answered at the same time" in detail.conditions.text()
        assert "worker" in detail.metric_values["Peak memory"].text()
        select(qtbot, page, c0, b)
        assert not detail.conditions.isVisible()

        # A failure says whether a resume retries it; the run says it is incomplete, and why.
        select(qtbot, page, c2, a)
        assert "a resume tries it again" in detail.conditions.text()
        assert "a resume tries it again" in html.unescape(
            page.proxy.mapFromSource(page.grid.index_of(c2, a)).data(Qt.ItemDataRole.ToolTipRole))
        banner = page.resume_banner
        assert banner.isVisible() and banner.title.text() == "This run is incomplete"
        assert "timed out after 60 s" in banner.text.text() and banner.action.text() == "Resume"

        # The model's card says how its figures were measured.
        card = next(card for card in page.strip.cards if card.model_key == a)
        notes = summarize(store, seeded, ctx.settings).models[0].measurement_notes
        assert notes and card.notes_label.isVisibleTo(card)
        assert "other programs kept the CPU busy" in card.toolTip() and all(
            html.escape(note) in card.toolTip() for note in notes)
        other = next(card for card in page.strip.cards if card.model_key == b)
        assert other.notes_label.isVisibleTo(other) and f"run {origin}" in other.toolTip()

        for size, name in (((1400, 900), "results-figures-1400.png"), ((900, 600), "results-figures-900.png")):
            select(qtbot, page, c0, a)
            shot(page, name, size)

        # A reused answer names the run its figures come from; the run id leads there.
        select(qtbot, page, c2, b)
        assert detail.metric_values["Reused"].text() == f"from run {origin}"
        assert f"href='run:{origin}'" in detail.conditions.text()
        shot(page, "results-reused-1400.png", (1400, 900))
        detail.conditions.linkActivated.emit(f"run:{origin}")
        qtbot.waitUntil(lambda: page.run_data.run_id == origin, timeout=10_000)
        assert page.current_run_id() == origin
    finally:
        page.shutdown()


def test_results_price_every_answer_under_the_current_settings(qtbot, ctx, seeded) -> None:
    page = results_page(qtbot, ctx, seeded)
    try:
        before = page.run_data.summary.models[0].cost_per_answer_usd
        assert before and before > 0

        def card_cost() -> str:
            return next(label.text() for label in page.strip.cards[0].findChildren(QLabel)
                        if label.text().endswith("per answer"))

        shown = card_cost()
        settings = ctx.settings
        ctx.save_settings(dataclasses.replace(settings, electricity_usd_per_kwh=settings.electricity_usd_per_kwh * 10))
        qtbot.waitUntil(lambda: page.run_data.summary.models[0].cost_per_answer_usd != before, timeout=10_000)
        assert page.run_data.summary.models[0].cost_per_answer_usd == pytest.approx(before * 10, rel=0.01)
        assert card_cost() != shown
        assert page.run_data.summary.models[0].cost_per_answer_usd == pytest.approx(
            summarize(ctx.store, seeded, ctx.settings).models[0].cost_per_answer_usd)
    finally:
        page.shutdown()


def test_an_api_answer_names_the_model_that_served_it_and_a_lasting_failure_says_no_retry(
        qtbot, ctx, small_suite, llama_server, monkeypatch, shot) -> None:
    ref = f"openai-compatible:demo@{llama_server.base_url}"
    monkeypatch.setenv(keys.env_var(keys.name_for_url(llama_server.base_url)), llama_server.api_key)
    runner = Runner(ctx.store, ctx.settings, ctx.catalog, ctx.hardware)
    run_id = runner.create_run(load_suite(small_suite), [runner.spec_for(ref)], SAMPLING)
    assert list(runner.execute(run_id))[-1].status == "complete"
    rows = ctx.store.results(run_id)
    key = rows[0]["model_key"]
    assert rows[0]["served_model"]  # what the real server reported
    # An alias the provider resolved to a dated model; a key the provider refused.
    flag(ctx.store, rows[0]["id"], served_model="demo-2025-01-31")
    flag(ctx.store, rows[1]["id"], error="401: the key was refused", error_kind="permanent")
    ctx.store.set_run_status(run_id, "failed", "every answer failed (1 of 1), e.g. 401: the key was refused")

    page = results_page(qtbot, ctx, run_id)
    try:
        detail = page.detail
        select(qtbot, page, rows[0]["case_id"], key)
        assert "The server answered with demo-2025-01-31 (asked for demo)." in detail.conditions.text()
        select(qtbot, page, rows[2]["case_id"], key)  # served as asked: nothing to say
        assert not detail.conditions.isVisible()
        select(qtbot, page, rows[1]["case_id"], key)
        assert "A resume will not try it again" in detail.conditions.text()
        # Failed for good: said, with no Resume that would only fail the same way.
        assert page.resume_banner.isVisible() and page.resume_banner.title.text() == "This run failed"
        assert not page.resume_banner.action.isVisible()
        assert "401: the key was refused" in page.resume_banner.text.text()
        shot(page, "results-api-failed-1400.png", (1400, 900))
    finally:
        page.shutdown()


# Which runs Resume offers ----------------------------------------------------------------------------------

def test_incomplete_runs_and_failed_runs_that_may_pass_are_offered_for_resume(qtbot, ctx, seeded) -> None:
    from desktop_app.ui.widgets.suite_run_panel import SuiteRunPanel

    store = ctx.store
    rows = store.results(seeded)
    store.set_run_status(seeded, "incomplete", "2 of 6 answers failed for a reason that may pass; resume to "
                                               "retry them")
    flag(store, rows[0]["id"], error="rate limited (429)", error_kind="transient")
    offered = unfinished_runs(store)
    assert [r.id for r in offered] == [seeded] and offered[0].status == "incomplete"
    assert "resume to retry them" in offered[0].reason
    assert is_unfinished(store.run(seeded), (), rows)

    panel = SuiteRunPanel(ctx)
    qtbot.addWidget(panel)
    panel.set_unfinished(offered)
    assert "incomplete" in panel.interrupted_combo.itemText(0)
    assert "resume to retry them" in panel.interrupted_combo.itemData(0, Qt.ItemDataRole.ToolTipRole)

    # Every answer failed, for good: a resume would make the same failures, so it is not offered.
    for row in rows:
        flag(store, row["id"], error="the model file is damaged", error_kind="permanent")
    store.set_run_status(seeded, "failed", "every answer failed (6 of 6), e.g. the model file is damaged")
    assert unfinished_runs(store) == []
    assert not is_unfinished(store.run(seeded), (), store.results(seeded))
    # One of them may pass: then it is.
    flag(store, rows[0]["id"], error="the connection broke", error_kind="transient")
    assert [r.id for r in unfinished_runs(store)] == [seeded]
    assert is_unfinished(store.run(seeded), (), store.results(seeded))


# Suites: a run that ends incomplete, a price needed, the cost dialog -----------------------------------------

def suites_page(qtbot, ctx, suite: Path):
    from desktop_app.ui.pages.suites import SuitesPage

    page = SuitesPage(ctx)
    qtbot.addWidget(page)
    page.resize(1100, 720)
    page.show()
    qtbot.waitUntil(lambda: page.suite is not None and page._picker_ready, timeout=30_000)
    with qtbot.waitSignal(page.suite_opened, timeout=10_000):
        page.open_suite(suite)
    return page


def error_dialogs(widget) -> list[QMessageBox]:
    return [box for box in widget.findChildren(QMessageBox) if box.isVisible()]


def test_a_suite_run_that_ends_incomplete_says_why_and_is_offered_for_resume(qtbot, ctx, small_suite,
                                                                            smol_tiny, shot) -> None:
    ref = f"openai-compatible:offline@{DEAD_SERVER}"
    ctx.save_settings(dataclasses.replace(ctx.settings, api_models=[ref], api_max_retries=0, max_tokens=8,
                                          model_files=[str(smol_tiny)]))
    page = suites_page(qtbot, ctx, small_suite)
    try:
        page.picker.set_selected([str(smol_tiny), ref])
        with qtbot.waitSignal(page.run_finished, timeout=180_000) as finished:
            page.run()
        run_id, status = finished.args
        assert status == "incomplete"
        reason = ctx.store.run(run_id)["status_reason"]
        assert "resume to retry them" in reason
        assert page.run_panel.progress_label.text() == f"Run {run_id} is incomplete"
        assert page.run_panel.current_label.text() == "Resume retries the answers that may pass"
        assert page.banner.isVisible() and page.banner.title.text() == f"Run {run_id} is incomplete"
        assert page.banner.text.text().startswith(reason[:1].upper() + reason[1:])
        assert page.banner.action.text() == "Resume"
        log = [page.log.topLevelItem(i).text(0) for i in range(page.log.topLevelItemCount())]
        assert any(line.startswith(f"Run {run_id} incomplete:") for line in log), log
        qtbot.waitUntil(lambda: page.interrupted_combo.findData(run_id) >= 0, timeout=10_000)  # read off the UI thread
        assert page.resume_button.isEnabled()
        assert "incomplete" in page.interrupted_combo.currentText()
        assert not error_dialogs(page)
        shot(page, "suites-incomplete-900.png", (900, 600))
        # The banner's Resume tries the failed answers again (the server is still down: still incomplete).
        with qtbot.waitSignal(page.run_finished, timeout=60_000) as again:
            page.banner.action.click()
        assert again.args == [run_id, "incomplete"]
        assert len(ctx.store.results(run_id)) == 6
    finally:
        page.shutdown()


def test_a_capped_resume_of_a_model_without_a_price_says_to_set_one(qtbot, ctx, small_suite, monkeypatch) -> None:
    from PySide6.QtWidgets import QInputDialog

    ref = f"openai-compatible:offline@{DEAD_SERVER}"
    priced = dataclasses.replace(ctx.settings, api_models=[ref], api_max_retries=0,
                                 price_overrides={ref: {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}})
    ctx.save_settings(priced)
    runner = Runner(ctx.store, ctx.settings, ctx.catalog, ctx.hardware)
    run_id = runner.create_run(load_suite(small_suite), [runner.spec_for(ref)], SAMPLING, max_cost_usd=0.5)
    stop = threading.Event()
    stop.set()
    assert list(runner.execute(run_id, stop))[-1].status == "interrupted"
    ctx.save_settings(dataclasses.replace(priced, price_overrides={}))  # the price is gone since

    page = suites_page(qtbot, ctx, small_suite)
    try:
        monkeypatch.setattr(QInputDialog, "getDouble", staticmethod(lambda *a, **k: (0.5, True)))
        with qtbot.waitSignal(page.run_finished, timeout=60_000) as finished:
            assert page.resume(run_id)
        assert finished.args == [run_id, "interrupted"]
        assert page.banner.isVisible() and "has no known price" in page.banner.title.text()
        assert "Settings > API models" in page.banner.text.text() and page.banner.action.text() == "Open Settings"
        assert "no known price" in page.run_panel.progress_label.toolTip()
        with qtbot.waitSignal(ctx.navigate) as navigate:
            page.banner.action.click()
        assert navigate.args == ["Settings"]
        assert not error_dialogs(page)
    finally:
        page.shutdown()


def test_the_cost_dialog_asks_for_a_missing_price_before_a_capped_run(qtbot, ctx, small_suite, shot) -> None:
    from desktop_app.ui.widgets.cost_dialog import CostDialog

    priced = f"openai-compatible:priced@{DEAD_SERVER}"
    unpriced = f"openai-compatible:unpriced@{DEAD_SERVER}"
    ctx.save_settings(dataclasses.replace(
        ctx.settings, api_models=[priced, unpriced], api_max_retries=0,
        price_overrides={priced: {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}}))
    page = suites_page(qtbot, ctx, small_suite)
    try:
        page.picker.set_selected([priced, unpriced])
        page.run()
        qtbot.waitUntil(lambda: isinstance(getattr(page, "cost_dialog", None), CostDialog)
                        and page.cost_dialog.isVisible(), timeout=15_000)
        dialog = page.cost_dialog
        assert dialog.unpriced == [unpriced] and dialog.run_button.isEnabled()  # no cap: nothing to bound
        assert not dialog.price_warning.isVisible()

        dialog.use_cap.setChecked(True)
        assert dialog.price_warning.isVisible() and unpriced in dialog.price_warning.text()
        assert not dialog.run_button.isEnabled()
        shot(dialog, "cost-dialog-price-needed.png", (dialog.width(), dialog.sizeHint().height()))
        input_field, output_field = dialog.price_fields[unpriced]
        qtbot.keyClicks(input_field, "0.5")
        assert not dialog.run_button.isEnabled()  # both prices are needed
        qtbot.keyClicks(output_field, "1.5")
        assert dialog.run_button.isEnabled()
        with qtbot.waitSignal(page.run_finished, timeout=60_000) as finished:
            dialog.run_button.click()
        run_id, status = finished.args
        assert run_id and status == "failed"  # created with the cap; nothing listens at the address
        assert ctx.store.run(run_id)["max_cost_usd"] == dialog.cap()
        assert ctx.settings.price_overrides[unpriced] == {"input_usd_per_mtok": 0.5, "output_usd_per_mtok": 1.5}
        assert not error_dialogs(page)  # create_run had its prices: no "no known price" error
    finally:
        page.shutdown()


def test_the_cost_dialog_without_a_cap_needs_no_price(qtbot) -> None:
    from desktop_app.ui.widgets.cost_dialog import CostDialog

    dialog = CostDialog([CostEstimate("openai:gpt-4o-mini", 3, 0.01, "$0.15 in"),
                         CostEstimate("openai-compatible:x@http://h/v1", 3, None, "no price")])
    qtbot.addWidget(dialog)
    assert dialog.run_button.isEnabled() and dialog.prices() == {}
    dialog.use_cap.setChecked(True)
    assert dialog.missing_prices() == ["openai-compatible:x@http://h/v1"] and not dialog.run_button.isEnabled()
    dialog.use_cap.setChecked(False)
    assert dialog.run_button.isEnabled()


# Compare ----------------------------------------------------------------------------------------------

def test_compare_says_why_a_comparison_failed(qtbot, ctx, shot) -> None:
    from desktop_app.ui.pages.compare import ComparePage

    ref = f"openai-compatible:offline@{DEAD_SERVER}"
    ctx.save_settings(dataclasses.replace(ctx.settings, api_models=[ref], api_max_retries=0))
    page = ComparePage(ctx)
    qtbot.addWidget(page)
    page.resize(1100, 720)
    page.show()
    try:
        qtbot.waitUntil(lambda: page.picker.list.count() >= 1, timeout=30_000)
        page.picker.set_selected([ref])
        page.prompt_edit.setPlainText("Name a colour.")
        with qtbot.waitSignal(page.run_finished, timeout=60_000) as finished:
            page.run_button.click()
        run_id, status = finished.args
        assert status == "failed"
        text = page.run_status.text()
        assert f"Run {run_id} · failed" in text and "Every answer failed" in text and "Run it again" in text
        assert "resume" not in text.lower()  # a comparison is not resumed
        shot(page, "compare-failed-900.png", (900, 600))
    finally:
        page.shutdown()


# Tradeoff -----------------------------------------------------------------------------------------------

def tradeoff_page(qtbot, ctx):
    return open_tradeoff_page(ctx, qtbot)


def test_tradeoff_marks_models_measured_with_caveats_and_follows_the_settings(qtbot, ctx, seeded,
                                                                            monkeypatch, shot) -> None:
    import desktop_app.analysis.projection as projection

    store = ctx.store
    a, b = [m["model_key"] for m in store.run_models(seeded)]
    rows = [row for row in store.results(seeded) if row["model_key"] == a]
    for row in rows[:2]:
        flag(store, row["id"], under_load=1, other_cpu_share=0.6)
    ordered = "The projection ranks X cheaper than Y, unlike the plot: prompt-heavier requests favour X."
    monkeypatch.setattr(projection, "order_note", lambda *args: ordered)

    page = tradeoff_page(qtbot, ctx)
    try:
        notes = {m.model: m.measurement_notes for m in page.summary.models}
        assert notes[a] and not notes[b]
        # The marked point: hollow, its label starred, its notes in its tooltip and under the recommendation.
        spots = {spot.data(): spot for spot in page.plot.scatter.points()}
        assert spots[a].brush().color().name() == "#ffffff" and spots[b].brush().color().name() != "#ffffff"
        assert page.plot.labels[a].toPlainText() == f"{a} *" and page.plot.labels[b].toPlainText() == b
        assert html.escape(notes[a][0][1:]) in page.plot.tooltip(a)
        assert page.notes_label.isVisible() and page.notes_label.text().startswith(f"* {a}: {notes[a][0]}")
        # The projection says why it ranks otherwise, and how the speeds behind it were measured.
        qtbot.waitUntil(lambda: page.projection.table.rowCount() == 2, timeout=5_000)
        assert page.projection.order_note.isVisible() and page.projection.order_note.text() == ordered
        assert page.projection.notes.isVisible() and f"{a}: {notes[a][0]}" in page.projection.notes.text()
        shot(page, "tradeoff-caveats-1400.png", (1400, 900))
        shot(page, "tradeoff-caveats-900.png", (900, 600))

        # A new electricity price re-prices the plot, not only the projection table.
        before = {key: spot.pos().x() for key, spot in spots.items()}
        settings = ctx.settings
        with qtbot.waitSignal(page.updated, timeout=15_000):
            ctx.save_settings(dataclasses.replace(settings,
                                                  electricity_usd_per_kwh=settings.electricity_usd_per_kwh * 10))
        after = {spot.data(): spot.pos().x() for spot in page.plot.scatter.points()}
        for key in before:  # log10 of a cost ten times higher (energy is all a local answer costs here)
            assert after[key] == pytest.approx(before[key] + 1, abs=0.01)
        fresh = summarize(store, seeded, ctx.settings)
        assert [m.cost_per_answer_usd for m in page.summary.models] == [m.cost_per_answer_usd for m in fresh.models]
    finally:
        page.shutdown()


# Settings -----------------------------------------------------------------------------------------------

def test_settings_edit_api_reuse_and_the_longest_answer_and_explain_automatic_threads(qtbot, ctx,
                                                                                     open_page, shot) -> None:
    from desktop_app.ui.pages.settings import SettingsPage

    page = open_page(SettingsPage, ctx)
    assert page.api_reuse_days.value() == 7 and page.api_max_answer.value() == 300
    assert page.api_reuse_days.toolTip() and page.api_max_answer.toolTip()
    qtbot.waitUntil(lambda: "cores" in page.threads_note.text(), timeout=5000)
    automatic = ctx.hardware.default_threads
    assert "Automatic uses one per physical core" in page.threads_note.text()
    assert f"{automatic} thread" in page.threads_note.text()

    page.api_reuse_days.setValue(0)
    assert page.api_reuse_days.text() == "Never"
    page.api_max_answer.setValue(120)
    with qtbot.waitSignal(ctx.settings_changed, timeout=2000):
        page.save_button.click()
    assert (ctx.settings.api_reuse_days, ctx.settings.api_max_answer_s) == (0, 120)
    saved = json.loads(paths.settings_path().read_text(encoding="utf-8"))
    assert (saved["api_reuse_days"], saved["api_max_answer_s"]) == (0, 120)
    shot(page, "settings-api-1400.png", (1400, 900))
