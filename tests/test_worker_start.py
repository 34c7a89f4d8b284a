"""How workers start: on Linux forked from a server that imported llama.cpp's bindings once, yet each sees
the app's environment of the moment it starts and counts the app (not the server) as its own."""

from __future__ import annotations

import os
import sys
import time

import psutil
import pytest

from desktop_app.providers import worker_process
from desktop_app.providers.local import LocalModelSpec, LocalProvider


def report_environment(conn, name: str) -> None:
    conn.send((os.environ.get(name), os.getpid()))


def report_governor(conn) -> None:
    from desktop_app.providers.threads import ThreadGovernor

    conn.send(sorted(process.pid for process in ThreadGovernor(2)._own))


def _ask(target, *args):
    ctx = worker_process.context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = worker_process.start(ctx, target, (sender, *args), "llama-check")
    sender.close()
    try:
        assert receiver.poll(60), "the worker answered"
        return receiver.recv(), proc
    finally:
        proc.join(10)


def test_each_worker_sees_the_environment_of_the_moment_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    for value in ("first", "second"):  # the second starts after the fork server did, on Linux
        monkeypatch.setenv("MODELSCOUT_TEST_VALUE", value)
        (answer, pid), proc = _ask(report_environment, "MODELSCOUT_TEST_VALUE")
        seen.append(answer)
        assert proc.exitcode == 0 and pid != os.getpid()
    assert seen == ["first", "second"]


def test_a_worker_counts_the_app_that_started_it_as_its_own() -> None:
    """The thread governor leaves out its own process and the app's: never the fork server instead."""
    own, proc = _ask(report_governor)
    assert os.getpid() in own and proc.pid in own and len(own) == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is used on Linux only")
def test_workers_are_forked_from_one_server_and_named_for_what_they_are(demo_model) -> None:
    providers = [LocalProvider(LocalModelSpec(path=str(demo_model), n_ctx=256, n_threads=1)) for _ in range(2)]
    try:
        for provider in providers:
            provider.load()
        workers = [psutil.Process(provider.pid) for provider in providers]
        assert [w.name() for w in workers] == ["llama-worker"] * 2, "ps and top show what each is"
        servers = {w.ppid() for w in workers}
        assert len(servers) == 1 and servers != {os.getpid()}
        assert "multiprocessing.forkserver" in " ".join(psutil.Process(servers.pop()).cmdline())
    finally:
        started = time.perf_counter()
        for provider in providers:
            provider.close()
    assert time.perf_counter() - started < 2, "a worker that is done leaves at once"
