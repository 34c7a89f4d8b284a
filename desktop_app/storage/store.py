"""The local SQLite store of runs and answers (sqlite-utils, WAL mode, named migrations)."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.storage import migrations
from desktop_app.storage.ownership import RunOwner


class StoreError(UserError):
    pass


class RunInUse(StoreError):
    """Another live process is running this run: resuming it here would answer its cases twice."""

    exit_code = 2


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _read_only_reason(path: Path) -> str | None:
    """Why the store at `path` cannot be written (its folder or the file is read-only), or None."""
    folder = path.parent
    if not os.access(folder, os.W_OK):
        return (f"the data folder {folder} is read-only: make it writable, or choose a writable data folder "
                f"(Settings > Data folder, or the {paths.HOME_ENV} environment variable)")
    if path.exists() and not os.access(path, os.W_OK):
        return (f"the database {path} is read-only: make it writable, or choose a writable data folder "
                f"(Settings > Data folder, or the {paths.HOME_ENV} environment variable)")
    return None


class Store:
    """The run database. Opened read-only when its folder or file cannot be written: every reading
    query works, and the first write raises a StoreError that says what to do (`read_only` says why)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else paths.database_path()
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data folder {self.path.parent} ({exc.strerror}): make its "
                             f"parent writable, or choose a writable data folder (Settings > Data folder, or "
                             f"the {paths.HOME_ENV} environment variable)") from None
        self.read_only = _read_only_reason(self.path)
        try:
            if self.read_only:
                self.db = self._open_read_only()
            else:
                # One connection serves a runner's model threads: every use of it holds _lock (sqlite-utils
                # wraps queries in savepoints, which interleaved threads would tangle).
                self.db = sqlite_utils.Database(sqlite3.connect(self.path, timeout=30, check_same_thread=False))
                self.db.execute("PRAGMA foreign_keys = ON")
                _enable_wal(self.db)
                migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            if _is_read_only_error(exc):  # a read-only mount or a file system that refuses writes
                raise StoreError(_read_only_reason(self.path) or
                                 f"the database {self.path} cannot be written ({exc}): make it writable, or "
                                 f"choose a writable data folder (Settings > Data folder, or the "
                                 f"{paths.HOME_ENV} environment variable)") from None
            raise StoreError(f"cannot open the ModelScout database {self.path}: {exc}. If the file is "
                             f"damaged, move it away and ModelScout starts a new one") from None

    def _open_read_only(self) -> sqlite_utils.Database:
        """Open for reading only: no migration, no journal change. Where SQLite cannot even create the WAL
        index beside the file, the file is opened as immutable (nothing else can be writing it then)."""
        if not self.path.exists():
            raise StoreError(f"{self.read_only}; ModelScout cannot create its database {self.path} there")
        uri = "file:" + urllib.parse.quote(str(self.path))
        try:
            conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=30, check_same_thread=False)
            conn.execute("select count(*) from sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn = sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, check_same_thread=False)
        db = sqlite_utils.Database(conn)
        missing = migrations.pending(db)
        if missing:
            raise StoreError(f"the database {self.path} was written by an older ModelScout and needs an update "
                             f"before it can be read, but {self.read_only}")
        return db

    def require_writable(self) -> None:
        """Fail now, in words, rather than halfway through a write."""
        if self.read_only:
            raise StoreError(self.read_only)

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.require_writable()
        try:
            with self._lock, self.db.conn:
                yield
        except sqlite3.OperationalError as exc:
            if _is_read_only_error(exc):  # made read-only while open, or a mount that refuses writes
                raise StoreError(_read_only_reason(self.path) or f"the database {self.path} cannot be "
                                 f"written ({exc}): make it writable") from None
            raise

    def _query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(sql, params or []))

    # Runs ---------------------------------------------------------------------------------

    def new_run_id(self) -> str:
        while True:
            run_id = secrets.token_hex(4)
            if not self._query("select 1 from runs where id = ?", [run_id]):
                return run_id

    def create_run(self, run: dict[str, Any], models: list[dict[str, Any]]) -> None:
        """Store a planned run; one created running is owned by this process from the start."""
        row = {"created_at": now(), "status": "running", **run}
        if row["status"] == "running":
            row.update(RunOwner.this_process().columns(now()))
        with self.transaction():
            self.db["runs"].insert(row)
            self.db["run_models"].insert_all(
                {"run_id": run["id"], "position": i, **m} for i, m in enumerate(models))

    def resolve_run_id(self, run_id: str) -> str:
        """Accept a full run id or an unambiguous prefix of one."""
        rows = [r["id"] for r in self._query(
            "select id from runs where id = ? or id like ? order by id", [run_id, run_id + "%"])]
        if run_id in rows:
            return run_id
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise StoreError(f"no run with id {run_id!r} in {self.path}; "
                             f"`modelscout runs` lists the stored runs")
        raise StoreError(f"run id {run_id!r} is ambiguous ({', '.join(rows[:5])}); give more characters")

    def run(self, run_id: str) -> dict[str, Any]:
        return self._query("select * from runs where id = ?", [self.resolve_run_id(run_id)])[0]

    def suite_cases(self, run_id: str) -> list[dict[str, Any]]:
        """The cases of the suite a run was made from, in order. SQLite takes the suite apart and each case
        is parsed alone: one json.loads of a suite of 25,000 cases holds Python's lock for a fifth of a
        second, which a window waiting on it feels."""
        rows = self._query("select j.value as c from runs r, json_each(r.suite_json, '$.cases') j "
                           "where r.id = ? order by j.key", [run_id])
        return [json.loads(row["c"]) for row in rows]

    def runs(self, limit: int | None = 50, offset: int = 0, search: str | None = None) -> list[dict[str, Any]]:
        """Runs newest first, a page at a time (`limit` None: all of them); `search` keeps those whose id
        starts with it or whose suite or a model's name or label contains it (any case)."""
        where, params = _run_search(search)
        return self._query(
            "select r.id, r.created_at, r.status, r.status_reason, r.kind, r.suite_name, r.suite_version, "
            "r.owner_pid, r.owner_host, r.owner_started, r.heartbeat_at, "
            "(select count(*) from run_models m where m.run_id = r.id) as models, "
            "(select count(*) from results s where s.run_id = r.id) as results, "
            "(select count(*) from results s where s.run_id = r.id and s.error is not null "
            "and s.error_kind = 'transient') as retryable "
            f"from runs r {where} order by r.created_at desc, r.id limit ? offset ?",
            [*params, -1 if limit is None else limit, offset])

    def count_runs(self, search: str | None = None) -> int:
        """How many runs there are (that match `search`, as `runs` matches it)."""
        where, params = _run_search(search)
        return int(self._query(f"select count(*) as n from runs r {where}", params)[0]["n"])

    # Who runs a run ---------------------------------------------------------------------------

    def run_owner(self, run_id: str) -> RunOwner | None:
        """The process recorded as running this run, alive or not; None when none is."""
        rows = self._query("select owner_pid, owner_host, owner_started, heartbeat_at from runs where id = ?",
                           [run_id])
        return RunOwner.from_row(rows[0]) if rows else None

    def live_owner_elsewhere(self, run_id: str) -> RunOwner | None:
        """Another process that is running this run now, or None (the app's own runs it tracks itself)."""
        owner = self.run_owner(run_id)
        if owner is None or owner.is_this_process or not owner.is_alive():
            return None
        return owner

    def check_not_running_elsewhere(self, run_id: str) -> None:
        """Raise RunInUse when another live process runs this run."""
        owner = self.live_owner_elsewhere(run_id)
        if owner is not None:
            raise RunInUse(owner.describe(run_id))

    def claim_run(self, run_id: str) -> None:
        """Record this process as the run's owner, unless another live process owns it (RunInUse: then
        nothing is written). The check and the claim are one write transaction, so two processes
        resuming a run at the same moment cannot both get it."""
        self.require_writable()
        owner = RunOwner.this_process()
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_read_only_error(exc):
                    raise StoreError(_read_only_reason(self.path) or f"the database {self.path} cannot be "
                                     f"written ({exc}): make it writable") from None
                raise
            try:
                current = self.live_owner_elsewhere(run_id)
                if current is None:
                    self.db.execute("update runs set owner_pid = ?, owner_host = ?, owner_started = ?, "
                                    "heartbeat_at = ? where id = ?",
                                    [owner.pid, owner.host, owner.process_started, now(), run_id])
            except BaseException:
                self.db.conn.rollback()
                raise
            if current is not None:
                self.db.conn.rollback()
                raise RunInUse(current.describe(run_id))
            self.db.conn.commit()

    def heartbeat(self, run_id: str) -> None:
        """The owner is still at work (other machines judge it alive by this)."""
        owner = RunOwner.this_process()
        with self.transaction():
            self.db.execute("update runs set heartbeat_at = ? where id = ? and owner_pid = ? and owner_host = ?",
                            [now(), run_id, owner.pid, owner.host])

    def set_run_status(self, run_id: str, status: str, reason: str | None = None) -> None:
        """running, interrupted, complete, incomplete (some answers failed for a passing reason: resume
        retries them) or failed (every answer failed); `reason` says why in words."""
        finished = now() if status in ("complete", "incomplete", "failed") else None
        columns: dict[str, Any] = {"status": status, "finished_at": finished, "status_reason": reason}
        if status != "running":  # stopped or finished: nobody runs it any more
            columns.update(owner_pid=None, owner_host=None, owner_started=None, heartbeat_at=None)
        with self.transaction():
            self.db["runs"].update(run_id, columns)

    def set_cost_cap(self, run_id: str, max_cost_usd: float | None) -> None:
        with self.transaction():
            self.db["runs"].update(run_id, {"max_cost_usd": max_cost_usd})

    def api_spend(self, run_id: str) -> float:
        """Dollars this run has paid for API answers (answers reused from earlier runs cost nothing now)."""
        rows = self._query(
            "select coalesce(sum(coalesce(s.cost_usd, 0) + coalesce(s.prior_attempts_usd, 0)), 0) as spent "
            "from results s join run_models m "
            "on m.run_id = s.run_id and m.model_key = s.model_key "
            "where s.run_id = ? and m.provider != 'llama.cpp' and s.reused_from is null", [run_id])
        return float(rows[0]["spent"])

    def run_models(self, run_id: str) -> list[dict[str, Any]]:
        return self._query(
            "select * from run_models where run_id = ? order by position", [run_id])

    def set_human_label(self, result_id: int, label: int | None) -> None:
        """Record a person's verdict on an answer: 1 good, -1 bad, None to clear it."""
        if label not in (1, -1, None):
            raise ValueError(f"a label is 1 (good), -1 (bad) or None, not {label!r}")
        with self.transaction():
            self.db["results"].update(result_id, {"human_label": label})

    # Results ------------------------------------------------------------------------------

    def add_result(self, row: dict[str, Any]) -> int:
        """Store an answer; one that retries a failed cell replaces the failure, carrying what the
        earlier attempts cost, so a run's spend stays whole."""
        with self.transaction():
            earlier = list(self.db.query(
                "select id, case when reused_from is null then coalesce(cost_usd, 0) "
                "+ coalesce(prior_attempts_usd, 0) else 0 end as spent from results "
                "where run_id = ? and model_key = ? and case_id = ?",
                [row["run_id"], row["model_key"], row["case_id"]]))
            if earlier:
                self.db.execute("delete from results where id = ?", [earlier[0]["id"]])
                if earlier[0]["spent"]:
                    row = {**row, "prior_attempts_usd": earlier[0]["spent"]}
            table = self.db["results"].insert({"created_at": now(), **row})
        return int(table.last_pk)

    def results(self, run_id: str, omit: Collection[str] = ()) -> list[dict[str, Any]]:
        """A run's answers; a reused one says in `measured_in_run` which run its figures come from. Without the
        columns named in `omit`: a run's summary needs no answer's text, and reads 100,000 answers faster."""
        picked = "s.*"
        if omit:
            with self._lock:
                names = [column.name for column in self.db["results"].columns if column.name not in omit]
            picked = ", ".join(f's."{name}"' for name in names)
        return self._query(
            f"select {picked}, o.run_id as measured_in_run from results s join run_models m "
            "on m.run_id = s.run_id and m.model_key = s.model_key "
            "left join results o on o.id = s.reused_from "
            "where s.run_id = ? order by m.position, s.id", [run_id])

    def answers_version(self, run_id: str) -> tuple[Any, ...]:
        """Something that changes whenever a run's answers do (one added, replaced, graded again, given a
        person's verdict), worked out by SQLite without reading them: figures made from the answers are still
        good while it stays the same. Each answer's marks count with a weight of its own, so two changes do not
        cancel out."""
        row = self._query(
            "select count(*) as answers, max(id) as last, max(created_at) as newest, "
            "sum(w * coalesce(human_label, 3)) as labels, sum(w * coalesce(grade_passed, 3)) as passes, "
            "total(w * coalesce(grade_score, -1)) as scores, sum(w * (error is null)) as errors, "
            "total(w * (coalesce(cost_usd, -1) + coalesce(wall_time_ms, -1) + coalesce(energy_joules, -1) "
            "+ coalesce(completion_tokens, -1) + coalesce(under_load, -1) * 7 + coalesce(sharing, -1) * 11)) "
            "as measured from (select *, (id * 2654435761) % 4294967291 as w from results where run_id = ?)",
            [run_id])[0]
        return tuple(row.values())

    def done_cells(self, run_id: str) -> set[tuple[str, str]]:
        """Cells that need no more work: answered, or failed for a reason trying again will not fix."""
        return {(r["model_key"], r["case_id"]) for r in self._query(
            "select model_key, case_id from results where run_id = ? "
            "and (error is null or coalesce(error_kind, '') != 'transient')", [run_id])}

    def reusable_result(self, request_hash: str, newer_than: str | None = None) -> dict[str, Any] | None:
        """The newest complete answer to an identical request that was measured, not itself reused;
        with `newer_than` (an ISO time), only one given since then."""
        rows = self._query(
            "select * from results where request_hash = ? and error is null and reused_from is null "
            "and finish_reason in ('stop', 'length') and created_at >= ? order by id desc limit 1",
            [request_hash, newer_than or ""])
        return rows[0] if rows else None

    def set_grade(self, result_id: int, grade: dict[str, Any] | None) -> None:
        """Write an answer's grade again (re-scoring); None: ungraded."""
        columns = {"grade_passed": None, "grade_score": None, "grade_reason": None, "grade_json": None}
        if grade is not None:
            columns = {"grade_passed": int(grade["passed"]), "grade_score": grade["score"],
                       "grade_reason": grade["reason"], "grade_json": dumps(grade)}
        with self.transaction():
            self.db["results"].update(result_id, columns)

    def set_scoring(self, run_id: str, scoring: dict[str, Any]) -> None:
        with self.transaction():
            self.db["runs"].update(run_id, {"scoring_json": dumps(scoring)})

    # Judgments and votes ----------------------------------------------------------------------

    def judgments(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "select * from judgments where run_id = ?" + (" and kind = ?" if kind else "") + " order by id"
        return self._query(sql, [run_id, kind] if kind else [run_id])

    def judgment(self, run_id: str, kind: str, case_id: str, model_key: str, other_model_key: str,
                 judge_key: str, rubric_hash: str) -> dict[str, Any] | None:
        """The run's judgment of this answer (or pair) by this judge under this rubric, if made."""
        rows = self._query(
            "select * from judgments where run_id = ? and kind = ? and case_id = ? and model_key = ? "
            "and other_model_key = ? and judge_key = ? and rubric_hash = ?",
            [run_id, kind, case_id, model_key, other_model_key, judge_key, rubric_hash])
        return rows[0] if rows else None

    def reusable_judgment(self, request_hash: str) -> dict[str, Any] | None:
        """The newest judgment made from an identical request (same judge, same prompts), without error."""
        rows = self._query("select * from judgments where request_hash = ? and error is null "
                           "order by id desc limit 1", [request_hash])
        return rows[0] if rows else None

    def add_judgment(self, row: dict[str, Any]) -> int:
        """Store a judgment, replacing the run's earlier one of the same answer(s), judge and rubric."""
        keys = ("run_id", "kind", "case_id", "model_key", "other_model_key", "judge_key", "rubric_hash")
        with self.transaction():
            self.db.execute("delete from judgments where " + " and ".join(f"{k} = ?" for k in keys),
                            [row[k] for k in keys])
            table = self.db["judgments"].insert({"created_at": now(), **row})
        return int(table.last_pk)

    def judge_spend(self, run_id: str) -> float:
        rows = self._query("select coalesce(sum(cost_usd), 0) as spent from judgments where run_id = ?", [run_id])
        return float(rows[0]["spent"])

    def add_vote(self, run_id: str, case_id: str, left_model: str, right_model: str, outcome: str) -> int:
        if outcome not in ("left", "right", "tie", "both_bad"):
            raise ValueError(f"a vote is left, right, tie or both_bad, not {outcome!r}")
        with self.transaction():
            table = self.db["votes"].insert({"run_id": run_id, "case_id": case_id, "left_model": left_model,
                                             "right_model": right_model, "outcome": outcome,
                                             "created_at": now()})
        return int(table.last_pk)

    def votes(self, run_id: str) -> list[dict[str, Any]]:
        return self._query("select * from votes where run_id = ? order by id", [run_id])

    def delete_vote(self, vote_id: int) -> bool:
        """Take a vote back (the Vote screen's undo); False when there was no such vote."""
        with self.transaction():
            cursor = self.db.execute("delete from votes where id = ?", [vote_id])
        return cursor.rowcount > 0

    def hardware_of_runs(self, run_ids: set[str]) -> dict[str, dict[str, Any]]:
        """The hardware each run was measured on."""
        if not run_ids:
            return {}
        marks = ", ".join("?" * len(run_ids))
        return {r["id"]: json.loads(r["hardware_json"] or "{}") for r in self._query(
            f"select id, hardware_json from runs where id in ({marks})", sorted(run_ids))}


def _enable_wal(db: sqlite_utils.Database, wait_s: float = 30.0) -> None:
    """WAL mode (once per file). Connections opening a new file at the same moment (the app's workers each
    open their own) can make the switch fail "database is locked" at once, SQLite not waiting for it: retry."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _is_read_only_error(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "read only" in text


def _run_search(search: str | None) -> tuple[str, list[Any]]:
    """The where clause of a run search: an id prefix, or text within the suite's name or a model's label,
    file path or API reference (any case)."""
    text = (search or "").strip().lower()
    if not text:
        return "", []
    literal = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")  # LIKE's wildcards, as text
    within = f"%{literal}%"
    where = ("where lower(r.id) like ? escape '\\' or lower(coalesce(r.suite_name, '')) like ? escape '\\' "
             "or exists (select 1 from run_models m where m.run_id = r.id and (lower(m.model_key) like ? "
             "escape '\\' or lower(coalesce(m.path, '')) like ? escape '\\'))")
    return where, [f"{literal}%", within, within, within]
