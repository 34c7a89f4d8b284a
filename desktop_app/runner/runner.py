"""Plans suite cases x models, runs them one model at a time, stores each answer as it finishes."""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app import __version__
from desktop_app.costing.energy import EnergyMeter, electricity_cost_usd
from desktop_app.errors import UserError
from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.fit import estimate_fit
from desktop_app.models.hardware import Hardware, probe
from desktop_app.providers.base import (
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
)
from desktop_app.providers.pool import ModelPool
from desktop_app.runner.events import (
    CaseFinished,
    CaseStarted,
    ModelFailed,
    ModelLoaded,
    ModelLoading,
    RunEvent,
    RunFinished,
    RunStarted,
    TokenStreamed,
)
from desktop_app.scoring.checks import grade
from desktop_app.settings import Settings
from desktop_app.storage.store import Store, dumps
from desktop_app.suites import Case, Suite


@dataclass(frozen=True)
class PlannedModel:
    key: str
    spec: LocalModelSpec
    sha256: str
    metadata: dict[str, Any]


class Runner:
    def __init__(self, store: Store, settings: Settings, catalog: ModelCatalog | None = None,
                 hardware: Hardware | None = None, pool: ModelPool | None = None) -> None:
        self.store = store
        self.settings = settings
        self.catalog = catalog or ModelCatalog()
        self.hardware = hardware or probe()
        self.pool = pool  # with a pool, models stay loaded after the run (the app); without, they close

    # Planning ----------------------------------------------------------------------------

    def spec_for(self, path: str | Path, *, context: int | None = None, threads: int | None = None,
                 gpu_layers: int | None = None) -> LocalModelSpec:
        """A model configuration from the user's settings, unless overridden."""
        gpu = self.settings.gpu_layers if gpu_layers is None else gpu_layers
        if not self.hardware.gpus:
            gpu = 0
        return LocalModelSpec(path=str(Path(path).resolve()),
                              n_ctx=context or self.settings.context_size,
                              n_threads=threads or self.settings.threads,
                              n_gpu_layers=gpu)

    def plan_models(self, specs: Sequence[LocalModelSpec]) -> list[PlannedModel]:
        """Check every model before anything is stored: readable, fits this machine, hashed."""
        planned: list[PlannedModel] = []
        keys: set[str] = set()
        for spec in specs:
            info = self.catalog.info(spec.path)
            fit = estimate_fit(info, self.hardware, context=spec.n_ctx, gpu_layers=spec.n_gpu_layers)
            if not fit.fits:
                raise UserError(f"{spec.path} does not fit this machine at a context of {spec.n_ctx} "
                                f"tokens: {fit.reason}. Choose a smaller context (--context) or a "
                                f"smaller quantization")
            if spec.n_gpu_layers == -1 and fit.gpu_layers >= 0:  # offload as many layers as fit
                spec = dataclasses.replace(spec, n_gpu_layers=fit.gpu_layers)
            # The file name tells variants of one model apart better than general.name does.
            key = Path(spec.path).stem
            if info.quantization.upper() not in key.upper():
                key = f"{key} {info.quantization}"
            n = 2
            while key in keys:
                key, n = f"{Path(spec.path).stem} #{n}", n + 1
            keys.add(key)
            planned.append(PlannedModel(key, spec, self.catalog.sha256(spec.path), info.to_dict()))
        for error in check_loadable([m.spec.path for m in planned]).values():
            if error:
                raise ProviderError(error)
        return planned

    def create_run(self, suite: Suite, specs: Sequence[LocalModelSpec], sampling: Sampling,
                   kind: str = "suite") -> str:
        if not specs:
            raise UserError("no model to run; give at least one --model PATH")
        planned = self.plan_models(specs)
        run_id = self.store.new_run_id()
        self.store.create_run(
            {"id": run_id, "kind": kind, "suite_name": suite.name, "suite_version": suite.version,
             "suite_hash": suite.content_hash, "suite_json": dumps(suite.to_dict()),
             "sampling_json": dumps(sampling.to_dict()), "settings_json": dumps(self.settings.to_dict()),
             "hardware_json": dumps(self.hardware.to_dict()), "app_version": __version__,
             "llama_cpp_version": llama_cpp_version()},
            [{"model_key": m.key, "provider": "llama.cpp", "path": m.spec.path,
              "spec_json": dumps(m.spec.to_dict()), "metadata_json": dumps(m.metadata),
              "identity_json": dumps(self._provider(m.spec, m.key, m.sha256).identity())}
             for m in planned])
        return run_id

    @staticmethod
    def _provider(spec: LocalModelSpec, key: str, sha256: str) -> LocalProvider:
        return LocalProvider(spec, label=key, sha256=sha256)

    # Running -----------------------------------------------------------------------------

    def execute(self, run_id: str, cancel: threading.Event | None = None, reuse: bool = True,
                concurrent: bool = False) -> Iterator[RunEvent]:
        """Run every cell of the plan not stored yet; a second call resumes an interrupted run.

        With `concurrent`, every model answers at the same time in its own worker (side by side),
        the CPU threads shared out between them; otherwise models run one after another.
        """
        cancel = cancel or threading.Event()
        run = self.store.run(run_id)
        run_id = run["id"]
        suite = Suite.from_dict(json.loads(run["suite_json"]))
        sampling = Sampling.from_dict(json.loads(run["sampling_json"]))
        models = self.store.run_models(run_id)
        done_cells = self.store.done_cells(run_id)
        total = len(suite.cases) * len(models)
        done = len(done_cells)
        self.store.set_run_status(run_id, "running")
        yield RunStarted(run_id, total, done)
        meter = EnergyMeter(self.settings.device_watts)
        work = [(model, [c for c in suite.cases if (model["model_key"], c.id) not in done_cells])
                for model in models]
        work = [(model, cases) for model, cases in work if cases]
        threads = None
        if concurrent and len(work) > 1:
            threads = max(1, (self.hardware.physical_cores or 1) // len(work))
        streams = [self._run_model(run_id, model, cases, sampling, meter, cancel, reuse, threads)
                   for model, cases in work]
        status = "interrupted"
        try:
            merged = _interleave(streams, cancel) if threads else (e for s in streams for e in s)
            for event in merged:
                if isinstance(event, CaseFinished):
                    done += 1
                    event = CaseFinished(event.model_key, event.case_id, event.row, event.reused, done, total)
                yield event
            if done >= total:
                status = "complete"
        finally:
            self.store.set_run_status(run_id, status)
        yield RunFinished(run_id, status)

    def _run_model(self, run_id: str, model: dict[str, Any], cases: list[Case], sampling: Sampling,
                   meter: EnergyMeter, cancel: threading.Event, reuse: bool,
                   threads: int | None = None) -> Iterator[RunEvent]:
        key = model["model_key"]
        identity = json.loads(model["identity_json"])
        spec = LocalModelSpec.from_dict(json.loads(model["spec_json"]))
        if threads and not spec.n_threads:
            spec = dataclasses.replace(spec, n_threads=threads)
        if self.pool is not None:
            provider = self.pool.get(spec, key, identity.get("sha256"))
        else:
            provider = self._provider(spec, key, identity.get("sha256") or "")
        try:
            for case in cases:
                if cancel.is_set():
                    return
                request = _request_for(case, sampling)
                digest = request_hash(identity, request)
                previous = self.store.reusable_result(digest) if reuse else None
                if previous is not None:
                    row = self._store_reused(run_id, key, case, previous)
                    yield CaseFinished(key, case.id, row, True, 0, 0)
                    continue
                if not provider.loaded:
                    yield ModelLoading(key)
                    try:
                        provider.load()
                    except ProviderError as exc:
                        yield ModelFailed(key, str(exc))
                        for failed in cases[cases.index(case):]:
                            row = self._store_answer(run_id, key, failed, _request_for(failed, sampling),
                                                     "", Result(finish_reason="error", error=str(exc)),
                                                     0.0, meter.source)
                            yield CaseFinished(key, failed.id, row, False, 0, 0)
                        return
                    yield ModelLoaded(key, provider.load_info.get("load_ms", 0.0), provider.memory_bytes())
                yield CaseStarted(key, case.id)
                start = meter.read()
                result = Result(finish_reason="error", error="no answer")
                for item in provider.stream(request, cancel):
                    if isinstance(item, Token):
                        yield TokenStreamed(key, case.id, item.text)
                    else:
                        result = item
                joules = meter.joules(start, meter.read())
                if result.finish_reason == "cancelled":
                    return  # not stored: resuming the run answers this case again, in full
                row = self._store_answer(run_id, key, case, request, digest, result, joules, meter.source)
                yield CaseFinished(key, case.id, row, False, 0, 0)
        finally:
            if self.pool is None:
                provider.close()

    def _store_answer(self, run_id: str, key: str, case: Case, request: Request, digest: str,
                      result: Result, joules: float, energy_source: str) -> dict[str, Any]:
        graded = grade(case, result.text) if result.ok else None
        price = self.settings.electricity_usd_per_kwh
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
            "error": result.error, "usage_json": dumps(result.usage),
            "grade_passed": None if graded is None else int(graded.passed),
            "grade_score": None if graded is None else graded.score,
            "grade_reason": None if graded is None else graded.reason,
            "grade_json": None if graded is None else dumps(graded.to_dict()),
            "energy_joules": joules, "energy_source": energy_source,
            "cost_usd": electricity_cost_usd(joules, price),
            "cost_json": dumps({"kind": "electricity", "usd_per_kwh": price, "energy_source": energy_source}),
        }
        row["id"] = self.store.add_result(row)
        return row

    def _store_reused(self, run_id: str, key: str, case: Case, previous: dict[str, Any]) -> dict[str, Any]:
        row = {k: v for k, v in previous.items() if k not in ("id", "created_at")}
        graded = grade(case, row["text"])  # the suite's checks may have changed since
        row.update(run_id=run_id, model_key=key, case_id=case.id, reused_from=previous["id"],
                   grade_passed=None if graded is None else int(graded.passed),
                   grade_score=None if graded is None else graded.score,
                   grade_reason=None if graded is None else graded.reason,
                   grade_json=None if graded is None else dumps(graded.to_dict()))
        row["id"] = self.store.add_result(row)
        return row


def _interleave(streams: list[Iterator[RunEvent]], cancel: threading.Event) -> Iterator[RunEvent]:
    """Drive several event streams on their own threads and yield their events as they come."""
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

    workers = [threading.Thread(target=pump, args=(s,), name="run-model", daemon=True) for s in streams]
    for worker in workers:
        worker.start()
    remaining = len(workers)
    try:
        while remaining:
            item = events.get()
            if item is finished:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        if remaining:  # the consumer stopped early: stop the models too
            cancel.set()
        for worker in workers:
            worker.join()


def _request_for(case: Case, sampling: Sampling) -> Request:
    if case.max_tokens and case.max_tokens != sampling.max_tokens:
        sampling = Sampling.from_dict({**sampling.to_dict(), "max_tokens": case.max_tokens})
    return Request.chat(case.prompt, case.system, sampling)
