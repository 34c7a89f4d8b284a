"""Where ModelScout keeps its data, cache, settings and models (MODELSCOUT_HOME overrides all)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from desktop_app.errors import UserError

APP_NAME = "ModelScout"
HOME_ENV = "MODELSCOUT_HOME"

# The project's own folder of demo models (filled by `make setup`, never committed).
PROJECT_MODELS_DIR = Path(__file__).resolve().parent.parent / "local_models"
RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"


def _override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """The folder holding the SQLite store and the user's models folder."""
    return _made(_override() or Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)), "data")


def config_dir() -> Path:
    override = _override()  # one folder for everything: named as the data folder
    return _made(override or Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
                 "data" if override else "settings")


def cache_dir() -> Path:
    """Caches only: a folder that cannot be created is returned anyway, and its writers skip the cache."""
    override = _override()
    base = override / "cache" if override else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    return base


class DataFolderError(UserError):
    """A ModelScout folder cannot be created (a read-only place, a missing drive)."""


def _made(folder: Path, what: str) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFolderError(f"cannot create the {what} folder {folder} ({exc.strerror}): make its parent "
                              f"writable, or point {HOME_ENV} at a writable folder") from None
    return folder


def database_path() -> Path:
    return data_dir() / "modelscout.db"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def user_models_dir() -> Path:
    """Models the user made here (quantized variants) or dropped in."""
    path = data_dir() / "models"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # a read-only data folder: nothing can be dropped in there, and nothing is found
    return path
