"""The suites to pick from: the ones ModelScout ships and the ones opened recently."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from desktop_app import paths

BUNDLED_SUITES = paths.RESOURCES_DIR / "suites"
SUITE_SUFFIXES = (".jsonl", ".csv", ".yaml", ".yml")


def find_suites(recent: list[str]) -> tuple[list[Path], list[Path]]:
    """The included suites, and the recent files that still exist (file-system calls: off the UI thread)."""
    bundled = sorted(p.resolve() for p in BUNDLED_SUITES.glob("*") if p.suffix.lower() in SUITE_SUFFIXES)
    others = [Path(p) for p in recent if Path(p).is_file() and Path(p).resolve() not in bundled]
    return bundled, others


def is_bundled(path: Path) -> bool:
    return path.resolve().parent == BUNDLED_SUITES.resolve()


class SuiteList(QListWidget):
    """Sections "Included" and "Recent"; each item holds its file's path (UserRole)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("suiteList")
        self.setToolTip("Click a suite to open it")
        self.setStyleSheet("#suiteList::item { padding: 3px 4px; }")

    def fill(self, bundled: list[Path], recent: list[Path], current: Path | None) -> None:
        self.clear()
        for heading, files in (("Included", bundled), ("Recent", recent)):
            if not files:
                continue
            self._section(heading)
            for path in files:
                item = QListWidgetItem(path.name)
                item.setData(Qt.ItemDataRole.UserRole, str(path))
                item.setToolTip(str(path))
                self.addItem(item)
                if current and path == current:
                    item.setSelected(True)
                    self.setCurrentItem(item)

    def _section(self, text: str) -> None:
        item = QListWidgetItem(text.upper())
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        font = item.font()
        font.setPointSizeF(font.pointSizeF() * 0.85)
        font.setBold(True)
        item.setFont(font)
        item.setForeground(QColor("#7a808c"))
        self.addItem(item)
