"""Every screen and dialog is readable at 900 x 600 and at 1400 x 900: no text cut off (or broken mid-word)
unless it gives way to an ellipsis with the whole text in its tooltip, nothing out of reach, no plot labels on
each other. The checks are tests/ui/layout_checks.py; scripts/screens_at_sizes.py shows the same screens under
Xvfb, to look at."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtWidgets import QLabel

from desktop_app.analysis.summary import summarize
from desktop_app.analysis.tradeoff import Axis
from desktop_app.storage.store import Store
from desktop_app.ui.main_window import MainWindow
from tests.ui.conftest import install_run
from tests.ui.layout_checks import overlapping_plot_labels, problems_in

SIZES = [(900, 600), (1400, 900)]
SCREENS = ["Models", "Compare", "Suites", "Results", "Vote", "Tradeoff", "Settings"]
# A server whose key name and environment variable are long single words, as a company's endpoint has.
LONG_API = ("openai-compatible:meta-llama/Llama-3.3-70B-Instruct-Turbo"
            "@https://inference.internal.example-company.com:8443/openai/v1")
RUN_TIMEOUT_MS = 180_000


@pytest.fixture
def window(qtbot, ctx, demo_run_db, demo_model, demo_variant, smol_tiny, pooled):
    """The main window on a graded suite run of two models, with a comparison of three models just made (the
    three loaded once for the module: these tests are about what is drawn)."""
    run_id = install_run(demo_run_db, ctx)
    ctx.save_settings(dataclasses.replace(ctx.settings, api_models=[LONG_API], model_files=[str(smol_tiny)]))
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(*SIZES[0])
    win.show()
    compare = win.show_page("Compare")
    qtbot.waitUntil(lambda: len(compare.picker.entries) >= 3, timeout=30_000)
    compare.picker.set_selected([demo_model, demo_variant, smol_tiny])
    compare.prompt_edit.setPlainText("Name a colour.")
    compare.max_tokens.setValue(4)
    with qtbot.waitSignal(compare.run_finished, timeout=RUN_TIMEOUT_MS):
        compare.run_button.click()
    for name in ("Results", "Vote", "Tradeoff"):  # the graded suite run, not the comparison
        win.show_page(name).show_run(run_id)
    yield win
    for page in win.built_pages():
        page.shutdown()


def settle(qtbot, window, name: str) -> None:
    """Wait for what the screen loads off the UI thread, then for its layout."""
    page = window.pages[name]
    if name == "Results":
        qtbot.waitUntil(lambda: page.run_data is not None and page.grid.rowCount() > 0, timeout=15_000)
    elif name == "Suites":
        qtbot.waitUntil(lambda: page.suite is not None and page.picker.list.count() > 0, timeout=15_000)
    elif name == "Tradeoff":
        qtbot.waitUntil(lambda: len(page.plot.points) == 2, timeout=15_000)
    elif name == "Settings":
        qtbot.waitUntil(lambda: len(page.api_keys.sources) >= 3, timeout=15_000)
    qtbot.wait(150)  # layouts and the plot's labels settle after a resize


def test_every_screen_is_readable_at_both_sizes(qtbot, window):
    for size in SIZES:  # one window for both: its comparison is made once
        window.resize(*size)
        for name in SCREENS:
            window.show_page(name)
            settle(qtbot, window, name)
            assert (window.width(), window.height()) == size, (size, name)  # nothing made the window grow
            hint = window.minimumSizeHint()
            assert hint.width() <= size[0] and hint.height() <= size[1], (size, name, hint)
            assert problems_in(window) == [], (size, name)


def test_three_compare_columns_fit_side_by_side_at_900x600_with_their_names_and_figures(qtbot, window):
    window.resize(900, 600)
    compare = window.show_page("Compare")
    settle(qtbot, window, "Compare")
    scroll = compare.columns_splitter.parentWidget().parentWidget()
    assert len(compare.columns) == 3 and scroll.horizontalScrollBar().maximum() == 0  # none behind a scroll bar
    for column in compare.columns:
        title = column.title
        assert title.text() == column.model_key  # whole, even where it is drawn elided
        assert not title.is_elided() or column.model_key in title.toolTip()
        # The figures wrap between one another, never inside one ("first token" / "737 ms").
        lines = column.metrics.text().split(" · ")
        drawn = column.metrics.fontMetrics()
        assert all(drawn.horizontalAdvance(part) <= column.metrics.width() for part in lines)
        drawn_text = QLabel.text(column.metrics)  # what is drawn: each figure kept on one line
        assert all(part.replace(" ", "&nbsp;") in drawn_text for part in lines)


def test_settings_keeps_both_columns_in_reach_and_key_sources_whole_at_every_width(qtbot, window):
    """Between one column and two, the right one used to be cut off with no scroll bar to reach it; a long
    server's environment variable was broken mid-word."""
    settings = window.show_page("Settings")
    for width in (1100, 1200, 1300):
        window.resize(width, 760)
        settle(qtbot, window, "Settings")
        assert problems_in(window) == [], width
    name = next(n for n in settings.api_keys.sources if "example-company" in n)
    source = settings.api_keys.sources[name]
    assert source.text().startswith("not set (or set MODELSCOUT_")  # the whole text, as set
    assert not source.is_elided() or source.text() in source.toolTip()


# Dialogs ------------------------------------------------------------------------------------------------------

def test_the_add_api_model_dialog_shows_its_notes_whole_for_a_long_server_and_model(qtbot, ctx):
    from desktop_app.ui.widgets.api_model_dialog import ApiModelDialog

    dialog = ApiModelDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.provider.setCurrentIndex(dialog.provider.findData("openai-compatible"))
    dialog.base_url.setText("https://inference.internal.example-company.com:8443/openai/v1")
    dialog.model.setCurrentText("meta-llama/Llama-3.3-70B-Instruct-Turbo-with-a-long-finetune-name")
    qtbot.waitUntil(lambda: "no price for" in dialog.price_known.text()
                    and "MODELSCOUT_INFERENCE" in dialog.key_source.text(), timeout=10_000)
    qtbot.wait(100)
    assert problems_in(dialog) == []
    screen = dialog.screen().availableGeometry()
    assert dialog.width() <= screen.width() and dialog.height() <= screen.height()


def test_the_cost_dialog_shows_every_column_and_note(qtbot, ctx):
    from desktop_app.runner.runner import CostEstimate
    from desktop_app.ui.widgets.cost_dialog import CostDialog

    long_ref = LONG_API
    estimates = [CostEstimate("demo @ 127.0.0.1:8080", 23, 0.00079, "$0.15 in / $0.60 out per M tokens (your price)"),
                 CostEstimate(long_ref, 23, None, "no price known: set one with `modelscout prices set` or in "
                                                  "Settings")]
    dialog = CostDialog(estimates)
    qtbot.addWidget(dialog)
    dialog.show()
    for capped in (False, True):
        dialog.use_cap.setChecked(capped)
        qtbot.wait(100)
        assert problems_in(dialog) == [], capped
        header = dialog.table.horizontalHeader()
        shown = sum(header.sectionSize(c) for c in range(header.count()))
        assert shown <= dialog.table.viewport().width() + 1  # every column in view, none clipped
        for column in range(1, 4):  # only the model's name may give way (elided in the middle, whole on hover)
            text = dialog.table.item(1, column).text()
            assert header.sectionSize(column) >= dialog.table.fontMetrics().horizontalAdvance(text), text
        assert dialog.table.item(1, 0).toolTip() == long_ref
        rows = sum(dialog.table.rowHeight(r) for r in range(2))
        assert dialog.table.height() <= header.height() + rows + 8  # no empty space under two rows


# The Tradeoff plot's labels ---------------------------------------------------------------------------------

def crowded(demo_run_db, count: int = 8) -> list:
    """`count` models with long names, close to each other on both axes (real summaries of the demo run,
    renamed and nudged), as a run of a model's many quantizations gives."""
    database, run_id = demo_run_db
    store = Store(database)
    try:
        base = summarize(store, run_id).models[0]
    finally:
        store.close()
    return [dataclasses.replace(base, model=f"SmolLM2-135M-Instruct-finetune-{n}.Q{n}_K_M",
                                quality=0.55 + 0.012 * (n % 4), quality_low=0.3, quality_high=0.8,
                                cost_per_answer_usd=(1 + 0.06 * n) * 1e-5, measurement_notes=())
            for n in range(count)]


@pytest.mark.parametrize("size", [(700, 260), (1200, 520)], ids=["small", "large"])
def test_plot_labels_never_overlap_and_every_point_stays_named(qtbot, demo_run_db, size):
    from desktop_app.ui.widgets.tradeoff_plot import TradeoffPlot

    models = crowded(demo_run_db)
    plot = TradeoffPlot()
    qtbot.addWidget(plot)
    plot.resize(*size)
    plot.show()
    axis = Axis("cost_per_answer_usd", "cost per answer (USD)", True, True)
    plot.show_models(models, axis, models[:1], models[0].model)
    qtbot.wait(300)  # the plot lays its labels out again once its size settles
    assert overlapping_plot_labels(plot) == []
    legend = [label.text for _, label in plot.legend.items] + [plot.legend_strip.text]
    for m in models:
        label = plot.labels[m.model]
        named = label.isVisible() and (m.model in label.toPlainText() or label.toPlainText().lstrip("…")
                                       in m.model)
        numbered = label.isVisible() and any(f"{label.toPlainText()} = {m.model}" in line for line in legend)
        listed = any(m.model in line for line in legend)
        assert named or numbered or listed, m.model  # its name, or a number the legend explains
        assert m.model in plot.tooltip(m.model)  # and always whole on hover
