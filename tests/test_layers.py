"""Layers that run one way: the app uses the core's public functions (never its private names, never a
copy of its arithmetic), and settings stay plain data that import neither the providers nor the prices."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "desktop_app"
UI = PACKAGE / "ui"


def _core(module: str) -> bool:
    return module.startswith("desktop_app") and not module.startswith("desktop_app.ui")


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(path: Path) -> list[str]:
    """Each private name of a core module the file imports or reaches through a module it imported."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[str] = []
    core_modules: dict[str, str] = {}  # local name -> core module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _core(node.module):
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{path.name}:{node.lineno}: from {node.module} import {alias.name}")
                elif _is_module(f"{node.module}.{alias.name}"):
                    core_modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _core(alias.name):
                    parts = alias.name.split(".")
                    if any(_private(part) for part in parts):
                        found.append(f"{path.name}:{node.lineno}: import {alias.name}")
                    core_modules[alias.asname or parts[0]] = alias.name if alias.asname else parts[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            dotted = []
            while isinstance(base, ast.Attribute):
                dotted.insert(0, base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in core_modules:
                found.append(f"{path.name}:{node.lineno}: {'.'.join([base.id, *dotted, node.attr])}")
    return sorted(found, key=lambda use: int(use.split(":")[1]))


def test_the_app_uses_no_private_name_of_the_core() -> None:
    files = sorted(UI.rglob("*.py"))
    assert len(files) > 20  # the scan reads the real screens
    found = [use for path in files for use in private_uses(path)]
    assert found == [], "the UI reaches into the core's private names:\n" + "\n".join(found)


def test_the_private_name_scan_catches_each_way_in(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from desktop_app.suites.loader import _read\n"
                      "from desktop_app.suites import records\n"
                      "import desktop_app.suites.csvfile as csvfile\n"
                      "records._optional_text(None)\n"
                      "csvfile._columns\n"
                      "from desktop_app.ui.widgets import _local_helper\n")
    assert [use.split(": ", 1)[1] for use in private_uses(sample)] == [
        "from desktop_app.suites.loader import _read", "records._optional_text", "csvfile._columns"]


def test_the_app_copies_none_of_the_runners_arithmetic() -> None:
    """Model configurations come from runner.specs and prices from costing, never rebuilt on a screen."""
    copies = []
    for path in sorted(UI.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == \
                    "LocalModelSpec":
                copies.append(f"{path.name}:{node.lineno}: builds a LocalModelSpec (use runner.specs)")
            if isinstance(node, ast.Constant) and node.value in (3.6e6, 3_600_000):
                copies.append(f"{path.name}:{node.lineno}: joules per kWh (use costing)")
    assert copies == [], "\n".join(copies)


def test_settings_import_neither_the_providers_nor_the_prices() -> None:
    # Loading and checking settings that hold API models and prices, as every command does.
    code = ("import json, sys; from desktop_app import settings; settings.Settings.from_dict("
            "{'api_models': ['openai:gpt-4o-mini'], 'api_model_names': {'openai:gpt-4o-mini': 'mini'}, "
            "'price_overrides': {'openai:gpt-4o-mini': {'input_usd_per_mtok': 1, 'output_usd_per_mtok': 2}}}"
            ").validate(); print(json.dumps(sorted(m for m in sys.modules if m.startswith('desktop_app'))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                       cwd=PACKAGE.parent, timeout=60).stdout)
    assert "desktop_app.settings" in loaded
    assert [m for m in loaded if m.startswith(("desktop_app.costing", "desktop_app.providers"))] == []
    # Settings still check what they can as plain data.
    from desktop_app.settings import Settings, SettingsError

    try:
        Settings.from_dict({"price_overrides": {"openai:gpt-4o-mini": {"input_usd_per_mtok": "cheap"}}})
    except SettingsError as exc:
        assert "price_overrides" in str(exc)
    else:
        raise AssertionError("a price that is not a number was accepted")
