"""Shared fixtures: every test gets its own ModelScout home; model files are real GGUFs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ggufs import write_tiny_gguf

ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_VARIANT = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q2_K.gguf"
SUITES = ROOT / "resources" / "suites"


@pytest.fixture(autouse=True)
def modelscout_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """Nothing a test writes can reach the user's real data folder."""
    home = tmp_path / "modelscout-home"
    monkeypatch.setenv("MODELSCOUT_HOME", str(home))
    if "demo_model" in request.fixturenames or "demo_variant" in request.fixturenames:
        seed = request.getfixturevalue("demo_catalog")
        (home / "cache").mkdir(parents=True)
        (home / "cache" / "models.json").write_bytes(seed)
    # Keys go to a file keychain per test (CLI subprocesses inherit it); provider env keys are cleared.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_backend.FileKeyring")
    monkeypatch.setenv("MODELSCOUT_TEST_KEYRING", str(tmp_path / "keyring.json"))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    import keyring

    from tests.keyring_backend import FileKeyring

    keyring.set_keyring(FileKeyring())
    return home


@pytest.fixture(scope="session")
def demo_catalog(demo_model: Path, demo_variant: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The model catalog's cache of the demo models (metadata and sha256), worked out once by the catalog itself.
    A test that uses them starts with it in its data folder, as a user's does after the app first read them,
    instead of hashing their 180 MB again; tests of the cache give the catalog a file of their own."""
    from desktop_app.models.catalog import ModelCatalog

    cache = tmp_path_factory.mktemp("catalog") / "models.json"
    catalog = ModelCatalog(cache)
    for model in (demo_model, demo_variant):
        catalog.info(model)
        catalog.sha256(model)
    return cache.read_bytes()


@pytest.fixture(scope="session")
def demo_model() -> Path:
    if not DEMO_MODEL.exists():
        pytest.fail(f"{DEMO_MODEL} is missing; `make setup` fetches it")
    return DEMO_MODEL


@pytest.fixture(scope="session")
def demo_variant(demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second real model: the Q2_K variant `make setup` makes, or one made now."""
    if DEMO_VARIANT.exists():
        return DEMO_VARIANT
    from desktop_app.models.quantize import quantize

    return quantize(demo_model, "Q2_K", tmp_path_factory.mktemp("variant") / DEMO_VARIANT.name)


@pytest.fixture(scope="session")
def templateless_model(demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model with its chat template removed, as a base model's file would be (real weights)."""
    from tests.ggufs import copy_gguf_without

    return copy_gguf_without(demo_model, tmp_path_factory.mktemp("templateless") / "SmolLM2-135M-no-template.gguf",
                             ("tokenizer.chat_template",))


@pytest.fixture(scope="session")
def alien_model(demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model with its architecture renamed to one no llama.cpp knows (all else byte for byte)."""
    from tests.ggufs import copy_gguf_with_architecture

    return copy_gguf_with_architecture(demo_model, tmp_path_factory.mktemp("alien") / "SmolLM2-135M-alien.gguf",
                                       "alienarch")


@pytest.fixture
def store(tmp_path: Path):
    """A run database of the test's own."""
    from desktop_app.storage.store import Store

    db = Store(tmp_path / "runs.db")
    yield db
    db.close()


@pytest.fixture(scope="session")
def smol_tiny(demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight llama that reads and writes through the demo model's tokenizer and chat template:
    a real model in a real worker, for tests of what happens around answers (storing, resuming, reusing,
    identities, costs) rather than of what the answers say. It loads in a third of the demo model's time and
    answers in milliseconds, where the demo model takes a second a run on 2 cores."""
    from tests.ggufs import tiny_copy_with_tokenizer

    return tiny_copy_with_tokenizer(demo_model, tmp_path_factory.mktemp("smol-tiny") / "SmolLM2-tiny-random.gguf",
                                    n_layer=2, n_embd=64, context_length=2048)


@pytest.fixture(scope="session")
def smol_tiny_b(demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny model like `smol_tiny` (another file, another shape), for runs of two local models."""
    from tests.ggufs import tiny_copy_with_tokenizer

    return tiny_copy_with_tokenizer(demo_model, tmp_path_factory.mktemp("smol-tiny") / "SmolLM2-tiny-random-b.gguf",
                                    n_layer=3, n_embd=64, context_length=2048)


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return write_tiny_gguf(tmp_path / "tiny.gguf")


def is_worker(process) -> bool:
    """A llama.cpp worker of ModelScout's (worker_process names it so, spawned or forked), not the resource
    tracker, the fork server or another helper."""
    import psutil

    try:
        return process.name() == "llama-worker"
    except psutil.Error:
        return False


def small_model_verdict(hardware=None) -> str:
    """Where a model of a few hundred MiB (the demo models, tiny test GGUFs) runs on `hardware` (this machine,
    probed, by default): wholly on the GPU when llama.cpp can offload to one, since any GPU holds it, else on
    the CPU. Tests that show a fit expect this, so they hold on a GPU machine with a GPU build of llama.cpp
    as on one without."""
    from desktop_app.models.fit import CPU_ONLY, FULL_GPU
    from desktop_app.models.hardware import probe

    return FULL_GPU if (hardware or probe()).can_offload else CPU_ONLY


def demo_suite_copy(path: Path, count: int | None = None, ids: list[str] | None = None) -> Path:
    """The demo suite's header and cases (the first `count`, or those in `ids`) written to `path`, without
    the cases' own token limits: a test's Sampling decides how long answers may be."""
    import json

    lines = (SUITES / "demo.jsonl").read_text(encoding="utf-8").splitlines()
    cases = [json.loads(line) for line in lines[1:] if line.startswith("{")]
    cases = [c for c in cases if ids is None or c["id"] in ids][:count]
    path.write_text("\n".join([lines[0], *(json.dumps({k: v for k, v in c.items() if k != "max_tokens"})
                                            for c in cases)]) + "\n", encoding="utf-8")
    return path


def modelscout_here(*args: str, home: Path | None = None, env: dict[str, str] | None = None,
                    stdin: str = "", check: bool = False) -> subprocess.CompletedProcess:
    """`modelscout ARGS` run by `cli.main` in this process, as `python -m desktop_app ARGS` runs it (its
    __main__ is `raise SystemExit(main())`): the same exit code, stdout and stderr, without the second a new
    interpreter takes to start. For a command's output and exit code; a test of the process itself (signals,
    kill -9, what a fresh interpreter imports or prints on its way out) starts a real one."""
    import contextlib
    import io
    import sys

    from desktop_app import cli

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**({"MODELSCOUT_HOME": str(home)} if home else {}), **(env or {})}.items():
            patch.setenv(name, value)
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exc:  # argparse's usage errors and --help
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    if check and code != 0:
        raise AssertionError(f"exit {code}\nstdout: {out.getvalue()}\nstderr: {err.getvalue()}")
    return subprocess.CompletedProcess(["modelscout", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def small_suite(tmp_path: Path) -> Path:
    """Three demo cases: enough to exercise a run without its minute of generation."""
    return demo_suite_copy(tmp_path / "small.jsonl", 3)


@pytest.fixture
def copy_of(tmp_path: Path):
    def copy(path: Path, name: str | None = None) -> Path:
        return Path(shutil.copy(path, tmp_path / (name or path.name)))
    return copy


@pytest.fixture(scope="session")
def demo_run_db(tmp_path_factory, demo_model, demo_variant):
    """(database, run id): the first 3 demo cases on both demo models, 16 tokens each, run once for the
    whole session by the core Runner. Tests that need a stored run rather than running one copy it (the
    screens' tests with tests/ui/conftest.py's `install_run`), never generating it again."""
    from desktop_app.models.catalog import ModelCatalog
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings
    from desktop_app.storage.store import Store
    from desktop_app.suites import load_suite

    home = tmp_path_factory.mktemp("demo-run")
    suite_path = demo_suite_copy(home / "small.jsonl", 3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELSCOUT_HOME", str(home))
        store = Store(home / "modelscout.db")
        runner = Runner(store, Settings(threads=2, context_size=1024), ModelCatalog(home / "models.json"))
        run_id = runner.create_run(load_suite(suite_path), [runner.spec_for(demo_model),
                                                            runner.spec_for(demo_variant)], Sampling(max_tokens=16))
        assert list(runner.execute(run_id))[-1].status == "complete"
        # As if measured on a quiet machine, whatever this shared machine was doing: a test sets its own flags.
        with store.transaction():
            store.db.execute("update results set under_load = 0, other_cpu_share = 0.0, sharing = 0")
        store.close()
    return home / "modelscout.db", run_id


@pytest.fixture(scope="session")
def llama_server(demo_model: Path):
    """llama-cpp-python's OpenAI-compatible server on loopback, serving the demo model as "demo"."""
    from tests.servers import LlamaServer

    server = LlamaServer(demo_model)
    yield server
    server.stop()
