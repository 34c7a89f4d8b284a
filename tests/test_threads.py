"""Automatic threads: llama.cpp decodes with the cores other programs leave free (a real busy process,
a real model), and a number the user set is kept as set."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from desktop_app.models.hardware import probe
from desktop_app.providers.base import Request, Result, Sampling
from desktop_app.providers.local import LocalModelSpec, LocalProvider
from desktop_app.providers.threads import ThreadGovernor, free_threads
from desktop_app.runner.specs import local_spec
from desktop_app.settings import Settings

CPUS = psutil.cpu_count() or 1


@pytest.fixture
def busy_core() -> Iterator[subprocess.Popen]:
    """Another program holding one core for as long as the test runs."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.3)  # running, not starting
    yield hog
    hog.kill()
    hog.wait()


def test_a_core_other_programs_use_is_taken() -> None:
    assert free_threads(2, 0.0, 2) == 2
    assert free_threads(2, 0.3, 2) == 2  # background noise leaves the core free
    assert free_threads(2, 0.7, 2) == 1  # a thread waiting on a mostly busy core holds up every barrier
    assert free_threads(2, 2.0, 2) == 1  # never fewer than one
    assert free_threads(8, 2.5, 4) == 4  # never more than the most it was given
    assert free_threads(8, 6.2, 8) == 2


def test_the_governor_counts_other_programs_not_itself(busy_core: subprocess.Popen) -> None:
    governor = ThreadGovernor(CPUS, every_s=0.3)
    deadline = time.perf_counter() + 0.35
    while time.perf_counter() < deadline:  # this process busy too: its own use is not "other programs"
        pass
    threads = governor.threads()
    assert governor.other_cores >= 0.6, governor.other_cores
    assert governor.other_cores < 1.6, "its own busy loop was counted as another program's"
    assert threads == max(1, CPUS - 1)


def test_the_automatic_setting_adapts_and_a_set_number_is_kept(demo_model: Path) -> None:
    hardware = probe()
    automatic = local_spec(Settings(context_size=512), hardware, demo_model)
    chosen = local_spec(Settings(context_size=512, threads=hardware.default_threads), hardware, demo_model)
    assert automatic.adapt_threads and not chosen.adapt_threads
    assert automatic.n_threads == chosen.n_threads == hardware.default_threads


@pytest.mark.skipif(CPUS < 2 or (psutil.cpu_count(logical=False) or 1) < 2,
                    reason="one core: there is no thread to give up")
def test_a_real_answer_decodes_with_the_free_cores_while_another_program_is_busy(
        demo_model: Path, tiny_model: Path, busy_core: subprocess.Popen) -> None:
    most = psutil.cpu_count(logical=False) or CPUS
    answers: dict[bool, Result] = {}
    # A plain-text prompt of a few tokens. 2 threads on one free core crawl (0.3 tok/s was measured; each of a
    # step's hundreds of barriers waits for a time slice), so the fixed count answers with a two-layer model:
    # one token, enough to say what it decoded with.
    for adapt, model, tokens in ((True, demo_model, 24), (False, tiny_model, 1)):
        request = Request.chat("Once upon a time", sampling=Sampling(max_tokens=tokens))
        provider = LocalProvider(LocalModelSpec(path=str(model), n_ctx=512, n_threads=most,
                                                adapt_threads=adapt, chat_template="completion"))
        try:
            provider.load()
            if adapt:
                time.sleep(0.6)  # the governor's first count covers the busy program, not the load
            answers[adapt] = [item for item in provider.stream(request) if isinstance(item, Result)][-1]
        finally:
            provider.close()
    assert answers[True].error is None and answers[False].error is None
    assert answers[True].threads == min(most, CPUS - 1)
    assert answers[False].threads == most  # the user's number, even on a busy machine


def test_an_answer_starts_from_what_the_machine_does_now_not_while_the_worker_waited() -> None:
    """Another model answering (or a benchmark) while this worker waited is over when its answer starts:
    the answer begins with every thread and counts the machine from then on."""
    restarted = ThreadGovernor(CPUS, every_s=0.3)
    carried_on = ThreadGovernor(CPUS, every_s=0.3)  # the same machine, counted without a restart
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.6)
    hog.kill()
    hog.wait()
    assert restarted.restart() == CPUS
    time.sleep(0.15)  # past the first, short look
    threads = restarted.threads()
    carried_on.threads()
    # The busy program that had stopped counts for about a core in the long count, not in the restarted one
    # (whatever else the machine does shows in both alike).
    assert carried_on.other_cores - restarted.other_cores > 0.4, (carried_on.other_cores, restarted.other_cores)
    assert threads == free_threads(CPUS, restarted.other_cores, CPUS)
