"""The two parts of `make package` that change what the bundle holds: ICU's data cut to what Qt uses, and
the stand-ins for PySide6's OpenGL modules. Both run here on the installed wheels, without PyInstaller."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"


def _module(name: str):
    # packaging/ is not a package (and "packaging" is a PyPI name): load the file itself
    spec = importlib.util.spec_from_file_location(f"modelscout_packaging_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _icu_folder() -> Path:
    import PySide6

    return Path(PySide6.__file__).parent / "Qt" / "lib"


needs_bundled_icu = pytest.mark.skipif(
    sys.platform != "linux" or not any(_icu_folder().glob("libicudata.so.*")) or shutil.which("cc") is None,
    reason="the PySide6 wheel bundles ICU on Linux only, and assembling the library needs a C compiler")


@needs_bundled_icu
def test_icu_data_is_cut_and_still_serves_what_qt_asks(tmp_path):
    icu = _module("icu_data")
    original = next(p for p in _icu_folder().glob("libicudata.so.*") if not p.is_symlink())
    for library in _icu_folder().glob("libicu*.so.*"):
        shutil.copyfile(library, tmp_path / library.name)
    copy = tmp_path / original.name

    before, after = icu.trim(copy)  # trim() loads the new library through ICU and calls what Qt calls

    assert before == original.stat().st_size
    assert after < before / 3
    _, offset, size = icu.data_symbol(copy.read_bytes())
    _, items = icu.read_package(copy.read_bytes()[offset:offset + size])
    names = [name for name, _ in items]
    assert names == sorted(names), "ICU finds items by binary search: the table must stay sorted"
    tops = {name.split("/")[1] for name in names if name.count("/") == 2}
    assert "coll" in tops and not tops & set(icu.DROPPED_TREES)
    assert not any(name.endswith(".cnv") for name in names)
    assert any(name.endswith("/cnvalias.icu") for name in names)


@needs_bundled_icu
def test_icu_check_refuses_data_that_lost_what_qt_needs(tmp_path, monkeypatch):
    icu = _module("icu_data")
    for library in _icu_folder().glob("libicu*.so.*"):
        shutil.copyfile(library, tmp_path / library.name)
    copy = next(p for p in tmp_path.glob("libicudata.so.*"))
    untouched = copy.read_bytes()
    monkeypatch.setattr(icu, "DROPPED_TREES", (*icu.DROPPED_TREES, "coll"))  # collation is what QCollator needs

    with pytest.raises(RuntimeError, match="ucol_open"):
        icu.trim(copy)
    assert copy.read_bytes() == untouched, "a failed trim leaves the library as it was"


def test_icu_package_round_trips():
    icu = _module("icu_data")
    header = bytes([32, 0, 0xDA, 0x27]) + bytes(8) + b"CmnD" + bytes(16)
    items = [("icudt99l/a.res", b"x" * 5), ("icudt99l/coll/b.res", b"y" * 17), ("icudt99l/z.icu", b"z" * 16)]
    package = icu.write_package(header, items)
    read_header, read_items = icu.read_package(package)
    assert read_header == header
    assert [(name, data.rstrip(b"\0")) for name, data in read_items] == items
    assert not any(package.index(data) % icu.ALIGNMENT for _, data in items), "items are aligned to 16 bytes"
    assert not icu.keep("icudt99l/lang/en.res") and not icu.keep("icudt99l/ibm-943_P15A-2003.cnv")
    assert icu.keep("icudt99l/coll/sv.res") and icu.keep("icudt99l/en.res") and icu.keep("icudt99l/cnvalias.icu")


def test_pyqtgraph_draws_with_the_opengl_stand_ins():
    """The packaged app's runtime hook first, then pyqtgraph as the Tradeoff screen uses it: the plot
    renders, and anything that would need OpenGL says so plainly."""
    script = f"""
import runpy, sys
runpy.run_path({str(PACKAGING / "rth_without_opengl.py")!r})
from PySide6.QtWidgets import QApplication
app = QApplication([])
import pyqtgraph as pg
plot = pg.PlotWidget()
plot.plot([0.1, 0.4, 0.9], [0.2, 0.8, 0.5], pen=pg.mkPen("r", width=3), symbol="o")
plot.resize(320, 240)
image = plot.grab().toImage()
colours = {{image.pixel(x, y) for x in range(0, 320, 4) for y in range(0, 240, 4)}}
assert len(colours) > 3, colours
assert type(sys.modules["PySide6.QtOpenGL"]).__name__ == "_LeftOut"
try:
    sys.modules["PySide6.QtOpenGL"].QOpenGLBuffer
except ImportError as error:
    print("refused:", error)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False,
                            env={**_qt_offscreen_env()})
    assert result.returncode == 0, result.stderr
    assert "refused: PySide6.QtOpenGL.QOpenGLBuffer: OpenGL drawing is not part of the packaged" in result.stdout


def _qt_offscreen_env() -> dict[str, str]:
    import os

    return {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
