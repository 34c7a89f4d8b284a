"""Writing report files whole or not at all: every target is checked before anything is written, each file is
written beside its target under a temporary name and moved into place only when all of them were written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from desktop_app.errors import UserError


class ReportError(UserError):
    """A report cannot be written where asked: says where and what to do instead."""


def file_target(path: str | Path, what: str, example: str) -> Path:
    """`path` as a file a report can be written to; a folder, or a folder that does not exist, is refused in
    words before any work is done."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise ReportError(f"{target} is a folder; give the {what} a file name, e.g. {target / example}")
    folder = target.parent
    if not folder.exists():
        raise ReportError(f"cannot write the {what} to {target}: the folder {folder} does not exist; create it "
                          f"or choose another folder")
    if not folder.is_dir():
        raise ReportError(f"cannot write the {what} to {target}: {folder} is a file, not a folder; choose "
                          f"another path")
    if not os.access(folder, os.W_OK):
        raise ReportError(f"cannot write the {what} to {target}: the folder {folder} is not writable; choose a "
                          f"folder you can write to")
    return target


def write_all(files: dict[Path, str]) -> list[Path]:
    """Write every file, or none: each goes to a temporary file in its own folder first (so the move into place
    is atomic), and the temporary files are removed if any write fails."""
    written: list[tuple[Path, Path]] = []
    try:
        for target, text in files.items():
            written.append((_write_temporary(target, text), target))
        for temporary, target in written:
            os.replace(temporary, target)
    except OSError as exc:
        for temporary, _target in written:
            temporary.unlink(missing_ok=True)
        where = exc.filename or next(iter(files), "")
        raise ReportError(f"cannot write the report to {where}: {exc.strerror or exc}; choose another folder or "
                          f"free some space") from None
    return list(files)


def _write_temporary(target: Path, text: str) -> Path:
    """A new file beside `target`, made with the user's usual permissions (mkstemp's are owner-only, and a
    report is for sharing)."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary
