"""Planning a run: every model checked before anything is stored (readable, fits this machine, loadable,
priced under a cap), how many cases each local model decodes at once, and the run recorded."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app import __version__, keys
from desktop_app.costing.prices import ApiPricing, pricing_for
from desktop_app.errors import UserError
from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.fit import estimate_fit
from desktop_app.models.gguf_meta import ModelInfo
from desktop_app.models.hardware import Hardware
from desktop_app.models.loadability import load_problems
from desktop_app.providers.api import ApiModelSpec, api_model_name, display_url
from desktop_app.providers.base import Provider, ProviderError, Request, Sampling
from desktop_app.providers.local import (
    LocalModelSpec,
    LocalProvider,
    llama_cpp_version,
)
from desktop_app.providers.registry import api_provider
from desktop_app.runner.specs import ModelSpec, model_spec, with_fitted_layers
from desktop_app.settings import Settings
from desktop_app.storage.store import Store, dumps
from desktop_app.suites import Case, Suite

# The most cases one model decodes together when the user set no number. Beyond 16 sequences llama.cpp's
# aggregate speed on 2 cores grows little, but a suite that fits in one batch does not wait on a second
# batch of a few: the demo suite's 23 cases ran 1.28-1.31x (demo model) and 2.47-2.69x (262k vocabulary) faster than
# one at a time when all were decoded together, against 1.15x and 2.10x as 16 then 7
# (benchmarks/suite_throughput.py, medians of 2-3 rounds).
MAX_AUTO_PARALLEL = 32
# Tokens a chat template may add around a prompt (role markers, a default system prompt).
TEMPLATE_ALLOWANCE = 128


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


class Planner:
    def __init__(self, store: Store | None, settings: Settings, catalog: ModelCatalog,
                 hardware: Hardware) -> None:
        self.store, self.settings, self.catalog, self.hardware = store, settings, catalog, hardware

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
                key = _unique(api_model_name(spec), taken)  # never a server's file path
                planned.append(PlannedModel(key, spec, "", {
                    "provider": spec.provider, "model": spec.model, "base_url": display_url(spec.endpoint),
                    "price": self.pricing(spec).describe()}))
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
            planned.append(PlannedModel(_unique(key, taken, Path(spec.path).stem), spec,
                                        self.catalog.sha256(spec.path), info.to_dict()))
        # llama.cpp is asked only about what it has not answered before (per build): a model of a known
        # architecture, or one checked earlier, starts no process.
        infos = [self.catalog.info(m.spec.path) for m in planned if isinstance(m.spec, LocalModelSpec)]
        for path, error in load_problems(infos, self.catalog).items():
            raise ProviderError(error if error.startswith("cannot load") else f"cannot load {path}: {error}")
        return planned

    def with_parallel(self, planned: list[PlannedModel], suite: Suite, sampling: Sampling,
                      parallel: int | None) -> list[PlannedModel]:
        """Each local model's cases at once (`parallel`, else Settings', else as many as fit) and the
        cache they share, sized from what the suite's cases may need."""
        requested = parallel or self.settings.parallel
        needs = [case_cells(case, sampling) for case in suite.cases] or [1]
        out = []
        for model in planned:
            if isinstance(model.spec, LocalModelSpec):
                info = self.catalog.info(model.spec.path)
                model = dataclasses.replace(model, spec=batched_spec(model.spec, info, self.hardware, needs,
                                                                     requested))
            out.append(model)
        return out

    def check_prices(self, planned: list[PlannedModel], max_cost_usd: float | None) -> list[PlannedModel]:
        """Under a cost cap every paid model needs a price: the cap cannot bound one without."""
        if max_cost_usd is not None:
            for m in planned:
                if isinstance(m.spec, ApiModelSpec) and self.pricing(m.spec).worst_case(
                        Request.chat("", sampling=Sampling(max_tokens=1))) is None:
                    raise UserError(price_needed(m.spec.ref))
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
            worst = [pricing.worst_case(request_for(case, sampling)) for case in suite.cases]
            total = None if any(w is None for w in worst) else sum(worst)
            estimates.append(CostEstimate(spec.ref, len(suite.cases), total, pricing.describe()))
        return estimates

    def create_run(self, suite: Suite, specs: Sequence[ModelSpec], sampling: Sampling, kind: str = "suite",
                   max_cost_usd: float | None = None, parallel: int | None = None) -> str:
        if not specs:
            raise UserError("no model to run; give at least one --model PATH or provider:model")
        if max_cost_usd is not None and max_cost_usd < 0:
            raise UserError(f"the cost cap must be 0 or more dollars, not {max_cost_usd}")
        if parallel is not None and parallel < 1:
            raise UserError(f"--parallel must be 1 or more cases at once, not {parallel}")
        planned = self.with_parallel(self.check_prices(self.plan_models(specs), max_cost_usd), suite, sampling,
                                     parallel)
        run_id = self.store.new_run_id()
        self.store.create_run(
            {"id": run_id, "kind": kind, "suite_name": suite.name, "suite_version": suite.version,
             "suite_hash": suite.content_hash, "suite_json": dumps(suite.to_dict()),
             "sampling_json": dumps(sampling.to_dict()), "settings_json": dumps(self.settings.to_dict()),
             "hardware_json": dumps(self.hardware.to_dict()), "app_version": __version__,
             "llama_cpp_version": llama_cpp_version(), "max_cost_usd": max_cost_usd},
            [{"model_key": m.key, "provider": provider_name(m.spec), "path": location(m.spec),
              "spec_json": dumps(m.spec.to_dict()), "metadata_json": dumps(m.metadata),
              "identity_json": dumps(provider_for(m.spec, m.key, m.sha256).identity())}
             for m in planned])
        return run_id


def batched_spec(spec: LocalModelSpec, info: ModelInfo, hardware: Hardware, needs: list[int],
                 requested: int | None) -> LocalModelSpec:
    """`spec` set to decode `requested` cases at once (or, when None, as many as the memory the fit
    estimate allows, at most MAX_AUTO_PARALLEL and the number of cases), with a cache big enough for
    that many of the suite's largest cases."""
    per_case = min(spec.n_ctx, max(needs))
    n = requested or min(MAX_AUTO_PARALLEL, len(needs))
    while n > 1:
        cells = max(spec.n_ctx, n * per_case)
        fit = estimate_fit(info, hardware, context=cells, gpu_layers=spec.n_gpu_layers)
        if fit.fits:
            return dataclasses.replace(spec, n_parallel=n, n_ctx_batch=cells)
        if requested:
            raise UserError(f"{spec.path} cannot decode {requested} cases at once on this machine: their "
                            f"cache of {cells} tokens does not fit ({fit.reason}); choose a smaller --parallel")
        n //= 2
    return dataclasses.replace(spec, n_parallel=1, n_ctx_batch=None)


def case_cells(case: Case, sampling: Sampling) -> int:
    """The most cache cells a case can take: its prompt counted high (a token is at least one byte)
    plus what a template adds, and every token it may write."""
    prompt = len(case.prompt.encode("utf-8")) + len((case.system or "").encode("utf-8"))
    return prompt + TEMPLATE_ALLOWANCE + request_for(case, sampling).sampling.max_tokens


def request_for(case: Case, sampling: Sampling) -> Request:
    if case.max_tokens and case.max_tokens != sampling.max_tokens:
        sampling = Sampling.from_dict({**sampling.to_dict(), "max_tokens": case.max_tokens})
    return Request.chat(case.prompt, case.system, sampling)


def provider_for(spec: ModelSpec, key: str, sha256: str) -> Provider:
    if isinstance(spec, ApiModelSpec):
        return api_provider(spec, label=key)
    return LocalProvider(spec, label=key, sha256=sha256)


def provider_name(spec: ModelSpec) -> str:
    return spec.provider if isinstance(spec, ApiModelSpec) else "llama.cpp"


def location(spec: ModelSpec) -> str:
    return spec.ref if isinstance(spec, ApiModelSpec) else spec.path


def price_needed(ref: str) -> str:
    return (f"{ref} has no known price, so the cost cap cannot bound what it spends: set its price "
            f"(`modelscout prices set {ref} --input USD --output USD`, or Settings > API models) or run "
            f"without a cap")


def _unique(key: str, taken: set[str], stem: str | None = None) -> str:
    """`key`, or `stem #2`, `#3`... when a model of that name is in the run already."""
    base, n = stem or key, 2
    while key in taken:
        key, n = f"{base} #{n}", n + 1
    taken.add(key)
    return key
