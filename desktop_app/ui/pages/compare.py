"""Placeholder for the Compare screen (being built)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop_app.ui.context import AppContext


class ComparePage(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        QVBoxLayout(self).addWidget(QLabel("Compare (coming)"))
