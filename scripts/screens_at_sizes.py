"""Every screen and dialog of the app at 900 x 600 and at 1400 x 900, in a real X server, to look at.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screens_at_sizes.py [OUT_DIR] [--home DIR]

OUT_DIR gets <width>x<height>/<screen>.png for the seven screens and the dialogs (Add API model, the cost of a
paid run, Score…, Make a variant…, the questions asked before quitting); without it, a new temporary folder.
Each picture's problems found by tests/ui/layout_checks.py (a label cut off, a control outside the window,
plot labels on top of each other) are printed beside it, and listed in OUT_DIR/problems.txt.

The data: the first 8 demo cases on four models (the demo model, its Q2_K and Q8_0 variants, and the demo
model again behind llama-cpp-python's OpenAI-compatible server on loopback, priced like a small hosted model),
made once into --home (default: a temporary folder) and reused when that folder already holds them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
VARIANT = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q2_K.gguf"
SIZES = ((900, 600), (1400, 900))
SCREENS = ("Models", "Compare", "Suites", "Results", "Vote", "Tradeoff", "Settings")
CASES = 8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="folder for the pictures (default: a new temporary one)")
    parser.add_argument("--home", type=Path, help="ModelScout's data folder, made once and reused")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="modelscout-sizes-"))
    home = args.home or Path(tempfile.mkdtemp(prefix="modelscout-sizes-home-"))
    home.mkdir(parents=True, exist_ok=True)
    os.environ["MODELSCOUT_HOME"] = str(home)  # before the app reads its paths

    from desktop_app import keys
    from tests.servers import LlamaServer

    server = LlamaServer(DEMO, threads=1)
    try:
        api_ref = f"openai-compatible:demo@{server.base_url}"
        os.environ[keys.env_var(keys.name_for_url(server.base_url))] = server.api_key
        make_demo_run(home, api_ref)
        problems = shoot(out, api_ref)
    finally:
        server.stop()
    (out / "problems.txt").write_text("".join(f"{line}\n" for line in problems), encoding="utf-8")
    print(f"\n{len(problems)} problem(s); pictures in {out}")
    return 0


def make_demo_run(home: Path, api_ref: str) -> None:
    """The run every screen shows; made once per data folder (the server's port changes: its price moves)."""
    from desktop_app import settings as settings_module
    from desktop_app.models.quantize import quantize
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings, database_path
    from desktop_app.storage.store import Store
    from desktop_app.suites import load_suite
    from desktop_app.suites.model import Suite

    q8 = home / "models" / "SmolLM2-135M-Instruct.Q8_0.gguf"
    if not q8.exists():
        q8.parent.mkdir(parents=True, exist_ok=True)
        quantize(DEMO, "Q8_0", q8)
    price = {"input_usd_per_mtok": 0.15, "output_usd_per_mtok": 0.6}
    settings = Settings(api_models=[api_ref], price_overrides={api_ref: price}, model_folders=[str(q8.parent)],
                        max_tokens=48)
    store = Store(database_path(settings))
    try:
        made = [run for run in store.runs() if run["kind"] == "suite"]
        if made:  # the server had another port then: its answers keep the price under that one
            specs = [json.loads(m["spec_json"]) for m in store.run_models(made[0]["id"])]
            refs = [f"{s['provider']}:{s['model']}@{s['base_url']}" for s in specs if s.get("base_url")]
            settings_module.save(dataclasses.replace(settings, price_overrides={
                **settings.price_overrides, **dict.fromkeys(refs, price)}))
            return
        settings_module.save(settings)
        suite = load_suite(ROOT / "resources/suites/demo.jsonl")
        suite = Suite.from_dict({**suite.to_dict(), "cases": [c.to_dict() for c in suite.cases[:CASES]]})
        runner = Runner(store, settings)
        run_id = runner.create_run(suite, [runner.spec_for(p) for p in (DEMO, VARIANT, q8, api_ref)],
                                   Sampling(max_tokens=48))
        started = time.monotonic()
        for _ in runner.execute(run_id):
            pass
        print(f"made run {run_id} in {time.monotonic() - started:.0f} s")
    finally:
        store.close()


def shoot(out: Path, api_ref: str) -> list[str]:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication, QWidget

    from desktop_app.ui.context import AppContext
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.style import apply_style
    from tests.ui.layout_checks import problems_in

    app = QApplication(["modelscout"])
    apply_style(app)
    window = MainWindow(AppContext())
    window.show()
    found: list[str] = []

    def wait(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def save(widget: QWidget, folder: Path, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(folder / f"{name}.png"))
        here = [f"{folder.name}/{name}: {problem}" for problem in problems_in(widget)]
        found.extend(here)
        print(f"saved {folder / name}.png" + "".join(f"\n    {line}" for line in here))

    # A comparison on every model, so Compare shows its columns at each size.
    compare = window.show_page("Compare")
    wait(2)
    compare.prompt_edit.setPlainText("Explain in two sentences why the sky is blue.")
    compare.max_tokens.setValue(48)
    q8 = str(next(iter(window.ctx.settings.model_folders)))
    compare.picker.set_selected([DEMO, VARIANT, str(Path(q8) / "SmolLM2-135M-Instruct.Q8_0.gguf"), api_ref])
    compare.start()
    deadline = time.monotonic() + 180
    while compare.is_running() and time.monotonic() < deadline:
        wait(0.2)

    # The suite run (graded, four models) on the screens that show one run, not the comparison just made.
    suite_run = next(run["id"] for run in window.ctx.store.runs() if run["kind"] == "suite")
    for name in ("Results", "Vote", "Tradeoff"):
        window.show_page(name).show_run(suite_run)
        wait(2)

    for width, height in SIZES:
        folder = out / f"{width}x{height}"
        window.resize(width, height)
        wait(0.5)
        for name in SCREENS:
            window.show_page(name)
            wait(2.5)
            save(window, folder, name.lower())
        shoot_dialogs(window, folder, save, wait, api_ref)

    window.hide()
    wait(0.5)
    return found


def shoot_dialogs(window, folder: Path, save, wait, api_ref: str) -> None:
    """Each dialog as it first opens, sized by its content (its size does not follow the window's)."""
    from desktop_app.ui.runs import estimate_api_cost
    from desktop_app.ui.widgets.cost_dialog import CostDialog
    from desktop_app.ui.widgets.score_dialog import ScoreDialog

    compare = window.show_page("Compare")
    compare.picker.open_api_dialog()
    dialog = compare.picker.api_dialog
    dialog.model.setCurrentText("gpt-4o-mini")
    wait(2)  # the key and price lookups run off the UI thread
    save(dialog, folder, "dialog-api-model")
    dialog.provider.setCurrentIndex(dialog.provider.findData("openai-compatible"))
    dialog.base_url.setText("https://inference.internal.example-company.com:8443/openai/v1")
    dialog.model.setCurrentText("meta-llama/Llama-3.3-70B-Instruct-Turbo-with-a-long-finetune-name")
    wait(2)
    save(dialog, folder, "dialog-api-model-server")
    dialog.reject()

    suites = window.show_page("Suites")
    wait(1)
    unpriced = ("openai-compatible:meta-llama/Llama-3.3-70B-Instruct-Turbo-with-a-long-finetune-name"
                "@https://inference.internal.example-company.com:8443/openai/v1")
    estimates = estimate_api_cost(window.ctx.settings, window.ctx, suites.suite, [api_ref, unpriced])
    cost = CostDialog(estimates, parent=window)
    cost.show()
    wait(0.5)
    save(cost, folder, "dialog-cost")
    cost.use_cap.setChecked(True)
    wait(0.5)
    save(cost, folder, "dialog-cost-cap")
    cost.reject()

    results = window.show_page("Results")
    wait(2)
    if results.run_data is not None:
        score = ScoreDialog(window.ctx, results.run_data.run_id, results.run_data.model_keys, parent=window)
        score.show()
        wait(1)
        save(score, folder, "dialog-score")
        score.reject()
        score.shutdown()

    models = window.show_page("Models")
    wait(1)
    models.table.selectRow(0)
    models.quantize_selected()
    if models.quantize_dialog is not None:
        wait(1)
        save(models.quantize_dialog, folder, "dialog-variant")
        models.quantize_dialog.reject()
        wait(0.3)


if __name__ == "__main__":
    raise SystemExit(main())
