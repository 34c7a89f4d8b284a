"""Typed user settings, saved as a JSON file in the config folder (not in the SQLite store).

Plain data: this module checks types and ranges, and imports nothing of the providers or the price
tables, so every layer may read settings without pulling those in.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app import paths
from desktop_app.errors import UserError


class SettingsError(UserError):
    pass


@dataclass
class Settings:
    electricity_usd_per_kwh: float = 0.17
    # Used for local energy cost only when the CPU's measured power (RAPL) cannot be read.
    device_watts: float = 65.0
    threads: int | None = None  # None: llama.cpp's default for this machine
    # Cases of a suite a local model decodes together (continuous batching); None: as many as the
    # memory the fit estimate allows (at most 32), 1: one at a time.
    parallel: int | None = None
    gpu_layers: int = -1  # -1: offload every layer when a GPU is there
    context_size: int = 4096
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int = 0
    model_folders: list[str] = field(default_factory=list)
    model_files: list[str] = field(default_factory=list)  # single files the user added (drag and drop)
    data_folder: str | None = None  # where the run database lives; None: the platform's data folder
    # Local hardware amortization (optional): its price spread over the hours it spends on model work.
    hardware_usd: float = 0.0
    hardware_lifetime_years: float = 3.0
    hardware_busy_share: float = 0.25  # the share of its lifetime the machine spends answering prompts
    # API models the user added (openai:MODEL, anthropic:MODEL, openai-compatible:MODEL@URL).
    api_models: list[str] = field(default_factory=list)
    # Prices for API models genai-prices does not know, by model reference (see costing/prices.py).
    price_overrides: dict[str, dict[str, float]] = field(default_factory=dict)
    api_timeout_s: float = 60.0
    api_max_retries: int = 4
    api_max_concurrency: int = 4
    # An answer to a moving model alias (gpt-4o-mini) is reused only this many days after it was given.
    api_reuse_days: float = 7.0
    # An API model priced per hour is cut off after this long, so a cost cap can reserve its worst case.
    api_max_answer_s: float = 300.0
    # The prompt format per local model file, when the user chose one (see LocalModelSpec.chat_template).
    chat_templates: dict[str, str] = field(default_factory=dict)
    # The name an API model is shown and stored under, by model reference, when the user gave one
    # (else "model @ host:port" for a compatible server; see providers.api.api_model_name).
    api_model_names: dict[str, str] = field(default_factory=dict)

    def validate(self, where: str = "settings") -> None:
        def bad(name: str, why: str) -> SettingsError:
            return SettingsError(f"{where}: {name} {why}")

        if self.electricity_usd_per_kwh < 0:
            raise bad("electricity_usd_per_kwh", "must be 0 or more (dollars per kWh, e.g. 0.17)")
        if self.device_watts <= 0:
            raise bad("device_watts", "must be more than 0 (the machine's power draw under load, e.g. 65)")
        if self.threads is not None and self.threads < 1:
            raise bad("threads", "must be 1 or more, or null for automatic")
        if self.parallel is not None and not 1 <= self.parallel <= 256:
            raise bad("parallel", "must be from 1 to 256 cases at once, or null for automatic")
        if self.gpu_layers < -1:
            raise bad("gpu_layers", "must be -1 (all), 0 (none) or a number of layers")
        if self.context_size < 16:
            raise bad("context_size", "must be at least 16 tokens")
        if self.max_tokens < 1:
            raise bad("max_tokens", "must be at least 1")
        if not 0 <= self.temperature <= 5:
            raise bad("temperature", "must be between 0 and 5")
        if self.hardware_usd < 0:
            raise bad("hardware_usd", "must be 0 or more (what the machine cost, in dollars)")
        if self.hardware_lifetime_years <= 0:
            raise bad("hardware_lifetime_years", "must be more than 0 (e.g. 3)")
        if not 0 < self.hardware_busy_share <= 1:
            raise bad("hardware_busy_share", "must be more than 0 and at most 1 (e.g. 0.25 for 6 hours a day)")
        if self.api_timeout_s <= 0:
            raise bad("api_timeout_s", "must be more than 0 seconds")
        if self.api_max_retries < 0:
            raise bad("api_max_retries", "must be 0 or more")
        if self.api_max_concurrency < 1:
            raise bad("api_max_concurrency", "must be 1 or more")
        if self.api_reuse_days < 0:
            raise bad("api_reuse_days", "must be 0 or more days (0: never reuse an API answer)")
        if self.api_max_answer_s <= 0:
            raise bad("api_max_answer_s", "must be more than 0 seconds")
        # Plain-data shape only: whether a reference names a real provider and a price is consistent is
        # checked where they are used (providers.api.parse_model_ref, costing.prices.price_override), so
        # loading settings imports neither the providers nor the price tables.
        if not all(isinstance(ref, str) and ref.strip() for ref in self.api_models):
            raise bad("api_models", "must be a list of API model references, e.g. \"openai:gpt-4o-mini\"")
        for ref, price in self.price_overrides.items():
            if not isinstance(price, dict) or not all(
                    isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                    for k, v in price.items()):
                raise bad("price_overrides", f"for {ref}: must map price names to numbers, e.g. "
                                             f"{{\"input_usd_per_mtok\": 0.15, \"output_usd_per_mtok\": 0.6}}")
        for ref, name in self.api_model_names.items():
            if not isinstance(name, str) or not name.strip() or "\n" in name:
                raise bad("api_model_names", f"for {ref}: must be a one-line name, e.g. \"smol on the GPU box\"")
        for name, value in (("model_folders", self.model_folders), ("model_files", self.model_files)):
            if not all(isinstance(item, str) for item in value):
                raise bad(name, "must be a list of paths")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "settings") -> Settings:
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in _TYPES:
                continue  # a newer version's setting: keep going rather than refuse to start
            if isinstance(value, int) and not isinstance(value, bool) and float in _TYPES[key]:
                value = float(value)
            if isinstance(value, bool) or not isinstance(value, _TYPES[key]):
                raise SettingsError(f"{where}: {key} has the wrong type ({type(value).__name__}); "
                                    f"fix or delete that line")
            values[key] = value
        settings = cls(**values)
        settings.validate(where)
        return settings


_TYPES: dict[str, tuple[type, ...]] = {
    "electricity_usd_per_kwh": (float,),
    "device_watts": (float,),
    "threads": (int, type(None)),
    "parallel": (int, type(None)),
    "gpu_layers": (int,),
    "context_size": (int,),
    "max_tokens": (int,),
    "temperature": (float,),
    "seed": (int,),
    "model_folders": (list,),
    "model_files": (list,),
    "data_folder": (str, type(None)),
    "hardware_usd": (float,),
    "hardware_lifetime_years": (float,),
    "hardware_busy_share": (float,),
    "api_models": (list,),
    "price_overrides": (dict,),
    "api_timeout_s": (float,),
    "api_max_retries": (int,),
    "api_max_concurrency": (int,),
    "api_reuse_days": (float,),
    "api_max_answer_s": (float,),
    "chat_templates": (dict,),
    "api_model_names": (dict,),
}


def database_path(settings: Settings) -> Path:
    """The run database: in the chosen data folder, else the default one (MODELSCOUT_HOME wins)."""
    if settings.data_folder and not os.environ.get(paths.HOME_ENV):
        return Path(settings.data_folder).expanduser() / "modelscout.db"
    return paths.database_path()


def load(path: Path | None = None) -> Settings:
    path = path or paths.settings_path()
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the settings ({exc}); fix the file or delete it "
                            f"to go back to the defaults") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: settings must be a JSON object; fix the file or delete it")
    return Settings.from_dict(data, where=str(path))


def save(settings: Settings, path: Path | None = None) -> None:
    settings.validate()
    path = path or paths.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(settings.to_dict(), handle, indent=2)
    os.replace(tmp, path)
