"""Running an API model's cases: several requests in flight at once (its bound), each within the run's
cost cap, reused while a moving alias's answers are fresh, priced from the provider's usage."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

from desktop_app.costing.budget import Budget
from desktop_app.costing.prices import pricing_for
from desktop_app.errors import UserError
from desktop_app.providers.api import ApiModelSpec
from desktop_app.providers.base import Result, Token, request_hash
from desktop_app.runner.events import (
    BudgetReached,
    CaseFinished,
    CaseStarted,
    ModelFailed,
    ModelLoaded,
    ModelLoading,
    PriceNeeded,
    RunEvent,
    TokenStreamed,
)
from desktop_app.runner.interleave import interleave
from desktop_app.runner.planning import provider_for, request_for
from desktop_app.runner.recording import Recorder
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.suites import Case


class ApiExecution:
    def __init__(self, store: Store, settings: Settings, recorder: Recorder) -> None:
        self.store, self.settings, self.recorder = store, settings, recorder

    def run(self, run_id: str, model: dict[str, Any], cases: list[Case], sampling: Any, budget: Budget,
            cancel: threading.Event, reuse: bool) -> Iterator[RunEvent]:
        key = model["model_key"]
        spec = ApiModelSpec.from_dict(json.loads(model["spec_json"]))
        provider = provider_for(spec, key, "")
        identity = provider.identity()
        pricing = pricing_for(spec, self.settings)
        stop = threading.Event()  # the cap was reached: send nothing more for this model
        # A moving alias (gpt-4o-mini) may answer differently next week: reuse its answers only for a while.
        reuse_since = None if pinned(spec.model) else (
            dt.datetime.now(dt.UTC) - dt.timedelta(days=self.settings.api_reuse_days)).isoformat()

        def one(case: Case) -> Iterator[RunEvent]:
            if cancel.is_set() or stop.is_set():
                return
            request = request_for(case, sampling)
            digest = request_hash(identity, request)
            previous = self.store.reusable_result(digest, reuse_since) if reuse else None
            if previous is not None:
                yield CaseFinished(key, case.id, self.recorder.reused(run_id, key, case, previous), True, 0, 0)
                return
            worst = pricing.worst_case(request)
            if worst is None and budget.cap_usd is not None:  # nothing bounds it: ask for a price first
                if not stop.is_set():
                    stop.set()
                    yield PriceNeeded(key, spec.ref)
                return
            worst = worst or 0.0
            if not budget.reserve(worst):
                if not stop.is_set():
                    stop.set()
                    yield BudgetReached(key, case.id, budget.spent_usd, budget.cap_usd or 0.0, worst)
                return
            cost = None
            try:
                yield CaseStarted(key, case.id)
                result = yield from answer(provider, key, case.id, request, cancel)
                if result.finish_reason == "cancelled":
                    if not result.billed_seconds:
                        return  # never sent: nothing to pay, nothing to keep
                    # What streamed before the cancel was paid for: kept, and retried on resume.
                    result.error = "cancelled before the answer was complete; the partial answer is kept"
                    result.error_kind = "transient"
                priced = pricing.cost(result.prompt_tokens or 0, result.completion_tokens or 0,
                                      result.cached_tokens or 0, result.billed_seconds)
                cost = priced.usd
                row = self.recorder.answer(run_id, key, case, request, digest, identity, result, cost,
                                           priced.detail, None, None)
                yield CaseFinished(key, case.id, row, False, 0, 0)
            finally:
                budget.settle(worst, cost)

        yield ModelLoading(key)
        failure = None
        try:
            provider.load()
        except UserError as exc:
            failure = str(exc)
        if failure:
            yield ModelFailed(key, failure)
            yield from self.recorder.failures(run_id, key, cases, sampling, failure, "permanent")
            return
        yield ModelLoaded(key, 0.0, None)
        try:
            # The first request goes alone: a refused key or a wrong model name then costs one
            # call, not one per slot.
            yield from one(cases[0])
            yield from interleave([one(case) for case in cases[1:]], cancel, limit=spec.max_concurrency)
        finally:
            provider.close()


def answer(provider: Any, key: str, case_id: str, request: Any, cancel: threading.Event) -> Iterator[RunEvent]:
    """Stream one answer as events; returns its Result."""
    result = Result(finish_reason="error", error="no answer")
    for item in provider.stream(request, cancel):
        if isinstance(item, Token):
            yield TokenStreamed(key, case_id, item.text)
        else:
            result = item
    return result


_DATED = re.compile(r"(\d{4}-?\d{2}-?\d{2}|@\d{8})$")


def pinned(model: str) -> bool:
    """A dated snapshot (gpt-4o-mini-2024-07-18, claude-3-5-haiku-20241022) does not move; an alias may."""
    return bool(_DATED.search(model))
