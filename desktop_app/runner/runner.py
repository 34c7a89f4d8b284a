"""Plans suite cases x models, runs them, prices and stores each answer as it finishes.

Local models run one after another (or side by side, sharing the CPU); API models wait on the
network, so they run alongside the local ones, several requests at a time within their bound.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app import __version__
from desktop_app import keys
from desktop_app.costing.budget import Budget
from desktop_app.costing.answer_cost import local_cost
from desktop_app.costing.energy import EnergyMeter
from desktop_app.costing.prices import ApiPricing, pricing_for
from desktop_app.errors import UserError
from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.fit import estimate_fit
from desktop_app.models.hardware import Hardware, probe
from desktop_app.providers.api import ApiModelSpec, api_model_name, display_url
from desktop_app.providers.base import (
    Provider,
    ProviderError,
    Request,
    Result,
    Sampling,
    Token,
    request_hash,
)
from desktop_app.providers.local import (
    LocalModelSpec,
    LocalProvider,
    check_loadable,
    llama_cpp_version,
    load_error_kind,
)
from desktop_app.providers.pool import ModelPool
from desktop_app.providers.registry import api_provider
from desktop_app.runner.machine import Conditions, MachineLedger
from desktop_app.runner.specs import model_spec, with_fitted_layers
from desktop_app.runner.events import (
    BudgetReached,
    CaseFinished,
    CaseStarted,
    ModelFailed,
    ModelLoaded,
    ModelLoading,
    PriceNeeded,
    RunEvent,
    RunFinished,
    RunStarted,
    TokenStreamed,
)
from desktop_app.scoring.checks import grade
from desktop_app.settings import Settings
from desktop_app.storage.ownership import HEARTBEAT_SECONDS
from desktop_app.storage.store import Store, dumps
from desktop_app.suites import Case, Suite
from desktop_app.suites.limits import too_long
from desktop_app.units import format_usd


ModelSpec = LocalModelSpec | ApiModelSpec


@dataclass(frozen=True)
class PlannedModel:
    key: str
    spec: ModelSpec
    sha256: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class CostEstimate:
    """What the paid API calls of a run may cost at most: every prompt counted high, every output full."""

    model_key: str
    requests: int
    worst_usd: float | None  # None: no price known, or priced by the hour
    price: str


def _is_api(model: dict[str, Any]) -> bool:
    return model["provider"] != "llama.cpp"


class Runner:
    def __init__(self, store: Store | None, settings: Settings, catalog: ModelCatalog | None = None,
                 hardware: Hardware | None = None, pool: ModelPool | None = None) -> None:
        self.store = store
        self.settings = settings
        self.catalog = catalog or ModelCatalog()
        self.hardware = hardware or probe()
        self.pool = pool  # with a pool, models stay loaded after the run (the app); without, they close

    # Planning ----------------------------------------------------------------------------

    def spec_for(self, path: str | Path, *, context: int | None = None, threads: int | None = None,
                 gpu_layers: int | None = None) -> ModelSpec:
        """A model configuration from the user's settings, unless overridden: a GGUF path, or an
        API model as provider:model[@base_url]."""
        return model_spec(self.settings, self.hardware, path, context=context, threads=threads,
                          gpu_layers=gpu_layers)

    def plan_models(self, specs: Sequence[ModelSpec]) -> list[PlannedModel]:
        """Check every model before anything is stored: readable, fits this machine, hashed; an API
        model has its key."""
        planned: list[PlannedModel] = []
        taken: set[str] = set()
        for spec in specs:
            if isinstance(spec, ApiModelSpec):
                keys.find(spec.key_name, required=spec.needs_key)  # no key: say so before anything runs
                key = api_model_name(spec)  # never a server's file path
                n, base = 2, key
                while key in taken:
                    key, n = f"{base} #{n}", n + 1
                taken.add(key)
                pricing = self.pricing(spec)
                planned.append(PlannedModel(key, spec, "", {
                    "provider": spec.provider, "model": spec.model, "base_url": display_url(spec.endpoint),
                    "price": pricing.describe()}))
                continue
            info = self.catalog.info(spec.path)
            fit = estimate_fit(info, self.hardware, context=spec.n_ctx, gpu_layers=spec.n_gpu_layers)
            if not fit.fits:
                raise UserError(f"{spec.path} does not fit this machine at a context of {spec.n_ctx} "
                                f"tokens: {fit.reason}. Choose a smaller context (--context) or a "
                                f"smaller quantization")
            spec = with_fitted_layers(spec, fit)  # offload as many layers as fit
            # The file name tells variants of one model apart better than general.name does.
            key = Path(spec.path).stem
            if info.quantization.upper() not in key.upper():
                key = f"{key} {info.quantization}"
            n = 2
            while key in taken:
                key, n = f"{Path(spec.path).stem} #{n}", n + 1
            taken.add(key)
            planned.append(PlannedModel(key, spec, self.catalog.sha256(spec.path), info.to_dict()))
        local = [m.spec.path for m in planned if isinstance(m.spec, LocalModelSpec)]
        for error in (check_loadable(local) if local else {}).values():
            if error:
                raise ProviderError(error)
        return planned

    def check_prices(self, planned: list[PlannedModel], max_cost_usd: float | None) -> list[PlannedModel]:
        """Under a cost cap every paid model needs a price: the cap cannot bound one without."""
        if max_cost_usd is not None:
            for m in planned:
                if isinstance(m.spec, ApiModelSpec) and self.pricing(m.spec).worst_case(
                        Request.chat("", sampling=Sampling(max_tokens=1))) is None:
                    raise UserError(_price_needed(m.spec.ref))
        return planned

    def pricing(self, spec: ApiModelSpec) -> ApiPricing:
        return pricing_for(spec, self.settings)

    def estimate_cost(self, suite: Suite, specs: Sequence[ModelSpec], sampling: Sampling) -> list[CostEstimate]:
        """The most each API model in a planned run may cost (local models are not listed)."""
        estimates = []
        for spec in specs:
            if not isinstance(spec, ApiModelSpec):
                continue
            pricing = self.pricing(spec)
            worst = [pricing.worst_case(_request_for(case, sampling)) for case in suite.cases]
            total = None if any(w is None for w in worst) else sum(worst)
            estimates.append(CostEstimate(spec.ref, len(suite.cases), total, pricing.describe()))
        return estimates

    def create_run(self, suite: Suite, specs: Sequence[ModelSpec], sampling: Sampling,
                   kind: str = "suite", max_cost_usd: float | None = None) -> str:
        if not specs:
            raise UserError("no model to run; give at least one --model PATH or provider:model")
        if max_cost_usd is not None and max_cost_usd < 0:
            raise UserError(f"the cost cap must be 0 or more dollars, not {max_cost_usd}")
        planned = self.check_prices(self.plan_models(specs), max_cost_usd)
        run_id = self.store.new_run_id()
        self.store.create_run(
            {"id": run_id, "kind": kind, "suite_name": suite.name, "suite_version": suite.version,
             "suite_hash": suite.content_hash, "suite_json": dumps(suite.to_dict()),
             "sampling_json": dumps(sampling.to_dict()), "settings_json": dumps(self.settings.to_dict()),
             "hardware_json": dumps(self.hardware.to_dict()), "app_version": __version__,
             "llama_cpp_version": llama_cpp_version(), "max_cost_usd": max_cost_usd},
            [{"model_key": m.key, "provider": _provider_name(m.spec), "path": _location(m.spec),
              "spec_json": dumps(m.spec.to_dict()), "metadata_json": dumps(m.metadata),
              "identity_json": dumps(self._provider(m.spec, m.key, m.sha256).identity())}
             for m in planned])
        return run_id

    @staticmethod
    def _provider(spec: ModelSpec, key: str, sha256: str) -> Provider:
        if isinstance(spec, ApiModelSpec):
            return api_provider(spec, label=key)
        return LocalProvider(spec, label=key, sha256=sha256)

    # Running -----------------------------------------------------------------------------

    def execute(self, run_id: str, cancel: threading.Event | None = None, reuse: bool = True,
                concurrent: bool = False, max_cost_usd: float | None = None) -> Iterator[RunEvent]:
        """Run every cell of the plan not stored yet, and retry those that failed for a reason that
        may pass; a second call resumes an interrupted run.

        With `concurrent`, every local model answers at the same time in its own worker (side by
        side), the CPU threads shared out between them; otherwise they run one after another, so each
        is measured alone. API models always run alongside. `max_cost_usd` replaces the run's cost cap
        (a resume may raise it).
        """
        cancel = cancel or threading.Event()
        run = self.store.run(run_id)
        run_id = run["id"]
        # Another live process running it: refused (RunInUse) before anything of the run is touched.
        self.store.claim_run(run_id)
        status, reason = "interrupted", None
        try:
            suite = Suite.from_dict(json.loads(run["suite_json"]))
            sampling = Sampling.from_dict(json.loads(run["sampling_json"]))
            models = self.store.run_models(run_id)
            done_cells = self.store.done_cells(run_id)
            total = len(suite.cases) * len(models)
            done = len(done_cells)
            if max_cost_usd is not None:
                self.store.set_cost_cap(run_id, max_cost_usd)
            cap = max_cost_usd if max_cost_usd is not None else run.get("max_cost_usd")
            budget = Budget(cap, self.store.api_spend(run_id))
            self.store.set_run_status(run_id, "running")
            yield RunStarted(run_id, total, done)
            ledger = MachineLedger(EnergyMeter(self.settings.device_watts))
            work = [(model, [c for c in suite.cases if (model["model_key"], c.id) not in done_cells])
                    for model in models]
            work = [(model, cases) for model, cases in work if cases]
            local = [(m, cases) for m, cases in work if not _is_api(m)]
            sharing = len(local) if concurrent and len(local) > 1 else 1
            local_streams = [self._run_model(run_id, model, cases, sampling, ledger, cancel, reuse, sharing)
                             for model, cases in local]
            if not concurrent and len(local_streams) > 1:
                local_streams = [(e for stream in local_streams for e in stream)]
            streams = local_streams + [self._run_api_model(run_id, model, cases, sampling, budget, cancel, reuse)
                                       for model, cases in work if _is_api(model)]
            heartbeat = _Heartbeat(self.store, run_id)
            merged = _interleave(streams, cancel) if len(streams) > 1 else (e for s in streams for e in s)
            for event in merged:
                heartbeat.beat()
                if isinstance(event, CaseFinished):
                    done += 1
                    event = CaseFinished(event.model_key, event.case_id, event.row, event.reused, done, total)
                elif isinstance(event, BudgetReached):
                    reason = (f"stopped by the cost cap: {format_usd(event.spent_usd)} of "
                              f"{format_usd(event.cap_usd)} spent, and the next request could cost "
                              f"{format_usd(event.next_request_usd)}; resume with a higher cap to finish")
                elif isinstance(event, PriceNeeded):
                    reason = _price_needed(event.model_ref)
                yield event
            if done >= total:
                status, reason = self._outcome(run_id)
            elif reason is None and cancel.is_set():
                reason = "cancelled"
        finally:
            self.store.set_run_status(run_id, status, reason)  # no longer running: its ownership ends too
        yield RunFinished(run_id, status, reason)

    def _outcome(self, run_id: str) -> tuple[str, str | None]:
        """How a run that got through its plan ended: complete, incomplete or failed, and why."""
        rows = self.store.results(run_id)
        errors = [r for r in rows if r["error"]]
        retry = [r for r in errors if r["error_kind"] == "transient"]
        if rows and len(errors) == len(rows):
            return "failed", (f"every answer failed ({len(rows)} of {len(rows)}), e.g. {errors[0]['error']}"
                              + ("; resume to try again" if retry else ""))
        if retry:
            return "incomplete", (f"{len(retry)} of {len(rows)} answers failed for a reason that may pass "
                                  f"(e.g. {retry[0]['error']}); resume to retry them")
        if errors:  # nothing left to try, but not every answer is there: said, never a silent "complete"
            return "complete", (f"{len(errors)} of {len(rows)} answers failed for good and are stored as errors "
                                f"(e.g. {errors[0]['error']}); resuming would not change them")
        return "complete", None

    def _run_model(self, run_id: str, model: dict[str, Any], cases: list[Case], sampling: Sampling,
                   ledger: MachineLedger, cancel: threading.Event, reuse: bool,
                   sharing: int = 1) -> Iterator[RunEvent]:
        """A local model's cases, one after another in its worker; with `sharing` local models side by
        side, it gets its share of the threads."""
        key = model["model_key"]
        sha256 = json.loads(model["identity_json"]).get("sha256") or ""
        spec = LocalModelSpec.from_dict(json.loads(model["spec_json"]))
        threads = spec.n_threads or self.hardware.default_threads
        if sharing > 1:
            threads = max(1, threads // sharing)
        spec = dataclasses.replace(spec, n_threads=threads)
        if self.pool is not None:
            provider = self.pool.get(spec, key, sha256)
        else:
            provider = LocalProvider(spec, label=key, sha256=sha256)
        # Today's identity, not the one stored when the run was planned: a resume after an upgrade of
        # llama.cpp must not reuse what the old version answered.
        identity = provider.identity()
        try:
            for case in cases:
                if cancel.is_set():
                    return
                request = _request_for(case, sampling)
                if (problem := too_long(case.prompt, case.system, spec.n_ctx, f"{key}'s context")) is not None:
                    # Certainly too long for this model: said once, never sent (the worker counts the rest).
                    yield from self._fail_all(run_id, key, [case], sampling, problem, "permanent")
                    continue
                digest = request_hash(identity, request)
                previous = self.store.reusable_result(digest) if reuse else None
                if previous is not None:
                    row = self._store_reused(run_id, key, case, previous)
                    yield CaseFinished(key, case.id, row, True, 0, 0)
                    continue
                if not provider.loaded:
                    failure = yield from self._load(provider, key)
                    if failure and cancel.is_set():  # stopped while loading (the app quitting kills a slow load)
                        return
                    if failure:
                        yield from self._fail_all(run_id, key, cases[cases.index(case):], sampling, failure,
                                                  load_error_kind(failure))
                        return
                yield CaseStarted(key, case.id)
                span = ledger.begin(provider.pid)
                try:
                    result = yield from _answer(provider, key, case.id, request, cancel)
                finally:
                    conditions = ledger.end(span)
                if result.finish_reason == "cancelled":
                    return  # not stored: resuming the run answers this case again, in full
                cost, detail = local_cost(conditions.joules, conditions.machine_seconds, self.settings,
                                          ledger.source)
                if conditions.sharing:
                    detail["shared_with"] = conditions.sharing
                result.threads = result.threads or threads
                row = self._store_answer(run_id, key, case, request, digest, identity, result, cost, detail,
                                         conditions, ledger.source)
                yield CaseFinished(key, case.id, row, False, 0, 0)
        finally:
            if self.pool is None:
                provider.close()

    def _run_api_model(self, run_id: str, model: dict[str, Any], cases: list[Case], sampling: Sampling,
                       budget: Budget, cancel: threading.Event, reuse: bool) -> Iterator[RunEvent]:
        """An API model's cases, several in flight at once (its bound), each within the cost cap."""
        key = model["model_key"]
        spec = ApiModelSpec.from_dict(json.loads(model["spec_json"]))
        provider = self._provider(spec, key, "")
        identity = provider.identity()
        pricing = self.pricing(spec)
        stop = threading.Event()  # the cap was reached: send nothing more for this model
        # A moving alias (gpt-4o-mini) may answer differently next week: reuse its answers only for a while.
        reuse_since = None if _pinned(spec.model) else (
            dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=self.settings.api_reuse_days)).isoformat()

        def one(case: Case) -> Iterator[RunEvent]:
            if cancel.is_set() or stop.is_set():
                return
            request = _request_for(case, sampling)
            digest = request_hash(identity, request)
            previous = self.store.reusable_result(digest, reuse_since) if reuse else None
            if previous is not None:
                yield CaseFinished(key, case.id, self._store_reused(run_id, key, case, previous), True, 0, 0)
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
                result = yield from _answer(provider, key, case.id, request, cancel)
                if result.finish_reason == "cancelled":
                    if not result.billed_seconds:
                        return  # never sent: nothing to pay, nothing to keep
                    # What streamed before the cancel was paid for: kept, and retried on resume.
                    result.error = "cancelled before the answer was complete; the partial answer is kept"
                    result.error_kind = "transient"
                priced = pricing.cost(result.prompt_tokens or 0, result.completion_tokens or 0,
                                      result.cached_tokens or 0, result.billed_seconds)
                cost = priced.usd
                row = self._store_answer(run_id, key, case, request, digest, identity, result, cost,
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
            yield from self._fail_all(run_id, key, cases, sampling, failure, "permanent")
            return
        yield ModelLoaded(key, 0.0, None)
        try:
            # The first request goes alone: a refused key or a wrong model name then costs one
            # call, not one per slot.
            yield from one(cases[0])
            yield from _interleave([one(case) for case in cases[1:]], cancel, limit=spec.max_concurrency)
        finally:
            provider.close()

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

    def _fail_all(self, run_id: str, key: str, cases: list[Case], sampling: Sampling,
                  error: str, kind: str) -> Iterator[RunEvent]:
        """A model that cannot answer at all gets an error row for each case, so the run completes."""
        for case in cases:
            row = self._store_answer(run_id, key, case, _request_for(case, sampling), "", None,
                                     Result(finish_reason="error", error=error, error_kind=kind), 0.0,
                                     {"kind": "none"}, None, None)
            yield CaseFinished(key, case.id, row, False, 0, 0)

    def _store_answer(self, run_id: str, key: str, case: Case, request: Request, digest: str,
                      identity: dict[str, Any] | None, result: Result, cost_usd: float | None,
                      cost_detail: dict[str, Any], conditions: Conditions | None,
                      energy_source: str | None) -> dict[str, Any]:
        graded = grade(case, result.text) if result.ok else None
        row = {
            "run_id": run_id, "model_key": key, "case_id": case.id,
            "request_hash": digest or None, "request_json": dumps(request.to_dict()),
            "text": result.text, "finish_reason": result.finish_reason,
            "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "cached_tokens": result.cached_tokens,
            "time_to_first_token_ms": result.time_to_first_token_ms,
            "prompt_tokens_per_second": result.prompt_tokens_per_second,
            "generation_tokens_per_second": result.generation_tokens_per_second,
            "wall_time_ms": result.wall_time_ms, "peak_memory_bytes": result.peak_memory_bytes,
            "peak_memory_scope": result.peak_memory_scope,
            "error": result.error, "error_kind": result.error_kind if result.error else None,
            "usage_json": dumps(result.usage if result.billed_seconds is None
                                else {**result.usage, "billed_seconds": result.billed_seconds}),
            "grade_passed": None if graded is None else int(graded.passed),
            "grade_score": None if graded is None else graded.score,
            "grade_reason": None if graded is None else graded.reason,
            "grade_json": None if graded is None else dumps(graded.to_dict()),
            "energy_joules": None if conditions is None else conditions.joules,
            "energy_source": energy_source,
            "cost_usd": cost_usd, "cost_json": dumps(cost_detail),
            "threads": result.threads, "chat_template": result.chat_template,
            "served_model": result.served_model,
            "identity_json": None if identity is None else dumps(identity),
        }
        if conditions is not None:
            row.update(sharing=conditions.sharing, load_average=conditions.load_average,
                       other_cpu_share=conditions.other_cpu_share, under_load=int(conditions.under_load),
                       machine_seconds=conditions.machine_seconds)
        row["id"] = self.store.add_result(row)
        return row

    def _store_reused(self, run_id: str, key: str, case: Case, previous: dict[str, Any]) -> dict[str, Any]:
        """An identical request answered before: its text, graded again (the suite's checks may have
        changed); its measurements stay, marked as taken in the run `reused_from` belongs to. A
        person's verdict belongs to the run it was given in and is not copied."""
        row = {k: v for k, v in previous.items()
               if k not in ("id", "created_at", "human_label", "prior_attempts_usd", "measured_in_run")}
        graded = grade(case, row["text"])
        row.update(run_id=run_id, model_key=key, case_id=case.id, reused_from=previous["id"],
                   grade_passed=None if graded is None else int(graded.passed),
                   grade_score=None if graded is None else graded.score,
                   grade_reason=None if graded is None else graded.reason,
                   grade_json=None if graded is None else dumps(graded.to_dict()))
        row["id"] = self.store.add_result(row)
        row["measured_in_run"] = previous["run_id"]
        return row


class _Heartbeat:
    """Renews the run's heartbeat every few seconds, from the thread that drives the run (the store's
    connection is used under its lock, as for every write). Another machine sharing the data folder
    judges the run alive by it; on this machine the owner's process id is enough."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store, self.run_id = store, run_id
        self.last = time.monotonic()

    def beat(self) -> None:
        if time.monotonic() - self.last >= HEARTBEAT_SECONDS:
            self.last = time.monotonic()
            self.store.heartbeat(self.run_id)


def _answer(provider: Provider, key: str, case_id: str, request: Request,
            cancel: threading.Event) -> Iterator[RunEvent]:
    """Stream one answer as events; returns its Result."""
    result = Result(finish_reason="error", error="no answer")
    for item in provider.stream(request, cancel):
        if isinstance(item, Token):
            yield TokenStreamed(key, case_id, item.text)
        else:
            result = item
    return result


def _provider_name(spec: ModelSpec) -> str:
    return spec.provider if isinstance(spec, ApiModelSpec) else "llama.cpp"


def _location(spec: ModelSpec) -> str:
    return spec.ref if isinstance(spec, ApiModelSpec) else spec.path


def _interleave(streams: list[Iterator[RunEvent]], cancel: threading.Event,
                limit: int | None = None) -> Iterator[RunEvent]:
    """Drive several event streams on their own threads (at most `limit` at once) and yield their
    events as they come."""
    events: queue.Queue[Any] = queue.Queue()
    finished = object()

    def pump(stream: Iterator[RunEvent]) -> None:
        try:
            for event in stream:
                events.put(event)
        except BaseException as exc:  # handed to the consumer, which raises it
            events.put(exc)
        finally:
            events.put(finished)

    pending = iter(streams)
    workers: list[threading.Thread] = []

    def start_next() -> bool:
        stream = next(pending, None)
        if stream is None:
            return False
        worker = threading.Thread(target=pump, args=(stream,), name="run-model", daemon=True)
        workers.append(worker)
        worker.start()
        return True

    running = sum(start_next() for _ in range(limit or len(streams)))
    try:
        while running:
            item = events.get()
            if item is finished:
                running -= 1
                running += start_next()
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        if running:  # the consumer stopped early: stop the models too
            cancel.set()
        for worker in workers:
            worker.join()


def _price_needed(ref: str) -> str:
    return (f"{ref} has no known price, so the cost cap cannot bound what it spends: set its price "
            f"(`modelscout prices set {ref} --input USD --output USD`, or Settings > API models) or run "
            f"without a cap")


_DATED = re.compile(r"(\d{4}-?\d{2}-?\d{2}|@\d{8})$")


def _pinned(model: str) -> bool:
    """A dated snapshot (gpt-4o-mini-2024-07-18, claude-3-5-haiku-20241022) does not move; an alias may."""
    return bool(_DATED.search(model))


def _request_for(case: Case, sampling: Sampling) -> Request:
    if case.max_tokens and case.max_tokens != sampling.max_tokens:
        sampling = Sampling.from_dict({**sampling.to_dict(), "max_tokens": case.max_tokens})
    return Request.chat(case.prompt, case.system, sampling)
