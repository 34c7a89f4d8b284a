"""The licences the About dialog lists, read from the installed packages' metadata; missing metadata (a packaged
app) says "not recorded" instead of failing."""

from __future__ import annotations

import importlib.metadata as metadata
import re
import tomllib
from email.message import Message
from pathlib import Path

from desktop_app import licences
from desktop_app.licences import NOT_RECORDED, about, distribution_licence, model_licences

PYPROJECT = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9._-]+", requirement).group(0)


def test_the_fallbacks_match_pyproject():
    """What a packaged app without ModelScout's own metadata shows is what pyproject.toml declares."""
    project = PYPROJECT["project"]
    assert licences.APP_LICENCE == project["license"]
    assert list(licences.RUNTIME_DEPENDENCIES) == [_name(r) for r in project["dependencies"]]


def test_the_installed_licences_are_listed_with_llama_cpp_and_qt_named(tmp_path):
    info = about(tmp_path)
    assert (info.app.name, info.app.licence) == ("ModelScout", PYPROJECT["project"]["license"])
    by_name = {library.name.lower(): library for library in info.libraries}
    assert set(by_name) == {_name(r).lower() for r in PYPROJECT["project"]["dependencies"]}
    llama = by_name["llama-cpp-python"]
    assert llama.licence == "MIT" and "llama.cpp" in llama.note and llama.version == metadata.version(
        "llama-cpp-python")
    qt = by_name["pyside6-essentials"]
    assert "LGPL-3.0" in qt.licence and "LGPL-3.0" in qt.note
    assert all(library.licence for library in info.libraries)


def test_missing_metadata_says_not_recorded_instead_of_failing(tmp_path):
    def frozen(name: str):  # a packaged app that kept no metadata: the real lookup, for names not installed
        return metadata.metadata(f"modelscout-test-absent-{name}")

    info = about(tmp_path, read=frozen)
    assert info.app.licence == licences.APP_LICENCE  # as declared, not invented
    assert [library.name for library in info.libraries] == sorted(licences.RUNTIME_DEPENDENCIES, key=str.casefold)
    assert {library.licence for library in info.libraries} == {NOT_RECORDED}
    assert distribution_licence("no-such-distribution-here").licence == NOT_RECORDED


def _meta(**fields: str | list[str]) -> Message:
    message = Message()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            message[key.replace("_", "-")] = item
    return message


def test_each_place_a_licence_can_be_recorded_is_read_in_order():
    cases = {
        "expression": _meta(Version="1", License_Expression="MIT OR Apache-2.0", License="BSD"),
        "field": _meta(Version="1", License="BSD-3-Clause",
                       Classifier="License :: OSI Approved :: MIT License"),
        "full-text": _meta(Version="1", License="Copyright (c) 2020 Someone\n\nPermission is hereby granted...",
                           Classifier=["Programming Language :: Python", "License :: OSI Approved :: MIT License"]),
        "unknown": _meta(Version="1", License="UNKNOWN"),
    }
    found = {name: distribution_licence(name, read=cases.__getitem__).licence for name in cases}
    assert found == {"expression": "MIT OR Apache-2.0", "field": "BSD-3-Clause", "full-text": "MIT License",
                     "unknown": NOT_RECORDED}


def test_the_demo_model_is_listed_with_its_licence_and_whether_it_was_fetched(tmp_path):
    (model,) = model_licences(tmp_path)
    assert "SmolLM2" in model.name and "Hugging Face" in model.name and model.licence == "Apache-2.0"
    assert "not fetched" in model.note
    (tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    (model,) = model_licences(tmp_path)
    assert f"fetched into {tmp_path}" in model.note
