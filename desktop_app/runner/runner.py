"""A run from start to end: planned (planning.py), its models' cases executed (local_execution.py,
api_execution.py), every answer recorded as it lands (recording.py), and how it ended.

Local models run one after another (or side by side, sharing the CPU), each decoding several cases of
the suite together; API models wait on the network, so they run alongside the local ones, several
requests at a time within their bound.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from desktop_app.costing.budget import Budget
from desktop_app.costing.energy import EnergyMeter
from desktop_app.costing.prices import ApiPricing
from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.hardware import Hardware, probe
from desktop_app.providers.api import ApiModelSpec
from desktop_app.providers.base import Provider, Sampling
from desktop_app.providers.pool import ModelPool
from desktop_app.runner.api_execution import ApiExecution
from desktop_app.runner.events import (
    BudgetReached,
    CaseFinished,
    PriceNeeded,
    RunEvent,
    RunFinished,
    RunStarted,
)
from desktop_app.runner.interleave import interleave
from desktop_app.runner.local_execution import LocalExecution
from desktop_app.runner.machine import MachineLedger
from desktop_app.runner.planning import (
    CostEstimate,
    PlannedModel,
    Planner,
    price_needed,
    provider_for,
)
from desktop_app.runner.recording import Recorder
from desktop_app.runner.specs import ModelSpec
from desktop_app.settings import Settings
from desktop_app.storage.ownership import HEARTBEAT_SECONDS
from desktop_app.storage.store import Store
from desktop_app.suites import Suite
from desktop_app.units import format_usd

__all__ = ["CostEstimate", "PlannedModel", "Runner"]

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
        self.planner = Planner(store, settings, self.catalog, self.hardware)

    # Planning ----------------------------------------------------------------------------

    def spec_for(self, path: str | Path, *, context: int | None = None, threads: int | None = None,
                 gpu_layers: int | None = None) -> ModelSpec:
        return self.planner.spec_for(path, context=context, threads=threads, gpu_layers=gpu_layers)

    def plan_models(self, specs: Sequence[ModelSpec]) -> list[PlannedModel]:
        return self.planner.plan_models(specs)

    def check_prices(self, planned: list[PlannedModel], max_cost_usd: float | None) -> list[PlannedModel]:
        return self.planner.check_prices(planned, max_cost_usd)

    def pricing(self, spec: ApiModelSpec) -> ApiPricing:
        return self.planner.pricing(spec)

    def estimate_cost(self, suite: Suite, specs: Sequence[ModelSpec], sampling: Sampling) -> list[CostEstimate]:
        return self.planner.estimate_cost(suite, specs, sampling)

    def create_run(self, suite: Suite, specs: Sequence[ModelSpec], sampling: Sampling, kind: str = "suite",
                   max_cost_usd: float | None = None, parallel: int | None = None) -> str:
        """Plan and record a run; `parallel` cases of the suite decoded at once by each local model
        (None: Settings', else as many as fit)."""
        return self.planner.create_run(suite, specs, sampling, kind, max_cost_usd, parallel)

    @staticmethod
    def _provider(spec: ModelSpec, key: str, sha256: str) -> Provider:
        return provider_for(spec, key, sha256)

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
        recorder = Recorder(self.store)
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
            local_run = LocalExecution(self.store, self.settings, self.hardware, self.pool, recorder)
            api_run = ApiExecution(self.store, self.settings, recorder)
            local_streams = [local_run.run(run_id, model, cases, sampling, ledger, cancel, reuse, sharing)
                             for model, cases in local]
            if not concurrent and len(local_streams) > 1:
                local_streams = [(e for stream in local_streams for e in stream)]
            streams = local_streams + [api_run.run(run_id, model, cases, sampling, budget, cancel, reuse)
                                       for model, cases in work if _is_api(model)]
            heartbeat = _Heartbeat(self.store, run_id)
            merged = interleave(streams, cancel) if len(streams) > 1 else (e for s in streams for e in s)
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
                    reason = price_needed(event.model_ref)
                yield event
            if done >= total:
                status, reason = recorder.outcome(run_id)
            elif reason is None and cancel.is_set():
                reason = "cancelled"
        finally:
            self.store.set_run_status(run_id, status, reason)  # no longer running: its ownership ends too
        yield RunFinished(run_id, status, reason)


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
