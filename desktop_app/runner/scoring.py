"""Grade a stored run again: a judge model, a reference model's answers, a rubric, pairwise verdicts.

Answers are never regenerated. A judgment is stored like an answer (with its own cost, apart from
the answers') and reused when an identical one was made before: same judge, same prompt. Then every
answer is graded again by its case's checks, with the judge's verdict and the reference answer to
hand, and the run's grades are rewritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.costing.answer_cost import local_cost
from desktop_app.costing.energy import EnergyMeter
from desktop_app.errors import UserError
from desktop_app.providers.api import ApiModelSpec, parse_model_ref
from desktop_app.providers.base import Provider, Request, Result, Token
from desktop_app.providers.local import LocalProvider
from desktop_app.runner.machine import MachineLedger
from desktop_app.scoring import judge as judging
from desktop_app.scoring.registry import ScoreContext, grade_answer
from desktop_app.storage.store import Store, dumps
from desktop_app.suites import Case, Check, Suite


@dataclass(frozen=True)
class ScoringOptions:
    """How a run's answers are scored beyond the suite's checks; None: not set here."""

    judge: str | None = None  # a model as `run --model` takes it
    reference: str | None = None  # a model of the run (its key, file or API reference)
    rubric: str | None = None
    pairwise: bool = False
    judge_max_tokens: int = judging.DEFAULT_MAX_TOKENS

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoringOptions:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def over(self, base: ScoringOptions) -> ScoringOptions:
        """These options where set, else `base`'s."""
        return ScoringOptions(judge=self.judge or base.judge, reference=self.reference or base.reference,
                              rubric=self.rubric or base.rubric, pairwise=self.pairwise or base.pairwise,
                              judge_max_tokens=self.judge_max_tokens)

    @property
    def active(self) -> bool:
        return bool(self.judge or self.reference or self.pairwise)


def read_rubric(text: str | None) -> str | None:
    """A rubric as given: the text itself, or the contents of a file it names."""
    if not text:
        return None
    path = Path(text).expanduser()
    if len(text) < 4096 and "\n" not in text and path.is_file():
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read the rubric file {path}: {exc}") from None
    return text.strip() or None


# Events -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JudgingStarted:
    judge: str
    total: int  # judgments to make or reuse


@dataclass(frozen=True)
class JudgmentMade:
    kind: str  # single or pair
    case_id: str
    model_key: str
    other_model_key: str
    reused: bool
    error: str | None
    done: int
    total: int


@dataclass(frozen=True)
class ScoringFinished:
    run_id: str
    graded: int  # answers graded
    judged: int  # judgments made now
    reused: int  # judgments reused from before
    errors: int  # judgments that failed (unreadable verdict, failed call)
    judge_cost_usd: float  # what this run's judgments cost in all
    pairwise_base: str | None  # the model every other was compared with


ScoreEvent = JudgingStarted | JudgmentMade | ScoringFinished


@dataclass(frozen=True)
class StoredJudgment:
    """A judgment as the judge check reads it."""

    score: float | None
    reason: str
    error: str | None


# The pipeline -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Task:
    kind: str
    case: Case
    model_key: str
    other_model_key: str
    rubric: str | None
    reference: str | None
    answers: tuple[str, ...]  # one (single) or two: the model's, then the other's (pair)


class RunScorer:
    """Scores stored runs; `runner` supplies settings, planning, providers and prices."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.store: Store = runner.store

    def score(self, run_id: str, options: ScoringOptions | None = None,
              cancel: threading.Event | None = None) -> Iterator[ScoreEvent]:
        cancel = cancel or threading.Event()
        run = self.store.run(run_id)
        run_id = run["id"]
        suite = Suite.from_dict(json.loads(run["suite_json"]))
        stored = ScoringOptions.from_dict(json.loads(run.get("scoring_json") or "{}"))
        from_suite = ScoringOptions(judge=suite.judge, reference=suite.reference, rubric=suite.rubric)
        opts = (options or ScoringOptions()).over(stored).over(from_suite)
        opts = dataclasses.replace(opts, rubric=read_rubric(opts.rubric))
        models = self.store.run_models(run_id)
        reference_key = _model_key(opts.reference, models) if opts.reference else None
        self.store.set_scoring(run_id, opts.to_dict())
        rows = {(r["model_key"], r["case_id"]): r for r in self.store.results(run_id)}
        references = {case.id: rows[(reference_key, case.id)]["text"] for case in suite.cases
                      if reference_key and _answered(rows.get((reference_key, case.id)))}
        cases = {case.id: _with_judge(case) if opts.judge else case for case in suite.cases}

        judged = reused = errors = 0
        base = None
        if opts.judge:
            provider, price = self._judge(opts.judge)
            try:
                tasks = self._single_tasks(cases, rows, opts, suite, references)
                for event in self._judge_all(run_id, provider, price, opts, tasks, cancel):
                    judged, reused, errors = _count(event, judged, reused, errors)
                    yield event
                if cancel.is_set():
                    return
                self._regrade(run_id, cases, rows, references)
                if opts.pairwise:
                    base = reference_key or self._best_model(run_id, models)
                    tasks = self._pair_tasks(cases, rows, opts, suite, references, base, models)
                    for event in self._judge_all(run_id, provider, price, opts, tasks, cancel):
                        judged, reused, errors = _count(event, judged, reused, errors)
                        yield event
            finally:
                provider.close()
        elif opts.pairwise:
            raise UserError("pairwise judging needs a judge: give --judge MODEL")
        if cancel.is_set():
            return
        graded = self._regrade(run_id, cases, rows, references)
        yield ScoringFinished(run_id, graded, judged, reused, errors, self.store.judge_spend(run_id), base)

    # Judges -------------------------------------------------------------------------------------

    def _judge(self, ref: str) -> tuple[Provider, Callable[[Result], Any] | None]:
        """The judge's provider, loaded, and how to price an API judge's calls (local ones are metered)."""
        runner = self.runner
        if parse_model_ref(ref) is None and not Path(ref).exists():
            raise UserError(f"judge model {ref} does not exist: give a GGUF file or an API model "
                            f"(openai:MODEL, anthropic:MODEL, openai-compatible:MODEL@URL)")
        (planned,) = runner.plan_models([runner.spec_for(ref)])
        if isinstance(planned.spec, ApiModelSpec):
            provider = runner._provider(planned.spec, planned.key, "")
            provider.load()
            return provider, judging.api_pricer(runner.pricing(planned.spec))
        provider = LocalProvider(planned.spec, label=planned.key, sha256=planned.sha256)
        provider.load()
        return _Metered(provider, MachineLedger(EnergyMeter(runner.settings.device_watts)), runner.settings), None

    def _single_tasks(self, cases: dict[str, Case], rows: dict[tuple[str, str], dict[str, Any]],
                      opts: ScoringOptions, suite: Suite, references: dict[str, str]) -> list[_Task]:
        tasks = []
        for (model_key, case_id), row in rows.items():
            case = cases.get(case_id)
            if case is None or not _answered(row):
                continue
            rubric = judging.resolve_rubric(case, opts.rubric or suite.rubric, _judge_rubric(case))
            tasks.append(_Task("single", case, model_key, "", rubric, _reference(case, references), (row["text"],)))
        return tasks

    def _pair_tasks(self, cases: dict[str, Case], rows: dict[tuple[str, str], dict[str, Any]],
                    opts: ScoringOptions, suite: Suite, references: dict[str, str], base: str,
                    models: list[dict[str, Any]]) -> list[_Task]:
        tasks = []
        for model in models:
            key = model["model_key"]
            if key == base:
                continue
            for case in cases.values():
                mine, theirs = rows.get((key, case.id)), rows.get((base, case.id))
                if not (_answered(mine) and _answered(theirs)):
                    continue
                rubric = judging.resolve_rubric(case, opts.rubric or suite.rubric, _judge_rubric(case))
                tasks.append(_Task("pair", case, key, base, rubric, _reference(case, references),
                                   (mine["text"], theirs["text"])))
        return tasks

    def _judge_all(self, run_id: str, provider: Provider, price: Callable[[Result], Any] | None,
                   opts: ScoringOptions, tasks: list[_Task], cancel: threading.Event) -> Iterator[ScoreEvent]:
        """Each task's judgment: kept when this run has it already, reused when an identical one was
        made before, else asked; an API judge is asked several at a time (its concurrency bound)."""
        identity = provider.identity()
        yield JudgingStarted(provider.label, len(tasks))
        todo = []
        done = 0
        for task in tasks:
            requests = self._requests(task, opts)
            digest = judging.judgment_hash(identity, *requests)
            have = self._stored(run_id, task, provider.label)
            if have is not None and have["request_hash"] == digest and not have["error"]:
                done += 1
                yield JudgmentMade(task.kind, task.case.id, task.model_key, task.other_model_key, True, None,
                                   done, len(tasks))
                continue
            earlier = self.store.reusable_judgment(digest)
            if earlier is not None:
                self._store(run_id, task, provider.label, identity, digest, copy=earlier)
                done += 1
                yield JudgmentMade(task.kind, task.case.id, task.model_key, task.other_model_key, True, None,
                                   done, len(tasks))
                continue
            todo.append((task, digest))
        workers = getattr(getattr(provider, "spec", None), "max_concurrency", 1) \
            if price is not None else 1  # a local judge answers one request at a time anyway
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="judge") as pool:
            pending: dict[Future, _Task] = {}
            queue = list(todo)
            while queue or pending:
                while queue and len(pending) < max(1, workers) and not cancel.is_set():
                    task, digest = queue.pop(0)
                    pending[pool.submit(self._ask, provider, price, opts, task, cancel)] = task
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = pending.pop(future)
                    made = future.result()
                    if made.cancelled:
                        continue  # not a judgment: asked again next time
                    self._store(run_id, task, provider.label, identity, made.request_hash, made=made)
                    done += 1
                    yield JudgmentMade(task.kind, task.case.id, task.model_key, task.other_model_key, False,
                                       made.error, done, len(tasks))

    @staticmethod
    def _requests(task: _Task, opts: ScoringOptions) -> tuple[Request, ...]:
        if task.kind == "single":
            return (judging.single_prompt(task.case, task.answers[0], task.rubric, task.reference,
                                          opts.judge_max_tokens),)
        return judging.pair_requests(task.case, task.answers[0], task.answers[1], task.rubric, task.reference,
                                     opts.judge_max_tokens)

    @staticmethod
    def _ask(provider: Provider, price: Callable[[Result], Any] | None, opts: ScoringOptions, task: _Task,
             cancel: threading.Event) -> Any:
        if task.kind == "single":
            return judging.judge_single(provider, task.case, task.answers[0], task.rubric, task.reference, cancel,
                                        max_tokens=opts.judge_max_tokens, price=price or _metered_price(provider))
        return judging.judge_pair(provider, task.case, task.answers[0], task.answers[1], task.rubric,
                                  task.reference, cancel, max_tokens=opts.judge_max_tokens,
                                  price=price or _metered_price(provider))

    def _stored(self, run_id: str, task: _Task, judge_key: str) -> dict[str, Any] | None:
        return self.store.judgment(run_id, task.kind, task.case.id, task.model_key, task.other_model_key,
                                   judge_key, _rubric_hash(task.rubric))

    def _store(self, run_id: str, task: _Task, judge_key: str, identity: dict[str, Any], digest: str, *,
               made: Any = None, copy: dict[str, Any] | None = None) -> None:
        row: dict[str, Any] = {
            "run_id": run_id, "kind": task.kind, "case_id": task.case.id, "model_key": task.model_key,
            "other_model_key": task.other_model_key, "judge_key": judge_key,
            "judge_identity_json": dumps(identity), "rubric_hash": _rubric_hash(task.rubric),
            "request_hash": digest,
        }
        if copy is not None:  # reused: the verdict stands; it cost nothing now
            outcome = copy["outcome"]
            if task.kind == "pair" and outcome not in (None, "tie", "inconsistent"):
                # The copy names the models of the run it was made in: map its winner to this pair.
                outcome = task.model_key if outcome == copy["model_key"] else task.other_model_key
            row.update({k: copy[k] for k in ("verdict", "swapped_verdict", "score", "reason", "error",
                                             "error_kind", "prompt_tokens", "completion_tokens",
                                             "wall_time_ms")},
                       outcome=outcome, cost_usd=0.0, cost_json=dumps({"reused_from": copy["id"]}))
        else:
            is_pair = task.kind == "pair"
            row.update(
                verdict=None if made.verdict is None else str(made.verdict),
                swapped_verdict=made.swapped_verdict if is_pair else None,
                outcome=made.winner(task.model_key, task.other_model_key) if is_pair else None,
                score=None if is_pair else made.score, reason=made.reason, error=made.error,
                error_kind=made.error_kind, cost_usd=made.cost_usd, cost_json=dumps(made.cost_detail),
                prompt_tokens=made.prompt_tokens, completion_tokens=made.completion_tokens,
                wall_time_ms=made.wall_time_ms)
        self.store.add_judgment(row)

    # Grades -------------------------------------------------------------------------------------

    def _regrade(self, run_id: str, cases: dict[str, Case], rows: dict[tuple[str, str], dict[str, Any]],
                 references: dict[str, str]) -> int:
        judgments = {(j["model_key"], j["case_id"]): StoredJudgment(j["score"], j["reason"] or "", j["error"])
                     for j in self.store.judgments(run_id, "single")}
        graded = 0
        for (model_key, case_id), row in rows.items():
            case = cases.get(case_id)
            if case is None or not _answered(row):
                continue
            ctx = ScoreContext.for_case(case, row["text"], reference_answer=references.get(case_id),
                                        judgment=judgments.get((model_key, case_id)))
            grade = grade_answer(case, ctx)
            self.store.set_grade(row["id"], None if grade is None else grade.to_dict())
            graded += grade is not None
        return graded

    def _best_model(self, run_id: str, models: list[dict[str, Any]]) -> str:
        from desktop_app.analysis.summary import summarize

        rated = [m for m in summarize(self.store, run_id).models if m.quality is not None]
        if not rated:
            raise UserError("no model of this run has a grade yet, so none can be the pairwise reference; "
                            "name one with --reference MODEL")
        return max(rated, key=lambda m: m.quality).model


def scoring_of(store: Store, run_id: str) -> ScoringOptions:
    """How a stored run is scored: what `score` set for it, else what its suite asks for."""
    run = store.run(run_id)
    suite = json.loads(run["suite_json"])
    stored = ScoringOptions.from_dict(json.loads(run.get("scoring_json") or "{}"))
    return stored.over(ScoringOptions(judge=suite.get("judge"), reference=suite.get("reference"),
                                      rubric=suite.get("rubric")))


def pairwise_tally(store: Store, run_id: str) -> dict[str, dict[str, int]]:
    """Per model, its pairwise results against the model it was compared with."""
    tally: dict[str, dict[str, int]] = {}
    for j in store.judgments(run_id, "pair"):
        counts = tally.setdefault(j["model_key"], {"wins": 0, "losses": 0, "ties": 0, "inconsistent": 0,
                                                   "errors": 0, "against": j["other_model_key"]})
        outcome = j["outcome"]
        key = ("errors" if j["error"] else "wins" if outcome == j["model_key"] else
               "losses" if outcome == j["other_model_key"] else "ties" if outcome == "tie" else "inconsistent")
        counts[key] += 1
    return tally


class _Metered:
    """A local judge whose calls are metered like answers, so they can be priced the same way."""

    def __init__(self, provider: LocalProvider, ledger: MachineLedger, settings: Any) -> None:
        self.provider, self.ledger, self.settings = provider, ledger, settings
        self.label = provider.label
        self.costs: dict[int, float] = {}

    def identity(self) -> dict[str, Any]:
        return self.provider.identity()

    def load(self) -> None:
        self.provider.load()

    def close(self) -> None:
        self.provider.close()

    def stream(self, request: Request, cancel: threading.Event | None = None) -> Iterator[Token | Result]:
        span = self.ledger.begin(self.provider.pid)
        result = None
        try:
            for item in self.provider.stream(request, cancel):
                if isinstance(item, Result):
                    result = item
                yield item
        finally:
            conditions = self.ledger.end(span)
            if result is not None:
                self.costs[id(result)] = local_cost(conditions.joules, conditions.machine_seconds,
                                                    self.settings)[0]


def _metered_price(provider: Any) -> Callable[[Result], Any] | None:
    if not isinstance(provider, _Metered):
        return None
    from desktop_app.costing.prices import Cost

    return lambda result: Cost(provider.costs.pop(id(result), 0.0), {"kind": "local"})


def _with_judge(case: Case) -> Case:
    """A case graded by the judge too: its checks, plus a judge check unless it has its own."""
    if any(_has_judge(check) for check in case.checks):
        return case
    return dataclasses.replace(case, checks=(*case.checks, Check("judge", {})))


def _has_judge(check: Check) -> bool:
    if check.type == "judge":
        return True
    children = check.params.get("checks") or ([check.params["check"]] if "check" in check.params else [])
    return any(_has_judge(c if isinstance(c, Check) else Check.from_dict(c)) for c in children)


def _judge_rubric(case: Case) -> str | None:
    for check in case.checks:
        if check.type == "judge" and check.params.get("rubric"):
            return check.params["rubric"]
    return None


def _reference(case: Case, references: dict[str, str]) -> str | None:
    if case.expected is not None:
        return str(case.expected)
    return references.get(case.id)


def _answered(row: dict[str, Any] | None) -> bool:
    return row is not None and not row["error"] and row["text"] is not None


def _rubric_hash(rubric: str | None) -> str:
    return hashlib.sha256((rubric or "").encode("utf-8")).hexdigest()[:16]


def _count(event: ScoreEvent, judged: int, reused: int, errors: int) -> tuple[int, int, int]:
    if isinstance(event, JudgmentMade):
        if event.reused:
            reused += 1
        else:
            judged += 1
        errors += bool(event.error)
    return judged, reused, errors


def _model_key(name: str, models: list[dict[str, Any]]) -> str:
    """A run's model named by its key, its file or its API reference."""
    for model in models:
        if name == model["model_key"]:
            return name
    api = parse_model_ref(name)
    target = api.ref if api else str(Path(name).expanduser().resolve())  # a NAME= prefix is not the reference
    for model in models:
        if model["path"] in (name, target):
            return model["model_key"]
    keys = ", ".join(m["model_key"] for m in models)
    raise UserError(f"{name} is not a model of this run; the reference must be one of: {keys}")
