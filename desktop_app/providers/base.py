"""The provider contract: a request goes in, text deltas stream out, one result record ends it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from desktop_app.errors import UserError


class ProviderError(UserError):
    """A model could not be loaded or reached; the message says why and what to do."""


@dataclass(frozen=True)
class Sampling:
    """How to sample an answer; part of what makes a stored answer reproducible."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    max_tokens: int = 256
    seed: int = 0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.temperature <= 5:
            raise ValueError(f"temperature must be between 0 and 5, not {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], not {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {self.max_tokens}")
        object.__setattr__(self, "stop", tuple(self.stop))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sampling:
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown sampling settings: {', '.join(sorted(unknown))}")
        return cls(**{**data, "stop": tuple(data.get("stop", ()))})


@dataclass(frozen=True)
class Request:
    messages: tuple[dict[str, str], ...]
    sampling: Sampling = field(default_factory=Sampling)

    @classmethod
    def chat(cls, prompt: str, system: str | None = None, sampling: Sampling | None = None) -> Request:
        messages = ({"role": "system", "content": system},) if system else ()
        messages += ({"role": "user", "content": prompt},)
        return cls(messages, sampling or Sampling())

    def to_dict(self) -> dict[str, Any]:
        return {"messages": [dict(m) for m in self.messages], "sampling": self.sampling.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Request:
        return cls(tuple(data["messages"]), Sampling.from_dict(data["sampling"]))


@dataclass(frozen=True)
class Token:
    """A piece of answer text, as soon as the model produced it."""

    text: str


@dataclass(frozen=True)
class Admitted:
    """A request of a batch has started (a slot freed for it); its tokens follow."""


@dataclass
class Result:
    """Everything measured about one answer; a failed answer is a Result with `error` set."""

    text: str = ""
    finish_reason: str | None = None  # "stop", "length", "cancelled" or "error"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    time_to_first_token_ms: float | None = None
    prompt_tokens_per_second: float | None = None
    generation_tokens_per_second: float | None = None
    wall_time_ms: float | None = None
    peak_memory_bytes: int | None = None
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # provider's raw usage, for pricing
    # "transient" when trying again may help (rate limit, 5xx, timeout, dropped connection, empty
    # answer, worker crash, out of memory at load), else "permanent"; None for an answer.
    error_kind: str | None = None
    threads: int | None = None  # CPU threads a local model decoded with
    chat_template: str | None = None  # the prompt format a local model was given (see llama_worker)
    peak_memory_scope: str | None = None  # "answer": peak during this answer; "process": worker's lifetime
    served_model: str | None = None  # the model name an API server reported answering with
    billed_seconds: float | None = None  # an API request's time on the wire, all attempts (per-hour prices)
    # Local answers decoded in a batch (llama_engine): how many requests could be decoded together,
    # the tokens/s all of them together wrote while this one did, its share of the decoding time (by
    # tokens: the shares of a batch add up to its time) and how long it waited for a free slot.
    parallel: int | None = None
    batch_tokens_per_second: float | None = None
    busy_seconds: float | None = None
    queued_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Provider(Protocol):
    """One model behind one API. Local and remote models implement the same few calls."""

    label: str

    def load(self) -> None:
        """Get ready to answer (idempotent). Raises ProviderError with a plain reason."""

    def identity(self) -> dict[str, Any]:
        """What an answer depends on besides the request (file hash, versions, load settings)."""

    def stream(self, request: Request, cancel: threading.Event | None = None) -> Iterator[Token | Result]:
        """Yield Tokens as they come, then exactly one Result (also on failure or cancel)."""

    def close(self) -> None:
        """Free the model's memory; safe to call twice."""


def request_hash(identity: dict[str, Any], request: Request) -> str:
    """Identical identity + request means an identical answer is expected, so it can be reused."""
    canonical = json.dumps({"model": identity, "request": request.to_dict()}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
