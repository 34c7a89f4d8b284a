"""Suite runs for the screens: start or resume one off the UI thread, and find the ones left unfinished."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.models.catalog import ModelCatalog
from desktop_app.providers.pool import ModelPool
from desktop_app.settings import Settings
from desktop_app.ui.context import AppContext

if TYPE_CHECKING:  # the runner and the store pull in sqlite-utils: imported where they are used
    from desktop_app.runner.events import RunEvent
    from desktop_app.storage.store import Store
    from desktop_app.suites import Suite


def run_events(db_path: Path, settings: Settings, ctx: AppContext, catalog: ModelCatalog, pool: ModelPool,
               cancel: threading.Event, *, suite: Suite | None = None, model_paths: list[str] | None = None,
               run_id: str | None = None, max_cost_usd: float | None = None) -> Iterator[RunEvent]:
    """A new run of `suite` on `model_paths` (GGUF paths or API model references), or the rest of run
    `run_id` (as `modelscout run --resume` does: answers already stored are kept, identical requests
    reused); runs on the worker thread. `max_cost_usd` caps what its API answers may cost."""
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.runner import Runner
    from desktop_app.storage.store import Store

    store = Store(db_path)
    try:
        runner = Runner(store, settings, catalog, ctx.hardware, pool=pool)
        if run_id is None:
            assert suite is not None and model_paths
            sampling = Sampling(temperature=settings.temperature, max_tokens=settings.max_tokens,
                                seed=settings.seed)
            run_id = runner.create_run(suite, [runner.spec_for(p) for p in model_paths], sampling,
                                       max_cost_usd=max_cost_usd)
        yield from _scored(runner, runner.execute(run_id, cancel, reuse=True, max_cost_usd=max_cost_usd),
                           run_id, cancel)
    finally:
        store.close()


def _scored(runner: Any, events: Iterator[Any], run_id: str, cancel: threading.Event) -> Iterator[Any]:
    """The run's events; when its suite names a judge or a reference model, the answers are scored by
    them before the run is reported finished (so what the screens show next includes the verdicts)."""
    from desktop_app.runner.events import RunFinished
    from desktop_app.runner.scoring import RunScorer, scoring_of

    finished = None
    for event in events:
        if isinstance(event, RunFinished):
            finished = event
            continue
        yield event
    if finished is not None and not cancel.is_set() and scoring_of(runner.store, run_id).active:
        yield from RunScorer(runner).score(run_id, cancel=cancel)
    if finished is not None:
        yield finished


def estimate_api_cost(settings: Settings, ctx: AppContext, suite: Suite, model_paths: list[str]) -> list:
    """The most each API model among `model_paths` may cost on `suite` (none for local models); the price
    tables load here, so call it off the UI thread."""
    from desktop_app.providers.api import parse_model_ref
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.runner import Runner

    if not any(parse_model_ref(p) for p in model_paths):
        return []
    runner = Runner(None, settings, None, ctx.hardware)  # planning only: no store, no model files
    sampling = Sampling(temperature=settings.temperature, max_tokens=settings.max_tokens, seed=settings.seed)
    return runner.estimate_cost(suite, [runner.spec_for(p) for p in model_paths if parse_model_ref(p)], sampling)


# Statuses Resume may finish: stopped before the end (cancelled, a cost cap, a crash that left it
# "running"), or through the plan with answers that failed for a reason that may pass.
RESUMABLE_STATUSES = ("interrupted", "running", "incomplete", "failed")


@dataclass(frozen=True)
class UnfinishedRun:
    """A suite run Resume can finish: stopped before its last answer (cancelled, or left "running" by a
    process that died), or finished with answers to retry (incomplete, or failed for a passing reason)."""

    id: str
    suite_name: str
    created_at: str
    models: int
    answers: int
    left_running: bool  # its status still says running: the app or `modelscout run` ended without closing it
    status: str = "interrupted"
    reason: str = ""  # why it is incomplete or failed (or stopped), in words

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> UnfinishedRun:
        return cls(row["id"], row.get("suite_name") or "", row.get("created_at") or "", int(row.get("models") or 0),
                   int(row.get("results") or 0), row["status"] == "running", row["status"],
                   row.get("status_reason") or "")


def has_retryable_answers(results: Iterable[dict[str, Any]]) -> bool:
    """Some answer failed for a reason that may pass (a timeout, a rate limit): a resume tries it again."""
    return any(r.get("error") and r.get("error_kind") == "transient" for r in results)


def unfinished_runs(store: Store, active: Collection[str] = (), suite_name: str | None = None,
                    limit: int = 500) -> list[UnfinishedRun]:
    """Suite runs that Resume can finish, newest first; `active` are runs this app is running now, and a
    run another live process is running (a terminal's `modelscout run`, another window) is not offered."""
    # A failed run whose every answer failed for good would fail the same way again: not offered.
    return [UnfinishedRun.from_row(row) for row in store.runs(limit=limit)
            if row["kind"] == "suite" and row["status"] in RESUMABLE_STATUSES and row["id"] not in active
            and (row["status"] != "failed" or row["retryable"])
            and (suite_name is None or row["suite_name"] == suite_name)
            and not running_elsewhere(row)]


def is_unfinished(run: dict[str, Any], active: Collection[str] = (),
                  results: Iterable[dict[str, Any]] = ()) -> bool:
    """Resume can finish this run; a failed one only when some of `results` (its answers) may pass on a retry."""
    if run.get("kind") != "suite" or run.get("status") not in RESUMABLE_STATUSES or run["id"] in active:
        return False
    if running_elsewhere(run):
        return False
    return run["status"] != "failed" or has_retryable_answers(results)


def running_elsewhere(run: dict[str, Any]) -> bool:
    """Another live process owns this run (a runs row with its owner columns); this app's own runs are
    the `active` ones, so an owner that is this very process does not count."""
    from desktop_app.storage.ownership import RunOwner

    if run.get("status") != "running":
        return False
    owner = RunOwner.from_row(run)
    return owner is not None and not owner.is_this_process and owner.is_alive()


def left_running_question(run_id: str, answers: int) -> str:
    """What to ask before resuming a run still marked running. It is offered only when the process that
    ran it has ended (its recorded owner), and the runner refuses a run a live process owns."""
    kept = f"the {answers} answer{'s' if answers != 1 else ''} already stored"
    return (f"Run {run_id} is still marked as running, but the ModelScout window or `modelscout run` that ran "
            f"it has ended before it finished (a crash, or the process was killed). Resume finishes it, keeping "
            f"{kept}. Resume it here?")


def score_events(db_path: Path, settings: Settings, ctx: AppContext, catalog: ModelCatalog, run_id: str,
                 options: Any, cancel: threading.Event) -> Iterator[Any]:
    """Score a stored run again (a judge, a reference model, a rubric, pairwise verdicts), as `modelscout
    score` does: answers are never regenerated. Runs on the worker thread with its own connection."""
    from desktop_app.runner.runner import Runner
    from desktop_app.runner.scoring import RunScorer
    from desktop_app.storage.store import Store

    store = Store(db_path)
    try:
        yield from RunScorer(Runner(store, settings, catalog, ctx.hardware)).score(run_id, options, cancel)
    finally:
        store.close()
