"""The recommendation where the truth is known: the demo model at two quantizations and a tiny model with
random weights that reads and writes through the demo model's tokenizer and chat template, on the demo
suite. Nothing here is simulated: three real models answer. The random one is the cheapest and the fastest
of the three by far: the bait a recommendation that trusted cost alone would take."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.analysis.recommend import recommend_run
from desktop_app.models.catalog import ModelCatalog
from desktop_app.providers.base import Sampling
from desktop_app.runner.events import ModelLoading
from desktop_app.runner.runner import Runner
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.suites import load_suite
from tests.conftest import SUITES, demo_suite_copy

SETTINGS = Settings(threads=2, context_size=1024)
SAMPLING = Sampling(max_tokens=16)


@pytest.fixture(scope="module")
def three_models(tmp_path_factory, demo_model: Path, demo_variant: Path,
                 smol_tiny: Path) -> tuple[Store, str, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("truth")
    store = Store(folder / "runs.db")
    runner = Runner(store, SETTINGS, ModelCatalog(folder / "models.json"))
    models = {"q4": demo_model, "q2": demo_variant, "random": smol_tiny}
    specs = [runner.spec_for(path) for path in models.values()]
    run_id = runner.create_run(load_suite(demo_suite_copy(folder / "demo.jsonl")), specs, SAMPLING)
    # Side by side, a thread each: what is proved is which answers are right, and the three answer in a
    # fraction of the time they take one after another (and the same answers: no thread count changes them).
    assert list(runner.execute(run_id, concurrent=True))[-1].status == "complete"
    keys = {name: model["model_key"] for name, model in zip(models, store.run_models(run_id))}
    yield store, run_id, keys
    store.close()


def test_random_weights_rank_last_and_are_never_recommended(three_models) -> None:
    store, run_id, keys = three_models
    advice = recommend_run(store, run_id, SETTINGS)
    verdicts = {m.model: m for m in advice.models}
    random = verdicts[keys["random"]]
    for cheaper in ("cost_per_answer_usd", "wall_time_ms"):
        assert getattr(random, cheaper) < min(getattr(m, cheaper) for m in advice.models if m is not random)
    assert random.verdict == "worse"
    assert random.quality == min(m.quality for m in advice.models)
    assert advice.recommended != keys["random"]
    for axis in ("cost", "latency"):
        assert recommend_run(store, run_id, SETTINGS, axis=axis).recommended != keys["random"]


def test_three_cases_cannot_decide_and_say_so_instead_of_picking_the_cheapest(
        three_models, tmp_path: Path) -> None:
    """Q2_K is the smallest file (the axis); on three cases where it misses one Q4_1 gets right, the data
    cannot tell whether it is good enough: the advice says so and keeps the best meanwhile."""
    store, run_id, keys = three_models
    rows = {(r["model_key"], r["case_id"]): r for r in store.results(run_id)}
    cases = {case.id: case for case in load_suite(SUITES / "demo.jsonl").cases}

    def passed(model: str, case_id: str) -> bool:
        return bool(rows[(keys[model], case_id)]["grade_passed"])

    split = [c for c in cases if passed("q4", c) and not passed("q2", c)]
    both = [c for c in cases if passed("q4", c) and passed("q2", c)]
    assert split and len(both) >= 2, "Q2_K misses cases Q4_1 answers, and both answer some"
    chosen = [split[0], *both[:2]]
    small = demo_suite_copy(tmp_path / "three.jsonl", ids=chosen)
    runner = Runner(store, SETTINGS, ModelCatalog(tmp_path / "models.json"))
    paths = {m["model_key"]: m["path"] for m in store.run_models(run_id)}
    # As many at once as in the three-model run (three cases alone would be decoded 3 at once): the same
    # setting, so every answer is that run's, reused rather than generated again.
    parallel = json.loads(store.run_models(run_id)[0]["identity_json"])["parallel"]
    three = runner.create_run(load_suite(small), [runner.spec_for(paths[keys[m]]) for m in ("q4", "q2")], SAMPLING,
                              parallel=parallel)
    assert not any(isinstance(e, ModelLoading) for e in runner.execute(three))
    assert all(r["reused_from"] for r in store.results(three))
    advice = recommend_run(store, three, SETTINGS, axis="size")
    assert not advice.decided and "cannot" in advice.reason.lower(), advice.reason
    assert advice.more_cases_needed and advice.more_cases_needed > 3
    assert advice.recommended == keys["q4"], "meanwhile the best, not the cheapest"
    assert {m.model: m.verdict for m in advice.models} == {keys["q4"]: "best", keys["q2"]: "undecided"}


def test_results_and_recommend_commands_show_tags_verdicts_and_the_paragraph(three_models, capsys) -> None:
    import shutil

    from desktop_app import cli, paths

    store, run_id, keys = three_models
    paths.database_path().parent.mkdir(parents=True, exist_ok=True)
    with store.transaction():  # a consistent copy while the module's store stays open
        store.db.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(store.path, paths.database_path())
    assert cli.main(["results", run_id]) == 0
    out = capsys.readouterr().out
    tag_header = out.splitlines()[-(len(keys) + 2)]  # the last table: its header, a rule, a row per model
    for tag in ("facts", "arithmetic", "classification", "extraction"):
        assert tag in tag_header, out
    assert cli.main(["recommend", run_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["run_id"] == run_id and data["recommended"] != keys["random"]
    assert {m["model"]: m["verdict"] for m in data["models"]}[keys["random"]] == "worse"
    assert {"model", "quality", "quality_low", "quality_high", "cost_per_answer_usd", "difference_to_best",
            "difference_low", "difference_high", "verdict"} <= set(data["models"][0])
