"""The recommendation: per-case paired comparisons with the best, verdicts, limits, and its words."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop_app.analysis.projection import ModelProjection, Projection, Volume
from desktop_app.analysis.recommend import VERDICTS, Recommendation, recommend, recommend_run
from desktop_app.analysis.stats import bootstrap_mean
from desktop_app.analysis.summary import ModelSummary, latest_summary, summarize
from desktop_app.errors import UserError
from desktop_app.models.hardware import Hardware
from desktop_app.settings import Settings
from desktop_app.storage.store import Store, dumps
from tests.conftest import modelscout_here

JSON_KEYS = {"run_id", "recommended", "decided", "reason", "more_cases_needed", "models"}
MODEL_KEYS = {"model", "quality", "quality_low", "quality_high", "cost_per_answer_usd", "difference_to_best",
              "difference_low", "difference_high", "verdict"}


def summary(name: str, scores: list[float], cost: float | None = 1e-5, wall_ms: float | None = 500.0,
            speed: float | None = 50.0, fits: bool | None = True) -> ModelSummary:
    """A model as summarize() makes it, from its score on each case (case-000, case-001, ...)."""
    case_scores = {f"case-{i:03d}": float(s) for i, s in enumerate(scores)}
    quality, low, high = bootstrap_mean(list(case_scores.values()), bounds=(0.0, 1.0))
    n = len(scores)
    return ModelSummary(
        model=name, provider="llama.cpp", path=f"/models/{name}.gguf", quantization="Q4_K_M",
        file_size=100_000_000, cases=n, answered=n, graded=n, passed=sum(s == 1 for s in scores),
        quality=quality, quality_low=low, quality_high=high, errors=0, tokens_per_second=speed,
        time_to_first_token_ms=100.0, wall_time_ms=wall_ms, completion_tokens=1000, prompt_tokens=2000,
        peak_memory_bytes=None, cost_usd=None if cost is None else cost * n, cost_per_answer_usd=cost,
        cost_per_million_tokens_usd=None, pass_rate=sum(s == 1 for s in scores) / n, case_scores=case_scores,
        fits=fits)


def passes(n: int, failing: set[int]) -> list[float]:
    return [0.0 if i in failing else 1.0 for i in range(n)]


BEST = passes(200, set(range(20)))  # 90%: fails cases 0-19


def test_a_cheaper_model_clearly_worse_is_told_apart_and_the_best_stands() -> None:
    best = summary("best", BEST, cost=1e-5)
    worse = summary("worse", passes(200, set(range(60))), cost=1e-7)  # fails 40 more: 70%
    result = recommend([worse, best])
    assert (result.recommended, result.best, result.decided, result.more_cases_needed) == ("best", "best", True, None)
    verdict = result.verdict("worse")
    assert verdict.verdict == "worse" and verdict.cases_compared == 200
    assert verdict.difference_to_best == pytest.approx(-0.2) and verdict.difference_high < -0.05
    # Pass/fail scores: the exact McNemar test on the 40 discordant cases, all against it.
    assert verdict.p_value == pytest.approx(2 / 2 ** 40)
    assert result.reason.startswith("best is recommended: it has the best quality (90%), and every model with "
                                    "a lower cost per answer is shown worse by more than your tolerance of "
                                    "5 points (worse: -20 points, 95% interval -")


def test_the_cheapest_model_shown_good_enough_is_recommended() -> None:
    best = summary("best", BEST, cost=1e-5)
    close = summary("close", passes(200, set(range(22))), cost=3e-6)  # fails 2 more cases: -1 point
    cheapest = summary("cheapest", passes(200, set(range(80))), cost=1e-7)  # 60%: clearly worse
    result = recommend([best, close, cheapest])
    assert result.recommended == "close" and result.decided and result.more_cases_needed is None
    assert {m.model: m.verdict for m in result.models} == {"best": "best", "close": "good_enough",
                                                           "cheapest": "worse"}
    close_verdict = result.verdict("close")
    assert close_verdict.difference_to_best == pytest.approx(-0.01)
    assert -0.05 < close_verdict.difference_low < -0.01 < close_verdict.difference_high
    # Pairing: the difference's interval is much narrower than either model's own.
    assert close_verdict.difference_high - close_verdict.difference_low < 0.5 * (close.quality_high - close.quality_low)
    assert result.reason.startswith(
        "close is recommended: on the 200 cases both answered it scores 1 point below best, the best model at "
        "90% (95% interval of the difference -")
    assert ("so it is shown not worse by more than your tolerance of 5 points, and it has a lower cost per "
            "answer ($0.003 against $0.01 per 1,000 answers).") in result.reason
    # A tighter tolerance than the interval allows leaves it undecided.
    strict = recommend([best, close, cheapest], tolerance=0.01)
    assert strict.verdict("close").verdict == "undecided" and strict.recommended == "best" and not strict.decided


def test_with_few_cases_the_data_cannot_decide_and_more_cases_are_estimated() -> None:
    # Eleven cases: the cheap model loses one case the best wins, wins one the best loses, and is a
    # little short on another.
    pattern_best = [1.0] * 8 + [1.0, 0.0, 1.0]
    pattern_cheap = [1.0] * 8 + [0.0, 1.0, 0.9]
    best, cheap = summary("best", pattern_best, cost=1e-5), summary("cheap", pattern_cheap, cost=1e-6)
    result = recommend([cheap, best])
    assert (result.recommended, result.decided) == ("best", False)
    assert result.verdict("cheap").verdict == "undecided"
    more = result.more_cases_needed
    assert more is not None and more > 100
    assert result.verdict("cheap").more_cases_needed == more
    assert result.reason.startswith("The data cannot decide yet. cheap (-0.9 points, 95% interval -")
    assert "Meanwhile best is recommended." in result.reason
    assert f"About {more:,} more cases, answered by both, would likely decide" in result.reason

    # The same pattern of differences over more cases: well short of the estimate still undecided,
    # a little past it decided, and the cheap model recommended.
    def repeated(total: int) -> Recommendation:
        copies = -(-total // 11)
        return recommend([summary("cheap", pattern_cheap * copies, cost=1e-6),
                          summary("best", pattern_best * copies, cost=1e-5)])

    assert repeated(int(0.6 * (11 + more))).decided is False
    decided = repeated(int(1.15 * (11 + more)))
    assert decided.decided and decided.recommended == "cheap"


def test_a_tie_in_quality_goes_to_the_cheaper_and_a_tie_in_cost_to_the_better() -> None:
    same = passes(50, {1, 2})
    dear, cheap = summary("dear", same, cost=2e-6), summary("cheap", same, cost=1e-6)
    result = recommend([dear, cheap])
    assert result.best == "cheap" and result.recommended == "cheap" and result.decided
    assert result.reason == ("cheap is recommended: it has the best quality (96%) and the lowest cost per "
                             "answer ($0.001 per 1,000 answers).")
    better, worse_same_cost = summary("better", same, cost=2e-6), summary("worse-same-cost", passes(50, {1, 2, 3}),
                                                                         cost=2e-6)
    assert recommend([worse_same_cost, better]).recommended == "better"


def test_the_users_limits_leave_models_out_and_say_so() -> None:
    best = summary("best", BEST, cost=1e-5, wall_ms=900.0, speed=40.0)
    slow_close = summary("slow-close", passes(200, set(range(21))), cost=1e-6, wall_ms=4000.0, speed=45.0)
    fast_close = summary("fast-close", passes(200, set(range(22))), cost=3e-6, wall_ms=300.0, speed=12.0)
    models = [best, slow_close, fast_close]
    assert recommend(models).recommended == "slow-close"  # the cheapest good enough
    limited = recommend(models, max_latency_ms=2000)
    assert limited.recommended == "fast-close"
    assert limited.verdict("slow-close").excluded == "4,000 ms per answer, over 2,000 ms"
    assert limited.reason.endswith("Left out by your limits: slow-close (4,000 ms per answer, over 2,000 ms).")
    assert limited.limits == {"max_latency_ms": 2000, "min_tokens_per_second": None, "must_fit": False}
    both = recommend(models, max_latency_ms=2000, min_tokens_per_second=20)
    assert both.recommended == "best" and both.decided
    assert both.verdict("fast-close").excluded == "12.0 tokens/s, under 20.0"
    # Must fit: a model known not to fit is left out; one whose fit was not checked is kept.
    unfit = summary("unfit", passes(200, set(range(21))), cost=1e-7, fits=False)
    unchecked = summary("unchecked", passes(200, set(range(21))), cost=2e-7, fits=None)
    assert recommend([best, unfit, unchecked], must_fit=True).recommended == "unchecked"
    assert recommend([best, unfit, unchecked]).recommended == "unfit"
    # When the best model is ruled out, the best of the rest is the measure.
    top_but_slow = summary("top-but-slow", passes(200, set(range(5))), cost=1e-4, wall_ms=9000.0)
    result = recommend([top_but_slow, best, slow_close], max_latency_ms=5000)
    assert result.best == "best" and result.recommended == "slow-close"
    assert result.verdict("top-but-slow").verdict == "good_enough" and result.verdict("top-but-slow").excluded
    # Nothing left: nothing recommended, and why.
    none_left = recommend(models, max_latency_ms=100)
    assert none_left.recommended is None and none_left.reason.startswith("No graded model meets your limits")


def test_on_latency_the_fastest_good_enough_model_is_recommended() -> None:
    best = summary("best", BEST, cost=1e-7, wall_ms=2000.0)
    quick = summary("quick", passes(200, set(range(21))), cost=1e-5, wall_ms=400.0)
    quicker_but_bad = summary("quicker-but-bad", passes(200, set(range(100))), cost=1e-5, wall_ms=100.0)
    assert recommend([best, quick, quicker_but_bad]).recommended == "best"
    result = recommend([best, quick, quicker_but_bad], axis="latency")
    assert result.recommended == "quick" and result.axis == "latency"
    assert "and it has a lower time per answer (400 ms against 2,000 ms per answer)." in result.reason


def test_the_json_has_every_field_the_contract_names() -> None:
    models = [summary("best", BEST), summary("close", passes(200, set(range(21))), cost=1e-6),
              summary("ungraded", [0.0], cost=0.0)]
    models[2] = dataclasses.replace(models[2], quality=None, quality_low=None, quality_high=None, graded=0,
                                    case_scores={})
    data = json.loads(json.dumps(recommend(models).to_dict()))
    assert JSON_KEYS <= set(data) and data["recommended"] == "close" and data["decided"] is True
    assert [m["model"] for m in data["models"]] == ["best", "close", "ungraded"]
    for m in data["models"]:
        assert MODEL_KEYS <= set(m) and m["verdict"] in VERDICTS
    assert data["models"][0]["difference_to_best"] == 0.0 and data["models"][2]["difference_to_best"] is None


def test_nothing_graded_or_nothing_passed_recommends_nothing() -> None:
    nothing = recommend([dataclasses.replace(summary("ungraded", [0.0]), quality=None, case_scores={})])
    assert nothing.recommended is None and not nothing.decided
    assert nothing.reason == "No answer of this run is graded yet, so there is nothing to recommend."
    assert recommend([]).recommended is None
    zero = recommend([summary("a", [0.0] * 10), summary("b", [0.0] * 10, cost=1e-7)])
    assert zero.recommended is None and zero.reason.startswith("No model scored above 0")
    with pytest.raises(UserError, match="0.05 for 5 points"):
        recommend([summary("a", BEST)], tolerance=5)


def test_the_saving_against_the_best_at_the_users_volume() -> None:
    best, close = summary("best", BEST, cost=1e-5), summary("close", passes(200, set(range(21))), cost=1e-6)
    projection = Projection(Volume(1000), 0.0, 3.0, [
        ModelProjection("best", False, 1.0, 1e-3, 30.44, None, None),
        ModelProjection("close", False, 1.0, 1e-4, 3.04, None, None)], [])
    result = recommend([best, close], projection=projection)
    assert result.recommended == "close" and result.monthly_savings_usd == pytest.approx(27.40)
    assert result.reason.endswith("At 1,000 requests a day it would cost about $3.04 a month against $30.44 for "
                                  "best: $27.40 a month saved.")
    assert result.requests_per_day == 1000 and result.verdict("best").monthly_usd == 30.44


# A stored run ------------------------------------------------------------------------------------

INFO = {"path": "/models/x.gguf", "file_size": 100_000_000, "name": "x", "architecture": "llama",
        "parameters": 135_000_000, "quantization": "Q4_K_M", "context_length": 2048, "layers": 30,
        "embedding_size": 576, "attention_heads": 9, "kv_heads": 3, "head_size": 64, "vocab_size": 49152,
        "has_chat_template": True, "license": None, "gguf_version": 3, "tensor_count": 272}


def stored_run(store: Store, run_id: str = "run-q") -> str:
    """Three local models on 120 tagged cases: big (90%), small (one case fewer, faster and cheaper),
    huge (as good as big but a file no laptop holds)."""
    cases = [{"id": f"q{i:03d}", "prompt": "?", "tags": ["math"] if i % 2 else ["prose", "easy"]} for i in range(120)]
    store.create_run({"id": run_id, "kind": "suite", "suite_name": "s", "suite_version": "1",
                      "suite_json": dumps({"cases": cases}), "hardware_json": "{}"},
                     [{"model_key": key, "provider": "llama.cpp", "path": f"/models/{key}.gguf",
                       "spec_json": dumps({"path": f"/models/{key}.gguf", "n_ctx": 1024, "n_threads": 4}),
                       "metadata_json": dumps({**INFO, "file_size": size})}
                      for key, size in (("big", 2_000_000_000), ("small", 300_000_000), ("huge", 900 * 2 ** 30))])
    failing = {"big": set(range(12)), "small": set(range(13)), "huge": set(range(12))}
    for key, wall in (("big", 2000.0), ("small", 500.0), ("huge", 2000.0)):
        for i, case in enumerate(cases):
            passed = i not in failing[key]
            store.add_result({"run_id": run_id, "model_key": key, "case_id": case["id"], "text": "x",
                              "finish_reason": "stop", "prompt_tokens": 50, "completion_tokens": 21,
                              "time_to_first_token_ms": 50.0, "prompt_tokens_per_second": 500.0,
                              "generation_tokens_per_second": 20 * 2000 / wall, "wall_time_ms": wall,
                              "energy_joules": wall / 1000 * 30, "cost_usd": wall * 1e-9, "threads": 4,
                              "grade_passed": int(passed), "grade_score": float(passed)})
    return run_id


def test_a_stored_runs_quality_interval_pass_rate_and_tags(store: Store) -> None:
    run_id = stored_run(store)
    first = {m.model: m for m in summarize(store, run_id).models}
    again = {m.model: m for m in summarize(store, run_id).models}
    big = first["big"]
    assert big.quality == pytest.approx(0.9) and big.pass_rate == pytest.approx(0.9)
    # The mean score's bootstrap interval, seeded by run and model: the same every time.
    assert big.quality_low < 0.9 < big.quality_high and (big.quality_low, big.quality_high) == \
        (again["big"].quality_low, again["big"].quality_high)
    assert big.quality_high - big.quality_low == pytest.approx(2 * 1.96 * np.sqrt(0.09 / 120), rel=0.15)
    # Per tag: cases 0-11 fail, the even ones are prose (6 of 60 fail), the odd ones math (6 of 60).
    assert set(big.tags) == {"easy", "math", "prose"}
    assert big.tags["math"].n == 60 and big.tags["math"].mean == pytest.approx(0.9)
    assert big.tags["prose"].low < 0.9 < big.tags["prose"].high
    assert len(big.case_scores) == 120 and big.case_scores["q000"] == 0.0
    data = big.to_dict()
    assert "case_scores" not in data and data["tags"]["easy"] == {"mean": pytest.approx(0.9), "low": big.tags[
        "easy"].low, "high": big.tags["easy"].high, "n": 60}
    assert big.fits is None  # not checked without the machine
    machine = Hardware("Linux", "x86_64", "test cpu", 4, 8, 16 * 2 ** 30, 12 * 2 ** 30)
    fits = {m.model: m.fits for m in summarize(store, run_id, this_machine=machine).models}
    assert fits == {"big": True, "small": True, "huge": False}


def test_a_stored_run_recommends_the_smaller_model_with_the_monthly_saving(store: Store) -> None:
    run_id = stored_run(store)
    settings = Settings()
    result = recommend_run(store, run_id, settings)
    assert result.run_id == run_id and result.recommended == "small" and result.decided
    assert result.requests_per_day == 1000 and result.monthly_savings_usd > 0
    assert "At 1,000 requests a day it would cost about" in result.reason and "a month saved." in result.reason
    # The huge model, as good as big, would not fit a 16 GiB machine; without the check it still counts.
    machine = Hardware("Linux", "x86_64", "test cpu", 4, 8, 16 * 2 ** 30, 12 * 2 ** 30)
    fitted = recommend_run(store, run_id, settings, this_machine=machine, must_fit=True)
    assert fitted.verdict("huge").excluded == "does not fit this machine"
    assert "huge (does not fit this machine)" in fitted.reason


def test_the_recommend_command_prints_a_table_and_the_paragraph_or_json(modelscout_home: Path) -> None:
    from desktop_app import paths

    store = Store(paths.database_path())
    run_id = stored_run(store)
    store.close()
    env = {**os.environ, "MODELSCOUT_HOME": str(modelscout_home)}

    def modelscout(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "desktop_app", "recommend", *args], capture_output=True,
                              text=True, env=env, timeout=120, check=False)

    def here(*args: str) -> subprocess.CompletedProcess:
        """The same command in this process (the same code, without a new interpreter's second)."""
        return modelscout_here("recommend", *args, home=modelscout_home)

    proc = modelscout(run_id, "--json", "--tolerance", "0.05", "--max-latency-ms", "5000")  # a real process once
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert JSON_KEYS <= set(data) and data["run_id"] == run_id and data["recommended"] == "small"
    assert all(MODEL_KEYS <= set(m) for m in data["models"])
    proc = here(run_id, "--axis", "latency", "--requests-per-day", "5000")
    assert proc.returncode == 0, proc.stderr
    header, _, *rows = proc.stdout.splitlines()
    assert header.startswith("model ") and "vs best, points (95% CI)" in header and "$/month at 5,000/day" in header
    assert any(r.startswith("small") and "good enough" in r for r in rows)
    assert "small is recommended:" in proc.stdout and "lower time per answer" in proc.stdout
    refused = here(run_id, "--tolerance", "5")
    assert refused.returncode == 2 and "0.05 for 5 points" in refused.stderr


def test_a_run_is_summed_up_once_until_its_answers_or_prices_change(store: Store) -> None:
    """Results, Tradeoff, a verdict's recount and each new volume ask for the same run's figures: latest_summary
    makes them once, and again when an answer is added, graded again or given a verdict, or the prices change.
    Always the figures summarize() gives."""
    run_id = stored_run(store)
    settings = Settings()

    def figures(run_summary) -> list[dict]:
        return [m.to_dict() for m in run_summary.models]

    first = latest_summary(store, run_id, settings)
    assert figures(first) == figures(summarize(store, run_id, settings))
    other = Store(store.path)  # another connection (another worker), equal settings: the same figures, kept
    try:
        assert latest_summary(other, run_id, Settings()).models is first.models
    finally:
        other.close()

    failed = [r for r in store.results(run_id) if r["model_key"] == "small" and not r["grade_passed"]]
    store.set_human_label(failed[0]["id"], 1)  # "good": a person's verdict outranks the checks
    judged = latest_summary(store, run_id, settings)
    assert judged.models is not first.models and figures(judged) == figures(summarize(store, run_id, settings))
    assert judged.models[1].quality > first.models[1].quality
    store.set_grade(failed[1]["id"], {"passed": True, "score": 1.0, "reason": "graded again"})
    regraded = latest_summary(store, run_id, settings)
    assert regraded.models[1].quality > judged.models[1].quality
    store.add_result({"run_id": run_id, "model_key": "small", "case_id": "q999", "text": "x", "grade_passed": 1,
                      "grade_score": 1.0, "wall_time_ms": 500.0, "energy_joules": 15.0, "cost_usd": 1e-6})
    added = latest_summary(store, run_id, settings)
    assert added.models[1].answered == regraded.models[1].answered + 1
    dearer = latest_summary(store, run_id, dataclasses.replace(settings, electricity_usd_per_kwh=1.0))
    assert dearer.models[1].cost_per_answer_usd > added.models[1].cost_per_answer_usd
    assert figures(dearer) == figures(summarize(store, run_id, dataclasses.replace(settings,
                                                                                  electricity_usd_per_kwh=1.0)))


def test_weighing_the_same_figures_again_compares_the_models_once(store: Store, monkeypatch) -> None:
    """A new volume or tolerance on Tradeoff weighs the same summary again: its paired bootstraps are not made
    again, and the verdicts are those a fresh comparison gives."""
    from desktop_app.analysis import recommend as recommend_module
    from desktop_app.analysis.projection import project

    run_id = stored_run(store)
    run_summary = summarize(store, run_id, Settings())
    compared: list[tuple[str, ...]] = []
    real = recommend_module.paired_difference
    monkeypatch.setattr(recommend_module, "paired_difference",
                        lambda a, b, **options: compared.append(tuple(a)) or real(a, b, **options))

    def weigh(figures, requests: float, tolerance: float) -> Recommendation:
        volume = Volume(requests)
        return recommend(figures, tolerance=tolerance, projection=project(store, run_id, Settings(), volume,
                                                                          summary=figures))

    first = weigh(run_summary, 1000, 0.05)
    assert len(compared) == 2  # the two others against the best
    later = weigh(run_summary, 25_000, 0.001)
    assert len(compared) == 2, "the same comparisons, weighed at another volume and tolerance"
    assert later.requests_per_day == 25_000 and first.requests_per_day == 1000
    fresh = weigh(summarize(store, run_id, Settings()), 25_000, 0.001)  # new figures: compared anew
    assert len(compared) == 4 and fresh.to_dict() == later.to_dict()
