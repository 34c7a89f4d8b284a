"""What each model of a run would cost at the user's volume, and when buying hardware beats an API.

Speeds and power come from the run's own measurements; API prices from the same tables the run
used. A local model costs its electricity per request plus the machine, bought once and spread
over its lifetime; an API model costs its price per request and nothing up front.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from desktop_app.analysis.summary import ModelSummary, RunSummary, summarize
from desktop_app.costing.energy import electricity_cost_usd
from desktop_app.costing.prices import pricing_for
from desktop_app.errors import UserError
from desktop_app.providers.api import ApiModelSpec
from desktop_app.settings import Settings
from desktop_app.storage.store import Store

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class Volume:
    requests_per_day: float
    input_tokens: int = 500  # per request, on average
    output_tokens: int = 250

    def __post_init__(self) -> None:
        if self.requests_per_day <= 0:
            raise UserError(f"requests per day must be more than 0, not {self.requests_per_day:g}")
        if self.input_tokens < 0 or self.output_tokens < 1:
            raise UserError("average tokens must be 0 or more for input and 1 or more for output")


@dataclass(frozen=True)
class ModelProjection:
    model: str
    local: bool
    seconds_per_request: float | None  # measured speeds at the volume's token counts
    usd_per_request: float | None  # electricity (local) or the API price; None: unknown
    monthly_usd: float | None  # at the volume; a local model's includes the machine, spread out
    capacity_per_day: float | None  # one machine answering one request at a time
    machines_needed: int | None
    note: str = ""


@dataclass(frozen=True)
class BreakEven:
    local: str
    api: str
    requests_per_day: float | None  # above this volume the hardware pays for itself
    payback_months: float | None  # at the user's volume
    note: str


@dataclass(frozen=True)
class Projection:
    volume: Volume
    hardware_usd: float
    hardware_lifetime_years: float
    models: list[ModelProjection]
    break_evens: list[BreakEven]
    # When the projection ranks models by cost otherwise than the run's own answers do, why (one line).
    order_note: str = ""
    # What the speeds behind it should be read with (answers measured under load, sharing...).
    measurement_notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def project(store: Store, run_id: str, settings: Settings, volume: Volume,
            summary: RunSummary | None = None) -> Projection:
    """Each model of the run at `volume`. `summary`: the run's figures already summarized under these same
    settings (the plot's), so a new volume costs no second pass over every answer."""
    if summary is None or summary.run["id"] != run_id:
        summary = summarize(store, run_id, settings)  # the plot's own prices and settings
    specs = {m["model_key"]: json.loads(m["spec_json"]) for m in store.run_models(summary.run["id"])}
    hardware_monthly = settings.hardware_usd / (settings.hardware_lifetime_years * 12)
    models = []
    for m in summary.models:
        if m.is_local:
            models.append(_local(m, volume, settings, hardware_monthly))
        else:
            models.append(_api(m, ApiModelSpec.from_dict(specs[m.model]), volume, settings))
    break_evens = [_break_even(local, api, volume, settings.hardware_usd, hardware_monthly)
                   for local in models if local.local for api in models if not api.local]
    notes = [f"{m.model}: {note}" for m in summary.models for note in m.measurement_notes]
    return Projection(volume, settings.hardware_usd, settings.hardware_lifetime_years, models, break_evens,
                      order_note(summary.models, models, volume, settings), notes)


def order_note(summaries: list[ModelSummary], projected: list[ModelProjection], volume: Volume,
               settings: Settings) -> str:
    """One line when the projection orders two models by cost otherwise than the plot does, and why.

    The plot prices this suite's answers, the projection requests of the volume's sizes; a model
    whose prompt tokens are cheap (fast prompt processing, a low input price) gains when requests
    are prompt-heavier than the suite's, and the reverse for answer tokens.
    """
    by_name = {m.model: m for m in summaries}
    requests = volume.requests_per_day * DAYS_PER_MONTH
    # Each request's full cost, the machine included (as the plot's cost per answer includes it).
    pairs = [(by_name[p.model], p.monthly_usd / requests) for p in projected
             if p.monthly_usd is not None and by_name[p.model].cost_per_answer_usd is not None]
    for i, (a, pa) in enumerate(pairs):
        for b, pb in pairs[i + 1:]:
            plot = a.cost_per_answer_usd - b.cost_per_answer_usd
            proj = pa - pb
            if plot * proj >= 0 or abs(plot) <= 1e-15 or abs(proj) <= 1e-15:
                continue
            cheap_plot, cheap_proj = (a, b) if plot < 0 else (b, a)
            answers = sum(m.answered - m.errors for m in (a, b)) or 1
            suite_in = sum(m.prompt_tokens for m in (a, b)) / answers
            suite_out = sum(m.completion_tokens for m in (a, b)) / answers
            if suite_out and volume.output_tokens and \
                    volume.input_tokens / volume.output_tokens > suite_in / suite_out:
                heavier, part = "prompt-heavier", "reads prompts"
            else:
                heavier, part = "answer-heavier", "writes answers"
            why = (f"{heavier} requests favour {cheap_proj.model}, which {part} more cheaply"
                   if cheap_proj.is_local or cheap_plot.is_local else
                   f"{heavier} requests favour {cheap_proj.model}'s prices")
            if settings.hardware_usd > 0 and cheap_proj.is_local != cheap_plot.is_local:
                why = (f"the projection spreads the machine's price over your {volume.requests_per_day:,.0f} "
                       f"requests a day, the plot over the time Settings says it works "
                       f"({settings.hardware_busy_share:.0%} of its life)")
            return (f"The projection ranks {cheap_proj.model} cheaper than {cheap_plot.model}, unlike the plot: "
                    f"the plot prices this suite's answers ({suite_in:,.0f} tokens in, {suite_out:,.0f} out "
                    f"on average), the projection your requests ({volume.input_tokens:,} in, "
                    f"{volume.output_tokens:,} out), and {why}.")
    return ""


def _seconds(m: ModelSummary, volume: Volume) -> float | None:
    if not m.tokens_per_second:
        return None
    prompt_seconds = volume.input_tokens / m.prompt_tokens_per_second if m.prompt_tokens_per_second else 0.0
    first_token = (m.time_to_first_token_ms or 0) / 1000 if not m.prompt_tokens_per_second else 0.0
    return prompt_seconds + first_token + volume.output_tokens / m.tokens_per_second


def _local(m: ModelSummary, volume: Volume, settings: Settings, hardware_monthly: float) -> ModelProjection:
    seconds = _seconds(m, volume)
    if seconds is None:
        return ModelProjection(m.model, True, None, None, None, None, None, "no speed measured")
    watts = m.watts or settings.device_watts
    per_request = electricity_cost_usd(watts * seconds, settings.electricity_usd_per_kwh)
    capacity = 86400 / seconds
    machines = math.ceil(volume.requests_per_day / capacity)
    monthly = per_request * volume.requests_per_day * DAYS_PER_MONTH + hardware_monthly * machines
    note = "" if settings.hardware_usd else "electricity only: set a hardware price to include the machine"
    if machines > 1:
        note = f"needs {machines} machines: one serves about {capacity:,.0f} requests a day"
    return ModelProjection(m.model, True, seconds, per_request, monthly, capacity, machines, note)


def _api(m: ModelSummary, spec: ApiModelSpec, volume: Volume, settings: Settings) -> ModelProjection:
    pricing = pricing_for(spec, settings)
    seconds = _seconds(m, volume)
    cost = pricing.cost(volume.input_tokens, volume.output_tokens, seconds=seconds)
    if cost.usd is None:
        return ModelProjection(m.model, False, seconds, None, None, None, None, pricing.describe())
    return ModelProjection(m.model, False, seconds, cost.usd,
                           cost.usd * volume.requests_per_day * DAYS_PER_MONTH, None, None, pricing.describe())


def _break_even(local: ModelProjection, api: ModelProjection, volume: Volume, hardware_usd: float,
                hardware_monthly: float) -> BreakEven:
    if local.usd_per_request is None or api.usd_per_request is None:
        return BreakEven(local.model, api.model, None, None, "a price or a speed is missing")
    if hardware_usd <= 0:
        return BreakEven(local.model, api.model, None, None,
                         "set the hardware price in Settings to see when buying it pays off")
    saving = api.usd_per_request - local.usd_per_request
    if saving <= 0:
        return BreakEven(local.model, api.model, None, None,
                         f"{api.model} costs less per request than {local.model}'s electricity: "
                         f"the hardware never pays for itself")
    per_day = hardware_monthly / (DAYS_PER_MONTH * saving)
    payback = hardware_usd / (saving * volume.requests_per_day * DAYS_PER_MONTH)
    note = (f"above {per_day:,.0f} requests a day the machine pays for itself within its lifetime; "
            f"at {volume.requests_per_day:,.0f} a day it pays back in {payback:,.1f} months")
    if local.capacity_per_day and per_day > local.capacity_per_day:
        note = (f"break-even at {per_day:,.0f} requests a day, beyond the {local.capacity_per_day:,.0f} "
                f"one machine can serve: {api.model} stays cheaper")
    return BreakEven(local.model, api.model, per_day, payback, note)
