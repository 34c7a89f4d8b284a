"""Time GGUF metadata reading, catalog listing and hashing against the goals; prints a PASS/FAIL table."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_app.models.catalog import ModelCatalog  # noqa: E402
from desktop_app.models.gguf_meta import read_metadata  # noqa: E402

DEMO_MODEL = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PER_FILE_GOAL_S = 0.150
LISTING_GOAL_S = 2.0


def best_of(repeats: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def once(action: Callable[[], object]) -> float:
    return best_of(1, action)


def gguf_reader_time(path: Path) -> float:
    import gguf

    return once(lambda: gguf.GGUFReader(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--skip-gguf-reader-big", action="store_true", help="skip GGUFReader on the 262k-vocab file (about 40 s)"
    )
    args = parser.parse_args()

    rows: list[tuple[str, str, str, str]] = []  # what, measured, goal, verdict

    def row(what: str, seconds: float, goal: float | None = None, note: str = "") -> None:
        verdict = "" if goal is None else ("PASS" if seconds < goal else "FAIL")
        goal_text = "" if goal is None else f"< {goal * 1000:.0f} ms"
        rows.append((what, f"{seconds * 1000:9.1f} ms {note}".rstrip(), goal_text, verdict))

    start = time.perf_counter()
    import gguf  # noqa: F401 - timed: the reason gguf_meta hard-codes its tables

    row("import gguf (first import, with numpy)", time.perf_counter() - start)
    from tests.ggufs import write_big_vocab_gguf, write_tiny_gguf  # imports gguf, so only after timing it

    with tempfile.TemporaryDirectory(prefix="modelscout-bench-") as temp_name:
        temp = Path(temp_name)
        big = write_big_vocab_gguf(temp / "big-vocab.gguf")
        tiny = write_tiny_gguf(temp / "tiny.gguf")

        # (a) one file: GGUFReader once (it is slow), this reader best of 5
        files = [("synthetic 262k vocab + 250k merges", big)]
        if DEMO_MODEL.exists():
            files.insert(0, (f"demo {DEMO_MODEL.name}", DEMO_MODEL))
        else:
            print(f"note: demo model {DEMO_MODEL} absent; run `make setup` for its rows", file=sys.stderr)
        for label, path in files:
            ours = best_of(5, lambda path=path: read_metadata(path))
            if path is big and args.skip_gguf_reader_big:
                row(f"read_metadata, {label}", ours, PER_FILE_GOAL_S)
                continue
            theirs = gguf_reader_time(path)
            row(f"GGUFReader, {label}", theirs)
            row(f"read_metadata, {label}", ours, PER_FILE_GOAL_S, f"({theirs / ours:,.0f}x faster)")

        # (b) listing 50 models through the catalog, cold then warm
        for listing, (label, sources) in enumerate(
            (
                ("25 tiny + 25 big-vocab", [tiny] * 25 + [big] * 25),
                ("50 big-vocab (worst case)", [big] * 50),
            )
        ):
            folder = temp / f"listing-{listing}"
            folder.mkdir()
            listed = []
            for i, source in enumerate(sources):
                link = folder / f"model-{i:02d}.gguf"
                os.link(source, link)
                listed.append(link)
            cache = folder / "models.json"
            cold = ModelCatalog(cache)
            cold_s = once(lambda: cold.infos(listed))
            assert cold.metadata_reads == 50
            warm = ModelCatalog(cache)
            warm_s = once(lambda: warm.infos(listed))
            assert warm.metadata_reads == 0
            row(f"list 50 models cold, {label}", cold_s, LISTING_GOAL_S)
            row(f"list 50 models warm, {label}", warm_s, LISTING_GOAL_S)

        # (c) sha256 of the demo model (or a 100 MB file), cold and cached
        hashed = DEMO_MODEL
        if not DEMO_MODEL.exists():
            hashed = temp / "blob.bin"
            with open(hashed, "wb") as file:
                file.write(os.urandom(100 * 1024 * 1024))
        catalog = ModelCatalog(temp / "hash-cache.json")
        cold_s = once(lambda: catalog.sha256(hashed))
        size_mb = hashed.stat().st_size / 1e6
        row(f"sha256 cold, {hashed.name}", cold_s, None, f"({size_mb / cold_s:,.0f} MB/s)")
        fresh = ModelCatalog(temp / "hash-cache.json")
        warm_s = statistics.median(best_of(1, lambda: fresh.sha256(hashed)) for _ in range(5))
        assert fresh.hash_reads == 0
        row("sha256 cached (new catalog, same cache file)", warm_s)

    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'time':>26}  {'goal':>9}  verdict")
    for what, measured, goal, verdict in rows:
        print(f"{what:<{width}}  {measured:>26}  {goal:>9}  {verdict}")
    return 1 if any(r[3] == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
