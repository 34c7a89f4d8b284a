"""Placeholder for the Models screen (being built)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop_app.ui.context import AppContext


class ModelsPage(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        QVBoxLayout(self).addWidget(QLabel("Models (coming)"))
