"""The app's look: Qt's Fusion style with a calm light palette and a few touches."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

STYLE_SHEET = """
#sidebar { background: #f3f4f7; border-right: 1px solid #dcdfe6; }
#nav { background: transparent; border: none; font-size: 14px; }
#nav::item { padding: 9px 14px; border-radius: 6px; margin: 1px 6px; }
#nav::item:selected { background: #2f6fde; color: white; }
#nav::item:hover:!selected { background: #e4e7ee; }
QPushButton { padding: 5px 12px; }
QPushButton#primary { background: #2f6fde; color: white; border: none; border-radius: 4px; font-weight: 600; }
QPushButton#primary:disabled { background: #9db6e8; }
QPushButton#danger { background: #d9534f; color: white; border: none; border-radius: 4px; }
QPushButton#danger:disabled { background: #e8a9a7; }
QLabel#pageTitle { font-size: 18px; font-weight: 600; }
QLabel#hint { color: #5b6270; }
QLabel#emptyState { color: #5b6270; font-size: 14px; }
"""


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE_SHEET)
