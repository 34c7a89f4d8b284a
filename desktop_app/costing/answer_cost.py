"""One price for an answer under the user's current settings, shared by the runner (which stores it),
the summaries the plot and tables show, and the projection, so they never disagree.

A stored answer keeps what it was measured as (energy, its share of the machine's time, tokens,
time billed); pricing it again under today's settings is cheap and needs no new run.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from desktop_app.costing.energy import electricity_cost_usd, hardware_usd_per_second
from desktop_app.costing.prices import ApiPricing
from desktop_app.settings import Settings


def local_cost(joules: float, machine_seconds: float, settings: Settings,
               energy_source: str | None = None) -> tuple[float, dict[str, Any]]:
    """Electricity for the answer's energy, plus the machine's price spread over its working life
    (when one is set) for the answer's share of the machine's time."""
    energy = electricity_cost_usd(joules, settings.electricity_usd_per_kwh)
    hardware = machine_seconds * hardware_usd_per_second(
        settings.hardware_usd, settings.hardware_lifetime_years, settings.hardware_busy_share)
    detail: dict[str, Any] = {"kind": "electricity", "usd_per_kwh": settings.electricity_usd_per_kwh,
                              "energy_source": energy_source, "energy_usd": energy}
    if hardware:
        detail.update(kind="local", hardware_usd=hardware, hardware_price_usd=settings.hardware_usd,
                      hardware_lifetime_years=settings.hardware_lifetime_years,
                      hardware_busy_share=settings.hardware_busy_share)
    return energy + hardware, detail


def local_usd_per_second(settings: Settings) -> float:
    """What a second of local inference costs at the configured wattage, machine price included: the
    figure a live estimate counts up by while an answer streams, before its energy is measured."""
    return local_cost(settings.device_watts, 1.0, settings)[0]  # a second at `watts` is `watts` joules


def machine_seconds(row: dict[str, Any]) -> float:
    """A local answer's share of the machine's time; answers stored before sharing was split count
    their own wall time."""
    if row.get("machine_seconds") is not None:
        return float(row["machine_seconds"])
    return (row.get("wall_time_ms") or 0.0) / 1000


def reprice(row: dict[str, Any], settings: Settings, pricing: ApiPricing | None) -> float | None:
    """What a stored answer costs under `settings` (local) or `pricing` (API; None: no price known)."""
    if pricing is None:
        if row.get("energy_joules") is None:
            return row.get("cost_usd")  # no measurement to price again (an error row)
        return local_cost(row["energy_joules"], machine_seconds(row), settings)[0]
    usage = json.loads(row.get("usage_json") or "{}")
    seconds = usage.get("billed_seconds")
    if seconds is None and row.get("wall_time_ms") is not None:
        seconds = row["wall_time_ms"] / 1000
    when = None
    if row.get("created_at"):
        try:
            when = dt.datetime.fromisoformat(row["created_at"])
        except ValueError:
            pass
    return pricing.cost(row.get("prompt_tokens") or 0, row.get("completion_tokens") or 0,
                        row.get("cached_tokens") or 0, seconds, when=when).usd
