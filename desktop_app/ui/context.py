"""What every screen shares: settings, the store, the model catalog and pool, and app-wide signals."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop_app import settings as settings_module
from desktop_app.models.catalog import ModelCatalog
from desktop_app.models.hardware import Hardware, probe
from desktop_app.providers.pool import ModelPool
from desktop_app.settings import Settings

if TYPE_CHECKING:
    from desktop_app.storage.store import Store


class AppContext(QObject):
    settings_changed = Signal()
    library_changed = Signal()  # models added, removed, loaded or unloaded
    runs_changed = Signal(str)  # a run was created or got new answers (its id)
    open_run = Signal(str, str)  # show a run in Results (run id, model key or "")
    open_suite = Signal(str)  # show a suite file in Suites
    navigate = Signal(str)  # switch to a screen by name
    resume_run = Signal(str)  # finish an unfinished suite run on the Suites screen (its id)

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or settings_module.load()
        self.pool = ModelPool()
        self.catalog = ModelCatalog()
        self.active_runs: set[str] = set()  # runs this app is running now (not ones a crash left "running")

    @cached_property
    def store(self) -> Store:
        """The UI thread's connection (reads, labels); background work opens its own."""
        # Imported here: sqlite-utils pulls in numpy, which would slow the window's first appearance.
        from desktop_app.storage.store import Store

        return Store(self.database_path())

    @cached_property
    def hardware(self) -> Hardware:
        return probe()

    def database_path(self):
        return settings_module.database_path(self.settings)

    def save_settings(self, settings: Settings) -> None:
        moved = settings_module.database_path(settings) != self.database_path()
        settings_module.save(settings)
        self.settings = settings
        if moved and "store" in self.__dict__:
            self.__dict__.pop("store").close()
        self.settings_changed.emit()

    def close(self) -> None:
        self.pool.close_all()
        if "store" in self.__dict__:
            self.store.close()
