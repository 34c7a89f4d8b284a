"""Runs that mix local and API models: one cost axis, a hard cost cap, reuse, projections, and keys
that never reach anything written. API models are real servers on loopback (see tests/servers.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from desktop_app.analysis.projection import DAYS_PER_MONTH, Volume, project
from desktop_app.analysis.summary import summarize
from desktop_app.analysis.tradeoff import AXES, pareto_frontier
from desktop_app.costing.prices import ApiPricing, PriceOverride
from desktop_app.models.catalog import ModelCatalog
from desktop_app.providers.api import ApiModelSpec
from desktop_app.providers.base import Sampling
from desktop_app.runner import events as ev
from desktop_app.runner.runner import Runner
from desktop_app.settings import Settings
from desktop_app.storage.store import Store
from desktop_app.suites import load_suite
from tests.conftest import modelscout_here
from tests.servers import FakeAnthropic, FaultProxy

SAMPLING = Sampling(max_tokens=24)
PRICE = {"input_usd_per_mtok": 0.5, "output_usd_per_mtok": 1.5}


@pytest.fixture
def proxy(llama_server):
    proxy = FaultProxy(llama_server.base_url)
    yield proxy
    proxy.stop()


def compatible_ref(base_url: str) -> str:
    return f"openai-compatible:demo@{base_url}"


def key_env(monkeypatch: pytest.MonkeyPatch, base_url: str, key: str) -> None:
    from desktop_app import keys

    monkeypatch.setenv(keys.env_var(keys.name_for_url(base_url)), key)


def make_runner(store: Store, refs: list[str], **settings) -> Runner:
    overrides = {ref: PRICE for ref in refs}
    return Runner(store, Settings(threads=1, context_size=1024, price_overrides=overrides, **settings),
                  ModelCatalog())


def test_local_and_api_models_land_on_one_cost_axis(store: Store, small_suite: Path, smol_tiny: Path,
                                                     smol_tiny_b: Path, llama_server, monkeypatch) -> None:
    anthropic = FakeAnthropic(llama_server)
    try:
        api_ref = compatible_ref(llama_server.base_url)
        claude_ref = "anthropic:claude-loopback-1"
        key_env(monkeypatch, llama_server.base_url, llama_server.api_key)
        monkeypatch.setenv("ANTHROPIC_API_KEY", anthropic.api_key)
        runner = make_runner(store, [api_ref, claude_ref], hardware_usd=1200.0)
        claude = ApiModelSpec("anthropic", "claude-loopback-1", anthropic.base_url)
        specs = [runner.spec_for(smol_tiny), runner.spec_for(smol_tiny_b), runner.spec_for(api_ref), claude]
        suite = load_suite(small_suite)
        run_id = runner.create_run(suite, specs, SAMPLING, kind="compare")
        events = list(runner.execute(run_id))  # local models in turn, API models alongside
    finally:
        anthropic.stop()

    assert events[-1] == ev.RunFinished(run_id, "complete")
    rows = store.results(run_id)
    assert len(rows) == 12 and all(r["error"] is None and r["text"] for r in rows)
    by_model = {m["model_key"]: m for m in store.run_models(run_id)}
    assert by_model["demo @ " + api_ref.split("@")[1].split("/")[2]]["provider"] == "openai-compatible"
    for row in rows:
        detail = json.loads(row["cost_json"])
        assert row["cost_usd"] > 0
        if by_model[row["model_key"]]["provider"] == "llama.cpp":
            assert detail["kind"] == "local" and detail["hardware_usd"] > 0 and detail["energy_usd"] > 0
            assert row["cost_usd"] == pytest.approx(detail["energy_usd"] + detail["hardware_usd"])
        else:
            assert detail["source"] == "override" and row["energy_joules"] is None
            expected = (row["prompt_tokens"] * 0.5 + row["completion_tokens"] * 1.5) / 1e6
            assert row["cost_usd"] == pytest.approx(expected)

    summary = summarize(store, run_id)
    assert [m.is_local for m in summary.models] == [True, True, False, False]
    assert all(m.cost_per_answer_usd and m.quality is not None for m in summary.models)
    frontier = pareto_frontier(summary.models, AXES["cost"])
    assert frontier and {m.model for m in frontier} <= {m.model for m in summary.models}

    # The same run, projected: API dollars scale with volume; the machine is bought once.
    projection = project(store, run_id, runner.settings, Volume(1000, input_tokens=200, output_tokens=100))
    api = next(m for m in projection.models if m.model.startswith("demo @ "))
    assert api.usd_per_request == pytest.approx((200 * 0.5 + 100 * 1.5) / 1e6)
    assert api.monthly_usd == pytest.approx(api.usd_per_request * 1000 * DAYS_PER_MONTH)
    local = projection.models[0]
    assert local.local and local.capacity_per_day > 0 and local.seconds_per_request > 0
    pair = next(b for b in projection.break_evens if b.local == local.model and b.api == api.model)
    saving = api.usd_per_request - local.usd_per_request
    if saving > 0:  # the API costs more per request than local electricity: the hardware pays for itself
        assert pair.requests_per_day == pytest.approx(1200 / 36 / (DAYS_PER_MONTH * saving))
    else:  # a machine fast enough to beat the API's price never needs to earn it back
        assert pair.requests_per_day is None and "the hardware never pays for itself" in pair.note


def test_the_cost_cap_stops_before_going_over_and_a_resume_finishes(store: Store, small_suite: Path,
                                                                      llama_server, proxy, monkeypatch) -> None:
    ref = compatible_ref(proxy.base_url)
    key_env(monkeypatch, proxy.base_url, llama_server.api_key)
    runner = make_runner(store, [ref])
    suite = load_suite(small_suite)
    spec = runner.spec_for(ref)
    worst = runner.estimate_cost(suite, [spec], SAMPLING)[0].worst_usd
    assert worst > 0
    cap = worst / len(suite.cases) * 1.5  # room for one request's worst case, not two
    run_id = runner.create_run(suite, [spec], SAMPLING, max_cost_usd=cap)
    events = list(runner.execute(run_id))

    reached = [e for e in events if isinstance(e, ev.BudgetReached)]
    assert len(reached) == 1 and reached[0].cap_usd == cap
    assert events[-1].status == "interrupted" and "cost cap" in events[-1].reason
    spent = sum(r["cost_usd"] for r in store.results(run_id))
    assert 0 < spent <= cap and len(store.results(run_id)) < len(suite.cases)
    sent, stored = len(proxy.seen), len(store.results(run_id))

    events = list(runner.execute(run_id, max_cost_usd=1.0))
    assert events[-1].status == "complete" and len(store.results(run_id)) == len(suite.cases)
    assert len(proxy.seen) == sent + len(suite.cases) - stored, "only the missing answers were asked for"
    assert store.run(run_id)["max_cost_usd"] == 1.0


def test_answers_are_reused_without_calling_the_api_and_a_refused_key_stops_the_model(
        store: Store, small_suite: Path, llama_server, proxy, monkeypatch) -> None:
    ref = compatible_ref(proxy.base_url)
    key_env(monkeypatch, proxy.base_url, llama_server.api_key)
    runner = make_runner(store, [ref])
    suite = load_suite(small_suite)
    first = runner.create_run(suite, [runner.spec_for(ref)], SAMPLING)
    list(runner.execute(first))
    asked = len(proxy.seen)
    assert asked == len(suite.cases)
    again = runner.create_run(suite, [runner.spec_for(ref)], SAMPLING)
    finished = [e for e in runner.execute(again) if isinstance(e, ev.CaseFinished)]
    assert len(finished) == len(suite.cases) and all(e.reused for e in finished) and len(proxy.seen) == asked
    assert store.api_spend(again) == 0, "a reused answer costs nothing now"

    key_env(monkeypatch, proxy.base_url, "sk-wrong-0000000000")
    refused = runner.create_run(suite, [runner.spec_for(ref)], SAMPLING)
    list(runner.execute(refused, reuse=False))
    rows = store.results(refused)
    assert len(rows) == len(suite.cases), rows
    assert all("refused (401)" in (r["error"] or "") for r in rows), [(r["error"], r["text"]) for r in rows]
    assert len(proxy.seen) == asked + 1, "after a 401 the other requests are not sent"


def test_genai_prices_price_known_models_and_record_the_table_used() -> None:
    pricing = ApiPricing(ApiModelSpec("openai", "gpt-4o-mini"))
    assert pricing.known and "genai-prices" in pricing.describe()
    cost = pricing.cost(1_000_000, 1_000_000)
    assert cost.usd == pytest.approx(0.15 + 0.60)
    assert cost.detail["source"] == "genai-prices" and cost.detail["prices_version"]
    assert cost.detail["priced_for"] and cost.detail["model_id"] == "gpt-4o-mini"
    cached = pricing.cost(1_000_000, 0, cached_tokens=1_000_000)
    assert cached.usd < 0.15, "cached input is cheaper"

    unknown = ApiPricing(ApiModelSpec("openai-compatible", "demo", "http://127.0.0.1:1/v1"))
    assert not unknown.known and unknown.cost(100, 100).usd is None
    hourly = ApiPricing(unknown.spec, PriceOverride(usd_per_hour=3.6))
    assert hourly.cost(100, 100, seconds=2).usd == pytest.approx(0.002)
    with pytest.raises(Exception, match="not both"):
        PriceOverride(input_usd_per_mtok=1, output_usd_per_mtok=1, usd_per_hour=1)


# The CLI as a user runs it ---------------------------------------------------------------------------

def modelscout(*args: str, home: Path, env: dict[str, str] | None = None, stdin: str | None = None,
               check: bool = True) -> subprocess.CompletedProcess:
    """The command's exit code and output, run in this process (tests/test_cli.py starts real ones)."""
    return modelscout_here(*args, home=home, env=env, stdin=stdin or "", check=check)


def test_keys_and_prices_commands(modelscout_home: Path) -> None:
    secret = "sk-cli-secret-abcdef123456"
    assert "stored" in modelscout("keys", "set", "openai", home=modelscout_home, stdin=secret + "\n").stdout
    listing = modelscout("keys", "list", home=modelscout_home).stdout
    assert "openai     the OS keychain" in listing and secret not in listing
    assert "ANTHROPIC_API_KEY" in listing
    modelscout("keys", "delete", "openai", home=modelscout_home)
    gone = modelscout("keys", "delete", "openai", home=modelscout_home, check=False)
    assert gone.returncode == 1 and "no key for openai" in gone.stderr

    ref = "openai-compatible:m@https://gpu.example.com/v1"
    modelscout("prices", "set", ref, "--per-hour", "2.5", home=modelscout_home)
    assert "$2.50/hour" in modelscout("prices", "list", home=modelscout_home).stdout
    bad = modelscout("prices", "set", ref, "--input", "1", home=modelscout_home, check=False)
    assert bad.returncode == 1 and "both the input and the output" in bad.stderr
    modelscout("prices", "delete", ref, home=modelscout_home)


def test_a_missing_key_fails_before_anything_is_stored(modelscout_home: Path, small_suite: Path) -> None:
    proc = modelscout("run", "--suite", str(small_suite), "--model", "anthropic:claude-sonnet-4-5",
                      home=modelscout_home, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") <= 3
    assert "no API key for anthropic" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(modelscout("runs", "--json", home=modelscout_home).stdout) == [], "no run is stored"


def test_dry_run_shows_the_estimate_and_stores_nothing(modelscout_home: Path, small_suite: Path) -> None:
    proc = modelscout("run", "--suite", str(small_suite), "--model", "openai:gpt-4o-mini", "--max-cost", "0.000001",
                      "--dry-run", home=modelscout_home, env={"OPENAI_API_KEY": "sk-test-dry-run-000000"})
    assert "openai:gpt-4o-mini: 3 requests, at most $" in proc.stderr
    assert "the cap of $0.000001 stops the run before it would go over" in proc.stderr
    assert "every byte of other scripts and emoji" in proc.stderr
    assert "nothing was run or stored" in proc.stderr
    runs = modelscout("runs", "--json", home=modelscout_home).stdout
    assert json.loads(runs) == []


def test_no_key_reaches_the_database_logs_or_output(modelscout_home: Path, small_suite: Path,
                                                     llama_server, tmp_path: Path) -> None:
    """Run with a real key, then with a wrong one, and grep every byte written for either."""
    from desktop_app import keys

    proxy = FaultProxy(llama_server.base_url)
    try:
        ref = compatible_ref(proxy.base_url)
        var = keys.env_var(keys.name_for_url(proxy.base_url))
        outputs = []
        wrong = "sk-wrong-key-9f8e7d6c5b4a"
        for key in (llama_server.api_key, wrong):
            proc = modelscout("run", "--suite", str(small_suite), "--model", ref, "--max-tokens", "8",
                              "--no-reuse", "--json", home=modelscout_home, env={var: key}, check=False)
            outputs += [proc.stdout, proc.stderr]
        runs = json.loads(modelscout("runs", "--json", home=modelscout_home).stdout)
        assert len(runs) == 2
        for run in runs:
            outputs.append(modelscout("results", run["id"], "--json", home=modelscout_home).stdout)
            outputs.append(modelscout("project", run["id"], "--requests-per-day", "100",
                                      home=modelscout_home, check=False).stdout)
    finally:
        proxy.stop()
    assert any("refused (401)" in text for text in outputs), "the wrong key was really refused"
    assert any('"errors": 0' in text for text in outputs), "the right key really answered"
    written = [p for p in modelscout_home.rglob("*") if p.is_file()]
    assert any(p.name == "modelscout.db" for p in written)
    for secret in (llama_server.api_key, wrong):
        for path in written:
            assert secret.encode() not in path.read_bytes(), f"{secret} leaked into {path}"
        for text in outputs:
            assert secret not in text


def test_models_available_lists_a_servers_models_as_run_references(modelscout_home: Path, llama_server) -> None:
    from desktop_app import keys

    var = keys.env_var(keys.name_for_url(llama_server.base_url))
    proc = modelscout("models", "available", "openai-compatible", "--base-url", llama_server.base_url,
                      home=modelscout_home, env={var: llama_server.api_key})
    assert proc.stdout.split() == [compatible_ref(llama_server.base_url)]
    missing = modelscout("models", "available", "openai-compatible", home=modelscout_home, check=False)
    assert missing.returncode == 1 and "--base-url" in missing.stderr
