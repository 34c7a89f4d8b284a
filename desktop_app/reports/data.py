"""One plain report of a stored run, read from the store: the figures `results`, `recommend` and the Tradeoff
screen show, every answer, and what makes the run reproducible. HTML, CSV and JSON are all written from it,
so the three never disagree with each other or with the app."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from desktop_app import __version__
from desktop_app.analysis.projection import Volume, project
from desktop_app.analysis.recommend import DEFAULT_REQUESTS_PER_DAY, recommend
from desktop_app.analysis.summary import RunSummary, latest_summary
from desktop_app.analysis.tradeoff import AXES, pareto_frontier
from desktop_app.costing.prices import genai_prices_version, pricing_for
from desktop_app.providers.api import ApiModelSpec
from desktop_app.settings import Settings
from desktop_app.storage.store import Store

FORMAT_VERSION = 1
NOT_RECORDED = "not recorded"  # what the store does not hold for a run: said, never guessed
NOT_APPLICABLE = "not applicable (API model)"
LOCAL_PRICE_SETTINGS = ("electricity_usd_per_kwh", "device_watts", "hardware_usd", "hardware_lifetime_years",
                        "hardware_busy_share")
LOAD_SETTINGS = ("n_ctx", "n_threads", "n_gpu_layers", "n_parallel", "n_batch")


def build_report(store: Store, run_id: str, settings: Settings) -> dict[str, Any]:
    """The whole report of a run (an id or an unambiguous prefix of one) as plain JSON-ready data.

    Figures are priced under `settings`, as `modelscout results` and the app price them, so a report made
    next to them shows the same numbers.
    """
    run = store.run(run_id)  # resolves a prefix; an unknown run is a StoreError in words
    version = store.answers_version(run["id"])
    answers = store.results(run["id"])  # read once: the summary and the answer tables share it
    summary = latest_summary(store, run["id"], settings, answers=answers, version=version)
    models = store.run_models(run["id"])
    cases = store.suite_cases(run["id"])
    return {
        "format": "modelscout-report",
        "format_version": FORMAT_VERSION,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "generated_by": f"ModelScout {__version__}",
        "run": run_facts(summary),
        "models": summary.to_dict()["models"],
        "frontier": [m.model for m in pareto_frontier(summary.models, AXES["cost"])],
        "recommendation": recommendation(store, summary, settings),
        "cases": case_answers(cases, answers, [m["model_key"] for m in models]),
        "reproducibility": reproducibility(run, models, cases, answers, settings),
    }


def run_facts(summary: RunSummary) -> dict[str, Any]:
    """The run as `results --json` names it, plus when it finished and the suite's hash."""
    facts = {k: v for k, v in summary.to_dict().items() if k != "models"}
    facts["finished_at"] = summary.run.get("finished_at")
    return facts


def recommendation(store: Store, summary: RunSummary, settings: Settings) -> dict[str, Any]:
    """What `modelscout recommend RUN_ID` says with its defaults (recommend_run's steps, on the summary read
    already rather than a second pass over every answer)."""
    projection = project(store, summary.run["id"], settings, Volume(DEFAULT_REQUESTS_PER_DAY), summary=summary)
    return recommend(summary, projection=projection).to_dict()


# Answers ------------------------------------------------------------------------------------------------

def answer_state(row: dict[str, Any] | None) -> str:
    """passed, failed, error, ungraded or missing: the words the Results grid uses for a cell."""
    if row is None:
        return "missing"
    if row.get("error"):
        return "error"
    if row.get("grade_passed") is None:
        return "ungraded"
    return "passed" if row["grade_passed"] else "failed"


def case_answers(cases: list[dict[str, Any]], answers: list[dict[str, Any]],
                 model_keys: list[str]) -> list[dict[str, Any]]:
    """Every case with each model's answer beside it (in the run's model order), its grade and the reason."""
    by_cell = {(str(r["case_id"]), r["model_key"]): r for r in answers}
    return [{"id": str(case.get("id")), "tags": list(case.get("tags") or ()), "prompt": case.get("prompt"),
             "system": case.get("system"), "expected": case.get("expected"),
             "answers": [answer(key, by_cell.get((str(case.get("id")), key))) for key in model_keys]}
            for case in cases]


def answer(model_key: str, row: dict[str, Any] | None) -> dict[str, Any]:
    """One answer as a report shows it; a person's verdict is kept apart from the checks' grade."""
    if row is None:
        return {"model": model_key, "state": "missing"}
    label = row.get("human_label")
    return {"model": model_key, "state": answer_state(row), "score": row.get("grade_score"),
            "reason": row.get("grade_reason"),
            "your_verdict": None if label is None else ("good" if label > 0 else "bad"),
            "text": row.get("text"), "error": row.get("error"), "finish_reason": row.get("finish_reason"),
            "completion_tokens": row.get("completion_tokens"), "wall_time_ms": row.get("wall_time_ms"),
            "reused_from_run": row.get("measured_in_run") if row.get("reused_from") else None}


# Reproducibility ---------------------------------------------------------------------------------------

def reproducibility(run: dict[str, Any], models: list[dict[str, Any]], cases: list[dict[str, Any]],
                    answers: list[dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """What it takes to make this run again and price it the same: as stored with the run, and "not recorded"
    wherever the store holds nothing (an older run), never today's values in their place."""
    sampling = _stored_json(run.get("sampling_json"))
    return {
        "modelscout_version": run.get("app_version") or NOT_RECORDED,
        "report_made_by": f"ModelScout {__version__}",
        "llama_cpp_version": run.get("llama_cpp_version") or NOT_RECORDED,
        "suite": {"name": run.get("suite_name") or NOT_RECORDED, "version": run.get("suite_version") or NOT_RECORDED,
                  "sha256": run.get("suite_hash") or NOT_RECORDED},
        "sampling": sampling,
        "seed": sampling.get("seed", NOT_RECORDED) if isinstance(sampling, dict) else NOT_RECORDED,
        "case_max_tokens": {str(c.get("id")): c["max_tokens"] for c in cases if c.get("max_tokens")},
        "interval_seeds": "each 95% interval is a bootstrap seeded by the run id and the model (and tag), "
                          "so the same run always shows the same interval",
        "hardware": _stored_json(run.get("hardware_json")),
        "models": [model_facts(m, answers) for m in models],
        "prices": prices(run, models, answers, settings),
    }


def model_facts(model: dict[str, Any], answers: list[dict[str, Any]]) -> dict[str, Any]:
    """A model's file hash, quantization, llama.cpp version and load settings (a local one), or its API model,
    server and the model names the server reported (an API one)."""
    identity = _stored_json(model.get("identity_json"))
    identity = identity if isinstance(identity, dict) else {}
    spec = _stored_json(model.get("spec_json"))
    spec = spec if isinstance(spec, dict) else {}
    metadata = _stored_json(model.get("metadata_json"))
    metadata = metadata if isinstance(metadata, dict) else {}
    facts: dict[str, Any] = {"model": model["model_key"], "provider": model.get("provider") or NOT_RECORDED}
    if model.get("provider") == "llama.cpp":
        templates = sorted({r["chat_template"] for r in answers
                            if r["model_key"] == model["model_key"] and r.get("chat_template")})
        facts.update(
            path=model.get("path") or NOT_RECORDED, sha256=identity.get("sha256") or NOT_RECORDED,
            quantization=metadata.get("quantization") or NOT_RECORDED,
            file_size=metadata.get("file_size") or NOT_RECORDED,
            llama_cpp_version=identity.get("llama_cpp") or NOT_RECORDED,
            chat_template=identity.get("chat_template") or NOT_RECORDED,
            prompt_formats=templates or NOT_RECORDED,
            load_settings={k: spec[k] for k in LOAD_SETTINGS if k in spec} or NOT_RECORDED)
    else:
        served = sorted({r["served_model"] for r in answers
                         if r["model_key"] == model["model_key"] and r.get("served_model")})
        facts.update(sha256=NOT_APPLICABLE, quantization=NOT_APPLICABLE,
                     api_model=identity.get("model") or spec.get("model") or NOT_RECORDED,
                     base_url=identity.get("base_url") or ("the provider's own" if "base_url" in identity
                                                           else NOT_RECORDED),
                     served_models=served or NOT_RECORDED)
    return facts


def prices(run: dict[str, Any], models: list[dict[str, Any]], answers: list[dict[str, Any]],
           settings: Settings) -> dict[str, Any]:
    """The prices behind the figures (today's settings, as `results` prices them), those stored when the run
    was made, and for each API model where its price comes from and for which dates."""
    stored = _stored_json(run.get("settings_json"))
    at_run = ({k: stored.get(k, NOT_RECORDED) for k in LOCAL_PRICE_SETTINGS} if isinstance(stored, dict)
              else NOT_RECORDED)
    energy = sorted({r["energy_source"] for r in answers if r.get("energy_source")})
    return {
        "priced_on": dt.date.today().isoformat(),
        "local": {**{k: getattr(settings, k) for k in LOCAL_PRICE_SETTINGS},
                  "energy_measured_as": energy or NOT_RECORDED},
        "local_at_run_time": at_run,
        "genai_prices_version": genai_prices_version(),
        "api": [api_price(m, answers, settings) for m in models if m.get("provider") != "llama.cpp"],
    }


def api_price(model: dict[str, Any], answers: list[dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """An API model's price today (yours or genai-prices'), the dates its answers are priced for (a table's
    prices change over time), and the price sources stored with its answers."""
    key = model["model_key"]
    rows = [r for r in answers if r["model_key"] == key and not r.get("error")]
    spec_data = _stored_json(model.get("spec_json"))
    try:
        spec = ApiModelSpec.from_dict(spec_data) if isinstance(spec_data, dict) else None
    except (KeyError, TypeError, ValueError):
        spec = None
    pricing = pricing_for(spec, settings) if spec is not None else None
    source = NOT_RECORDED
    if pricing is not None:
        source = "your price" if pricing.override is not None else (
            f"genai-prices {genai_prices_version()}" if pricing.known else "no price known")
    dates = sorted({str(r["created_at"])[:10] for r in rows if r.get("created_at")})
    at_run = set()
    for r in rows:
        detail = _stored_json(r.get("cost_json"))
        if isinstance(detail, dict) and detail.get("source"):
            at_run.add(detail["source"] + (f" {detail['prices_version']}" if detail.get("prices_version") else ""))
    return {"model": key, "price": pricing.describe() if pricing is not None else NOT_RECORDED, "source": source,
            "priced_for_dates": [dates[0], dates[-1]] if dates else NOT_RECORDED,
            "sources_at_run_time": sorted(at_run) or NOT_RECORDED}


def _stored_json(text: str | None) -> Any:
    """A JSON column as data; NOT_RECORDED when it is empty (or unreadable: better said than guessed)."""
    if not text:
        return NOT_RECORDED
    try:
        value = json.loads(text)
    except ValueError:
        return NOT_RECORDED
    return value if value not in ({}, [], None) else NOT_RECORDED
