"""llama.cpp's own `llama-bench` and `llama-batched-bench`, built from the exact llama.cpp ModelScout runs.

llama-cpp-python's sdist vendors the llama.cpp it compiles (`vendor/llama.cpp`), so building the two
tools from the sdist of the *installed* version gives a native anchor for the same engine, kernels and
defaults. How:

    pip download --no-deps --no-binary llama-cpp-python llama-cpp-python==<installed version>
    tar xzf llama_cpp_python-<version>.tar.gz; cd llama_cpp_python-<version>/vendor/llama.cpp
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
          -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF
    cmake --build build -j2 --target llama-bench llama-batched-bench

The binaries (linked statically, so they stand alone) are copied to
`~/.cache/modelscout-bench/llama.cpp-<version>/bin` (`MODELSCOUT_BENCH_CACHE` overrides the cache
root) and reused while the installed version stays the same; the sources are deleted afterwards.
Needs cmake, a C++ compiler (the ones that compiled llama-cpp-python) and the package registry.
How long: about 6 minutes on 2 idle cores (download and configure under a minute, the rest compiling;
35 minutes when the machine was busy with other work), 23 MB of binaries kept.
(`--no-binary llama-cpp-python`, not `:all:`, which would build every build dependency from source.)

Measure on an idle machine: with as many threads as cores, any other running process stalls ggml's
spinning thread barriers (SmolLM2 tg fell from 125 to 2–7 tok/s here at load 5, while 1 thread still
made 50); the `--bench` output prints the load average before and after.

    .venv/bin/python benchmarks/native.py --build          # build (no-op when already built)
    .venv/bin/python benchmarks/native.py --where          # print the binaries' paths
    .venv/bin/python benchmarks/native.py --bench MODEL.gguf [--threads 2]   # tg/pp and batched figures
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

TOOLS = ("llama-bench", "llama-batched-bench")
CMAKE_OPTIONS = ("-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                 "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_EXAMPLES=ON", "-DBUILD_SHARED_LIBS=OFF")


class NativeError(RuntimeError):
    """The native tools could not be found, built or run; the message says which step and how to fix it."""


def installed_version() -> str:
    """The llama-cpp-python version in this interpreter: the tools must match the engine ModelScout runs."""
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        raise NativeError("llama-cpp-python is not installed in this Python; install it first "
                          "(pip install llama-cpp-python)") from None


def cache_dir(version: str | None = None) -> Path:
    root = Path(os.environ.get("MODELSCOUT_BENCH_CACHE") or Path.home() / ".cache" / "modelscout-bench")
    return root / f"llama.cpp-{version or installed_version()}"


def find(version: str | None = None) -> dict[str, Path] | None:
    """Paths of both tools for the installed version, or None when they are not built yet."""
    bin_dir = cache_dir(version) / "bin"
    paths = {tool: bin_dir / tool for tool in TOOLS}
    return paths if all(os.access(p, os.X_OK) for p in paths.values()) else None


def ensure(jobs: int = 2, log=print) -> dict[str, Path]:
    """The tools' paths, building them first when they are missing (minutes: see the module docstring)."""
    return find() or build(jobs=jobs, log=log)


def build(jobs: int = 2, log=print) -> dict[str, Path]:
    """Download the installed version's sdist, compile only the two tools, copy them to the cache."""
    version = installed_version()
    target = cache_dir(version)
    target.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="llama-cpp-src-", dir=target) as work:
        source = _download_sources(version, Path(work), log)
        build_dir = Path(work) / "build"
        log(f"configuring {source}")
        _run(["cmake", "-S", str(source), "-B", str(build_dir), *CMAKE_OPTIONS], "cmake configure")
        log(f"compiling {', '.join(TOOLS)} with {jobs} jobs (several minutes)")
        _run(["cmake", "--build", str(build_dir), f"-j{jobs}", "--target", *TOOLS], "cmake build")
        bin_dir = target / "bin"
        bin_dir.mkdir(exist_ok=True)
        for tool in TOOLS:
            shutil.copy2(build_dir / "bin" / tool, bin_dir / tool)
    log(f"built in {time.monotonic() - started:.0f} s into {target / 'bin'}")
    paths = find(version)
    if paths is None:
        raise NativeError(f"the build finished but {target / 'bin'} lacks {' or '.join(TOOLS)}; "
                          f"delete {target} and run benchmarks/native.py --build again")
    return paths


def _download_sources(version: str, work: Path, log) -> Path:
    """The vendored llama.cpp inside llama-cpp-python's sdist, unpacked under `work`."""
    log(f"downloading the llama-cpp-python {version} sdist")
    package = f"llama-cpp-python=={version}"
    _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", "llama-cpp-python",
          "-d", str(work), package], "pip download")
    archive = next(work.glob("llama_cpp_python-*.tar.gz"), None)
    if archive is None:
        raise NativeError(f"pip download left no llama_cpp_python-{version}.tar.gz in {work}; "
                          "check that the package registry is reachable")
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    source = work / archive.name.removesuffix(".tar.gz") / "vendor" / "llama.cpp"
    if not (source / "CMakeLists.txt").exists():
        raise NativeError(f"{archive.name} has no vendor/llama.cpp/CMakeLists.txt; this version does not vendor "
                          "llama.cpp, build llama-bench from the matching llama.cpp release instead")
    return source


def _run(command: list[str], step: str, timeout: float | None = None) -> str:
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise NativeError(f"{step}: {command[0]} not found; install it (e.g. apt-get install cmake g++)") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise NativeError(f"{step} failed (exit {done.returncode}): {tail}")
    return done.stdout


def llama_bench(model: str | Path, threads: int = 2, n_prompt: int = 64, n_gen: int = 64,
                reps: int = 5) -> dict:
    """llama-bench's prompt processing (pp) and generation (tg) speed, tok/s, mean and stddev over `reps`.

    Returns {"tg": tok/s, "tg_std": ..., "pp": tok/s, "pp_std": ..., "threads", "n_prompt", "n_gen", "raw"}.
    """
    tool = ensure()["llama-bench"]
    out = _run([str(tool), "-m", str(model), "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen),
                "-r", str(reps), "-o", "json"], "llama-bench")
    rows = json.loads(out)
    figures: dict = {"threads": threads, "n_prompt": n_prompt, "n_gen": n_gen, "raw": rows}
    for row in rows:
        kind = "tg" if row["n_gen"] and not row["n_prompt"] else "pp" if row["n_prompt"] and not row["n_gen"] else None
        if kind:
            figures[kind], figures[f"{kind}_std"] = row["avg_ts"], row["stddev_ts"]
    return figures


def batched_bench(model: str | Path, threads: int = 2, n_prompt: int = 48, n_gen: int = 64,
                  parallel: tuple[int, ...] = (1, 4, 8, 16), n_ctx: int = 8192, n_batch: int = 2048,
                  n_ubatch: int = 512) -> list[dict]:
    """llama-batched-bench at each number of parallel sequences (separate prompts, `is_pp_shared` off).

    One dict per row: "pl" (sequences), "speed_pp", "speed_tg" (aggregate generation tok/s over all
    sequences), "speed" (end to end: all prompt and generated tokens over the total time), "t" (s).
    """
    tool = ensure()["llama-batched-bench"]
    out = _run([str(tool), "-m", str(model), "-t", str(threads), "-tb", str(threads), "-c", str(n_ctx),
                "-b", str(n_batch), "-ub", str(n_ubatch), "-npp", str(n_prompt), "-ntg", str(n_gen),
                "-npl", ",".join(map(str, parallel)), "--output-format", "jsonl"], "llama-batched-bench")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="build the tools unless already built")
    parser.add_argument("--rebuild", action="store_true", help="build again even when present")
    parser.add_argument("--where", action="store_true", help="print the tools' paths (exit 1 when not built)")
    parser.add_argument("--bench", metavar="MODEL", help="print llama-bench and llama-batched-bench figures")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2, help="compile jobs")
    args = parser.parse_args()
    try:
        if args.rebuild:
            build(args.jobs)
        elif args.build:
            ensure(args.jobs)
        if args.where:
            paths = find()
            if paths is None:
                print(f"not built yet for llama-cpp-python {installed_version()}: "
                      "run benchmarks/native.py --build", file=sys.stderr)
                return 1
            for path in paths.values():
                print(path)
        if args.bench:
            print_figures(args.bench, args.threads)
    except NativeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def print_figures(model: str, threads: int) -> None:
    single = llama_bench(model, threads)
    print(f"{Path(model).name}, {threads} threads, load {os.getloadavg()[0]:.2f}")
    print(f"llama-bench tg{single['n_gen']} {single['tg']:.1f} ± {single['tg_std']:.1f} tok/s, "
          f"pp{single['n_prompt']} {single['pp']:.1f} ± {single['pp_std']:.1f} tok/s")
    print("llama-batched-bench, 48-token prompts, 64 tokens each (S_TG: aggregate generation, S: end to end)")
    print("  sequences  S_TG tok/s  S tok/s  time s")
    for row in batched_bench(model, threads):
        print(f"  {row['pl']:>9} {row['speed_tg']:11.1f} {row['speed']:8.1f} {row['t']:7.2f}")
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
