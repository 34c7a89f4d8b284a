"""The self-test's window step: the main window built, every screen shown on the self-test's run and
rendered into an image (offscreen unless a platform is set), so a packaged app that lost a Qt plugin, a
style or a screen's module fails here rather than in a user's hands."""

from __future__ import annotations

import sys

from PySide6.QtCore import QEventLoop, QTimer, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

# Each screen's first reads run on worker threads: the picture waits until they have landed (at least
# SETTLE_MIN_MS, for reads a screen starts on a timer; at most SETTLE_MAX_MS, then it is taken as it is).
SETTLE_MIN_MS, SETTLE_MAX_MS = 30, 2000


def render_screens(run_id: str) -> list[str]:
    from desktop_app.ui.context import AppContext
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.style import apply_style

    qInstallMessageHandler(_quiet_offscreen)
    app = QApplication.instance() or QApplication(["modelscout", "--self-test"])
    apply_style(app)
    ctx = AppContext()
    window = MainWindow(ctx)
    window.resize(1280, 800)
    window.show()
    rendered = []
    try:
        for name in list(window.pages):
            page = window.show_page(name)
            if name in ("Results", "Tradeoff") and hasattr(page, "show_run"):
                page.show_run(run_id)
            _settle()
            picture = window.grab()
            if picture.isNull() or picture.width() < 200:
                raise RuntimeError(f"the {name} screen rendered no picture")
            rendered.append(name)
    finally:
        window.close()
        _pump(50)
        ctx.close()
    return rendered


def _quiet_offscreen(_kind: object, _context: object, message: str) -> None:
    """Qt's offscreen platform warns that it cannot size windows to hints: noise in a one-line-per-step
    report. Everything else Qt says still reaches stderr."""
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def _settle() -> None:
    from desktop_app.ui.workers import jobs_running

    waited = 0
    while waited < SETTLE_MAX_MS and (waited < SETTLE_MIN_MS or jobs_running()):
        _pump(10)
        waited += 10


def _pump(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()  # a hung step is caught by the self-test's own time limit
