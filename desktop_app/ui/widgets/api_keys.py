"""The API keys part of Settings: where each provider's key comes from; set or delete it in the keychain."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from desktop_app import keys
from desktop_app.errors import UserError
from desktop_app.providers.api import parse_model_ref
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_error
from desktop_app.ui.widgets.elided_label import ElidedLabel
from desktop_app.ui.workers import run_in_background


class ApiKeys(QWidget):
    """One row per provider (and per server the user added): its key's source, Set…, Delete."""

    changed = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.sources: dict[str, QLabel] = {}
        ctx.settings_changed.connect(self.refresh)
        self.refresh()

    def names(self) -> list[str]:
        extra = [spec.key_name for ref in self.ctx.settings.api_models if (spec := parse_model_ref(ref))]
        return keys.known_names(extra)

    def refresh(self) -> None:
        """Keychain reads may wait for an unlock prompt: done off the UI thread."""
        names = self.names()
        run_in_background(lambda: keys.status(names), self._show, lambda exc: None, self)

    def _show(self, found: list[keys.KeyLookup]) -> None:
        while self.grid.count():
            widget = self.grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.sources.clear()
        for row, lookup in enumerate(found):
            # Names and sources quote hosts and environment variables, single words that can be long: each on
            # one line, the source under its name with the row's width, elided (whole in the tooltip) if short
            # of room, never broken mid-word.
            name = ElidedLabel(lookup.name, mode=Qt.TextElideMode.ElideMiddle)
            source = ElidedLabel(f"from {lookup.source}" if lookup.source else
                                 f"not set (or set {keys.env_var(lookup.name)})", mode=Qt.TextElideMode.ElideMiddle)
            source.setObjectName("hint")
            source.setContentsMargins(0, 0, 0, 6)
            self.sources[lookup.name] = source
            set_button = QPushButton("Set…")
            set_button.setObjectName(f"setKey:{lookup.name}")
            set_button.clicked.connect(lambda *_, n=lookup.name: self.ask_and_store(n))
            delete = QPushButton("Delete")
            delete.setObjectName(f"deleteKey:{lookup.name}")
            delete.setEnabled(lookup.source == "the OS keychain")
            delete.clicked.connect(lambda *_, n=lookup.name: self.delete(n))
            self.grid.addWidget(name, 2 * row, 0)
            self.grid.addWidget(set_button, 2 * row, 1)
            self.grid.addWidget(delete, 2 * row, 2)
            self.grid.addWidget(source, 2 * row + 1, 0, 1, 3)
        self.grid.setColumnStretch(0, 1)
        self.changed.emit()

    def ask_and_store(self, name: str) -> None:
        key, ok = QInputDialog.getText(self, f"API key for {name}", f"Paste the API key for {name}. It is kept "
                                       f"in the OS keychain, never in ModelScout's files.",
                                       QLineEdit.EchoMode.Password)
        if ok and key.strip():
            self.store(name, key)

    def store(self, name: str, key: str) -> None:
        run_in_background(lambda: keys.store(name, key), lambda _: self.refresh(), self._failed, self)

    def delete(self, name: str) -> None:
        run_in_background(lambda: keys.delete(name), lambda _: self.refresh(), self._failed, self)

    def _failed(self, exc: BaseException) -> None:
        show_error(self, "API key", str(exc) if isinstance(exc, UserError) else
                   f"The keychain failed ({type(exc).__name__}); the key was not changed.")
