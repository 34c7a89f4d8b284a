"""ICU's data, cut to what Qt asks of it: the bundled libicudata goes from about 31 MB to about 8 MB.

Qt 6 (the PySide6 wheels link ICU on Linux) calls ICU for five things only, as `nm -D libQt6Core.so.6` shows:
case mapping (compiled into libicuuc, no data), text codecs (`ucnv_*`), collation (`ucol_*`, QCollator and
the file dialog's sorting), calendars and time-zone names (`ucal_*`). ModelScout shows no time-zone names
and decodes no legacy code pages (Python reads every file), so the package keeps the locale data, the
collation rules of every language, the normalization and property files and the converter aliases, and
leaves out:

- the legacy code-page tables (`*.cnv`: UTF-8/16/32, ASCII and Latin-1 are algorithmic and need none);
- the trees of display names (languages, regions, currencies, units, time zones), transliteration,
  spelled-out numbers and word-break dictionaries (Qt breaks text itself).

An item ICU does not find gives it U_MISSING_RESOURCE_ERROR and its fallback (a time zone shown as
"GMT+01:00"), never a crash. `check()` loads the new library through ICU itself and exercises each
function Qt uses before the bundle is accepted.

The data is ICU's "common data" package (the format of an `icudt73l.dat` file): a header, a table of
contents (item count, then name and data offsets, sorted by name), the names, then each item aligned to 16
bytes. The same bytes sit in libicudata under the symbol `icudt73_dat`; the new library is that symbol
alone, assembled from the kept items with `.incbin` (a C compiler is at hand: llama.cpp was compiled).

    python packaging/icu_data.py dist/ModelScout/_internal/PySide6/Qt/lib/libicudata.so.73
"""

from __future__ import annotations

import ctypes
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

DROPPED_TREES = ("brkitr", "curr", "lang", "rbnf", "region", "translit", "unit", "zone")
DROPPED_SUFFIXES = (".cnv",)
ALIGNMENT = 16


def keep(name: str) -> bool:
    """Whether the package item `icudt73l/...` stays (see the module's docstring for why)."""
    path = name.split("/", 1)[1]
    if "/" in path:
        return path.split("/", 1)[0] not in DROPPED_TREES
    return not path.endswith(DROPPED_SUFFIXES)


def data_symbol(library: bytes) -> tuple[str, int, int]:
    """(name, file offset, size) of the `icudtNN_dat` symbol, read from the ELF's dynamic symbol table."""
    if library[:4] != b"\x7fELF" or library[4] != 2 or library[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", library, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", library, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", library, shoff + i * shentsize) for i in range(shnum)]
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind != 11:  # SHT_DYNSYM
            continue
        strings = sections[link][4]
        for at in range(offset, offset + size, entsize):
            st_name, _info, _other, _shndx, value, st_size = struct.unpack_from("<IBBHQQ", library, at)
            name = library[strings + st_name:library.index(b"\0", strings + st_name)].decode()
            if re.fullmatch(r"icudt\d+_dat", name):
                for _n, _k, _f, addr, sec_offset, sec_size, *_ in sections:
                    if addr <= value < addr + sec_size and _k != 8:  # not SHT_NOBITS
                        return name, sec_offset + (value - addr), st_size
    raise ValueError("no icudtNN_dat symbol: not ICU's data library")


def read_package(blob: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The package's header and its items (name, bytes) in table order."""
    header_size, magic1, magic2 = struct.unpack_from("<HBB", blob, 0)
    if (magic1, magic2) != (0xDA, 0x27) or blob[12:16] != b"CmnD":
        raise ValueError("not ICU common data (no CmnD header)")
    base = header_size
    (count,) = struct.unpack_from("<I", blob, base)
    entries = [struct.unpack_from("<II", blob, base + 4 + 8 * i) for i in range(count)]
    items = []
    for i, (name_offset, data_offset) in enumerate(entries):
        name = blob[base + name_offset:blob.index(b"\0", base + name_offset)].decode("ascii")
        end = entries[i + 1][1] if i + 1 < count else len(blob) - base
        items.append((name, blob[base + data_offset:base + end]))
    return blob[:header_size], items


def write_package(header: bytes, items: list[tuple[str, bytes]]) -> bytes:
    names = b"".join(name.encode("ascii") + b"\0" for name, _ in items)
    table_size = 4 + 8 * len(items)
    data_start = _aligned(len(header) + table_size + len(names)) - len(header)
    name_offsets, data_offsets, data = [], [], bytearray()
    name_at = table_size
    for name, item in items:
        name_offsets.append(name_at)
        name_at += len(name) + 1
        data_offsets.append(data_start + len(data))
        data += item + b"\0" * (_aligned(len(item)) - len(item))
    table = struct.pack("<I", len(items)) + b"".join(
        struct.pack("<II", n, d) for n, d in zip(name_offsets, data_offsets))
    body = table + names
    body += b"\0" * (data_start - len(body))
    return header + body + bytes(data)


def _aligned(size: int) -> int:
    return (size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def trim(library: Path) -> tuple[int, int]:
    """Rewrite `library` (libicudata.so.NN) with the kept items only; returns (bytes before, after).
    The original stays untouched if anything fails (the check included)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc) to assemble the trimmed ICU data library")
    original = library.read_bytes()
    symbol, offset, size = data_symbol(original)
    header, items = read_package(original[offset:offset + size])
    kept = [(name, item) for name, item in items if keep(name)]
    package = write_package(header, kept)
    if read_package(package)[1] != kept:
        raise RuntimeError("the trimmed ICU package does not read back as written")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "data.dat").write_bytes(package)
        (work / "data.S").write_text(
            f'\t.section .rodata\n\t.globl {symbol}\n\t.type {symbol}, @object\n\t.balign {ALIGNMENT}\n'
            f'{symbol}:\n\t.incbin "{work / "data.dat"}"\n\t.size {symbol}, . - {symbol}\n'
            '\t.section .note.GNU-stack,"",@progbits\n', encoding="ascii")
        built = work / library.name
        subprocess.run([compiler, "-shared", "-nostdlib", f"-Wl,-soname,{library.name}", "-o", str(built),
                        str(work / "data.S")], check=True)
        check(built, library.parent)
        shutil.copyfile(built, library)
    return len(original), library.stat().st_size


def check(data_library: Path, icu_folder: Path) -> None:
    """Load `data_library` through the bundle's libicuuc/libicui18n and call each function Qt uses, in a
    fresh process: a process that has loaded an ICU once keeps it (the loader matches by soname)."""
    result = subprocess.run([sys.executable, __file__, "--check", str(data_library), str(icu_folder)],
                            capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip()
                           else f"the ICU data check failed (exit {result.returncode})")


def _check_here(data_library: Path, icu_folder: Path) -> None:
    version = re.search(r"\.so\.(\d+)", data_library.name).group(1)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        shutil.copyfile(data_library, folder / data_library.name)
        for part in ("uc", "i18n"):
            shutil.copyfile(icu_folder / f"libicu{part}.so.{version}", folder / f"libicu{part}.so.{version}")
        # Loaded in order, each by its full path: libicuuc then finds libicudata already loaded by soname.
        ctypes.CDLL(str(folder / data_library.name), mode=ctypes.RTLD_GLOBAL)
        uc = ctypes.CDLL(str(folder / f"libicuuc.so.{version}"), mode=ctypes.RTLD_GLOBAL)
        i18n = ctypes.CDLL(str(folder / f"libicui18n.so.{version}"), mode=ctypes.RTLD_GLOBAL)
        _exercise(uc, i18n, version)


def _exercise(uc, i18n, version: str) -> None:
    def call(library, name: str, *args, restype=ctypes.c_void_p):
        function = getattr(library, f"{name}_{version}")
        function.restype = restype
        status = ctypes.c_int(0)
        result = function(*args, ctypes.byref(status))
        if status.value > 0:  # U_FAILURE; negative values are warnings (a fallback was used)
            raise RuntimeError(f"trimmed ICU data: {name} failed with error {status.value}")
        return result

    call(uc, "u_init", restype=None)
    for codec in (b"UTF-8", b"UTF-16LE", b"ISO-8859-1", b"US-ASCII"):
        converter = call(uc, "ucnv_open", codec)
        getattr(uc, f"ucnv_close_{version}")(ctypes.c_void_p(converter))
    upper = (ctypes.c_uint16 * 8)()
    source = (ctypes.c_uint16 * 2)(ord("i"), 0)
    length = call(uc, "u_strToUpper", upper, 8, source, 1, b"tr", restype=ctypes.c_int32)
    if length != 1 or upper[0] != 0x130:  # Turkish dotted capital I: the locale's case mapping works
        raise RuntimeError("trimmed ICU data: Turkish case mapping failed")
    for locale in (b"", b"en_US", b"sv", b"de", b"zh"):
        collator = call(i18n, "ucol_open", locale)
        a, b = (ctypes.c_uint16 * 2)(ord("a"), 0), (ctypes.c_uint16 * 2)(ord("b"), 0)
        compare = getattr(i18n, f"ucol_strcoll_{version}")
        compare.restype = ctypes.c_int
        if compare(ctypes.c_void_p(collator), a, 1, b, 1) != -1:
            raise RuntimeError(f"trimmed ICU data: collation for {locale!r} does not sort a before b")
        getattr(i18n, f"ucol_close_{version}")(ctypes.c_void_p(collator))
    zone = (ctypes.c_uint16 * 14)(*map(ord, "Europe/Paris"), 0, 0)
    calendar = call(i18n, "ucal_open", zone, 12, b"en_US", 0)
    name = (ctypes.c_uint16 * 64)()
    call(i18n, "ucal_getTimeZoneDisplayName", ctypes.c_void_p(calendar), 0, b"en_US", name, 64,
         restype=ctypes.c_int32)
    getattr(i18n, f"ucal_close_{version}")(ctypes.c_void_p(calendar))


if __name__ == "__main__":
    if sys.argv[1] == "--check":
        try:
            _check_here(Path(sys.argv[2]), Path(sys.argv[3]))
        except RuntimeError as error:
            raise SystemExit(str(error)) from None
        raise SystemExit(0)
    before, after = trim(Path(sys.argv[1]))
    print(f"ICU data: {before / 2**20:.1f} MB -> {after / 2**20:.1f} MB")
