"""Re-scoring stored runs: a judge, a reference model, pairwise verdicts; answers never regenerated.

The answers come from one real run of both demo models; judges are scripted OpenAI-compatible servers
on loopback (their verdicts known in advance) or the demo model itself.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from desktop_app import cli, paths
from desktop_app.errors import UserError
from desktop_app.models.catalog import ModelCatalog
from desktop_app.providers.base import Sampling
from desktop_app.runner.runner import Runner
from desktop_app.runner.scoring import RunScorer, ScoringOptions, ScoringFinished, pairwise_tally
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.suites import load_suite
from tests.servers import ScriptedJudge


@pytest.fixture(scope="module")
def answered(tmp_path_factory, smol_tiny: Path, smol_tiny_b: Path) -> tuple[Path, str, Path]:
    """(database, run id, suite): two local models on four cases, one without an expected answer. What the
    answers say does not matter to these tests (the judges are scripted): two tiny models give them."""
    folder = tmp_path_factory.mktemp("scoring")
    suite = folder / "open.jsonl"
    suite.write_text("\n".join(json.dumps(c) for c in [
        {"suite": {"name": "open", "version": "1", "rubric": "Correct and brief."}},
        {"id": "capital", "prompt": "What is the capital of France?", "expected": "Paris"},
        {"id": "gold", "prompt": "What is the chemical symbol for gold?", "expected": "Au"},
        {"id": "haiku", "prompt": "Write one short sentence about the sea."},
        {"id": "greet", "prompt": "Say hello to Ana in one sentence."},
    ]) + "\n", encoding="utf-8")
    store = Store(folder / "runs.db")
    runner = Runner(store, Settings(threads=2, context_size=1024), ModelCatalog(folder / "models.json"))
    run_id = runner.create_run(load_suite(suite), [runner.spec_for(smol_tiny), runner.spec_for(smol_tiny_b)],
                               Sampling(max_tokens=24))
    # Side by side, a thread each: these tests re-score the answers, not how they were measured.
    assert list(runner.execute(run_id, concurrent=True))[-1].status == "complete"
    store.close()
    return folder / "runs.db", run_id, suite


@pytest.fixture
def run(answered, tmp_path: Path) -> tuple[Store, str, Runner]:
    database, run_id, _ = answered
    copy = Path(shutil.copy(database, tmp_path / "runs.db"))
    store = Store(copy)
    yield store, run_id, Runner(store, Settings(threads=2, context_size=1024))
    store.close()


@pytest.fixture
def judges():
    servers = []

    def start(reply) -> ScriptedJudge:
        servers.append(ScriptedJudge(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def ref(judge: ScriptedJudge) -> str:
    return f"openai-compatible:scripted-judge@{judge.base_url}"


def texts(store: Store, run_id: str) -> dict[tuple[str, str], str]:
    return {(r["model_key"], r["case_id"]): r["text"] for r in store.results(run_id)}


def test_a_judge_grades_every_answer_without_regenerating_any(run, judges) -> None:
    store, run_id, runner = run
    judge = judges("The answer is fine. Rating: [[8]]")
    before = texts(store, run_id)
    events = list(RunScorer(runner).score(run_id, ScoringOptions(judge=ref(judge))))
    finished = events[-1]
    assert isinstance(finished, ScoringFinished) and finished.judged == 8 and finished.errors == 0
    assert texts(store, run_id) == before, "answers are never regenerated"
    judgments = store.judgments(run_id, "single")
    assert len(judgments) == 8 and all(j["score"] == pytest.approx(7 / 9) for j in judgments)
    assert all("Correct and brief." in body["messages"][-1]["content"] for body in judge.seen), "the suite's rubric"
    for row in store.results(run_id):
        grade = json.loads(row["grade_json"])
        parts = {p["check"]: p for p in grade["parts"] or [grade]}  # a lone check is the grade itself
        assert parts["judge"]["score"] == pytest.approx(7 / 9)
        assert "The answer is fine." in parts["judge"]["reason"]

    # Scored again with the same judge: every judgment is kept, none asked again.
    asked = len(judge.seen)
    again = list(RunScorer(runner).score(run_id))  # the run remembers its judge
    assert again[-1].judged == 0 and again[-1].reused == 8 and len(judge.seen) == asked


def test_an_unreadable_verdict_is_an_error_not_a_zero(run, judges) -> None:
    store, run_id, runner = run
    judge = judges("I think it is good.")
    finished = list(RunScorer(runner).score(run_id, ScoringOptions(judge=ref(judge))))[-1]
    assert finished.errors == 8
    judgments = store.judgments(run_id)
    assert len(judgments) == 8 and all(j["error"] and j["reason"] == "I think it is good." for j in judgments)
    for row in store.results(run_id):
        grade = json.loads(row["grade_json"]) if row["grade_json"] else None
        if grade is None:
            continue  # only the judge could have graded it: ungraded, not failed
        judged = [p for p in grade["parts"] if p["check"] == "judge"] or [grade]
        assert judged[0].get("error"), "the judge's part is missing, not scored 0"


def test_a_reference_model_stands_in_for_missing_expected_answers(run, judges) -> None:
    store, run_id, runner = run
    models = [m["model_key"] for m in store.run_models(run_id)]
    judge = judges("Rating: [[6]]")
    list(RunScorer(runner).score(run_id, ScoringOptions(judge=ref(judge), reference=models[0])))
    reference_answers = {r["case_id"]: r["text"] for r in store.results(run_id) if r["model_key"] == models[0]}
    asked = {body["messages"][-1]["content"] for body in judge.seen}
    haiku = [text for text in asked if "one short sentence about the sea" in text]
    assert len(haiku) == 2 and all(reference_answers["haiku"] in text for text in haiku)
    with pytest.raises(UserError, match="not a model of this run"):
        list(RunScorer(runner).score(run_id, ScoringOptions(reference="no-such-model")))


def test_a_judge_that_always_prefers_the_first_answer_gives_no_wins(run, judges) -> None:
    store, run_id, runner = run
    judge = judges(lambda body: "Assistant A is better. [[A]]" if "[[A]]" in json.dumps(body) else "Rating: [[5]]")
    list(RunScorer(runner).score(run_id, ScoringOptions(judge=ref(judge), pairwise=True)))
    tally = pairwise_tally(store, run_id)
    assert len(tally) == 1
    (counts,) = tally.values()
    assert counts["wins"] == counts["losses"] == 0 and counts["inconsistent"] == 4


def test_score_command_prints_json_with_pairwise_counts(run, judges, capsys) -> None:
    store, run_id, _ = run
    home_db = paths.database_path()
    home_db.parent.mkdir(parents=True, exist_ok=True)
    store.close()
    shutil.copy(store.path, home_db)

    judge = judges("[[C]] a tie")
    assert cli.main(["score", run_id, "--judge", ref(judge), "--pairwise", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["run_id"] == run_id and data["judge_cost_usd"] == 0
    base = data["pairwise_base"]
    entries = {m["model"]: m for m in data["models"]}
    other = next(key for key in entries if key != base)
    assert entries[other]["pairwise"]["ties"] == 4 and entries[other]["pairwise"]["wins"] == 0
    assert "pairwise" not in entries[base]
