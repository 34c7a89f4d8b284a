"""Errors as dialogs in plain words (what happened, what to do), with the details folded away."""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from desktop_app import paths
from desktop_app.errors import UserError

log = logging.getLogger("modelscout.ui")


def show_error(parent: QWidget | None, title: str, message: str, details: str | None = None) -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(box.textFormat().PlainText)  # messages quote file names and model output
    if details:
        box.setDetailedText(details)
    box.setObjectName("errorDialog")
    box.open()  # not exec(): tests and the event loop keep running


def show_exception(parent: QWidget | None, title: str, exc: BaseException) -> None:
    """A UserError says what to do in its message; anything else is a bug, said plainly."""
    if isinstance(exc, UserError):
        show_error(parent, title, str(exc))
        return
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    _write_report(details)
    show_error(parent, title, f"Something went wrong inside ModelScout ({type(exc).__name__}: {exc}). "
                              f"Your data is safe; try again, and report it if it happens again.", details)


def _write_report(details: str) -> None:
    from desktop_app.providers.api import redact  # nothing shaped like a key reaches a file

    try:
        (paths.cache_dir() / "last-error.txt").write_text(redact(details, None), encoding="utf-8")
    except OSError:
        pass


def install_excepthook() -> None:
    """An exception in a slot becomes a dialog instead of a crashed window."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        log.error("unhandled exception", exc_info=(kind, exc, tb))
        if QApplication.instance() is None or issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        show_exception(QApplication.activeWindow(), "Unexpected error", exc)

    sys.excepthook = hook
