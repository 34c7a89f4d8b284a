"""The licences the About dialog lists: ModelScout's, its libraries' (read from installed metadata), its models'.

Read at run time from each distribution's metadata, so the list says what is installed, not what was true when
this was written. A packaged app may lack some metadata: those say "not recorded", never fail.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app import __version__, paths
from desktop_app.models.demo_model import DEMO, DemoModel

NOT_RECORDED = "not recorded"
APP_DISTRIBUTION = "modelscout"
# ModelScout's licence as pyproject.toml declares it (`license`); the repository holds no LICENSE file with the
# text. Used where the installed metadata is missing (a packaged app); a test keeps the two the same.
APP_LICENCE = "Apache-2.0"
# [project] dependencies in pyproject.toml, for a packaged app without ModelScout's own metadata (a test keeps
# this list the same as the file's).
RUNTIME_DEPENDENCIES = (
    "llama-cpp-python", "gguf", "sqlite-utils", "platformdirs", "psutil", "nvidia-ml-py", "PySide6-Essentials",
    "pyqtgraph", "openai", "anthropic", "genai-prices", "keyring", "truststore", "certifi", "numpy", "jsonschema",
    "rouge-score", "sacrebleu", "pyyaml", "pydantic", "jinja2",
)
# What a library's metadata cannot say: the native code inside it, and the licence it is used under here.
NOTES = {
    "llama-cpp-python": "includes llama.cpp and ggml (MIT)",
    "PySide6-Essentials": "Qt for Python and Qt 6, used under the LGPL-3.0",
}
LONGEST_LICENCE_FIELD = 80  # a longer License field holds the licence's whole text, not its name

Metadata = Callable[[str], "metadata.PackageMetadata"]


@dataclass(frozen=True)
class Licence:
    name: str
    version: str  # "" when unknown
    licence: str  # an SPDX expression or a licence's name; NOT_RECORDED when the metadata says nothing
    note: str = ""


@dataclass(frozen=True)
class AboutInfo:
    app: Licence
    libraries: list[Licence]
    models: list[Licence]


def about(models_folder: Path | None = None, read: Metadata = metadata.metadata) -> AboutInfo:
    """Everything the About dialog shows (reads a few metadata files: milliseconds)."""
    return AboutInfo(app_licence(read), library_licences(runtime_dependencies(read), read),
                     model_licences(models_folder))


def app_licence(read: Metadata = metadata.metadata) -> Licence:
    found = distribution_licence(APP_DISTRIBUTION, read)
    licence = found.licence if found.licence != NOT_RECORDED else APP_LICENCE
    return Licence("ModelScout", __version__, licence)


def runtime_dependencies(read: Metadata = metadata.metadata) -> list[str]:
    """The names of ModelScout's runtime dependencies: its installed Requires-Dist (no extras), else the list."""
    try:
        requires = read(APP_DISTRIBUTION).get_all("Requires-Dist") or []
    except (metadata.PackageNotFoundError, OSError, ValueError):
        requires = []
    names = [_requirement_name(line) for line in requires if "extra" not in line.partition(";")[2]]
    return [name for name in names if name] or list(RUNTIME_DEPENDENCIES)


def library_licences(names: Sequence[str], read: Metadata = metadata.metadata) -> list[Licence]:
    return sorted((distribution_licence(name, read) for name in names), key=lambda item: item.name.casefold())


def distribution_licence(name: str, read: Metadata = metadata.metadata) -> Licence:
    """One installed distribution's licence: License-Expression, else a short License field, else its License
    classifiers; NOT_RECORDED when none is there or the distribution's metadata is missing."""
    note = next((text for known, text in NOTES.items() if _canonical(known) == _canonical(name)), "")
    try:
        meta = read(name)
    except (metadata.PackageNotFoundError, OSError, ValueError):
        return Licence(name, "", NOT_RECORDED, note)
    version = meta.get("Version") or ""
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return Licence(name, version, expression, note)
    field = (meta.get("License") or "").strip()
    if field and "\n" not in field and len(field) <= LONGEST_LICENCE_FIELD and field.upper() != "UNKNOWN":
        return Licence(name, version, field, note)
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::") and c.count("::") >= 2]
    if classifiers:
        return Licence(name, version, " / ".join(classifiers), note)
    return Licence(name, version, NOT_RECORDED, note)


def model_licences(models_folder: Path | None = None, model: DemoModel = DEMO) -> list[Licence]:
    """The models ModelScout fetches itself (the demo model), and whether it fetched it into `models_folder`."""
    folder = paths.user_models_dir() if models_folder is None else models_folder
    fetched = (folder / model.file_name).is_file()
    where = f"fetched into {folder}" if fetched else "not fetched on this machine"
    return [Licence(f"{model.title} by {model.author}", "", model.licence,
                    f"the demo model, from the PyPI package {model.requirement}; {where}")]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(line: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return match.group(1) if match else ""
