"""Events a run streams to its front end (CLI progress line, Qt worker), in the order they happen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    total: int  # cells in the plan: cases x models
    done: int  # cells already stored (a resumed run)


@dataclass(frozen=True)
class ModelLoading:
    model_key: str


@dataclass(frozen=True)
class ModelLoaded:
    model_key: str
    load_ms: float
    memory_bytes: int | None


@dataclass(frozen=True)
class ModelFailed:
    model_key: str
    error: str


@dataclass(frozen=True)
class CaseStarted:
    model_key: str
    case_id: str


@dataclass(frozen=True)
class TokenStreamed:
    model_key: str
    case_id: str
    text: str


@dataclass(frozen=True)
class CaseFinished:
    model_key: str
    case_id: str
    row: dict[str, Any]  # the stored result row
    reused: bool
    done: int  # cells stored so far, this one included
    total: int


@dataclass(frozen=True)
class BudgetReached:
    """The run's cost cap stops a paid model before a request that could go over it."""

    model_key: str
    case_id: str
    spent_usd: float
    cap_usd: float
    next_request_usd: float  # the worst case of the request not sent


@dataclass(frozen=True)
class PriceNeeded:
    """A capped run stops a paid model whose price is unknown: the cap could not bound it."""

    model_key: str
    model_ref: str  # as `modelscout prices set` takes it


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    status: str  # complete, incomplete (answers to retry), failed (every answer failed) or interrupted
    reason: str | None = None  # why, in words, when it is not simply complete


RunEvent = (RunStarted | ModelLoading | ModelLoaded | ModelFailed | CaseStarted | TokenStreamed
            | CaseFinished | BudgetReached | PriceNeeded | RunFinished)
