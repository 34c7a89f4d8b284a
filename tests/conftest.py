"""Shared fixtures: every test gets its own ModelScout home; model files are real GGUFs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ggufs import write_tiny_gguf

ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_VARIANT = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q2_K.gguf"
SUITES = ROOT / "resources" / "suites"


@pytest.fixture(autouse=True)
def modelscout_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Nothing a test writes can reach the user's real data folder."""
    home = tmp_path / "modelscout-home"
    monkeypatch.setenv("MODELSCOUT_HOME", str(home))
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
def demo_q8(demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model requantized up to Q8_0 (no better than its Q4_1 source, larger and slower)."""
    from desktop_app.models.quantize import quantize

    return quantize(demo_model, "Q8_0", tmp_path_factory.mktemp("q8") / "SmolLM2-135M-Instruct.Q8_0.gguf")


@pytest.fixture(scope="session")
def random_model(demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model's architecture, tokenizer and size with random weights: the floor of quality."""
    from desktop_app.models.quantize import quantize
    from tests.ggufs import random_weights_copy

    folder = tmp_path_factory.mktemp("random")
    f16 = random_weights_copy(demo_model, folder / "random-f16.gguf")
    model = quantize(f16, "Q4_1", folder / "SmolLM2-135M-random.Q4_1.gguf")
    f16.unlink()
    return model


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return write_tiny_gguf(tmp_path / "tiny.gguf")


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
def llama_server(demo_model: Path):
    """llama-cpp-python's OpenAI-compatible server on loopback, serving the demo model as "demo"."""
    from tests.servers import LlamaServer

    server = LlamaServer(demo_model)
    yield server
    server.stop()
