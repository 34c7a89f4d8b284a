"""The Tradeoff screen on a real run of both demo models: points, bars, frontier, clicks, export."""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from desktop_app.analysis.recommend import recommend
from desktop_app.analysis.summary import RunSummary, summarize
from desktop_app.analysis.tradeoff import AXES, pareto_frontier
from desktop_app.ui.style import STYLE_SHEET
from desktop_app.ui.formatting import format_usd
from tests.test_tradeoff import model


@pytest.fixture
def demo_run(demo_run_db) -> tuple[Path, str]:
    return demo_run_db


def install(db: Path, ctx) -> Path:
    target = ctx.database_path()
    shutil.copy(db, target)
    return target


def open_page(ctx, qtbot):
    from desktop_app.ui.pages.tradeoff import TradeoffPage

    page = TradeoffPage(ctx)
    qtbot.addWidget(page)
    page.resize(1080, 720)
    page.show()
    with qtbot.waitSignal(page.updated, timeout=15_000):
        page.on_shown()
    return page


def plotted(page) -> dict[str, tuple[float, float]]:
    return {spot.data(): (spot.pos().x(), spot.pos().y()) for spot in page.plot.scatter.points()}


def test_each_model_is_a_point_with_its_interval_the_frontier_and_the_recommendation(ctx, qtbot, demo_run,
                                                                                     shots) -> None:
    db, run_id = demo_run
    install(db, ctx)
    page = open_page(ctx, qtbot)
    try:
        summary: RunSummary = summarize(ctx.store, run_id)
        models = {m.model: m for m in summary.models}
        assert len(models) == 2 and all(m.quality is not None and m.cost_per_answer_usd > 0 for m in models.values())
        assert page.run_combo.count() == 1 and page.current_run_id() == run_id
        assert page.stack.currentIndex() == 0

        # One point per model at (log10 cost per answer, quality).
        points = plotted(page)
        assert set(points) == set(models)
        for key, (x, y) in points.items():
            assert x == pytest.approx(math.log10(models[key].cost_per_answer_usd))
            assert y == pytest.approx(models[key].quality)
        assert page.plot.bottom_axis.logMode
        assert "cost per answer (USD, log)" in page.plot.getPlotItem().getAxis("bottom").labelText

        # A vertical bar from the low to the high end of each model's 95% interval.
        bars = page.plot.error_bars.opts
        assert len(bars["x"]) == 2
        for x, y, top, bottom in zip(bars["x"], bars["y"], bars["top"], bars["bottom"]):
            key = next(k for k, (px, py) in points.items() if px == pytest.approx(x))
            assert y - bottom == pytest.approx(models[key].quality_low)
            assert y + top == pytest.approx(models[key].quality_high)

        # The frontier: the models no other beats, the line through each of them.
        expected = [m.model for m in pareto_frontier(summary.models)]
        assert page.plot.frontier_keys == expected and expected
        dominated = set(models) - set(expected)
        for key in dominated:  # as good or worse and dearer than a frontier model
            assert any(models[f].quality >= models[key].quality
                       and models[f].cost_per_answer_usd <= models[key].cost_per_answer_usd for f in expected)
        line_x, line_y = page.plot.frontier_curve.getData()
        assert len(line_x) >= 2
        on_line = set(zip(line_x.round(9), line_y.round(9)))
        for key in expected:
            assert (round(points[key][0], 9), round(points[key][1], 9)) in on_line

        # The recommendation in words, and its point ringed.
        pick = recommend(summary)
        assert pick.recommended is not None
        assert page.recommendation_label.text().startswith(pick.reason)
        # With 3 cases a decided recommendation warns that the intervals are wide; an undecided one asks
        # for more cases itself.
        assert ("only 3 graded answers per model" in page.recommendation_label.text()) == pick.decided
        ring = page.plot.highlight.points()
        assert len(ring) == 1
        assert (ring[0].pos().x(), ring[0].pos().y()) == pytest.approx(points[pick.recommended])
        assert page.not_plotted_label.isHidden()

        # Hover details, with the model's name escaped for rich text.
        tip = page.plot.scatter.opts["tip"](x=0, y=0, data=pick.recommended)
        assert pick.recommended in tip and "tok/s" in tip and "of 3 graded" in tip
        assert "95% interval" in tip and "$ / M tokens" in tip and "MiB" in tip

        page.setStyleSheet(STYLE_SHEET)  # the app's look, without restyling the whole test session
        QApplication.processEvents()  # let the wrapped labels settle their height
        assert page.grab().save(str(shots / "tradeoff.png"))

        # Tokens per second: a linear axis, the points move to each model's speed.
        with qtbot.waitSignal(page.updated, timeout=5_000):
            page.set_axis("speed")
        points = plotted(page)
        for key, (x, y) in points.items():
            assert x == pytest.approx(models[key].tokens_per_second)
            assert y == pytest.approx(models[key].quality)
        assert not page.plot.bottom_axis.logMode
        assert page.plot.frontier_keys == [m.model for m in pareto_frontier(summary.models, AXES["speed"])]
        assert "generation speed" in page.recommendation_label.text()

        # A real click on a point opens that model's answers (the one drawn on top, should they overlap).
        topmost = page.plot.scatter.points()[-1].data()
        with qtbot.waitSignal(ctx.open_run, timeout=5_000) as opened:
            qtbot.mouseClick(page.plot.viewport(), Qt.MouseButton.LeftButton,
                             pos=page.plot.scene_position(topmost))
        assert opened.args == [run_id, topmost]
        # And the scatter's own click signal, with the other point.
        other = next(spot for spot in page.plot.scatter.points() if spot.data() != topmost)
        with qtbot.waitSignal(ctx.open_run, timeout=5_000) as opened:
            page.plot.scatter.sigClicked.emit(page.plot.scatter, [other], None)
        assert opened.args == [run_id, other.data()]
    finally:
        page.shutdown()


def test_the_plot_exports_as_png_and_svg(ctx, qtbot, demo_run, tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    install(demo_run[0], ctx)
    page = open_page(ctx, qtbot)
    try:
        png = page.export(tmp_path / "plot.png")
        svg = page.export(tmp_path / "plot.svg")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = QImage(str(png))
        assert image.width() >= 2 * page.plot.width() - 4 and image.height() > 200
        text = svg.read_text(encoding="utf-8")
        assert "<svg" in text and "SmolLM2-135M-Instruct.Q4_1" in text
        with pytest.raises(OSError):
            page.export(tmp_path / "no-such-folder" / "plot.svg")
    finally:
        page.shutdown()


def test_a_free_model_sits_at_the_left_and_an_ungraded_one_is_listed(ctx, qtbot, demo_run) -> None:
    db, run_id = demo_run
    target = install(db, ctx)
    with sqlite3.connect(target) as conn:  # reshape the stored run: one model free, a third one ungraded
        free, paid = [r[0] for r in conn.execute(
            "select model_key from run_models where run_id = ? order by position", [run_id])]
        # Free under any settings: the plot prices answers again under the app's current ones.
        conn.execute("update results set cost_usd = 0, energy_joules = 0, machine_seconds = 0 where model_key = ?",
                     [free])
        columns = [r[1] for r in conn.execute("pragma table_info(run_models)")]
        conn.execute(f"insert into run_models ({', '.join(columns)}) select "
                     + ", ".join("'no checks <b>'" if c == "model_key" else "9" if c == "position" else c
                                 for c in columns) + " from run_models where model_key = ?", [paid])
        columns = [r[1] for r in conn.execute("pragma table_info(results)") if r[1] != "id"]
        ungraded = {"model_key": "'no checks <b>'", "grade_passed": "null", "grade_score": "null",
                    "grade_reason": "null", "grade_json": "null"}
        conn.execute(f"insert into results ({', '.join(columns)}) select "
                     + ", ".join(ungraded.get(c, c) for c in columns) + " from results where model_key = ?",
                     [paid])
    conn.close()
    page = open_page(ctx, qtbot)
    try:
        models = {m.model: m for m in summarize(ctx.store, run_id, ctx.settings).models}
        assert models["no checks <b>"].quality is None and models[free].cost_per_answer_usd == 0
        points = plotted(page)
        assert set(points) == {free, paid}
        half_smallest = models[paid].cost_per_answer_usd / 2
        assert points[free][0] == pytest.approx(math.log10(half_smallest))
        assert page.plot.points[free].clamped and not page.plot.points[paid].clamped
        assert "to fit the log scale" in page.plot.tooltip(free)
        note = page.not_plotted_label.text()
        assert page.not_plotted_label.isVisibleTo(page)
        assert "Not plotted: no checks <b> — no graded answers." in note
        assert f"{free} is at 0" in note
        # The free model is as good as anything dearer, so it is the best (a tie goes to the cheaper).
        assert page.recommendation.recommended == free

        # With every cost at 0 there is no log scale to fit: the axis goes linear.
        page.plot.show_models([model("a", 10, cost=0.0), model("b", 15, cost=0.0)], AXES["cost"], [], None)
        assert not page.plot.bottom_axis.logMode
        assert [p.x for p in page.plot.points.values()] == [0.0, 0.0]
        assert "log" not in page.plot.getPlotItem().getAxis("bottom").labelText
    finally:
        page.shutdown()


def test_empty_until_a_run_has_answers_then_it_follows_new_runs(ctx, qtbot, demo_run, tmp_path: Path) -> None:
    db, run_id = demo_run
    page = open_page(ctx, qtbot)
    try:
        assert page.stack.currentIndex() == 1 and page.run_combo.count() == 0
        assert "No results to plot yet" in page.empty_label.text()
        assert not page.plot.points
        with qtbot.waitSignal(ctx.navigate, timeout=1_000) as navigated:
            next(b for b in page.findChildren(type(page.export_button)) if b.text() == "Go to Compare").click()
        assert navigated.args == ["Compare"]

        # The chosen axis is remembered with the window's state.
        state = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
        page.set_axis("size")
        page.save_state(state)
        page.set_axis("cost")
        page.restore_state(state)
        assert page.axis_combo.currentData() == "size"
        page.set_axis("cost")

        # A run arrives in the database (here copied in) and the screen hears of it.
        conn = ctx.store.db.conn
        conn.execute("attach database ? as source", [str(db)])
        with conn:
            for table in ("runs", "run_models", "results"):
                conn.execute(f"insert into {table} select * from source.{table}")
        conn.execute("detach database source")
        with qtbot.waitSignal(page.updated, timeout=5_000):
            ctx.runs_changed.emit(run_id)
        assert page.stack.currentIndex() == 0 and page.current_run_id() == run_id
        assert len(plotted(page)) == 2
    finally:
        page.shutdown()


def test_money_reads_well_at_every_size() -> None:
    assert [format_usd(v) for v in (None, 0, 2.1e-6, 1e-4, 3.79e-5, 0.0042, 0.5, 12.345)] == [
        "–", "$0", "$0.0000021", "$0.0001", "$0.000038", "$0.0042", "$0.50", "$12.35"]
    assert format_usd(1.99999e-5, 1) == "$0.00002"


def synthetic_latency_run(store, cases: int = 60, misses: int = 1) -> str:
    """Two models on `cases` cases: "slow-best" answers every one, "fast-cheap" (three times as fast) misses
    `misses`. At a 5-point tolerance the data cannot tell whether the fast one is good enough; at 10 they can."""
    from desktop_app.scoring.checks import grade
    from desktop_app.storage.store import dumps
    from desktop_app.suites import Case, Check, suite_from_cases

    suite = suite_from_cases("latency", [Case(id=f"c{i:02d}", prompt=f"Say {i}.", expected=str(i),
                                              checks=(Check("contains"),)) for i in range(cases)])
    run_id = store.new_run_id()
    store.create_run({"id": run_id, "kind": "suite", "suite_name": suite.name, "suite_version": suite.version,
                      "suite_hash": suite.content_hash, "suite_json": dumps(suite.to_dict()), "sampling_json": "{}"},
                     [{"model_key": key, "provider": "llama.cpp", "spec_json": "{}", "metadata_json": "{}",
                       "identity_json": "{}"} for key in ("slow-best", "fast-cheap")])
    for i, case in enumerate(suite.cases):
        for key, wall in (("slow-best", 900.0), ("fast-cheap", 300.0)):
            text = "no idea" if key == "fast-cheap" and i < misses else f"It is {i}."
            graded = grade(case, text)
            store.add_result({"run_id": run_id, "model_key": key, "case_id": case.id, "text": text,
                              "finish_reason": "stop", "completion_tokens": 5, "wall_time_ms": wall,
                              "generation_tokens_per_second": 50.0, "grade_passed": int(graded.passed),
                              "grade_score": graded.score, "grade_reason": graded.reason,
                              "grade_json": dumps(graded.to_dict())})
    store.set_run_status(run_id, "complete")
    return run_id


def verdicts_shown(page) -> dict[str, tuple[str, str, str]]:
    table = page.verdict_table
    return {table.item(r, 0).text(): (table.item(r, 1).text(), table.item(r, 2).text(), table.item(r, 3).text())
            for r in range(table.rowCount())}


def test_the_tolerance_decides_the_verdicts_recomputed_and_remembered(ctx, qtbot, tmp_path: Path) -> None:
    run_id = synthetic_latency_run(ctx.store)
    page = open_page(ctx, qtbot)
    try:
        assert page.tolerance_spin.value() == 5.0 and page.tolerance() == 0.05
        with qtbot.waitSignal(page.updated, timeout=10_000):
            page.set_axis("latency")
        summary = summarize(ctx.store, run_id, ctx.settings)
        at_5 = recommend(summary, tolerance=0.05, axis="latency")
        assert not at_5.decided and at_5.recommended == "slow-best" and at_5.more_cases_needed
        def verdicts(pick):  # the monthly figures aside: the page prices them at its volume
            return [{k: v for k, v in m.items() if k != "monthly_usd"} for m in pick.to_dict()["models"]]

        assert verdicts(page.recommendation) == verdicts(at_5)
        # The paragraph as `modelscout recommend` words it, and the headline: undecided, how many more cases.
        assert page.recommendation_label.text().startswith(at_5.reason)
        assert page.headline_label.text().startswith("Recommended for now: slow-best, the best. Not decided at "
                                                     "your tolerance of 5 points: about")
        assert page.headline_label.property("tone") == "undecided"
        shown = verdicts_shown(page)
        fast = at_5.verdict("fast-cheap")
        assert shown["slow-best"][2] == "best · recommended"
        assert shown["fast-cheap"][2] == f"undecided (~{fast.more_cases_needed:,} more cases)"
        assert shown["fast-cheap"][0] == f"{fast.quality:.0%}  [{fast.quality_low:.0%} – {fast.quality_high:.0%}]"
        assert shown["fast-cheap"][1].startswith(f"{fast.difference_to_best * 100:+.1f}  [")
        colour = page.verdict_table.item(1, 3).foreground().color().name()
        assert colour == "#8a5a00"  # undecided in amber; best in blue, good enough in green, worse in red

        # Ten points: the fast model is shown good enough and becomes the recommendation, decided.
        with qtbot.waitSignal(page.updated, timeout=10_000):
            page.tolerance_spin.setValue(10.0)
        at_10 = recommend(summary, tolerance=0.10, axis="latency")
        assert at_10.decided and at_10.recommended == "fast-cheap"
        assert page.recommendation.recommended == "fast-cheap" and page.recommendation.tolerance == 0.10
        assert verdicts_shown(page)["fast-cheap"][2] == "good enough · recommended"
        assert page.verdict_table.item(1, 3).foreground().color().name() == "#1f7a45"
        assert page.headline_label.text().startswith("Recommended: fast-cheap. Decided at your tolerance of 10 "
                                                     "points")
        assert page.headline_label.property("tone") == "normal"
        assert page.plot.recommended_key == "fast-cheap"  # the ring moved with it
        assert page.recommendation_label.text().startswith(at_10.reason)

        # The tolerance is remembered with the window's state, like the axis.
        state = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
        page.save_state(state)
        page.tolerance_spin.setValue(3.0)
        page.restore_state(state)
        assert page.tolerance_spin.value() == 10.0
    finally:
        page.shutdown()


def test_the_plot_says_what_its_points_and_bars_are(ctx, qtbot, demo_run) -> None:
    install(demo_run[0], ctx)
    page = open_page(ctx, qtbot)
    try:
        left = page.plot.getPlotItem().getAxis("left").labelText
        assert left == "mean score (bar: 95% interval)"  # quality is a mean score now, not a share passed
        legend = [label.text for _, label in page.plot.legend.items]
        assert legend[:2] == ["local model", "API model"]  # the bar is every model's, not the local ones'
        m = page.summary.models[0]
        assert f"95% interval {m.quality_low:.0%}–{m.quality_high:.0%}" in page.plot.tooltip(m.model)
    finally:
        page.shutdown()
