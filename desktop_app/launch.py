"""The one entry point of `python -m desktop_app` and of the packaged app's `modelscout` executable: no
arguments open the window, `--self-test` checks the installation, anything else is the command line."""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence


def run(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()  # a packaged app's model workers start through this executable
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--self-test"]:
        from desktop_app.selftest import main as self_test

        return self_test(args[1:])
    if args:
        from desktop_app.cli import main as cli

        return cli(args)
    from desktop_app.ui.app import main as app

    return app()
