"""Recording a run's answers: each graded and stored the moment it lands, with what it was measured
under and what it cost; and, once the plan is through, how the run ended."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from desktop_app.providers.base import Request, Result, Sampling
from desktop_app.runner.events import CaseFinished
from desktop_app.runner.machine import Conditions
from desktop_app.runner.planning import request_for
from desktop_app.scoring.checks import grade
from desktop_app.storage.store import Store, dumps
from desktop_app.suites import Case


class Recorder:
    def __init__(self, store: Store) -> None:
        self.store = store

    def answer(self, run_id: str, key: str, case: Case, request: Request, digest: str,
               identity: dict[str, Any] | None, result: Result, cost_usd: float | None,
               cost_detail: dict[str, Any], conditions: Conditions | None,
               energy_source: str | None) -> dict[str, Any]:
        """Store one answer (or its error) and return the stored row."""
        graded = grade(case, result.text) if result.ok else None
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
            "peak_memory_scope": result.peak_memory_scope,
            "error": result.error, "error_kind": result.error_kind if result.error else None,
            "usage_json": dumps(result.usage if result.billed_seconds is None
                                else {**result.usage, "billed_seconds": result.billed_seconds}),
            "grade_passed": None if graded is None else int(graded.passed),
            "grade_score": None if graded is None else graded.score,
            "grade_reason": None if graded is None else graded.reason,
            "grade_json": None if graded is None else dumps(graded.to_dict()),
            "energy_joules": None if conditions is None else conditions.joules,
            "energy_source": energy_source,
            "cost_usd": cost_usd, "cost_json": dumps(cost_detail),
            "threads": result.threads, "chat_template": result.chat_template,
            "served_model": result.served_model,
            "parallel": result.parallel, "batch_tokens_per_second": result.batch_tokens_per_second,
            "identity_json": None if identity is None else dumps(identity),
        }
        if conditions is not None:
            row.update(sharing=conditions.sharing, load_average=conditions.load_average,
                       other_cpu_share=conditions.other_cpu_share, under_load=int(conditions.under_load),
                       machine_seconds=conditions.machine_seconds)
        row["id"] = self.store.add_result(row)
        return row

    def reused(self, run_id: str, key: str, case: Case, previous: dict[str, Any]) -> dict[str, Any]:
        """An identical request answered before: its text, graded again (the suite's checks may have
        changed); its measurements stay, marked as taken in the run `reused_from` belongs to. A
        person's verdict belongs to the run it was given in and is not copied."""
        row = {k: v for k, v in previous.items()
               if k not in ("id", "created_at", "human_label", "prior_attempts_usd", "measured_in_run")}
        graded = grade(case, row["text"])
        row.update(run_id=run_id, model_key=key, case_id=case.id, reused_from=previous["id"],
                   grade_passed=None if graded is None else int(graded.passed),
                   grade_score=None if graded is None else graded.score,
                   grade_reason=None if graded is None else graded.reason,
                   grade_json=None if graded is None else dumps(graded.to_dict()))
        row["id"] = self.store.add_result(row)
        row["measured_in_run"] = previous["run_id"]
        return row

    def failures(self, run_id: str, key: str, cases: list[Case], sampling: Sampling,
                 error: str, kind: str) -> Iterator[CaseFinished]:
        """A model that cannot answer at all gets an error row for each case, so the run completes."""
        for case in cases:
            row = self.answer(run_id, key, case, request_for(case, sampling), "", None,
                              Result(finish_reason="error", error=error, error_kind=kind), 0.0,
                              {"kind": "none"}, None, None)
            yield CaseFinished(key, case.id, row, False, 0, 0)

    def outcome(self, run_id: str) -> tuple[str, str | None]:
        """How a run that got through its plan ended: complete, incomplete or failed, and why."""
        rows = self.store.results(run_id)
        errors = [r for r in rows if r["error"]]
        retry = [r for r in errors if r["error_kind"] == "transient"]
        if rows and len(errors) == len(rows):
            return "failed", (f"every answer failed ({len(rows)} of {len(rows)}), e.g. {errors[0]['error']}"
                              + ("; resume to try again" if retry else ""))
        if retry:
            return "incomplete", (f"{len(retry)} of {len(rows)} answers failed for a reason that may pass "
                                  f"(e.g. {retry[0]['error']}); resume to retry them")
        if errors:  # nothing left to try, but not every answer is there: said, never a silent "complete"
            return "complete", (f"{len(errors)} of {len(rows)} answers failed for good and are stored as errors "
                                f"(e.g. {errors[0]['error']}); resuming would not change them")
        return "complete", None
