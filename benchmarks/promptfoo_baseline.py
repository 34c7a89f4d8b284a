"""ModelScout against what a user would pick today: promptfoo driving llama-cpp-python's own server.

The same N cases of a suite (default: the first 16 of the demo suite, every case capped at the same
--max-tokens, greedy) are answered three ways, all on loopback:

1. promptfoo 0.118 (`eval -j 1 --no-cache`) sending each case as a chat request to
   `python -m llama_cpp.server`, started the way its README shows (default threads: half the
   cores) with the model loaded before the clock starts; timed as the wall clock of the eval
   command, Node's start-up included, since that is what the user waits for. Greedy, no repeat
   penalty, as ModelScout samples: sent as `passthrough`, since promptfoo drops `temperature: 0`.
2. ModelScout in-process with `parallel=1` (one case at a time, as before batching).
3. ModelScout with its defaults (automatic parallel, its own thread choice); 2 and 3 are timed from
   the start of `Runner.execute` to its end, worker start and model load included.

It prints seconds and answers per minute of each, the ratio ModelScout defaults / promptfoo (goal:
at least 1.5), the completion tokens each produced (answers can stop early at different points)
and the load average before and after each, since other work on the machine skews every figure.

promptfoo is installed once into ~/.cache/modelscout-bench/promptfoo (or --promptfoo-dir) with
`npm install promptfoo@0.118 --ignore-scripts`, then `npm rebuild better-sqlite3` (its native
SQLite module, which the skipped install scripts would have built). 0.118 is the last release that
runs on Node 20. Install scripts are skipped because one of them downloads a Chrome build from a CDN
that promptfoo's eval never uses. Measured here (2 busy cores, npm cache warm): about 3 minutes for
the install and 3 more to compile better-sqlite3 from source, so allow 6-8 minutes the first time.
That is the only step that needs the network (the npm registry); the benchmark itself runs with
promptfoo's telemetry, update check and sharing switched off, its home in a throwaway folder, and
ModelScout's MODELSCOUT_HOME pointed at another, so neither touches the user's data.

    .venv/bin/python benchmarks/promptfoo_baseline.py [--model PATH] [--cases 16] [--max-tokens 64]

Needs node and npm (v20) and llama-cpp-python's server extra (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_MODEL = ROOT / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_SUITE = ROOT / "resources" / "suites" / "demo.jsonl"
PROMPTFOO_DIR = Path.home() / ".cache" / "modelscout-bench" / "promptfoo"
PROMPTFOO_VERSION = "0.118"  # the last release that runs on Node 20
GOAL_RATIO = 1.5
SERVER_ALIAS = "demo"
SERVER_KEY = "sk-loopback-bench"  # promptfoo's openai provider refuses to start without a key
# Sent as `passthrough`: promptfoo 0.118 drops `temperature: 0` from the request (it only sends a
# truthy one), and llama-cpp-python's server then samples at its default 0.8. ModelScout's Sampling
# has no repeat penalty; the server's default is 1.1, which changes greedy answers.
GREEDY = {"temperature": 0, "repeat_penalty": 1.0}


# promptfoo -------------------------------------------------------------------------------------

def promptfoo_binary(folder: Path) -> Path:
    """The promptfoo CLI in `folder`, installed there first if it is missing or not 0.118.x."""
    binary = folder / "node_modules" / ".bin" / "promptfoo"
    if _installed_version(folder) != PROMPTFOO_VERSION:
        _install_promptfoo(folder)
    if not (folder / "node_modules" / "better-sqlite3" / "build" / "Release" / "better_sqlite3.node").exists():
        print("building promptfoo's SQLite module (npm rebuild better-sqlite3, a few minutes) ...", flush=True)
        _npm(folder, "rebuild", "better-sqlite3")
    return binary


def _installed_version(folder: Path) -> str | None:
    """'0.118' when promptfoo 0.118.x is installed in `folder`, else its major.minor or None."""
    try:
        manifest = json.loads((folder / "node_modules" / "promptfoo" / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return ".".join(str(manifest.get("version", "")).split(".")[:2])


def _install_promptfoo(folder: Path) -> None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not on PATH: install Node.js 20 (with npm) to run the promptfoo baseline")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "package.json"
    if not manifest.exists():
        manifest.write_text(json.dumps({"name": "modelscout-bench-promptfoo", "private": True}) + "\n")
    print(f"installing promptfoo@{PROMPTFOO_VERSION} into {folder} (once; 6-8 minutes) ...", flush=True)
    started = time.perf_counter()
    _npm(folder, "install", f"promptfoo@{PROMPTFOO_VERSION}", "--ignore-scripts", "--no-fund", "--no-audit")
    _npm(folder, "rebuild", "better-sqlite3")
    print(f"promptfoo installed in {time.perf_counter() - started:.0f} s", flush=True)


def _npm(folder: Path, *args: str) -> None:
    env = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    done = subprocess.run(["npm", *args], cwd=folder, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        sys.exit(f"npm {' '.join(args)} failed in {folder} (exit {done.returncode}):\n{tail}\n"
                 f"fix the cause above, or delete {folder} and run again")


def promptfoo_config(cases: list[Any], base_url: str, max_tokens: int) -> dict[str, Any]:
    """One chat prompt filled from each test's `messages` (the case's system prompt and prompt),
    sent to the server through promptfoo's OpenAI provider, greedy and capped like ModelScout's."""
    tests = []
    for case in cases:
        messages = ([{"role": "system", "content": case.system}] if case.system else [])
        messages.append({"role": "user", "content": case.prompt})
        tests.append({"description": case.id, "vars": {"messages": json.dumps(messages, ensure_ascii=False)}})
    return {
        "description": "ModelScout promptfoo baseline",
        "prompts": ["{{ messages | safe }}"],
        "providers": [{"id": f"openai:chat:{SERVER_ALIAS}",
                       "config": {"apiBaseUrl": base_url, "apiKey": SERVER_KEY, "max_tokens": max_tokens,
                                  "seed": 0, "passthrough": GREEDY}}],
        "tests": tests,
    }


def offline_env(home: Path) -> dict[str, str]:
    """promptfoo with nothing that reaches the internet, its state in `home`, loopback never proxied."""
    return {
        **os.environ,
        "PROMPTFOO_CONFIG_DIR": str(home),
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_DISABLE_SHARING": "1",
        "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
        "PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION": "1",
        "PROMPTFOO_CACHE_ENABLED": "false",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def run_promptfoo(binary: Path, config: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run `promptfoo eval -j 1 --no-cache` on the config; its wall clock and what it answered."""
    config_path, output = work / "promptfooconfig.yaml", work / "results.json"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    command = [str(binary), "eval", "-c", str(config_path), "-j", "1", "--no-cache", "--no-share",
               "--no-progress-bar", "-o", str(output)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=work, env=offline_env(work / "promptfoo-home"),
                          capture_output=True, text=True, timeout=1800, check=False)
    seconds = time.perf_counter() - started
    if not output.exists():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        sys.exit(f"promptfoo eval wrote no results (exit {done.returncode}):\n{tail}")
    results = json.loads(output.read_text())["results"]["results"]
    answers = [r for r in results if not r.get("error") and (r.get("response") or {}).get("output") is not None]
    errors = [r.get("error") for r in results if r not in answers]
    return {
        "seconds": seconds, "answers": len(answers), "errors": errors,
        "tokens": sum(((r.get("response") or {}).get("tokenUsage") or {}).get("completion") or 0 for r in answers),
        "request_seconds": sum(r.get("latencyMs") or 0 for r in results) / 1000,
        "texts": {r["testCase"]["description"]: r["response"]["output"] for r in answers},
    }


# llama-cpp-python's server ---------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m llama_cpp.server` as its README starts it (default threads), on a loopback port."""

    def __init__(self, model: Path, log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", SERVER_ALIAS,
             "--n_ctx", "2048", "--host", "127.0.0.1", "--port", str(self.port), "--api_key", SERVER_KEY],
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180) -> None:
        """Until /v1/models answers: the model is loaded before that (the server loads it at start)."""
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(f"{self.base_url}/models", headers={"Authorization": f"Bearer {SERVER_KEY}"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"llama_cpp.server exited with {self.proc.returncode}; see {self.log_path} "
                         f"(is the server extra installed? pip install -e '.[bench]')")
            try:
                with opener.open(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        sys.exit(f"llama_cpp.server did not answer within {timeout:.0f} s; see {self.log_path}")

    @staticmethod
    def threads() -> str:
        """The threads the server uses when not told (llama_cpp.server's defaults on this machine)."""
        from llama_cpp.server.settings import ModelSettings

        fields = ModelSettings.model_fields
        return f"{fields['n_threads'].default} (prompt batches: {fields['n_threads_batch'].default})"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# ModelScout -------------------------------------------------------------------------------------

def run_modelscout(suite: Any, model: Path, max_tokens: int, parallel: int | None, db: Path) -> dict[str, Any]:
    """One run of the suite on the model in-process, timed from execute's start to its end."""
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.events import CaseFinished, ModelLoaded
    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings
    from desktop_app.storage.store import Store

    runner = Runner(Store(db), Settings())
    run_id = runner.create_run(suite, [runner.spec_for(model)], Sampling(max_tokens=max_tokens), parallel=parallel)
    started = time.perf_counter()
    events = list(runner.execute(run_id, reuse=False))
    seconds = time.perf_counter() - started
    rows = [e.row for e in events if isinstance(e, CaseFinished)]
    answers = [r for r in rows if not r["error"]]
    return {
        "seconds": seconds, "answers": len(answers), "errors": [r["error"] for r in rows if r["error"]],
        "tokens": sum(r["completion_tokens"] or 0 for r in answers),
        "load_seconds": sum(e.load_ms for e in events if isinstance(e, ModelLoaded)) / 1000,
        "threads": sorted({r["threads"] for r in answers if r["threads"] is not None}),
        "parallel": sorted({r["parallel"] for r in answers if r["parallel"] is not None}),
        "texts": {r["case_id"]: r["text"] for r in answers},
    }


def bench_suite(cases: int, max_tokens: int) -> Any:
    """The first `cases` cases of the demo suite, each capped at `max_tokens` so that both sides
    ask for exactly the same answers (the demo cases carry their own, smaller caps)."""
    from desktop_app.suites.loader import load_suite

    suite = load_suite(DEMO_SUITE)
    if len(suite.cases) < cases:
        sys.exit(f"{DEMO_SUITE} has {len(suite.cases)} cases, fewer than --cases {cases}")
    chosen = tuple(dataclasses.replace(case, max_tokens=max_tokens) for case in suite.cases[:cases])
    return dataclasses.replace(suite, cases=chosen)


# Report -----------------------------------------------------------------------------------------

def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def rate(figures: dict[str, Any]) -> float:
    """Answers per minute."""
    return figures["answers"] / figures["seconds"] * 60


def line(name: str, figures: dict[str, Any]) -> str:
    return (f"{name:<30} {figures['seconds']:7.2f} s  {rate(figures):6.1f} answers/min  "
            f"{figures['answers']:3d} answers  {figures['tokens']:5d} tokens  "
            f"load {figures['load_before']} -> {figures['load_after']}")


def same_texts(a: dict[str, str], b: dict[str, str]) -> str:
    shared = [key for key in a if key in b]
    return f"{sum(a[key].strip() == b[key].strip() for key in shared)}/{len(shared)}"


def measured(step: Any) -> dict[str, Any]:
    before = load()
    figures = step()
    figures.update(load_before=before, load_after=load())
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--promptfoo-dir", type=Path, default=PROMPTFOO_DIR)
    args = parser.parse_args()
    if not args.model.is_file():
        sys.exit(f"no model at {args.model}: give one with --model PATH (make setup fetches the demo model)")

    binary = promptfoo_binary(args.promptfoo_dir)
    with tempfile.TemporaryDirectory(prefix="modelscout-promptfoo-bench-") as tmp:
        work = Path(tmp)
        os.environ["MODELSCOUT_HOME"] = str(work / "modelscout-home")  # never the user's data
        suite = bench_suite(args.cases, args.max_tokens)
        print(f"{args.model.name}: {len(suite.cases)} cases, max {args.max_tokens} tokens, greedy; "
              f"{os.cpu_count()} CPUs, load {load()}", flush=True)

        server = Server(args.model, work / "server.log")
        try:
            server.wait_ready()
            config = promptfoo_config(list(suite.cases), server.base_url, args.max_tokens)
            baseline = measured(lambda: run_promptfoo(binary, config, work))
            server_threads = server.threads()
        finally:
            server.stop()
        one = measured(lambda: run_modelscout(suite, args.model, args.max_tokens, 1, work / "parallel1.db"))
        auto = measured(lambda: run_modelscout(suite, args.model, args.max_tokens, None, work / "defaults.db"))

    print()
    print(line("promptfoo -j 1 + llama server", baseline))
    print(line("ModelScout parallel 1", one))
    print(line("ModelScout defaults", auto))
    print(f"  server threads: {server_threads}; promptfoo's requests took {baseline['request_seconds']:.2f} s "
          f"of its {baseline['seconds']:.2f} s")
    print(f"  ModelScout threads: parallel 1 {one['threads']}, defaults {auto['threads']}; "
          f"defaults ran {auto['parallel']} cases at once; model load (counted) took "
          f"{one['load_seconds']:.2f} s and {auto['load_seconds']:.2f} s")
    print(f"  identical answers: server vs parallel 1 {same_texts(baseline['texts'], one['texts'])}, "
          f"parallel 1 vs defaults {same_texts(one['texts'], auto['texts'])}")
    for name, figures in (("promptfoo", baseline), ("parallel 1", one), ("defaults", auto)):
        if figures["errors"]:
            print(f"  {name}: {len(figures['errors'])} errors, first: {figures['errors'][0]}")
    if not baseline["answers"]:
        print("promptfoo produced no answers: no ratio")
        return 1
    ratio, ratio_one = rate(auto) / rate(baseline), rate(one) / rate(baseline)
    verdict = "meets" if ratio >= GOAL_RATIO else "below"
    print(f"ModelScout defaults / promptfoo: {ratio:.2f}x ({verdict} the {GOAL_RATIO}x goal); "
          f"parallel 1 / promptfoo: {ratio_one:.2f}x")
    return 0 if not (baseline["errors"] or one["errors"] or auto["errors"]) else 1


if __name__ == "__main__":
    sys.exit(main())
