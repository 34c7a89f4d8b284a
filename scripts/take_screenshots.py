"""Screenshots of every screen for the README, taken in a real X server on real demo data.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/take_screenshots.py [OUT_DIR]

Runs the demo suite on both demo models and on an "API model" first (about two minutes): the
demo model again, behind llama-cpp-python's OpenAI-compatible server on loopback, priced like a
small hosted model ($0.15 in / $0.60 out per million tokens), so the plot shows local and API
models on one cost axis. Then it opens the app, visits each screen and saves
docs/screenshots/<screen>.png (the Vote screen after a dozen blind votes, cast by a rule: the answer that
holds the expected one wins), and the Add API model dialog as api-model.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MODELSCOUT_HOME", tempfile.mkdtemp(prefix="modelscout-shots-"))

DEMO = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
VARIANT = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q2_K.gguf"


def make_demo_run(api_ref: str) -> None:
    from desktop_app import settings as settings_module
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings, database_path
    from desktop_app.storage.store import Store
    from desktop_app.suites import load_suite

    settings = Settings(api_models=[api_ref],
                        price_overrides={api_ref: {"input_usd_per_mtok": 0.15, "output_usd_per_mtok": 0.6}})
    settings_module.save(settings)
    store = Store(database_path(settings))
    runner = Runner(store, settings)
    run_id = runner.create_run(load_suite(ROOT / "resources/suites/demo.jsonl"),
                               [runner.spec_for(DEMO), runner.spec_for(VARIANT), runner.spec_for(api_ref)],
                               Sampling(max_tokens=96))
    for _ in runner.execute(run_id):
        pass
    store.close()


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    from desktop_app import keys
    from tests.servers import LlamaServer

    server = LlamaServer(DEMO, threads=1)
    try:
        api_ref = f"openai-compatible:demo@{server.base_url}"
        os.environ[keys.env_var(keys.name_for_url(server.base_url))] = server.api_key
        make_demo_run(api_ref)
        return shoot_screens(out, api_ref)
    finally:
        server.stop()


def shoot_screens(out: Path, api_ref: str) -> int:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.ui.context import AppContext
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.style import apply_style

    app = QApplication(["modelscout"])
    apply_style(app)
    window = MainWindow(AppContext())
    window.resize(1280, 800)
    window.show()

    def wait(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def shoot(name: str) -> None:
        window.grab().save(str(out / f"{name}.png"))
        print(f"saved {out / f'{name}.png'}")

    for name in ("Models", "Suites", "Results", "Tradeoff", "Settings"):
        window.show_page(name)
        wait(3)
        shoot(name.lower())

    vote = window.show_page("Vote")
    wait(3)
    for _ in range(12):  # votes as a careful reader might cast them, so the ratings below have something to say
        pair = vote.current_pair()
        if pair is None:
            break
        expected = str(vote.session.cases[pair.case_id].get("expected") or "").casefold()
        texts = [vote.session.answers.get((pair.case_id, m)) or "" for m in (pair.left, pair.right)]
        right_answer = [bool(expected) and expected in text.casefold() for text in texts]
        if right_answer[0] != right_answer[1]:  # the one that holds the expected answer
            outcome = "left" if right_answer[0] else "right"
        elif abs(len(texts[0]) - len(texts[1])) > 0.2 * max(len(texts[0]), len(texts[1]), 1):
            outcome = "left" if len(texts[0]) < len(texts[1]) else "right"  # else the briefer, as the system asks
        else:
            outcome = "tie" if right_answer[0] else "both_bad"
        vote.vote(outcome)
        wait(0.1)
    wait(2)
    shoot("vote")

    compare = window.show_page("Compare")
    wait(2)
    compare.system_edit.setPlainText("You are a helpful assistant. Answer briefly.")
    compare.prompt_edit.setPlainText("Explain in two sentences why the sky is blue.")
    compare.max_tokens.setValue(64)
    compare.picker.set_selected([DEMO, VARIANT, api_ref])
    compare.start()
    deadline = time.monotonic() + 120
    while compare.is_running() and time.monotonic() < deadline:
        wait(0.2)
    wait(1)
    shoot("compare")

    compare.picker.open_api_dialog()
    dialog = compare.picker.api_dialog
    dialog.model.setCurrentText("gpt-4o-mini")
    wait(2)  # the key and price lookups run off the UI thread
    dialog.grab().save(str(out / "api-model.png"))
    print(f"saved {out / 'api-model.png'}")
    dialog.reject()
    QTimer.singleShot(0, window.close)
    wait(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
