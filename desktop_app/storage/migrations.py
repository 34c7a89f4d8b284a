"""Ordered, named schema migrations; each runs once and is recorded in the _migrations table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    db["runs"].create(
        {
            "id": str,
            "created_at": str,
            "finished_at": str,
            "status": str,  # running, interrupted, complete
            "kind": str,  # suite or compare
            "suite_name": str,
            "suite_version": str,
            "suite_hash": str,
            "suite_json": str,  # the whole suite, so the run can be resumed and re-scored as it was
            "sampling_json": str,
            "settings_json": str,
            "hardware_json": str,
            "app_version": str,
            "llama_cpp_version": str,
        },
        pk="id",
        not_null={"created_at", "status", "kind"},
    )
    db["run_models"].create(
        {
            "run_id": str,
            "model_key": str,  # unique within a run; also the label shown to the user
            "position": int,
            "provider": str,
            "path": str,
            "spec_json": str,  # how to recreate the provider (path, load settings)
            "identity_json": str,  # file sha256, metadata, llama.cpp version, load settings
            "metadata_json": str,
        },
        pk=("run_id", "model_key"),
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["results"].create(
        {
            "id": int,
            "run_id": str,
            "model_key": str,
            "case_id": str,
            "request_hash": str,
            "request_json": str,
            "text": str,
            "finish_reason": str,
            "prompt_tokens": int,
            "completion_tokens": int,
            "cached_tokens": int,
            "time_to_first_token_ms": float,
            "prompt_tokens_per_second": float,
            "generation_tokens_per_second": float,
            "wall_time_ms": float,
            "peak_memory_bytes": int,
            "error": str,
            "usage_json": str,
            "grade_passed": int,
            "grade_score": float,
            "grade_reason": str,
            "grade_json": str,
            "energy_joules": float,
            "energy_source": str,
            "cost_usd": float,
            "cost_json": str,
            "reused_from": int,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["results"].create_index(["run_id", "model_key", "case_id"], unique=True)
    db["results"].create_index(["request_hash"])


@migration
def m002_human_labels(db: sqlite_utils.Database) -> None:
    # A person's verdict on an answer: 1 good, -1 bad, NULL not judged.
    db["results"].add_column("human_label", int)


@migration
def m003_cost_cap(db: sqlite_utils.Database) -> None:
    # The most a run may spend on paid APIs, in dollars; NULL for no cap.
    db["runs"].add_column("max_cost_usd", float)


@migration
def m004_measurement_conditions(db: sqlite_utils.Database) -> None:
    # What an answer's figures were measured under, so they are only compared with their like.
    results = db["results"]
    for name, kind in (
        ("threads", int),  # CPU threads the local model used
        ("sharing", int),  # other local models answering at the same time (the most at once)
        ("load_average", float),  # the 1-minute load average when the answer ended
        ("other_cpu_share", float),  # share of the machine's CPU other programs took during the answer
        ("under_load", int),  # 1: other programs were busy enough to distort the figures
        ("machine_seconds", float),  # the answer's share of the machine's time (split while sharing)
        ("chat_template", str),  # the prompt format a local model was given
        ("served_model", str),  # the model name an API server reported
        ("error_kind", str),  # transient (resume retries it) or permanent
        ("identity_json", str),  # the model identity the request hash was made from
        ("peak_memory_scope", str),  # answer or process
        ("prior_attempts_usd", float),  # what earlier failed attempts at this cell cost
    ):
        results.add_column(name, kind)
    db["runs"].add_column("status_reason", str)  # why a run is failed or incomplete, in words


@migration
def m005_judgments_and_votes(db: sqlite_utils.Database) -> None:
    # A model's verdict on one answer (single) or on two answers to one case (pair, asked in both
    # orders); reused by request_hash like answers; its cost is the judge's, apart from the answers'.
    db["judgments"].create(
        {
            "id": int,
            "run_id": str,
            "kind": str,  # single or pair
            "case_id": str,
            "model_key": str,
            "other_model_key": str,  # pair: the model compared with
            "judge_key": str,  # the judge as shown (its model reference)
            "judge_identity_json": str,
            "rubric_hash": str,
            "request_hash": str,
            "verdict": str,  # single: 1..10; pair: A, B or C as first asked
            "swapped_verdict": str,  # pair: the verdict with the answers' order swapped
            "outcome": str,  # pair: the winner's model key, "tie" or "inconsistent"
            "score": float,  # single: 0..1
            "reason": str,  # the judge's own words
            "error": str,  # the call failed or the verdict could not be read (the text is kept in reason)
            "error_kind": str,
            "cost_usd": float,
            "cost_json": str,
            "prompt_tokens": int,
            "completion_tokens": int,
            "wall_time_ms": float,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["judgments"].create_index(["run_id", "kind", "case_id", "model_key", "other_model_key", "judge_key",
                                  "rubric_hash"], unique=True)
    db["judgments"].create_index(["request_hash"])
    # A person's blind choice between two answers to one case.
    db["votes"].create(
        {
            "id": int,
            "run_id": str,
            "case_id": str,
            "left_model": str,  # as shown, after the sides were randomised
            "right_model": str,
            "outcome": str,  # left, right, tie or both_bad
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["votes"].create_index(["run_id", "case_id"])
    # How the run's answers are scored beyond the suite's checks: judge, reference model, rubric.
    db["runs"].add_column("scoring_json", str)


@migration
def m006_run_owner(db: sqlite_utils.Database) -> None:
    # The process running a run (see storage/ownership.py): a second process does not resume a run
    # whose owner is alive. NULL: nobody runs it now (finished, stopped, or recorded before owners were).
    runs = db["runs"]
    runs.add_column("owner_pid", int)
    runs.add_column("owner_host", str)
    runs.add_column("owner_started", float)  # when the owner process started, seconds since the epoch
    runs.add_column("heartbeat_at", str)  # renewed by the owner while it works


@migration
def m007_batched_answers(db: sqlite_utils.Database) -> None:
    # Local answers decoded several at a time (providers/llama_engine.py): the parallel setting they were
    # made with (1: one at a time; NULL: an API answer or one stored before batching) and the tokens/s the
    # whole batch wrote meanwhile (the speed the machine delivered; the answer's own is slower).
    results = db["results"]
    results.add_column("parallel", int)
    results.add_column("batch_tokens_per_second", float)


def pending(db: sqlite_utils.Database) -> list[str]:
    """The names of the migrations this database has not had (all of them for a new one)."""
    table = db["_migrations"]
    done = {row["name"] for row in table.rows} if table.exists() else set()
    return [fn.__name__ for fn in MIGRATIONS if fn.__name__ not in done]


def apply(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied now.

    Several connections may open a new database at once (the app's workers each open their own, a CLI may
    start meanwhile): each migration is checked and applied under the write lock (BEGIN IMMEDIATE waits for
    it as long as the connection's timeout allows), so it runs once, and no opener fails "database is locked".
    """
    if not pending(db):  # the usual case: nothing to do, no lock taken
        return []
    table = db["_migrations"]
    applied = []
    for fn in MIGRATIONS:
        # A migration lands whole or not at all: DDL joins the explicit transaction.
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("create table if not exists [_migrations] ([name] TEXT PRIMARY KEY, [applied_at] TEXT)")
            if db.execute("select 1 from [_migrations] where name = ?", [fn.__name__]).fetchone():
                db.conn.rollback()  # recorded already (perhaps by another connection just now)
                continue
            fn(db)
            table.insert({"name": fn.__name__,
                          "applied_at": dt.datetime.now(dt.timezone.utc).isoformat()})
        except BaseException:
            db.conn.rollback()
            raise
        db.conn.commit()
        applied.append(fn.__name__)
    return applied
