"""`modelscout --self-test --model FILE.gguf`: proof that an installed (or packaged) ModelScout works here.

One line per step, each with its time; exit 0 only when every step passed. The steps are the parts a
packaged app can lose without any build error: llama.cpp's shared library, a model worker process (a
frozen app starts it through its own executable), the SQLite store, and every screen of the window.
Everything is written to a temporary folder, removed afterwards; nothing of the user's is read or changed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from desktop_app import __version__

DEADLINE_S = 60.0
SUITE_CASES = [
    {"id": "capital", "prompt": "What is the capital of France? Answer in one word.", "expected": "Paris"},
    {"id": "sum", "prompt": "What is 2 + 3? Answer with a number.", "expected": "5"},
]


class Steps:
    """Runs named steps in order, printing `ok`/`FAIL` lines; the first failure ends the test."""

    def __init__(self, out: Callable[[str], None] = print) -> None:
        self.out = out
        self.started = time.perf_counter()
        self.failed = False

    def run(self, name: str, step: Callable[[], str]) -> bool:
        if self.failed:
            return False
        began = time.perf_counter()
        try:
            detail = step()
        except Exception as exc:  # a self-test reports every failure as its line, never a traceback
            from desktop_app.errors import UserError

            self.failed = True
            self.out(f"FAIL {name}: {exc}" if isinstance(exc, UserError) else
                     f"FAIL {name}: {type(exc).__name__}: {exc}")
            return False
        self.out(f"ok   {name} ({time.perf_counter() - began:.1f} s): {detail}")
        if time.perf_counter() - self.started > DEADLINE_S:
            self.failed = True
            self.out(f"FAIL the self-test took over {DEADLINE_S:.0f} s")
        return not self.failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modelscout --self-test",
                                     description="check that this ModelScout works on this machine")
    parser.add_argument("--model", type=Path, required=True, help="a small GGUF file to load and run")
    parser.add_argument("--no-screens", action="store_true", help="skip rendering the window's screens")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"FAIL model: {args.model} is not a file; give a small GGUF model with --model", flush=True)
        return 2
    user_home = os.environ.get("MODELSCOUT_HOME")
    with tempfile.TemporaryDirectory(prefix="modelscout-self-test-") as home:
        os.environ["MODELSCOUT_HOME"] = home  # settings, store and caches: all in the throwaway folder
        try:
            return _steps(args)
        finally:
            if user_home is None:
                os.environ.pop("MODELSCOUT_HOME", None)
            else:
                os.environ["MODELSCOUT_HOME"] = user_home


def _steps(args: argparse.Namespace) -> int:
    """Every step in order, one line each; 0 when all passed (the first failure ends the test)."""
    steps = Steps(lambda line: print(line, flush=True))
    steps.run("python", lambda: f"{platform.python_version()} on {platform.system()} {platform.machine()}, "
                                f"{'packaged' if getattr(sys, 'frozen', False) else 'not packaged'}, "
                                f"ModelScout {__version__}")
    steps.run("llama.cpp", _llama_library)
    steps.run("graders", _graders)
    steps.run("licences", _licences)
    run_id: list[str] = []
    steps.run("model worker", lambda: _run_model(args.model, run_id))
    steps.run("store", lambda: _read_back(run_id[0]))
    if not args.no_screens:
        steps.run("screens", lambda: _screens(run_id[0]))
    total = time.perf_counter() - steps.started
    print(f"self-test {'failed' if steps.failed else 'passed'} in {total:.1f} s", flush=True)
    return 1 if steps.failed else 0


def _llama_library() -> str:
    import llama_cpp

    from desktop_app.providers.local import llama_cpp_version

    system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").split("|")[0].strip()
    return f"llama-cpp-python {llama_cpp_version()} loaded ({system_info or 'CPU'})"


def _graders() -> str:
    """The libraries behind the reference checks load and agree with known scores."""
    import jsonschema

    from desktop_app.scoring.similarity import chrf, rouge_l

    same = (rouge_l("The cat sat on the mat.", "The cat sat on the mat."),
            chrf("The cat sat on the mat.", "The cat sat on the mat."))
    if same != (1.0, 1.0) or rouge_l("dogs bark", "The cat sat on the mat.") != 0.0:
        raise RuntimeError(f"ROUGE-L and chrF gave {same} for identical texts")
    jsonschema.validate({"answer": 5}, {"type": "object", "required": ["answer"]})
    return "ROUGE-L, chrF and JSON Schema checks work"


def _licences() -> str:
    """About's list: every library's licence read from its installed metadata (a package that lost it would
    show "not recorded" to the user)."""
    from desktop_app.licences import NOT_RECORDED, about

    info = about()
    missing = [library.name for library in info.libraries if library.licence == NOT_RECORDED]
    if missing:
        raise RuntimeError(f"no licence recorded for {', '.join(missing)}: their metadata is missing")
    return f"ModelScout {info.app.licence}; {len(info.libraries)} libraries, each with its licence"


def _run_model(model: Path, run_id: list[str]) -> str:
    """A two-case suite through the real runner: the model loads in its worker process and answers."""
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.events import CaseFinished, RunFinished
    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings
    from desktop_app.storage.store import Store
    from desktop_app.suites import Case, suite_from_cases

    store = Store()
    try:
        runner = Runner(store, Settings(context_size=512))
        suite = suite_from_cases("self-test", [Case(id=c["id"], prompt=c["prompt"], expected=c["expected"])
                                              for c in SUITE_CASES])
        run_id.append(runner.create_run(suite, [runner.spec_for(model)], Sampling(max_tokens=8)))
        tokens, status = 0, None
        for event in runner.execute(run_id[0]):
            if isinstance(event, CaseFinished):
                if event.row.get("error"):
                    raise RuntimeError(f"case {event.case_id}: {event.row['error']}")
                tokens += event.row.get("completion_tokens") or 0
            elif isinstance(event, RunFinished):
                status = event.status
        if status != "complete":
            raise RuntimeError(f"the run ended {status}")
    finally:
        store.close()
    return f"{model.name} answered {len(SUITE_CASES)} cases in its worker process, {tokens} tokens"


def _read_back(run_id: str) -> str:
    """The run as another process would read it: a fresh connection to the file, and its summary."""
    from desktop_app.analysis.summary import summarize
    from desktop_app.storage.store import Store

    store = Store()
    try:
        rows = store.results(run_id)
        summary = summarize(store, run_id)
        if len(rows) != len(SUITE_CASES):
            raise RuntimeError(f"{len(rows)} answers stored, {len(SUITE_CASES)} expected")
        return f"{store.path.name}: run {run_id} read back, {len(rows)} answers, {len(summary.models)} model"
    finally:
        store.close()


def _screens(run_id: str) -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from desktop_app.ui.selftest import render_screens

    names = render_screens(run_id)
    return f"rendered {', '.join(names)} ({os.environ['QT_QPA_PLATFORM']})"
