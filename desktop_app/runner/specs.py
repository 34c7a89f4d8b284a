"""The configuration each model runs with, built from the user's settings in one place, so a model the
Models screen loads is the very configuration a run asks the pool for (and reuses, loaded)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from desktop_app.errors import UserError
from desktop_app.models.fit import Fit
from desktop_app.models.hardware import Hardware
from desktop_app.providers.api import ApiModelSpec, parse_model_ref
from desktop_app.providers.local import LocalModelSpec
from desktop_app.settings import Settings

ModelSpec = LocalModelSpec | ApiModelSpec

# The longest context a hosted model offers (Llama 4 Scout: 10M tokens). An API model's own is not known
# before it answers, so a prompt is refused up front for one only when it could fit none.
API_CONTEXT_CEILING = 10_000_000


def model_spec(settings: Settings, hardware: Hardware, ref: str | Path, *, context: int | None = None,
               threads: int | None = None, gpu_layers: int | None = None) -> ModelSpec:
    """A GGUF path, or an API model as [NAME=]provider:model[@base_url], configured by the settings
    unless overridden."""
    api = parse_model_ref(str(ref))
    if api is not None:
        return api_spec(settings, api)
    return local_spec(settings, hardware, ref, context=context, threads=threads, gpu_layers=gpu_layers)


def local_spec(settings: Settings, hardware: Hardware, path: str | Path, *, context: int | None = None,
               threads: int | None = None, gpu_layers: int | None = None) -> LocalModelSpec:
    """A local model's load settings: context, threads, GPU layers and the prompt format chosen for it."""
    gpu = settings.gpu_layers if gpu_layers is None else gpu_layers
    if not hardware.can_offload:  # no GPU, or a CPU-only llama.cpp that would ignore the layers
        gpu = 0
    resolved = str(Path(path).resolve())
    return LocalModelSpec(path=resolved,
                          n_ctx=context or settings.context_size,
                          n_threads=threads or settings.threads or hardware.default_threads,
                          adapt_threads=not (threads or settings.threads),
                          n_gpu_layers=gpu,
                          chat_template=settings.chat_templates.get(resolved))


def api_spec(settings: Settings, spec: ApiModelSpec) -> ApiModelSpec:
    """An API model with the settings' patience (timeout, retries, concurrency, longest answer) and the
    name the user gave it, unless the reference itself names it."""
    return dataclasses.replace(spec, timeout_s=settings.api_timeout_s, max_retries=settings.api_max_retries,
                               max_concurrency=settings.api_max_concurrency, deadline_s=settings.api_max_answer_s,
                               display_name=spec.display_name or settings.api_model_names.get(spec.ref))


def with_fitted_layers(spec: LocalModelSpec, fit: Fit | None) -> LocalModelSpec:
    """"Offload every layer" (-1) made the number the fit estimate found room for on this GPU."""
    if spec.n_gpu_layers == -1 and fit is not None and fit.gpu_layers >= 0:
        return dataclasses.replace(spec, n_gpu_layers=fit.gpu_layers)
    return spec


def largest_context(settings: Settings, models: Sequence[str | Path] | None = None, *,
                    context: int | None = None) -> int:
    """The most tokens of context any of `models` can be given, for refusing, when a suite loads, the
    prompts that certainly cannot fit: a local model runs with the run's context (`context`, else
    Settings'); an API model's is unknown, so the longest any offers. Without `models`: any model the
    user has (the local ones, and the API models Settings lists), as the Suites screen offers them."""
    local = context or settings.context_size
    refs = [str(model) for model in models] if models is not None else list(settings.api_models)
    has_api = any(_is_api(ref) for ref in refs)
    has_local = models is None or not all(_is_api(ref) for ref in refs)
    return max(API_CONTEXT_CEILING if has_api else 0, local if has_local else 0) or local


def _is_api(ref: str) -> bool:
    try:
        return parse_model_ref(ref) is not None
    except UserError:  # a malformed API reference: refused with its own message when the run is planned
        return True
