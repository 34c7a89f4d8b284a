"""Where ModelScout keeps its data, cache, settings and models (MODELSCOUT_HOME overrides all)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

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
    base = _override() or Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    base.mkdir(parents=True, exist_ok=True)
    return base


def config_dir() -> Path:
    base = _override() or Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    base.mkdir(parents=True, exist_ok=True)
    return base


def cache_dir() -> Path:
    override = _override()
    base = override / "cache" if override else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    base.mkdir(parents=True, exist_ok=True)
    return base


def database_path() -> Path:
    return data_dir() / "modelscout.db"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def user_models_dir() -> Path:
    """Models the user made here (quantized variants) or dropped in."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
