"""The API parts of the app: adding an API model (its models listed from a real server), keys in
Settings, the cost confirmation before paid calls, and the projection panel."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from desktop_app import keys
from desktop_app.providers.api import estimate_prompt_tokens
from desktop_app.providers.base import Request, Sampling
from desktop_app.runner.runner import CostEstimate, Runner
from desktop_app.suites import load_suite


def test_add_api_model_lists_the_servers_models_and_saves_key_and_price(qtbot, ctx, llama_server) -> None:
    from desktop_app.ui.widgets.api_model_dialog import ApiModelDialog

    dialog = ApiModelDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.provider.setCurrentIndex(dialog.provider.findData("openai-compatible"))
    dialog.base_url.setText(llama_server.base_url)
    qtbot.waitUntil(lambda: "may not need a key" in dialog.key_source.text(), timeout=5000)
    dialog.key.setText(llama_server.api_key)
    dialog.list_models()
    qtbot.waitUntil(lambda: dialog.model.count() == 1, timeout=10000)
    assert dialog.model.currentText() == "demo" and "1 models offered" in dialog.list_status.text()
    qtbot.waitUntil(lambda: "no price for demo" in dialog.price_known.text(), timeout=5000)

    dialog.per_token.click()
    dialog.input_price.setValue(0.2)
    dialog.output_price.setValue(0.8)
    with qtbot.waitSignal(dialog.added, timeout=5000) as added:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    ref = f"openai-compatible:demo@{llama_server.base_url}"
    assert added.args == [ref]
    assert ctx.settings.api_models == [ref]
    assert ctx.settings.price_overrides[ref] == {"input_usd_per_mtok": 0.2, "output_usd_per_mtok": 0.8}
    name = keys.name_for_url(llama_server.base_url)
    assert keys.find(name).source == "the OS keychain"
    for path in ctx.database_path().parent.rglob("*.json"):  # the ModelScout home: settings and caches
        assert llama_server.api_key not in path.read_text(), f"the key leaked into {path}"


def test_a_bad_form_says_what_to_fix_and_adds_nothing(qtbot, ctx) -> None:
    from desktop_app.ui.widgets.api_model_dialog import ApiModelDialog

    dialog = ApiModelDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.provider.setCurrentIndex(dialog.provider.findData("openai-compatible"))
    dialog.model.setCurrentText("m")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert "needs a base URL" in dialog.error.text() and dialog.result() == 0
    assert ctx.settings.api_models == []

    dialog.base_url.setText("http://127.0.0.1:9/v1")
    dialog.list_models()
    qtbot.waitUntil(lambda: "Could not list the models" in dialog.list_status.text(), timeout=15000)
    assert "cannot connect" in dialog.list_status.text()


def test_api_keys_in_settings_show_where_each_key_comes_from(qtbot, ctx, monkeypatch) -> None:
    from desktop_app.ui.widgets.api_keys import ApiKeys

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-123456789")
    panel = ApiKeys(ctx)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: "anthropic" in panel.sources, timeout=5000)
    assert panel.sources["anthropic"].text() == "from $ANTHROPIC_API_KEY"
    assert panel.sources["openai"].text().startswith("not set")

    with qtbot.waitSignal(panel.changed, timeout=5000):
        panel.store("openai", "sk-openai-typed-0000000")
    assert panel.sources["openai"].text() == "from the OS keychain"
    with qtbot.waitSignal(panel.changed, timeout=5000):
        panel.delete("openai")
    assert panel.sources["openai"].text().startswith("not set")


def test_the_cost_dialog_shows_the_worst_case_and_returns_the_cap(qtbot, ctx, small_suite) -> None:
    from desktop_app.ui.widgets.cost_dialog import CostDialog

    runner = Runner(ctx.store, ctx.settings, ctx.catalog, ctx.hardware)
    spec = runner.spec_for("openai:gpt-4o-mini")
    suite = load_suite(small_suite)
    estimates = runner.estimate_cost(suite, [spec], Sampling(max_tokens=100))
    # gpt-4o-mini: $0.15 in, $0.60 out per million; every answer at its token limit
    expected = sum(estimate_prompt_tokens(Request.chat(c.prompt, c.system)) * 0.15 + (c.max_tokens or 100) * 0.6
                   for c in suite.cases) / 1e6
    assert estimates[0].worst_usd == pytest.approx(expected) and estimates[0].requests == 3
    dialog = CostDialog(estimates + [CostEstimate("openai-compatible:x@http://h/v1", 3, None, "no price")])
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 2 and dialog.table.item(1, 2).text() == "not bounded"
    assert dialog.total == estimates[0].worst_usd and dialog.cap() is None
    dialog.use_cap.setChecked(True)
    dialog.cap_box.setValue(0.5)
    assert dialog.cap() == 0.5


def test_projection_panel_follows_the_volume(qtbot, ctx, tmp_path, demo_model, llama_server,
                                             monkeypatch) -> None:
    from desktop_app.ui.widgets.projection_panel import ProjectionPanel
    from tests.conftest import demo_suite_copy

    ref = f"openai-compatible:demo@{llama_server.base_url}"
    monkeypatch.setenv(keys.env_var(keys.name_for_url(llama_server.base_url)), llama_server.api_key)
    ctx.settings.price_overrides[ref] = {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}
    ctx.settings.hardware_usd = 900.0
    runner = Runner(ctx.store, ctx.settings, ctx.catalog, ctx.hardware)
    # A measured answer from each: the projection prices the volume, not the answers' words.
    run_id = runner.create_run(load_suite(demo_suite_copy(tmp_path / "one.jsonl", 1)),
                               [runner.spec_for(demo_model), runner.spec_for(ref)], Sampling(max_tokens=4))
    list(runner.execute(run_id))

    panel = ProjectionPanel(ctx)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.projected, timeout=10_000):  # worked out off the UI thread
        panel.show_run(run_id)
    assert panel.table.rowCount() == 2
    api_month = panel.table.item(1, 3).text()
    with qtbot.waitSignal(panel.projected, timeout=3000):
        panel.requests.setValue(panel.requests.value() * 10)
    assert panel.table.item(1, 3).text() != api_month
    assert panel.projection.models[1].usd_per_request == pytest.approx((500 * 1.0 + 250 * 2.0) / 1e6)
    assert " vs " in panel.break_even.text()
    # What the volume is saved as: JSON-ready, and the numbers on screen.
    assert json.loads(json.dumps(panel.volume_dict())) == {
        "requests_per_day": panel.requests.value(), "input_tokens": 500, "output_tokens": 250}


def test_settings_save_hardware_amortization_and_the_api_models(qtbot, ctx) -> None:
    import dataclasses

    from desktop_app import settings as settings_module
    from desktop_app.ui.pages.settings import SettingsPage

    ctx.save_settings(dataclasses.replace(ctx.settings, api_models=["openai:gpt-4o-mini", "anthropic:claude-x"]))
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    assert page.fields["api_models"].get() == ["openai:gpt-4o-mini", "anthropic:claude-x"]
    page.hardware_price.setValue(1800)
    page.lifetime.setValue(4)
    page.busy_share.setValue(50)
    assert "per hour of answering" in page.hardware_note.text()
    page.api_list.setCurrentRow(0)
    page.remove_api_button.click()
    page.api_retries.setValue(2)
    assert page.save()
    saved = settings_module.load()
    assert (saved.hardware_usd, saved.hardware_lifetime_years, saved.hardware_busy_share) == (1800, 4, 0.5)
    assert saved.api_models == ["anthropic:claude-x"] and saved.api_max_retries == 2
    assert "anthropic" in page.api_keys.names()


def test_two_local_models_and_an_api_model_side_by_side_land_on_one_tradeoff_plot(
        qtbot, ctx, smol_tiny, smol_tiny_b, llama_server, monkeypatch) -> None:
    """Compare streams three columns (one is the loopback API server); the Tradeoff screen then has
    three points on one cost axis: two local circles and one API diamond. (The local two are tiny models
    that speak through the demo model's tokenizer: what is tested is where the answers land.)"""
    import dataclasses

    from desktop_app.ui.pages.compare import ComparePage
    from desktop_app.ui.pages.tradeoff import TradeoffPage
    from desktop_app.ui.widgets.tradeoff_plot import API_COLOUR

    ref = f"openai-compatible:demo@{llama_server.base_url}"
    monkeypatch.setenv(keys.env_var(keys.name_for_url(llama_server.base_url)), llama_server.api_key)
    ctx.save_settings(dataclasses.replace(
        ctx.settings, max_tokens=24, api_models=[ref], model_files=[str(smol_tiny), str(smol_tiny_b)],
        price_overrides={ref: {"input_usd_per_mtok": 0.15, "output_usd_per_mtok": 0.6}}))
    compare = ComparePage(ctx)
    qtbot.addWidget(compare)
    compare.resize(1240, 780)
    compare.show()
    qtbot.waitUntil(lambda: compare.picker.list.count() >= 5, timeout=30_000)
    compare.picker.set_selected([smol_tiny, smol_tiny_b, ref])
    assert len(compare.picker.selected_paths()) == 3
    compare.prompt_edit.setPlainText("What is the capital of France?")
    with qtbot.waitSignal(compare.run_finished, timeout=180_000) as finished:
        compare.run_button.click()
    run_id, status = finished.args
    assert status == "complete" and len(compare.columns) == 3
    api_column = next(c for c in compare.columns if c.model_key.startswith("demo @ "))
    assert api_column.text.toPlainText() and "$" in api_column.metrics.text()
    assert api_column._usd_per_token == pytest.approx(0.6 / 1e6), "the live estimate counts answer tokens"
    # An ad-hoc prompt has no checks: the person's verdicts are its grades.
    for verdict in (compare.columns[0].good, compare.columns[1].bad, api_column.good):
        verdict.click()
    compare.shutdown()

    rows = ctx.store.results(run_id)
    assert len(rows) == 3 and all(r["cost_usd"] and r["cost_usd"] > 0 for r in rows)
    tradeoff = TradeoffPage(ctx)
    qtbot.addWidget(tradeoff)
    tradeoff.resize(1080, 760)
    tradeoff.show()
    tradeoff.show_run(run_id)
    qtbot.waitUntil(lambda: len(tradeoff.plot.scatter.points()) == 3, timeout=15_000)
    assert tradeoff.current_run_id() == run_id
    spots = {spot.data(): spot for spot in tradeoff.plot.scatter.points()}
    assert set(spots) == {r["model_key"] for r in rows}, "all three on the cost axis"
    assert spots[api_column.model_key].symbol() == "d"
    assert spots[api_column.model_key].brush().color().name() == API_COLOUR
    assert sum(spot.symbol() == "o" for spot in spots.values()) == 2
    assert "runs on" in tradeoff.plot.tooltip(api_column.model_key)
    qualities = {m.model: m.quality for m in tradeoff.summary.models}
    assert list(qualities.values()) == [1.0, 0.0, 1.0]
    qtbot.waitUntil(lambda: tradeoff.projection.table.rowCount() == 3, timeout=5_000)
    tradeoff.shutdown()


def test_a_suite_run_on_an_api_model_asks_first_stops_at_the_cap_and_resumes_with_a_higher_one(
        qtbot, ctx, small_suite, llama_server, monkeypatch) -> None:
    import dataclasses

    from PySide6.QtWidgets import QInputDialog

    from desktop_app.ui.pages.suites import SuitesPage
    from desktop_app.ui.widgets.cost_dialog import CostDialog

    ref = f"openai-compatible:demo@{llama_server.base_url}"
    monkeypatch.setenv(keys.env_var(keys.name_for_url(llama_server.base_url)), llama_server.api_key)
    ctx.save_settings(dataclasses.replace(
        ctx.settings, max_tokens=24, api_models=[ref], api_max_concurrency=1,
        price_overrides={ref: {"input_usd_per_mtok": 10.0, "output_usd_per_mtok": 30.0}}))
    page = SuitesPage(ctx)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.picker.list.count() >= 1 and page.suite is not None, timeout=30_000)
    with qtbot.waitSignal(page.suite_opened, timeout=10_000):
        page.open_suite(small_suite)
    page.picker.set_selected([ref])

    page.run()
    qtbot.waitUntil(lambda: isinstance(getattr(page, "cost_dialog", None), CostDialog)
                    and page.cost_dialog.isVisible(), timeout=15_000)
    dialog = page.cost_dialog
    worst = dialog.total
    assert worst > 0 and dialog.table.item(0, 0).text() == ref and dialog.table.item(0, 1).text() == "3"
    dialog.use_cap.setChecked(True)
    dialog.cap_box.setValue(round(worst / 3 * 1.5, 4))  # room for one answer's worst case, not two
    with qtbot.waitSignal(page.run_finished, timeout=120_000) as finished:
        dialog.accept()
    run_id, status = finished.args
    assert status == "interrupted"
    log = [page.log.topLevelItem(i).text(0) for i in range(page.log.topLevelItemCount())]
    assert any("the cost cap stops it here" in line for line in log), log
    assert any("stopped by the cost cap" in line for line in log), log
    assert sum(r["cost_usd"] for r in ctx.store.results(run_id)) <= dialog.cap()

    monkeypatch.setattr(QInputDialog, "getDouble", staticmethod(lambda *a, **k: (1.0, True)))
    with qtbot.waitSignal(page.run_finished, timeout=120_000) as finished:
        assert page.resume(run_id)
    assert finished.args == [run_id, "complete"] and len(ctx.store.results(run_id)) == 3
    assert ctx.store.run(run_id)["max_cost_usd"] == 1.0
    page.shutdown()
