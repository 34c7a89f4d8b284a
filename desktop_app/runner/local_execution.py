"""Running a local model's cases: those answered before are reused, the rest go to its llama.cpp worker
as one batch (decoded `n_parallel` at a time, see providers/llama_engine.py), each answer priced by its
share of the machine's energy and stored the moment it lands."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from desktop_app.costing.answer_cost import local_cost
from desktop_app.models.hardware import Hardware
from desktop_app.providers.base import (
    Admitted,
    ProviderError,
    Request,
    Result,
    Token,
    request_hash,
)
from desktop_app.providers.local import LocalModelSpec, LocalProvider, load_error_kind
from desktop_app.providers.pool import ModelPool
from desktop_app.runner.events import (
    CaseFinished,
    CaseStarted,
    ModelFailed,
    ModelLoaded,
    ModelLoading,
    RunEvent,
    TokenStreamed,
)
from desktop_app.runner.machine import MachineLedger, Totals
from desktop_app.runner.planning import request_for
from desktop_app.runner.recording import Recorder
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.suites import Case
from desktop_app.suites.limits import too_long


@dataclass(frozen=True)
class _Pending:
    case: Case
    request: Request
    digest: str


class LocalExecution:
    def __init__(self, store: Store, settings: Settings, hardware: Hardware, pool: ModelPool | None,
                 recorder: Recorder) -> None:
        self.store, self.settings, self.hardware, self.pool, self.recorder = store, settings, hardware, pool, recorder

    def run(self, run_id: str, model: dict[str, Any], cases: list[Case], sampling: Any, ledger: MachineLedger,
            cancel: threading.Event, reuse: bool, sharing: int = 1) -> Iterator[RunEvent]:
        """A local model's cases; with `sharing` local models side by side, it gets its share of the
        threads."""
        key = model["model_key"]
        sha256 = json.loads(model["identity_json"]).get("sha256") or ""
        spec = LocalModelSpec.from_dict(json.loads(model["spec_json"]))
        threads = spec.n_threads or self.hardware.default_threads
        if sharing > 1:
            threads = max(1, threads // sharing)
        spec = dataclasses.replace(spec, n_threads=threads)
        provider = self.pool.get(spec, key, sha256) if self.pool is not None else LocalProvider(spec, key, sha256)
        # Today's identity, not the one stored when the run was planned: a resume after an upgrade of
        # llama.cpp must not reuse what the old version answered.
        identity = provider.identity()
        try:
            pending: list[_Pending] = []
            for case in cases:
                request = request_for(case, sampling)
                if (problem := too_long(case.prompt, case.system, spec.n_ctx, f"{key}'s context")) is not None:
                    # Certainly too long for this model: said once, never sent (the worker counts the rest).
                    yield from self.recorder.failures(run_id, key, [case], sampling, problem, "permanent")
                    continue
                digest = request_hash(identity, request)
                previous = self.store.reusable_result(digest) if reuse else None
                if previous is not None:
                    yield CaseFinished(key, case.id, self.recorder.reused(run_id, key, case, previous), True, 0, 0)
                    continue
                pending.append(_Pending(case, request, digest))
            while pending and not cancel.is_set():
                if not provider.loaded:
                    failure = yield from self._load(provider, key)
                    if failure and cancel.is_set():  # stopped while loading (the app quitting kills a slow load)
                        return
                    if failure:
                        yield from self.recorder.failures(run_id, key, [p.case for p in pending], sampling,
                                                          failure, load_error_kind(failure))
                        return
                answered = yield from self._batch(run_id, key, provider, pending, identity, ledger, cancel, threads)
                left = [p for i, p in enumerate(pending) if i not in answered]
                if len(left) == len(pending) and not cancel.is_set():
                    # The worker ended before it answered anything: said for each case, retried on resume.
                    yield from self.recorder.failures(
                        run_id, key, [p.case for p in left], sampling,
                        f"the llama.cpp worker for {key} stopped before answering; resume the run to retry",
                        "transient")
                    return
                pending = left  # those a crashed worker never started: after a reload
        finally:
            if self.pool is None:
                provider.close()

    def _batch(self, run_id: str, key: str, provider: LocalProvider, pending: list[_Pending],
               identity: dict[str, Any], ledger: MachineLedger, cancel: threading.Event,
               threads: int) -> Iterator[RunEvent]:
        """One batch through the worker; returns the indexes of `pending` it stored an answer for."""
        answered: set[int] = set()
        span = ledger.begin(provider.pid)
        started: dict[int, Totals] = {}
        try:
            for index, item in provider.stream_many([p.request for p in pending], cancel):
                case = pending[index].case
                if isinstance(item, Token):
                    yield TokenStreamed(key, case.id, item.text)
                elif isinstance(item, Admitted):
                    started[index] = ledger.totals(span)
                    yield CaseStarted(key, case.id)
                elif isinstance(item, Result):
                    if item.finish_reason == "cancelled":
                        continue  # not stored: resuming the run answers this case again, in full
                    yield self._record(run_id, key, pending[index], item, identity, ledger, span,
                                       started.get(index), threads)
                    answered.add(index)
        finally:
            ledger.end(span)
        return answered

    def _record(self, run_id: str, key: str, job: _Pending, result: Result, identity: dict[str, Any],
                ledger: MachineLedger, span: Any, started: Totals | None, threads: int) -> CaseFinished:
        ended = ledger.totals(span)
        conditions = ledger.share(started or ended, ended, result.busy_seconds)
        cost, detail = local_cost(conditions.joules, conditions.machine_seconds, self.settings, ledger.source)
        if conditions.sharing:
            detail["shared_with"] = conditions.sharing
        if result.parallel and result.parallel > 1:
            detail["batched"] = result.parallel
        result.threads = result.threads or threads
        row = self.recorder.answer(run_id, key, job.case, job.request, job.digest, identity, result, cost, detail,
                                   conditions, ledger.source)
        return CaseFinished(key, job.case.id, row, False, 0, 0)

    def _load(self, provider: LocalProvider, key: str) -> Iterator[RunEvent]:
        """Load a local model; returns the error text, or None when it loaded."""
        yield ModelLoading(key)
        try:
            provider.load()
        except ProviderError as exc:
            yield ModelFailed(key, str(exc))
            return str(exc)
        yield ModelLoaded(key, provider.load_info.get("load_ms", 0.0), provider.memory_bytes())
        return None
