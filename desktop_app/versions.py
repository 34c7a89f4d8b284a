"""Installed package versions, read from their metadata (the packages themselves are not imported)."""

from __future__ import annotations

import importlib.metadata


def installed_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
