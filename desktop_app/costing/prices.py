"""What an API answer costs: genai-prices' tables, or the user's own price for an endpoint it lacks.

An override is dollars per million input and output tokens, or dollars per hour for a server
the user rents (a GPU box running llama-server or vLLM), turned into a per-answer figure by the
time the answer took on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from desktop_app.errors import UserError
from desktop_app.providers.api import ApiModelSpec, estimate_prompt_tokens
from desktop_app.providers.base import Request
from desktop_app.units import format_usd_price
from desktop_app.versions import installed_version

if TYPE_CHECKING:
    from desktop_app.settings import Settings


class PriceError(UserError):
    pass


@dataclass(frozen=True)
class PriceOverride:
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    cached_input_usd_per_mtok: float | None = None  # None: cached input costs as much as input
    usd_per_hour: float | None = None

    def __post_init__(self) -> None:
        values = [v for v in asdict(self).values() if v is not None]
        if any(v < 0 for v in values):
            raise PriceError("prices must be 0 or more")
        per_token = self.input_usd_per_mtok is not None or self.output_usd_per_mtok is not None
        if per_token == (self.usd_per_hour is not None):
            raise PriceError("give either dollars per million tokens (input and output) or dollars per "
                             "hour, not both and not neither")
        if per_token and (self.input_usd_per_mtok is None or self.output_usd_per_mtok is None):
            raise PriceError("give both the input and the output price per million tokens")

    def to_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "price") -> PriceOverride:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise PriceError(f"{where}: unknown price fields {', '.join(sorted(unknown))}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in data.values()):
            raise PriceError(f"{where}: prices must be numbers")
        return cls(**{k: float(v) for k, v in data.items()})

    def describe(self) -> str:
        if self.usd_per_hour is not None:
            return f"{format_usd_price(self.usd_per_hour)}/hour (your price)"
        return (f"{format_usd_price(self.input_usd_per_mtok)} in / {format_usd_price(self.output_usd_per_mtok)} "
                f"out per M tokens (your price)")


def price_override(settings: Settings, ref: str) -> PriceOverride | None:
    """The user's own price for an API model (None: the published one), as Settings keeps it; an entry
    that is not a valid price is a plain error naming it and how to fix it."""
    data = settings.price_overrides.get(ref)
    if not data:
        return None
    try:
        return PriceOverride.from_dict(data, where=ref)
    except PriceError as exc:
        raise PriceError(f"settings: price_overrides: {exc}; set it again with `modelscout prices set {ref} "
                         f"...` (or in Settings > API models), or delete it with `modelscout prices delete "
                         f"{ref}`") from None


def pricing_for(spec: ApiModelSpec, settings: Settings) -> ApiPricing:
    """How an API model is priced under the user's settings: their price for it, else the published one."""
    return ApiPricing(spec, price_override(settings, spec.ref))


def _price_text(price: Any) -> str:
    """$0.15 in / $0.60 out per M tokens (cached input $0.075); the table's own words when it is unusual."""
    tiered = False

    def plain(value: Any) -> str | None:
        nonlocal tiered
        if hasattr(value, "base"):  # dearer above a prompt length: the base price, marked
            tiered, value = True, value.base
        try:
            return format_usd_price(float(value))
        except (TypeError, ValueError):
            return None

    text_in, text_out = plain(price.input_mtok), plain(price.output_mtok)
    if text_in is None or text_out is None:
        return str(price)
    cached = plain(price.cache_read_mtok) if price.cache_read_mtok is not None else None
    return (f"{text_in} in / {text_out} out per M tokens" + (f" (cached input {cached})" if cached else "")
            + (", more for long prompts" if tiered else ""))


def genai_prices_version() -> str:
    return installed_version("genai-prices")


@dataclass(frozen=True)
class Cost:
    usd: float | None  # None: no price known
    detail: dict[str, Any]


class ApiPricing:
    """The price of one API model: an override wins, then genai-prices, else unknown."""

    def __init__(self, spec: ApiModelSpec, override: PriceOverride | None = None) -> None:
        self.spec = spec
        self.override = override
        self._match: tuple[str, str, str] | None = None  # provider id, model id, price text
        if override is None:
            try:
                calc = self._calc(1_000_000, 1_000_000, 0)
                self._match = (calc.provider.id, calc.model.id, _price_text(calc.model_price))
            except LookupError:
                pass

    @property
    def known(self) -> bool:
        return self.override is not None or self._match is not None

    def describe(self) -> str:
        if self.override is not None:
            return self.override.describe()
        if self._match is not None:
            return f"{self._match[2]} (genai-prices {genai_prices_version()})"
        return "no price known: set one with `modelscout prices set` or in Settings"

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0,
             seconds: float | None = None, when: dt.datetime | None = None) -> Cost:
        """What this answer cost, and the prices that made the figure (stored with the answer)."""
        prompt_tokens, completion_tokens = prompt_tokens or 0, completion_tokens or 0
        cached_tokens = min(cached_tokens or 0, prompt_tokens)
        override = self.override
        if override is not None and override.usd_per_hour is not None:
            if seconds is None:
                return Cost(None, {"kind": "api", "source": "override", "error": "no time measured"})
            return Cost(override.usd_per_hour * seconds / 3600,
                        {"kind": "api", "source": "override", **override.to_dict(), "seconds": seconds})
        if override is not None:
            cached_price = override.cached_input_usd_per_mtok
            if cached_price is None:
                cached_price = override.input_usd_per_mtok
            usd = ((prompt_tokens - cached_tokens) * override.input_usd_per_mtok
                   + cached_tokens * cached_price + completion_tokens * override.output_usd_per_mtok) / 1e6
            return Cost(usd, {"kind": "api", "source": "override", **override.to_dict()})
        if self._match is None:
            return Cost(None, {"kind": "api", "source": "unknown"})
        when = when or dt.datetime.now(dt.timezone.utc)
        calc = self._calc(prompt_tokens, completion_tokens, cached_tokens, when)
        return Cost(float(calc.total_price), {
            "kind": "api", "source": "genai-prices", "prices_version": genai_prices_version(),
            "priced_for": when.date().isoformat(), "provider_id": calc.provider.id, "model_id": calc.model.id,
            "model_price": str(calc.model_price), "input_usd": float(calc.input_price),
            "output_usd": float(calc.output_price)})

    def worst_case(self, request: Request) -> float | None:
        """The most this request can cost: its prompt counted high, every allowed output token used;
        by the hour, the rate for the longest an answer may take. None: nothing bounds it."""
        if not self.known:
            return None
        if self.override is not None and self.override.usd_per_hour is not None:
            if self.spec.deadline_s is None:
                return None
            # The deadline is checked every 50 ms: a second's slack keeps the bound a bound.
            return self.override.usd_per_hour * (self.spec.deadline_s + 1.0) / 3600
        return self.cost(estimate_prompt_tokens(request), request.sampling.max_tokens).usd

    def _calc(self, prompt: int, completion: int, cached: int, when: dt.datetime | None = None) -> Any:
        import genai_prices  # imported on first use: its price tables take ~0.2 s to load

        usage = genai_prices.Usage(input_tokens=prompt, output_tokens=completion,
                                   cache_read_tokens=cached or None)
        if self.spec.provider == "openai-compatible":
            return genai_prices.calc_price(usage, self.spec.model, provider_api_url=self.spec.endpoint,
                                           genai_request_timestamp=when)
        return genai_prices.calc_price(usage, self.spec.model, provider_id=self.spec.provider,
                                       genai_request_timestamp=when)
