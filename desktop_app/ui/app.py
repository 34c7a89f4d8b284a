"""Start the desktop app: `modelscout-app`, or `python -m desktop_app` with no command."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

_STARTED = time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # worker processes of a packaged app start through here
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.errors import UserError
    from desktop_app.ui.errors import install_excepthook
    from desktop_app.ui.style import apply_style

    app = QApplication.instance() or QApplication(sys.argv if argv is None else ["modelscout", *argv])
    app.setApplicationName("ModelScout")
    app.setOrganizationName("ModelScout")
    app.setDesktopFileName("modelscout")  # the .desktop entry: Linux shells group the window under its icon
    _set_icon(app)
    apply_style(app)
    install_excepthook()
    try:
        from desktop_app.ui.context import AppContext
        from desktop_app.ui.main_window import MainWindow

        window = MainWindow(AppContext())
    except UserError as exc:  # e.g. a damaged settings file: say so, in a dialog, and stop cleanly
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "ModelScout cannot start", str(exc))
        return 1
    window.show()
    if os.environ.get("MODELSCOUT_STARTUP_PROBE"):  # benchmarks/startup_time.py reads this line
        QTimer.singleShot(0, lambda: (print(f"window shown after {time.perf_counter() - _STARTED:.3f} s",
                                            flush=True), app.quit()))
    return app.exec()


def _set_icon(app) -> None:  # noqa: ANN001 - a QApplication, imported lazily above
    from PySide6.QtGui import QIcon

    from desktop_app.paths import RESOURCES_DIR

    icon = RESOURCES_DIR / "icons" / "modelscout.png"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))


if __name__ == "__main__":
    raise SystemExit(main())
