"""Build the packaged app: `make package` runs this.

1. PyInstaller with packaging/modelscout.spec makes the one-folder app dist/ModelScout/ (its executable
   `modelscout`: the window with no arguments, the CLI with them);
2. ICU's data is cut to what Qt uses (31 MB -> 8 MB, packaging/icu_data.py), llama.cpp's libraries that the
   wheel carries twice (libggml.so and libggml.so.0) become one file and a link, and the shared libraries'
   unneeded symbols are stripped (about 17 MB), but numpy's own (that breaks OpenBLAS);
3. the .desktop entry and the icon go beside the executable, with install-desktop-entry.sh to add them to
   the user's menu (Linux);
4. the archive dist/ModelScout-<version>-<system>-<machine>.tar.gz, which runs after unpacking on a machine
   without Python (an AppImage needs appimagetool, which the package registries here do not carry).

Prints the sizes against the goals (bundle <= 200 MB, archive <= 90 MB); packaging/check.py then runs the
frozen app in a bare environment (self-test, time to window).

    .venv/bin/python packaging/build.py [--skip-pyinstaller]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIST = ROOT / "dist"
APP = DIST / "ModelScout"
BUNDLE_GOAL_MB = 200
ARCHIVE_GOAL_MB = 90

INSTALL_ENTRY = """#!/bin/sh
# Add ModelScout to this user's application menu (run once after unpacking; run again after moving it).
set -e
here="$(cd "$(dirname "$0")" && pwd)"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"
mkdir -p "$apps" "$icons"
cp "$here/modelscout.png" "$icons/modelscout.png"
sed "s|^Exec=.*|Exec=\\"$here/modelscout\\"|" "$here/modelscout.desktop" > "$apps/modelscout.desktop"
echo "ModelScout added to the application menu ($apps/modelscout.desktop)"
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-pyinstaller", action="store_true", help="reuse dist/ModelScout as it is")
    args = parser.parse_args()
    started = time.perf_counter()
    if not args.skip_pyinstaller:
        freeze()
    trim_icu_data()
    link_duplicate_libraries()
    strip_libraries()
    add_desktop_files()
    archive = make_archive()
    bundle_mb = folder_bytes(APP) / 2**20
    archive_mb = archive.stat().st_size / 2**20
    print(f"built in {time.perf_counter() - started:.0f} s")
    print(f"bundle  {APP.relative_to(ROOT)}: {bundle_mb:.1f} MB (goal <= {BUNDLE_GOAL_MB} MB) "
          f"{'PASS' if bundle_mb <= BUNDLE_GOAL_MB else 'FAIL'}")
    print(f"archive {archive.relative_to(ROOT)}: {archive_mb:.1f} MB (goal <= {ARCHIVE_GOAL_MB} MB) "
          f"{'PASS' if archive_mb <= ARCHIVE_GOAL_MB else 'FAIL'}")
    for name, size in largest(APP, 8):
        print(f"  {size / 2**20:6.1f} MB  {name}")
    return 0


def freeze() -> None:
    from PyInstaller.__main__ import run

    run([str(ROOT / "packaging" / "modelscout.spec"), "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(DIST), "--workpath", str(ROOT / "build" / "pyinstaller")])


def trim_icu_data() -> None:
    """Linux: Qt's bundled ICU data without what Qt never asks for (see packaging/icu_data.py). macOS and
    Windows Qt use the system's ICU: nothing to do there."""
    # icu_data.py is beside this script (sys.path[0]): "packaging" is also a PyPI package's name
    from icu_data import trim

    for library in APP.rglob("libicudata.so.*"):
        if library.is_file() and not library.is_symlink():
            before, after = trim(library)
            print(f"ICU data {library.relative_to(APP)}: {before / 2**20:.1f} MB -> {after / 2**20:.1f} MB")


def link_duplicate_libraries() -> None:
    """llama-cpp-python's wheel holds each library under two names (libllama.so, libllama.so.0): the
    versioned name, which the others ask for by soname, becomes a link to the plain one (about 2 MB)."""
    if platform.system() == "Windows":
        return
    for versioned in (APP / "_internal" / "llama_cpp" / "lib").glob("lib*.so.*"):
        plain = versioned.with_name(versioned.name.split(".so")[0] + ".so")
        if (versioned.is_file() and not versioned.is_symlink() and plain.is_file()
                and versioned.read_bytes() == plain.read_bytes()):
            versioned.unlink()
            versioned.symlink_to(plain.name)


def strip_libraries() -> None:
    """Symbols no program links against, from every shared library but numpy's bundled ones (stripping
    OpenBLAS breaks it: "ELF load command address/offset not page-aligned"); about 17 MB."""
    strip = shutil.which("strip")
    if strip is None or platform.system() != "Linux":
        return
    for library in APP.rglob("*.so*"):
        if library.is_file() and not library.is_symlink() and "numpy.libs" not in library.parts:
            subprocess.run([strip, "--strip-unneeded", str(library)], check=True)


def add_desktop_files() -> None:
    internal = APP / "_internal" / "resources"
    shutil.copy2(ROOT / "resources" / "modelscout.desktop", APP / "modelscout.desktop")
    shutil.copy2(ROOT / "resources" / "icons" / "modelscout.png", APP / "modelscout.png")
    script = APP / "install-desktop-entry.sh"
    script.write_text(INSTALL_ENTRY, encoding="utf-8")
    script.chmod(0o755)
    if not internal.is_dir():
        raise SystemExit(f"{internal} is missing: the spec did not bundle resources/")


def make_archive() -> Path:
    from desktop_app import __version__

    name = f"ModelScout-{__version__}-{platform.system().lower()}-{platform.machine().lower()}.tar.gz"
    target = DIST / name
    partial = target.with_suffix(".partial")
    with tarfile.open(partial, "w:gz", compresslevel=9) as archive:
        archive.add(APP, arcname="ModelScout")
    os.replace(partial, target)  # never a half-written archive under the real name
    return target


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def largest(folder: Path, count: int) -> list[tuple[str, int]]:
    files = [(str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*")
             if p.is_file() and not p.is_symlink()]
    return sorted(files, key=lambda item: -item[1])[:count]


if __name__ == "__main__":
    raise SystemExit(main())
