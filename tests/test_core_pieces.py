"""Settings, energy metering, the store's migrations, and the headless-core rule."""

from __future__ import annotations

import ast
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app import settings as settings_module
from desktop_app.costing.energy import EnergyMeter, Reading, electricity_cost_usd
from desktop_app.settings import Settings, SettingsError
from desktop_app.storage import migrations
from desktop_app.storage.store import Store, StoreError

PACKAGE = Path(__file__).resolve().parent.parent / "desktop_app"
GUI_MODULES = {"PySide6", "pyqtgraph", "superqt", "shiboken6"}


# Settings -----------------------------------------------------------------------------------

def test_settings_round_trip_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    assert settings_module.load(path) == Settings()
    changed = Settings(electricity_usd_per_kwh=0.3, threads=4, model_folders=["/models"])
    settings_module.save(changed, path)
    assert settings_module.load(path) == changed
    assert not list(tmp_path.glob(".settings-*")), "saved atomically, no temporary file left"


@pytest.mark.parametrize("content, words", [
    ("{not json", "cannot read the settings"),
    ("[1, 2]", "must be a JSON object"),
    ('{"threads": "four"}', "threads has the wrong type"),
    ('{"electricity_usd_per_kwh": -1}', "electricity_usd_per_kwh must be 0 or more"),
])
def test_bad_settings_files_name_the_file_and_the_fix(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(SettingsError, match=words) as caught:
        settings_module.load(path)
    assert str(path) in str(caught.value)


def test_settings_from_a_newer_version_keep_working(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"device_watts": 30, "a_future_setting": True}))
    assert settings_module.load(path).device_watts == 30.0


# Energy -------------------------------------------------------------------------------------

def _fake_powercap(root: Path, energy_uj: int, wrap_uj: int = 262_143_328_850) -> Path:
    zone = root / "intel-rapl:0"
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{wrap_uj}\n")
    sub = root / "intel-rapl:0:0"  # the cores subzone is part of the package: never added twice
    sub.mkdir(exist_ok=True)
    (sub / "energy_uj").write_text("5\n")
    (sub / "max_energy_range_uj").write_text(f"{wrap_uj}\n")
    return root


def test_rapl_counters_measure_energy_and_survive_a_wrap(tmp_path: Path) -> None:
    root = _fake_powercap(tmp_path / "powercap", 1_000_000)
    meter = EnergyMeter(watts=65, powercap=root)
    assert meter.source == "rapl"
    start = meter.read()
    _fake_powercap(root, 3_500_000)
    assert meter.joules(start, meter.read()) == pytest.approx(2.5)
    wrapped = EnergyMeter(watts=65, powercap=_fake_powercap(tmp_path / "wrap", 990, wrap_uj=1000))
    before = wrapped.read()
    _fake_powercap(tmp_path / "wrap", 10, wrap_uj=1000)
    assert wrapped.joules(before, wrapped.read()) == pytest.approx(20e-6)


def test_without_rapl_the_configured_wattage_times_busy_time(tmp_path: Path) -> None:
    meter = EnergyMeter(watts=50, powercap=tmp_path / "absent")
    assert meter.source == "configured 50 W"
    assert meter.joules(Reading(10.0, ()), Reading(12.5, ())) == pytest.approx(125.0)
    # 3.6 MJ is one kWh
    assert electricity_cost_usd(3.6e6, 0.25) == pytest.approx(0.25)


# Store --------------------------------------------------------------------------------------

def test_migrations_are_named_recorded_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store(path).close()
    store = Store(path)  # reopening applies nothing new
    names = [row["name"] for row in store.db["_migrations"].rows]
    assert names == [fn.__name__ for fn in migrations.MIGRATIONS] and names[0] == "m001_initial"
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"runs", "run_models", "results"} <= set(store.db.table_names())
    store.close()


def test_a_failing_migration_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    Store(path).close()

    def m999_broken(db) -> None:
        db["half_made"].create({"id": int}, pk="id")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m999_broken])
    with pytest.raises(RuntimeError):
        Store(path)
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master where type='table'")}
        assert "half_made" not in tables
        assert conn.execute("select count(*) from _migrations where name='m999_broken'").fetchone()[0] == 0


def test_a_damaged_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="move it away"):
        Store(path)


def test_run_ids_resolve_by_unique_prefix(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    for run_id in ("abc12345", "abd99999"):
        store.create_run({"id": run_id, "kind": "suite", "suite_json": "{}"}, [])
    assert store.resolve_run_id("abc") == "abc12345"
    with pytest.raises(StoreError, match="ambiguous"):
        store.resolve_run_id("ab")
    with pytest.raises(StoreError, match="no run with id"):
        store.resolve_run_id("zzz")
    store.close()


# The core stays headless --------------------------------------------------------------------

def test_only_the_ui_package_imports_qt() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "ui" in path.relative_to(PACKAGE).parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in GUI_MODULES]
    assert offenders == []


def test_the_core_starts_without_llama_cpp() -> None:
    """llama.cpp is loaded only in worker processes, so start-up stays fast."""
    code = ("import sys, desktop_app.cli, desktop_app.runner.runner, desktop_app.models.catalog; "
            "print(sorted(m for m in ('llama_cpp', 'PySide6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
