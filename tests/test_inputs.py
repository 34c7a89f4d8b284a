"""Inputs the app is given end cleanly: every model file is listed with why it cannot be used, a model this
llama.cpp cannot open is never rated as fitting, and a prompt that cannot fit any context is refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from desktop_app import keys
from desktop_app.models import loadability
from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.discovery import discover
from desktop_app.models.gguf_meta import GGUFError, read_metadata
from desktop_app.providers.api import parse_model_ref
from desktop_app.providers.base import Sampling
from desktop_app.providers.registry import api_provider
from desktop_app.runner import events as ev
from desktop_app.runner.runner import Runner
from desktop_app.runner.specs import API_CONTEXT_CEILING, largest_context
from desktop_app.settings import Settings
from desktop_app.suites import SuiteError, adhoc_suite, load_suite
from tests.conftest import modelscout_here
from tests.ggufs import write_tiny_gguf
from tests.servers import LlamaServer

LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"


def modelscout(*args: str, home: Path) -> subprocess.CompletedProcess:
    """The command's exit code and output, run in this process (tests/test_cli.py starts real ones)."""
    return modelscout_here(*args, home=home)


@pytest.fixture
def unusable_folder(tmp_path: Path) -> Path:
    """A folder with one real model and three files named like models that are not: empty, notes, an LFS pointer."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    write_tiny_gguf(folder / "good.gguf")
    (folder / "empty.gguf").write_bytes(b"")
    (folder / "notes.gguf").write_text("my notes about which model to try next\n")
    (folder / "pointer.gguf").write_text(LFS_POINTER)
    return folder


# --- every file found is listed, with why it cannot be used --------------------------------------


def test_empty_and_non_gguf_files_are_found_and_say_why_they_cannot_be_used(unusable_folder: Path,
                                                                             tmp_path: Path) -> None:
    found = discover((unusable_folder,), roots=[], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    infos = ModelCatalog(tmp_path / "models.json").infos([m.path for m in found])
    why = {m.path.name: str(info) if isinstance(info, GGUFError) else None for m, info in zip(found, infos)}
    assert set(why) == {"good.gguf", "empty.gguf", "notes.gguf", "pointer.gguf"}
    assert why["good.gguf"] is None
    assert why["empty.gguf"].endswith("the file is empty (0 bytes). Download or convert the model again.")
    assert "notes.gguf: not a GGUF file" in why["notes.gguf"]
    assert "Git LFS pointer" in why["pointer.gguf"] and "git lfs pull" in why["pointer.gguf"]


def test_models_list_shows_every_file_with_its_reason(unusable_folder: Path, modelscout_home: Path) -> None:
    listed = json.loads(modelscout("models", "list", "--folder", str(unusable_folder), "--json",
                                   home=modelscout_home).stdout)
    by_name = {Path(entry["path"]).name: entry for entry in listed if Path(entry["path"]).parent == unusable_folder}
    assert set(by_name) == {"good.gguf", "empty.gguf", "notes.gguf", "pointer.gguf"}
    assert "error" not in by_name["good.gguf"] and by_name["good.gguf"]["fit"]["verdict"] != "will_not_load"
    assert "empty (0 bytes)" in by_name["empty.gguf"]["error"]
    assert "not a GGUF file" in by_name["notes.gguf"]["error"]

    proc = modelscout("models", "list", "--folder", str(unusable_folder), home=modelscout_home)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.split()}
    assert rows["empty.gguf"].rstrip().endswith("unreadable") and rows["notes.gguf"].rstrip().endswith("unreadable")
    assert "empty.gguf: " in proc.stderr and "not a GGUF file" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- an architecture this llama.cpp does not know will not load ---------------------------------


def test_inspect_says_a_model_of_an_unknown_architecture_will_not_load(alien_model: Path, demo_model: Path,
                                                                       modelscout_home: Path) -> None:
    proc = modelscout("models", "inspect", str(alien_model), "--json", home=modelscout_home)
    assert proc.returncode == 0, proc.stderr
    fit = json.loads(proc.stdout)["fit"]
    assert fit["verdict"] == "will_not_load"
    assert "does not know the model architecture 'alienarch'" in fit["reason"]
    assert fit["estimated_bytes"] > 0  # what it would need is still said

    text = modelscout("models", "inspect", str(alien_model), home=modelscout_home).stdout
    fit_line = next(line for line in text.splitlines() if line.startswith("fit "))
    assert "won't load" in fit_line and "update llama-cpp-python" in fit_line

    # The same file under its real architecture still fits: the verdict is about the architecture.
    same = json.loads(modelscout("models", "inspect", str(demo_model), "--json", home=modelscout_home).stdout)
    assert same["fit"]["verdict"] != "will_not_load"


def test_what_llama_cpp_knows_is_asked_once_per_architecture_and_remembered(
        alien_model: Path, demo_model: Path, tmp_path: Path, modelscout_home: Path) -> None:
    loadability._architectures.clear()  # as a fresh process would start
    alien_copy = tmp_path / "alien-copy.gguf"
    alien_copy.symlink_to(alien_model)
    catalog = ModelCatalog(tmp_path / "models.json")
    infos = [read_metadata(alien_model), read_metadata(alien_copy), read_metadata(demo_model)]
    before = loadability.checks_run
    problems = loadability.load_problems(infos, catalog)
    assert set(problems) == {str(alien_model), str(alien_copy)}  # one check settled both alien files
    assert loadability.checks_run == before + 1
    cache_files = list((modelscout_home / "cache").glob("llama-architectures-*.json"))
    assert [json.loads(f.read_text()) for f in cache_files] == [{"alienarch": False}]

    assert loadability.load_problems(infos, catalog) == problems  # from memory: no process
    loadability._architectures.clear()
    assert loadability.load_problems(infos, catalog) == problems  # from the cache folder: no process
    assert loadability.checks_run == before + 1


# --- API models are named by what they are -----------------------------------------------------


@pytest.fixture(scope="module")
def path_reporting_server(smol_tiny: Path):
    """llama-cpp-python's server reporting its model as the file's path, as llama.cpp's llama-server does."""
    server = LlamaServer(smol_tiny, alias=str(smol_tiny), api_key="sk-path-server")
    yield server
    server.stop()


def test_a_server_that_reports_a_file_path_names_the_model_by_the_file(
        path_reporting_server, smol_tiny: Path, store, monkeypatch: pytest.MonkeyPatch) -> None:
    server = path_reporting_server
    monkeypatch.setenv(keys.env_var(keys.name_for_url(server.base_url)), server.api_key)
    (offered,) = api_provider(parse_model_ref(f"openai-compatible:x@{server.base_url}")).list_models()
    assert offered == str(smol_tiny)  # what the server says: a file path
    ref = f"openai-compatible:{offered}@{server.base_url}"
    host = f"127.0.0.1:{server.port}"

    def run_key(settings: Settings, model: str = ref) -> str:
        runner = Runner(store, settings)
        run_id = runner.create_run(adhoc_suite("Hi"), [runner.spec_for(model)], Sampling(max_tokens=4))
        (stored,) = store.run_models(run_id)
        return stored["model_key"]

    assert run_key(Settings()) == f"{smol_tiny.stem} @ {host}"
    assert run_key(Settings(api_model_names={ref: "smol on the box"})) == "smol on the box"  # the user's name
    assert run_key(Settings(), f"smol={ref}") == "smol"  # named in the reference itself, as the CLI takes it
    assert parse_model_ref(f"smol={ref}").ref == ref  # prices and settings stay keyed by the reference


# --- a prompt that cannot fit any context is refused when the suite loads ---------------------------

CONTEXT = 4096
HUGE = "word " * 100_000  # 500 KB: at least 7,813 tokens for any tokenizer, so it fits no 4,096-token context


def _problems(path: Path) -> list[tuple[str, int | None, str | None]]:
    with pytest.raises(SuiteError) as caught:
        load_suite(path, max_prompt_tokens=CONTEXT)
    return [(Path(error.path).name, error.line, error.field) for error in caught.value.problems]


def _too_long_said(path: Path) -> str:
    with pytest.raises(SuiteError) as caught:
        load_suite(path, max_prompt_tokens=CONTEXT)
    return str(caught.value)


def test_jsonl_refuses_a_prompt_too_long_for_any_model_with_its_line_and_every_other_mistake(tmp_path: Path) -> None:
    path = tmp_path / "suite.jsonl"
    path.write_text("\n".join([json.dumps({"suite": {"name": "long"}}),
                               json.dumps({"id": "ok", "prompt": "What is 2 + 2?", "expected": "4"}),
                               json.dumps({"id": "huge", "prompt": HUGE}),
                               json.dumps({"id": "bad", "prompt": "Hi", "max_tokens": 0})]) + "\n")
    assert _problems(path) == [("suite.jsonl", 3, "prompt"), ("suite.jsonl", 4, "max_tokens")]
    said = _too_long_said(path)
    assert "suite.jsonl: 2 problems" in said and "line 3, field \"prompt\": the prompt is 488 KB, at least 7,813 " \
        "tokens for any model, more than the largest context a chosen model is given (4,096 tokens)" in said

    assert len(load_suite(_fixed(path), max_prompt_tokens=CONTEXT).cases) == 1
    assert len(load_suite(_fixed(path, keep_huge=True), max_prompt_tokens=10_000_000).cases) == 2  # an API model
    assert len(load_suite(_fixed(path, keep_huge=True)).cases) == 2  # no limit given: none checked


def _fixed(path: Path, keep_huge: bool = False) -> Path:
    """The suite with its mistakes taken out (the huge case kept when asked)."""
    lines = [line for line in path.read_text().splitlines()
             if '"max_tokens": 0' not in line and (keep_huge or HUGE[:50] not in line)]
    fixed = path.with_name(f"fixed-{keep_huge}{path.suffix}")
    fixed.write_text("\n".join(lines) + "\n")
    return fixed


def test_csv_refuses_a_prompt_too_long_with_its_row_and_every_other_mistake(tmp_path: Path) -> None:
    path = tmp_path / "suite.csv"
    path.write_text(f"id,prompt,max_tokens\nok,What is 2 + 2?,8\nhuge,{HUGE}\nbad,Hi,many\n")
    assert _problems(path) == [("suite.csv", 3, "prompt"), ("suite.csv", 4, "max_tokens")]


def test_csv_reports_header_and_row_mistakes_together(tmp_path: Path) -> None:
    path = tmp_path / "suite.csv"
    path.write_text(f"id,prompt,expected,expected\nhuge,{HUGE},a,b\n")
    assert _problems(path) == [("suite.csv", 1, "expected"), ("suite.csv", 2, "prompt")]


def test_yaml_refuses_a_prompt_too_long_with_its_line_and_every_other_mistake(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(f"name: long\ncases:\n  - id: ok\n    prompt: What is 2 + 2?\n  - id: huge\n"
                    f"    prompt: {HUGE.strip()}\n  - id: typo\n    promt: Hi\n")
    assert _problems(path) == [("suite.yaml", 6, "prompt"), ("suite.yaml", 8, "promt")]


def test_promptfoo_refuses_a_rendered_prompt_too_long_with_its_test_and_every_other_mistake(tmp_path: Path) -> None:
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text("prompts:\n  - 'Summarize: {{text}}'\ntests:\n  - vars:\n      text: short\n"
                    f"  - vars:\n      text: {HUGE.strip()}\n  - assert:\n      - type: contains\n"
                    "    vars:\n      text: x\n")
    assert _problems(path) == [("promptfooconfig.yaml", 6, "prompts"), ("promptfooconfig.yaml", 9, "assert")]


def test_openai_evals_refuse_a_sample_too_long_with_its_line_and_every_other_mistake(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join([
        json.dumps({"input": [{"role": "user", "content": "2 + 2?"}], "ideal": "4"}),
        json.dumps({"input": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": HUGE}]}),
        json.dumps({"ideal": "no input"})]) + "\n")
    assert _problems(path) == [("samples.jsonl", 2, "prompt"), ("samples.jsonl", 3, "input")]


def test_the_limit_is_the_largest_context_a_chosen_model_can_be_given() -> None:
    settings = Settings(context_size=4096)
    assert largest_context(settings, ["/m/a.gguf"]) == 4096
    assert largest_context(settings, ["/m/a.gguf"], context=32768) == 32768  # run --context
    assert largest_context(settings, ["/m/a.gguf", "openai:gpt-4o-mini"]) == API_CONTEXT_CEILING
    assert largest_context(settings) == 4096  # the Suites screen: any local model, no API model set
    assert largest_context(Settings(context_size=4096, api_models=["openai:gpt-4o-mini"])) == API_CONTEXT_CEILING


def test_run_refuses_the_suite_before_anything_is_stored(tmp_path: Path, demo_model: Path,
                                                         modelscout_home: Path) -> None:
    path = tmp_path / "suite.jsonl"
    path.write_text(json.dumps({"id": "huge", "prompt": HUGE}) + "\n" + json.dumps({"prompt": 3}) + "\n")
    proc = modelscout("run", "--suite", str(path), "--model", str(demo_model), home=modelscout_home)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "line 1, field \"prompt\": the prompt is 488 KB" in proc.stderr and "line 2" in proc.stderr
    assert not (modelscout_home / "modelscout.db").exists()  # refused before the store was opened


# --- at run time, a prompt too long for one model is a permanent error row for it -------------------


def test_a_prompt_too_long_for_a_models_context_is_a_permanent_error_and_the_run_says_so(
        store, tmp_path: Path, demo_model: Path) -> None:
    path = tmp_path / "suite.jsonl"
    path.write_text("\n".join(json.dumps(case) for case in [
        {"id": "fits", "prompt": "Say hi."},
        {"id": "counted", "prompt": "word " * 300},  # about 300 tokens: only the model's own count refuses it
        {"id": "certain", "prompt": "word " * 4_000},  # at least 313 tokens for any tokenizer: never sent
    ]) + "\n")
    suite = load_suite(path, max_prompt_tokens=1024)  # fits the largest context given: accepted at load
    runner = Runner(store, Settings(threads=2, context_size=1024), ModelCatalog(tmp_path / "models.json"))
    run_id = runner.create_run(suite, [runner.spec_for(demo_model, context=256)], Sampling(max_tokens=2))
    events = list(runner.execute(run_id))

    rows = {row["case_id"]: row for row in store.results(run_id)}
    assert rows["fits"]["error"] is None
    assert rows["counted"]["error_kind"] == "permanent" and rows["counted"]["prompt_tokens"] >= 256
    assert "more than the context size of 256" in rows["counted"]["error"]
    assert rows["certain"]["error_kind"] == "permanent" and rows["certain"]["prompt_tokens"] is None
    assert "at least 313 tokens for any model, more than" in rows["certain"]["error"] and \
        "'s context (256 tokens)" in rows["certain"]["error"]
    assert len(store.results(run_id)) == 3  # each stored once
    finished = events[-1]
    assert isinstance(finished, ev.RunFinished) and finished.status == "complete"
    assert finished.reason.startswith("2 of 3 answers failed for good")
    assert store.run(run_id)["status_reason"] == finished.reason  # the stored run says it too
