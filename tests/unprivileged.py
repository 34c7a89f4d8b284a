"""Checks of file permissions that hold for root too: root reads any file, so a chmod 000 file refuses only
other users. As root, the check runs in a forked child that has become the `nobody` user; as anyone else,
it runs here. Either way the test runs, instead of skipping on machines (containers, CI) that test as root."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

NOBODY = 65534  # the `nobody` user and group on Linux and macOS


def is_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0


@contextmanager
def open_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder every user may enter: tmp_path itself, except as root, whose pytest folders only root enters."""
    if not is_root():
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="modelscout-unprivileged-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def as_ordinary_user(check: Callable[[], str]) -> str:
    """check()'s text, computed by a user that file permissions apply to. Everything `check` needs must be
    imported before: as `nobody`, the child may not read the interpreter's own folders."""
    if not is_root():
        return check()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                answer = {"text": check()}
            except BaseException as exc:  # noqa: BLE001 - told to the parent, which fails the test with it
                answer = {"raised": f"{type(exc).__name__}: {exc}"}
            os.write(write_end, json.dumps(answer).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and output, "the check crashed in the unprivileged child"
    answer = json.loads(output)
    assert "raised" not in answer, f"as user {NOBODY}: {answer.get('raised')}"
    return answer["text"]
