"""Prompt formats on real models: the file's own template, the ChatML fallback for a file without one,
llama.cpp's built-in templates, plain completion; echoes never pass a check; per-answer peak memory."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from desktop_app.models.gguf_meta import _read_header, read_chat_template, read_metadata
from desktop_app.providers import llama_worker
from desktop_app.providers.base import ProviderError, Request, Result, Sampling, request_hash
from desktop_app.providers.local import LocalModelSpec, LocalProvider, template_identity
from desktop_app.providers.prompt_formats import COMPLETION, FALLBACK_LABEL
from desktop_app.scoring import grade
from desktop_app.scoring.checks import find_echo, run_check
from desktop_app.suites import Case, Check
from tests.ggufs import write_tiny_gguf

CAPITAL = "What is the capital of France?"
CHOICE = "Is the capital of France Paris or Lyon?"
LARGER = "Which number is larger, 7 or 9?"


def answer(provider: LocalProvider, prompt: str, system: str | None = None, max_tokens: int = 40) -> Result:
    items = list(provider.stream(Request.chat(prompt, system=system, sampling=Sampling(max_tokens=max_tokens))))
    result = items[-1]
    assert isinstance(result, Result) and result.error is None, result
    return result


@pytest.fixture(scope="module")
def providers(demo_model: Path, templateless_model: Path):
    """Each prompt format on a real model, loaded once: name -> provider."""
    made = {
        "own": LocalProvider(LocalModelSpec(str(demo_model), n_ctx=512, n_threads=2)),
        "chatml": LocalProvider(LocalModelSpec(str(demo_model), n_ctx=512, n_threads=2, chat_template="chatml")),
        "fallback": LocalProvider(LocalModelSpec(str(templateless_model), n_ctx=512, n_threads=2)),
        # No thread count: the worker's default decides.
        "completion": LocalProvider(LocalModelSpec(str(templateless_model), n_ctx=512, chat_template=COMPLETION)),
        # A format the model was not trained on: it repeats the question instead of answering it.
        "gemma": LocalProvider(LocalModelSpec(str(templateless_model), n_ctx=512, n_threads=2,
                                              chat_template="gemma")),
    }
    yield made
    for provider in made.values():
        provider.close()


def test_the_copy_without_a_template_is_the_demo_model_otherwise(demo_model: Path, templateless_model: Path,
                                                                  providers) -> None:
    (original, _), (copy, _) = _read_header(str(demo_model)), _read_header(str(templateless_model))
    assert "tokenizer.chat_template" in original.metadata and "tokenizer.chat_template" not in copy.metadata
    assert copy.metadata == {k: v for k, v in original.metadata.items() if k != "tokenizer.chat_template"}
    assert copy.string_array_lengths == original.string_array_lengths
    assert (copy.tensor_count, copy.parameters, copy.dominant_type) == \
        (original.tensor_count, original.parameters, original.dominant_type)

    def tensor_data(path: Path, start: int) -> str:  # every tensor, byte for byte
        with open(path, "rb") as file:
            file.seek(start)
            return hashlib.file_digest(file, "sha256").hexdigest()

    assert tensor_data(templateless_model, copy.data_start) == tensor_data(demo_model, original.data_start)
    assert read_chat_template(templateless_model) is None and not read_metadata(templateless_model).has_chat_template
    providers["fallback"].load()  # llama.cpp opens it
    assert providers["fallback"].loaded


def test_the_files_own_template_is_used_and_reported(providers) -> None:
    own, chatml = answer(providers["own"], CAPITAL), answer(providers["chatml"], CAPITAL)
    assert own.chat_template == "gguf" and chatml.chat_template == "chatml"
    # SmolLM2's own template adds its default system prompt; llama.cpp's plain ChatML does not.
    assert own.prompt_tokens > chatml.prompt_tokens + 10
    assert "Paris" in chatml.text


def test_a_file_without_a_template_gets_chatml_labelled_as_a_fallback(providers) -> None:
    fallback, chatml = answer(providers["fallback"], CAPITAL), answer(providers["chatml"], CAPITAL)
    assert fallback.chat_template == FALLBACK_LABEL == "chatml (fallback: no template in the file)"
    assert providers["fallback"].load_info["chat_template"] == FALLBACK_LABEL
    # The same weights in the same format: the same prompt and the same answer.
    assert (fallback.prompt_tokens, fallback.text) == (chatml.prompt_tokens, chatml.text)


def test_a_built_in_template_ends_the_turn_at_its_own_marker(providers) -> None:
    result = answer(providers["gemma"], CAPITAL)
    assert result.chat_template == "gemma"
    assert providers["gemma"].load_info["turn_stops"] == ["<end_of_turn>"]
    assert providers["chatml"].load_info["turn_stops"] == ["<|im_end|>"]
    assert "<end_of_turn>" not in result.text


def test_plain_completion_sends_the_prompts_as_text(providers) -> None:
    completion, chatml = answer(providers["completion"], CAPITAL), answer(providers["chatml"], CAPITAL)
    assert completion.chat_template == COMPLETION and providers["completion"].load_info["turn_stops"] == []
    assert completion.prompt_tokens <= chatml.prompt_tokens - 6  # no role markers around the question
    with_system = answer(providers["completion"], CAPITAL, system="Answer in one word.")
    assert with_system.prompt_tokens >= completion.prompt_tokens + 4  # the system prompt is in the text


def test_every_answer_reports_the_threads_llama_cpp_used(providers) -> None:
    assert answer(providers["chatml"], CAPITAL, max_tokens=2).threads == 2
    # None asked for: one per physical core, as llama.cpp's own tools do.
    assert answer(providers["completion"], CAPITAL, max_tokens=2).threads == (psutil.cpu_count(logical=False)
                                                                              or os.cpu_count())


def test_an_unknown_template_name_is_refused_before_loading(templateless_model: Path) -> None:
    provider = LocalProvider(LocalModelSpec(str(templateless_model), chat_template="chatml3"))
    with pytest.raises(ProviderError) as refused:
        provider.load()
    message = str(refused.value)
    assert message.startswith(f"unknown chat template 'chatml3' for {templateless_model}")
    assert "llama3" in message and "'completion'" in message and "Models screen" in message
    assert not provider.loaded
    result = list(provider.stream(Request.chat("Hi")))[-1]  # a run stores it as an error row
    assert result.finish_reason == "error" and result.error == message


def test_identity_covers_the_template_and_the_generation_code(demo_model: Path, templateless_model: Path,
                                                              tmp_path: Path) -> None:
    def identity(path: Path, template: str | None = None) -> dict:
        return LocalProvider(LocalModelSpec(str(path), chat_template=template), sha256="same").identity()

    own, fallback = identity(demo_model), identity(templateless_model)
    assert own["chat_template"].startswith("gguf:") and fallback["chat_template"] == "chatml-fallback"
    assert identity(demo_model, "llama3")["chat_template"] == "llama3"
    assert identity(templateless_model, COMPLETION)["chat_template"] == COMPLETION
    assert own["generation"] == llama_worker.GENERATION_VERSION
    request = Request.chat(CAPITAL)
    hashes = {request_hash(identity(path, template), request)
              for path, template in ((demo_model, None), (templateless_model, None), (demo_model, "chatml"),
                                     (templateless_model, COMPLETION))}
    assert len(hashes) == 4  # an answer in one format is never reused for another
    # Two files that differ only in their template text differ in identity.
    first = write_tiny_gguf(tmp_path / "a.gguf", chat_template="{{ messages[0]['content'] }}")
    second = write_tiny_gguf(tmp_path / "b.gguf", chat_template="User: {{ messages[0]['content'] }}")
    assert template_identity(LocalModelSpec(str(first))) != template_identity(LocalModelSpec(str(second)))


def test_identity_reads_the_file_once(demo_model: Path) -> None:
    provider = LocalProvider(LocalModelSpec(str(demo_model)), sha256="x")
    first = provider.identity()
    started = time.perf_counter()
    for _ in range(2000):
        assert provider.identity() == first
    assert time.perf_counter() - started < 0.5


# Echoes ------------------------------------------------------------------------------------


def test_a_real_echo_of_the_question_does_not_pass_a_contains_check(providers) -> None:
    result = answer(providers["gemma"], CHOICE)
    assert result.text.startswith(CHOICE)  # the model repeats the question, which names Paris
    assert run_check(Check("contains"), "Paris", result.text).passed  # what grading said before
    graded = grade(Case(id="capital", prompt=CHOICE, expected="Paris", checks=(Check("contains"),)), result.text)
    assert not graded.passed and graded.score == 0.0
    assert graded.reason.startswith("the answer repeats the prompt (")
    assert "only the repeated text passes the check" in graded.reason


def test_a_real_echo_of_a_number_does_not_pass_a_numeric_check(providers) -> None:
    result = answer(providers["gemma"], LARGER)
    assert result.text.lower().startswith("which number is larger, 7 or 9")
    check = Check("numeric", {"which": "any"})
    case = Case(id="larger", prompt=LARGER, expected=9, checks=(check,))
    assert run_check(check, 9, result.text).passed
    graded = grade(case, result.text)
    assert not graded.passed and "repeats the prompt" in graded.reason


def contains(prompt: str, expected: str, system: str | None = None) -> Case:
    return Case(id="c", prompt=prompt, system=system, expected=expected, checks=(Check("contains"),))


REPEAT = "Repeat: The quick brown fox jumps over the lazy dog."
FOX = "the quick brown fox jumps over the lazy dog"


@pytest.mark.parametrize("prompt, expected, text, passed", [
    # The phi3 format on the template-less model: the question back, twice.
    ("Is Paris the capital of France? Answer yes or no.", "yes",
     "Is Paris the capital of France? Answer yes or no.\n<|assistant|>\nIs Paris the capital of France? "
     "Answer yes or no.\n<|assistant|>\n", False),
    # A right answer after the repeated question passes, and says it repeats the prompt.
    (CAPITAL, "Paris", "What is the capital of France? The capital of France is Paris.", True),
    # Repeating is the task, but the whole instruction repeated back is an echo.
    (REPEAT, FOX, "Repeat: The quick brown fox jumps over the lazy dog.", False),
])
def test_an_answer_that_repeats_the_prompt_says_so(prompt: str, expected: str, text: str, passed: bool) -> None:
    graded = grade(contains(prompt, expected), text)
    assert graded.passed is passed
    assert "the answer repeats the prompt (" in graded.reason


@pytest.mark.parametrize("prompt, expected, text", [
    # Answers the demo models gave: restating part of the question is not an echo.
    (CAPITAL, "Paris", "The capital of France is Paris."),
    (CHOICE, "Paris", "The answer is:\n\nParis is the capital of France."),
    # Repeating is the task: words that are the expected answer are not an echo.
    (REPEAT, FOX, "The quick brown fox jumps over the lazy dog."),
])
def test_an_answer_that_restates_the_question_is_no_echo(prompt: str, expected: str, text: str) -> None:
    assert not find_echo(text, prompt, None, [expected])
    graded = grade(contains(prompt, expected), text)
    assert graded.passed and graded.reason == f'expected "{expected}", found it'


def test_an_echo_of_the_system_prompt_does_not_pass_either() -> None:
    system = "You are a geography tutor who always mentions Paris."
    graded = grade(contains("Name any city.", "Paris", system=system), "You are a geography tutor who always "
                                                                       "mentions Paris.")
    assert not graded.passed and "repeats the system prompt" in graded.reason


def test_a_grade_of_several_checks_says_the_answer_repeats_the_prompt() -> None:
    checks = (Check("contains"), Check("regex", {"pattern": "Paris"}))
    case = Case(id="c", prompt=CAPITAL, expected="Paris", checks=checks)
    graded = grade(case, "What is the capital of France? Paris.")
    assert graded.passed and graded.reason == "all 2 checks passed; the answer repeats the prompt (6 words)"
    failed = grade(case, "What is the capital of France? Lyon.")
    assert not failed.passed and failed.reason.count("repeats the prompt") == 2  # each failed check says so


# Peak memory --------------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the per-answer peak needs Linux's clear_refs")
def test_peak_memory_is_measured_per_answer_not_over_the_process_life() -> None:
    code = (
        "from desktop_app.providers.llama_worker import PeakMemory, _peak_memory_bytes\n"
        "blob = b'x' * (300 << 20); del blob\n"  # the process's lifetime peak is now 300 MiB higher
        # Read before the reset: some kernels reset the rusage peak with the high-water mark.
        "lifetime = _peak_memory_bytes()\n"
        "peak = PeakMemory(); peak.start(); small = [0] * 1000\n"
        "used, scope = peak.finish()\n"
        "print(used, scope, lifetime)\n")
    used, scope, lifetime = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout.split()
    assert scope == "answer"
    assert int(used) < int(lifetime) - (250 << 20)


def test_each_answer_reports_its_peak_memory_and_its_scope(providers) -> None:
    result = answer(providers["chatml"], CAPITAL, max_tokens=4)
    expected_scope = "answer" if sys.platform.startswith("linux") else "process"
    assert result.peak_memory_scope == expected_scope
    assert result.peak_memory_bytes > 50 * 2**20  # the worker holds the ~94 MiB model


def test_inspect_says_a_file_without_a_template_is_probably_a_base_model(templateless_model: Path,
                                                                          modelscout_home: Path) -> None:
    from tests.conftest import modelscout_here

    text = modelscout_here("models", "inspect", str(templateless_model), home=modelscout_home, check=True).stdout
    line = next(line for line in text.splitlines() if line.startswith("chat template"))
    assert line.split(None, 2)[2] == "no: probably a base model"


def test_the_command_line_chooses_remembers_and_clears_a_models_prompt_format(
        templateless_model: Path, capsys) -> None:
    from desktop_app import cli
    from desktop_app import settings as settings_module

    assert cli.main(["models", "template", str(templateless_model)]) == 0
    out = capsys.readouterr().out
    assert "ChatML (fallback)" in out and "probably a base model" in out
    assert cli.main(["models", "template", str(templateless_model), "llama3"]) == 0
    assert "llama3 (llama.cpp's built-in template)" in capsys.readouterr().out
    assert settings_module.load().chat_templates == {str(templateless_model.resolve()): "llama3"}
    assert cli.main(["models", "template", str(templateless_model), "no-such-format"]) == 1
    assert "no chat template named 'no-such-format'" in capsys.readouterr().err
    assert cli.main(["models", "template", str(templateless_model), "--clear"]) == 0
    assert settings_module.load().chat_templates == {}
