"""The headless front end: `modelscout models|run|results|report|runs|project|recommend|keys|prices`, over the
same core as the app."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop_app import __version__, paths
from desktop_app import settings as settings_module
from desktop_app.errors import UserError
from desktop_app.units import format_bytes, format_usd, format_usd_per_1k

log = logging.getLogger("modelscout")

RUNS_SHOWN = 50  # `modelscout runs` without --limit or --all


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args) or 0
    except UserError as exc:
        print(f"modelscout: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\nmodelscout: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `modelscout ... | head`
        return 0
    except Exception as exc:  # a bug: one line for the user, the details in a log file
        from desktop_app.providers.api import (
            redact,  # nothing shaped like a key reaches a file
        )

        report = _write_error_report(redact(traceback.format_exc(), None))
        details = f"details in {report}; please report it" if report else "please report it"
        print(redact(f"modelscout: internal error: {type(exc).__name__}: {exc} ({details})", None),
              file=sys.stderr)
        return 70


def _write_error_report(text: str) -> Path | None:
    """The traceback of a bug, in the cache folder, or the system's temporary folder when that cannot be
    written (a read-only data folder); None when neither can."""
    import tempfile

    candidates = [Path(tempfile.gettempdir()) / "modelscout-last-error.txt"]
    try:
        candidates.insert(0, paths.cache_dir() / "last-error.txt")
    except (OSError, UserError):
        pass
    for report in candidates:
        try:
            report.write_text(text, encoding="utf-8")
            return report
        except OSError:
            continue
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelscout", description=(
        "Find the cheapest language model that is good enough for your own prompts."))
    parser.add_argument("--version", action="version", version=f"modelscout {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    models = commands.add_parser("models", help="list, inspect and quantize GGUF models")
    model_commands = models.add_subparsers(title="models commands", metavar="COMMAND")
    listing = model_commands.add_parser("list", help="the GGUF models on this machine, from every source")
    listing.add_argument("--folder", action="append", default=[], metavar="DIR",
                         help="also look in DIR (besides the folders in settings)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_models_list)
    inspect = model_commands.add_parser("inspect", help="what a GGUF file is and whether it fits here")
    inspect.add_argument("path", metavar="PATH")
    inspect.add_argument("--context", type=_positive_int, help="context size for the fit estimate")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(handler=cmd_models_inspect)
    quant = model_commands.add_parser("quantize", help="make a lower-bit variant with llama.cpp's quantizer")
    quant.add_argument("path", metavar="PATH")
    quant.add_argument("--type", required=True, metavar="TYPE", help="Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0, Q2_K ...")
    quant.add_argument("--out", metavar="PATH", help="output file (default: the user models folder)")
    quant.add_argument("--threads", type=_positive_int)
    quant.set_defaults(handler=cmd_models_quantize)

    template = model_commands.add_parser(
        "template", help="the prompt format a model gets: its file's own, one of llama.cpp's built-in "
                         "templates, or plain completion (remembered for every run)")
    template.add_argument("path", metavar="PATH")
    template.add_argument("name", nargs="?", metavar="NAME",
                          help="chatml, llama3, gemma, mistral-v7, phi3, ... or completion; "
                               "leave out to show the current one and the choices")
    template.add_argument("--clear", action="store_true", help="back to the file's own template")
    template.set_defaults(handler=cmd_models_template)

    available = model_commands.add_parser("available", help="the models an API offers (needs its key)")
    available.add_argument("provider", choices=["openai", "anthropic", "openai-compatible"])
    available.add_argument("--base-url", metavar="URL", help="the server, for openai-compatible")
    available.set_defaults(handler=cmd_models_available)

    run = commands.add_parser("run", help="run a suite on local and API models and compare them")
    run.add_argument("--suite", metavar="FILE", help="a suite file: .jsonl, .csv or .yaml, a promptfoo config "
                                                     "(.yaml or .json) or OpenAI evals samples (.jsonl)")
    run.add_argument("--model", action="append", default=[], metavar="MODEL",
                     help="a GGUF file, or openai:MODEL, anthropic:MODEL, openai-compatible:MODEL@URL, "
                          "optionally named NAME=openai:MODEL (repeat)")
    run.add_argument("--resume", metavar="RUN_ID", help="finish an interrupted run")
    run.add_argument("--max-cost", type=_dollars, metavar="USD",
                     help="stop before paid API calls in this run would cost more than USD")
    run.add_argument("--dry-run", action="store_true",
                     help="check the models and show the most the API calls may cost; run nothing")
    run.add_argument("--context", type=_positive_int, help="context size (default: settings)")
    run.add_argument("--threads", type=_positive_int, help="CPU threads (default: one per core, fewer while other "
                     "programs keep cores busy)")
    run.add_argument("--parallel", type=_positive_int, metavar="N",
                     help="cases a local model decodes at once (default: settings, else as many as memory "
                          "allows, at most 32; 1: one at a time)")
    run.add_argument("--gpu-layers", type=int, help="layers to offload to a GPU (-1: all)")
    run.add_argument("--max-tokens", type=_positive_int, help="longest answer in tokens")
    run.add_argument("--temperature", type=float)
    run.add_argument("--seed", type=int)
    run.add_argument("--no-reuse", action="store_true", help="answer again even when an identical "
                                                             "request was answered before")
    run.add_argument("--json", action="store_true", help="print the comparison as JSON")
    _scoring_arguments(run)
    run.set_defaults(handler=cmd_run)

    score = commands.add_parser("score", help="grade a stored run again (a judge, a reference model, a "
                                              "rubric, pairwise verdicts); its answers are never regenerated")
    score.add_argument("run_id", metavar="RUN_ID")
    _scoring_arguments(score)
    score.add_argument("--pairwise", action="store_true",
                       help="also judge each model against the reference model (default: the best-scoring "
                            "one), both orders, on every case")
    score.add_argument("--json", action="store_true", help="print the comparison as JSON")
    score.set_defaults(handler=cmd_score)

    results = commands.add_parser("results", help="the comparison of a stored run")
    results.add_argument("run_id", metavar="RUN_ID")
    results.add_argument("--json", action="store_true")
    results.set_defaults(handler=cmd_results)

    report = commands.add_parser("report", help="a report of a stored run to share: one self-contained HTML "
                                                "file, CSV tables or a JSON document")
    report.add_argument("run_id", metavar="RUN_ID")
    report.add_argument("--html", metavar="FILE", help="the tradeoff plot, frontier, recommendation, figures, "
                                                       "every answer and what makes the run reproducible")
    report.add_argument("--csv", metavar="FILE_OR_DIR", help="the same as tables: models, answers and the run's "
                                                             "facts (a folder gets one file each)")
    report.add_argument("--json", metavar="FILE", help="the same as one JSON document")
    report.set_defaults(handler=cmd_report)

    runs = commands.add_parser("runs", help="the stored runs, newest first")
    shown = runs.add_mutually_exclusive_group()
    shown.add_argument("--limit", type=_positive_int, default=RUNS_SHOWN, metavar="N",
                       help=f"show the newest N runs (default {RUNS_SHOWN})")
    shown.add_argument("--all", action="store_true", help="show every run")
    runs.add_argument("--search", metavar="TEXT",
                      help="only runs whose id starts with TEXT, or whose suite or a model's name contains it")
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=cmd_runs)

    project = commands.add_parser("project", help="monthly cost per model at your volume, and when "
                                                  "buying hardware beats paying an API")
    project.add_argument("run_id", metavar="RUN_ID")
    project.add_argument("--requests-per-day", type=_positive_float, required=True, metavar="N")
    project.add_argument("--input-tokens", type=_positive_int, default=500, metavar="N",
                         help="average prompt tokens per request (default 500)")
    project.add_argument("--output-tokens", type=_positive_int, default=250, metavar="N",
                         help="average answer tokens per request (default 250)")
    project.add_argument("--json", action="store_true")
    project.set_defaults(handler=cmd_project)

    recommend = commands.add_parser("recommend", help="the cheapest model shown good enough, or why the "
                                                      "cases so far cannot tell")
    recommend.add_argument("run_id", metavar="RUN_ID")
    recommend.add_argument("--tolerance", type=_share, default=0.05, metavar="SHARE",
                           help="how far below the best model's score still counts as good enough, as a share "
                                "of the score (default 0.05: 5 points)")
    recommend.add_argument("--axis", choices=["cost", "latency"], default="cost",
                           help="what makes a model cheaper: cost per answer (default) or time per answer")
    recommend.add_argument("--max-latency-ms", type=_positive_float, metavar="N",
                           help="leave out models whose median time per answer is over N ms")
    recommend.add_argument("--min-tokens-per-second", type=_positive_float, metavar="N",
                           help="leave out models that generate fewer than N tokens a second")
    recommend.add_argument("--must-fit", action="store_true",
                           help="leave out local models that do not fit this machine")
    recommend.add_argument("--requests-per-day", type=_positive_float, default=1000.0, metavar="N",
                           help="the volume the monthly saving is worked out at (default 1,000)")
    recommend.add_argument("--json", action="store_true")
    recommend.set_defaults(handler=cmd_recommend)

    key_parser = commands.add_parser("keys", help="API keys in the OS keychain")
    key_commands = key_parser.add_subparsers(title="keys commands", metavar="COMMAND")
    key_set = key_commands.add_parser("set", help="store a key (typed hidden, or piped on stdin)")
    key_set.add_argument("name", metavar="PROVIDER", help="openai, anthropic, or a server's host[:port]")
    key_set.set_defaults(handler=cmd_keys_set)
    key_list = key_commands.add_parser("list", help="where each provider's key comes from (never the key)")
    key_list.set_defaults(handler=cmd_keys_list)
    key_delete = key_commands.add_parser("delete", help="remove a key from the keychain")
    key_delete.add_argument("name", metavar="PROVIDER")
    key_delete.set_defaults(handler=cmd_keys_delete)

    price_parser = commands.add_parser("prices", help="your prices for API models genai-prices lacks")
    price_commands = price_parser.add_subparsers(title="prices commands", metavar="COMMAND")
    price_set = price_commands.add_parser("set", help="price an API model per million tokens or per hour")
    price_set.add_argument("ref", metavar="MODEL", help="as in run --model, e.g. openai-compatible:m@URL")
    price_set.add_argument("--input", type=_dollars, metavar="USD", help="dollars per million input tokens")
    price_set.add_argument("--output", type=_dollars, metavar="USD", help="dollars per million output tokens")
    price_set.add_argument("--cached", type=_dollars, metavar="USD", help="dollars per million cached tokens")
    price_set.add_argument("--per-hour", type=_dollars, metavar="USD",
                           help="dollars per hour of a server you rent, charged by the time each answer takes")
    price_set.set_defaults(handler=cmd_prices_set)
    price_list = price_commands.add_parser("list", help="your prices, and what each API model would cost")
    price_list.set_defaults(handler=cmd_prices_list)
    price_delete = price_commands.add_parser("delete", help="forget your price for a model")
    price_delete.add_argument("ref", metavar="MODEL")
    price_delete.set_defaults(handler=cmd_prices_delete)
    return parser


def _scoring_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judge", metavar="MODEL", help="a model that grades every answer against the rubric "
                                                         "(a GGUF file or an API model, as --model takes it)")
    parser.add_argument("--reference", metavar="MODEL",
                        help="a model of the run whose answers are the reference where a case has no "
                             "expected answer (for similarity checks and the judge)")
    parser.add_argument("--rubric", metavar="TEXT|FILE", help="what the judge grades against (text or a file)")
    parser.add_argument("--judge-max-tokens", type=_positive_int, default=512, metavar="N",
                        help="how long the judge's explanation and verdict may be (default 512)")


def _dollars(text: str) -> float:
    try:
        value = float(text.lstrip("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of dollars, e.g. 0.50") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"give a share of the score from 0 to under 1 (0.05 for 5 points), "
                                         f"not {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


# models -------------------------------------------------------------------------------------

def cmd_models_list(args: argparse.Namespace) -> int:
    from desktop_app.models.catalog import ModelCatalog
    from desktop_app.models.discovery import discover
    from desktop_app.models.fit import estimate_fit
    from desktop_app.models.fit import will_not_load as will_not_load_fit
    from desktop_app.models.gguf_meta import GGUFError
    from desktop_app.models.hardware import probe
    from desktop_app.models.loadability import load_problems

    settings = settings_module.load()
    found = discover([*settings.model_folders, *settings.model_files, *args.folder])
    catalog = ModelCatalog()
    hardware = probe()
    entries = []
    infos = catalog.infos([m.path for m in found])
    will_not_load = load_problems([i for i in infos if not isinstance(i, GGUFError)], catalog)  # asks llama.cpp
    for model, info in zip(found, infos):
        entry: dict[str, Any] = {"path": str(model.path), "source": model.source, "label": model.label}
        if isinstance(info, GGUFError):  # empty, not GGUF, truncated: listed with why it cannot be used
            entry["error"] = str(info)
        else:
            entry.update(info.to_dict())
            entry["path"] = str(model.path)
            fit = estimate_fit(info, hardware, context=settings.context_size)
            if info.path in will_not_load:
                fit = will_not_load_fit(fit, will_not_load[info.path])
            entry["fit"] = fit.to_dict()
        entries.append(entry)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    if not entries:
        print("No GGUF models found. Put .gguf files in local_models/ or "
              f"{paths.user_models_dir()}, or add a folder with --folder DIR.", file=sys.stderr)
        return 0
    rows = [[e["label"], e["source"], e.get("architecture", "-"), _count(e.get("parameters")),
             e.get("quantization", "-"), format_bytes(e["file_size"]) if "file_size" in e else "-",
             str(e.get("context_length") or "-"),
             _verdict(e["fit"]) if "fit" in e else "unreadable"] for e in entries]
    print(_table(["model", "source", "arch", "params", "quant", "size", "ctx", "fit"], rows))
    for e in entries:
        if "error" in e:
            print(f"  {e['label']}: {e['error']}", file=sys.stderr)
    print(f"{len(entries)} models; fit at a context of {settings.context_size} tokens on {hardware.summary()}",
          file=sys.stderr)
    if hardware.cpu_only_build:
        from desktop_app.providers.llama_caps import gpu_build_hint

        print(gpu_build_hint(hardware.gpus[0].backend), file=sys.stderr)
    return 0


def cmd_models_inspect(args: argparse.Namespace) -> int:
    from desktop_app.models.catalog import ModelCatalog
    from desktop_app.models.fit import estimate_fit
    from desktop_app.models.hardware import probe
    from desktop_app.models.loadability import rate_loadability

    settings = settings_module.load()
    catalog = ModelCatalog()
    info = catalog.info(args.path)
    hardware = probe()
    fit = estimate_fit(info, hardware, context=args.context or settings.context_size,
                       gpu_layers=settings.gpu_layers)
    (fit,) = rate_loadability([info], [fit], catalog)  # an architecture this llama.cpp lacks: "won't load"
    data = {**info.to_dict(), "fit": fit.to_dict()}
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    lines = [
        ("path", info.path), ("name", info.name), ("architecture", info.architecture),
        ("parameters", f"{_count(info.parameters)} ({info.parameters:,})"),
        ("quantization", info.quantization), ("file size", format_bytes(info.file_size)),
        ("context length", info.context_length), ("layers", info.layers),
        ("embedding size", info.embedding_size),
        ("attention heads", f"{info.attention_heads} (KV heads {info.kv_heads}, head size {info.head_size})"),
        ("vocabulary", info.vocab_size),
        ("chat template", "yes" if info.has_chat_template else "no: probably a base model"),
        ("licence", info.license or "not stated"),
        ("fit", f"{_verdict(fit.to_dict())}: {fit.reason}"),
    ]
    width = max(len(k) for k, _ in lines)
    print("\n".join(f"{k.ljust(width)}  {v if v is not None else '-'}" for k, v in lines))
    if hardware.cpu_only_build:  # a GPU is here but this llama.cpp cannot use it: say how to get one that can
        from desktop_app.providers.llama_caps import gpu_build_hint

        print(f"\n{gpu_build_hint(hardware.gpus[0].backend)}")
    return 0


def cmd_models_template(args: argparse.Namespace) -> int:
    from desktop_app.models.catalog import ModelCatalog
    from desktop_app.providers.llama_caps import capabilities
    from desktop_app.providers.prompt_formats import (
        BASE_MODEL_WARNING,
        COMPLETION,
        describe_choice,
    )

    info = ModelCatalog().info(args.path)  # a clear error for a missing or broken file
    path = str(Path(args.path).resolve())
    settings = settings_module.load()
    if args.clear or args.name:
        if args.clear:
            settings.chat_templates.pop(path, None)
        else:
            known = capabilities().chat_templates
            if args.name != COMPLETION and args.name not in known:
                raise UserError(f"llama.cpp has no chat template named {args.name!r}; choose one of "
                                f"{', '.join(known)}, or {COMPLETION}")
            settings.chat_templates[path] = args.name
        settings_module.save(settings)
    choice = settings.chat_templates.get(path)
    print(f"{info.path}: {describe_choice(choice, info.has_chat_template)}"
          + ("" if info.has_chat_template or choice else f" ({BASE_MODEL_WARNING})"))
    if not (args.clear or args.name):
        print(f"choices: {', '.join(capabilities().chat_templates)}, {COMPLETION}", file=sys.stderr)
    return 0


def cmd_models_quantize(args: argparse.Namespace) -> int:
    from desktop_app.models.quantize import quantize

    interactive = sys.stderr.isatty()

    def progress(fraction: float) -> None:
        if interactive:
            print(f"\rquantizing to {args.type.upper()}: {fraction:4.0%}", end="", file=sys.stderr)

    started = time.perf_counter()
    target = quantize(args.path, args.type, args.out, threads=args.threads, on_progress=progress)
    if interactive:
        print(file=sys.stderr)
    print(f"{target} ({format_bytes(target.stat().st_size)}, {time.perf_counter() - started:.1f} s)")
    return 0


# runs ---------------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    from desktop_app.providers.api import parse_model_ref
    from desktop_app.providers.base import Sampling
    from desktop_app.runner.runner import Runner
    from desktop_app.runner.specs import largest_context
    from desktop_app.suites import load_suite
    from desktop_app.suites.model import unsupported_lines

    settings = settings_module.load()
    if args.resume:
        if args.suite or args.model:
            raise UserError("--resume continues a stored run as it was planned; "
                            "leave out --suite and --model")
        if args.dry_run:
            raise UserError("--dry-run checks a new run; leave out --resume")
    elif not args.suite or not args.model:
        raise UserError("give a suite and at least one model: "
                        "modelscout run --suite FILE --model PATH [--model PATH ...]")
    if args.resume:
        store = _store(settings)
        store.require_writable()
        run_id = store.resolve_run_id(args.resume)
        store.check_not_running_elsewhere(run_id)  # exit 2, the live run untouched
        runner = Runner(store, settings)
    else:
        # Bad input fails here, before anything is stored: a prompt no chosen model can fit among it.
        suite = load_suite(args.suite, max_prompt_tokens=largest_context(settings, args.model, context=args.context))
        for line in unsupported_lines(suite.unsupported):  # parts of an imported file left out, said before the run
            print(line, file=sys.stderr)
        for path in args.model:
            if parse_model_ref(path) is None and not Path(path).exists():
                raise UserError(f"model file {path} does not exist; `modelscout models list` shows "
                                f"the models found on this machine (API models are written "
                                f"openai:MODEL, anthropic:MODEL or openai-compatible:MODEL@URL)")
        try:
            sampling = Sampling(
                temperature=settings.temperature if args.temperature is None else args.temperature,
                max_tokens=args.max_tokens or settings.max_tokens,
                seed=settings.seed if args.seed is None else args.seed)
        except ValueError as exc:
            raise UserError(f"invalid sampling setting: {exc}") from None
        store = _store(settings)
        if not args.dry_run:
            store.require_writable()  # said before models are checked, not at the first answer
        runner = Runner(store, settings)
        specs = [runner.spec_for(p, context=args.context, threads=args.threads, gpu_layers=args.gpu_layers)
                 for p in args.model]
        estimates = runner.estimate_cost(suite, specs, sampling)
        _print_estimates(estimates, args.max_cost)
        if args.dry_run:
            runner.check_prices(runner.plan_models(specs), args.max_cost)  # every check a real run makes
            print("dry run: every model is ready; nothing was run or stored", file=sys.stderr)
            return 0
        run_id = runner.create_run(suite, specs, sampling, max_cost_usd=args.max_cost, parallel=args.parallel)
    print(f"run {run_id}", file=sys.stderr)
    cancel = threading.Event()
    status = _drive(runner, run_id, cancel, reuse=not args.no_reuse, max_cost=args.max_cost)
    _score(runner, run_id, _scoring_options(args), only_if_active=True)
    summary = _summary(store, run_id, settings)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(f"run {run_id} ({status})")
        print(_comparison(summary))
    if status != "complete":
        print(f"the run is not complete; finish it with: modelscout run --resume {run_id}"
              + (" --max-cost USD" if args.max_cost is not None else ""), file=sys.stderr)
        return 1
    return 0


def _print_estimates(estimates: list[Any], cap: float | None) -> None:
    """Before paid API calls: the most they may cost, model by model, and the cap."""
    if not estimates:
        return
    priced = [e for e in estimates if e.worst_usd is not None]
    for e in estimates:
        most = f"at most {_usd(e.worst_usd)}" if e.worst_usd is not None else "cost not bounded"
        print(f"{e.model_key}: {e.requests} requests, {most} ({e.price})", file=sys.stderr)
    if priced:
        total = sum(e.worst_usd for e in priced)
        line = (f"API estimate: at most {_usd(total)} (prompts counted high: a token for every 3 letters, "
                f"every digit and sign, and every byte of other scripts and emoji; every answer at its "
                f"token limit)")
        if cap is not None:
            line += (f"; the cap of {_usd(cap)} stops the run before it would go over"
                     if total > cap else f"; within the cap of {_usd(cap)}")
        print(line, file=sys.stderr)


def _drive(runner: Any, run_id: str, cancel: threading.Event, reuse: bool,
           max_cost: float | None = None) -> str:
    """Consume the runner's events, showing progress on stderr."""
    from desktop_app.runner import events as ev

    progress = _Progress(sys.stderr)
    status = "interrupted"
    errors_shown: set[tuple[str, str]] = set()
    execution = runner.execute(run_id, cancel, reuse=reuse, max_cost_usd=max_cost)
    try:
        for event in execution:
            if isinstance(event, ev.RunStarted):
                progress.start(event.total, event.done)
            elif isinstance(event, ev.ModelLoading):
                progress.note(f"loading {event.model_key} ...")
            elif isinstance(event, ev.ModelLoaded):
                progress.note(f"loaded {event.model_key} in {event.load_ms / 1000:.1f} s"
                              + (f", {format_bytes(event.memory_bytes)}" if event.memory_bytes else ""))
            elif isinstance(event, ev.ModelFailed):
                progress.note(f"{event.model_key}: {event.error}")
            elif isinstance(event, ev.CaseFinished):
                progress.case(event)
                error = event.row["error"]
                if error and (event.model_key, error) not in errors_shown:  # each different error once
                    errors_shown.add((event.model_key, error))
                    progress.note(f"{event.model_key} · {event.case_id}: {error}")
            elif isinstance(event, ev.BudgetReached):
                progress.note(f"{event.model_key}: cost cap reached ({_usd(event.spent_usd)} of "
                              f"{_usd(event.cap_usd)} spent; the next request could cost up to "
                              f"{_usd(event.next_request_usd)}): no more requests sent")
            elif isinstance(event, ev.PriceNeeded):
                progress.note(f"{event.model_key}: no price known, so the cost cap cannot bound it: no "
                              f"requests sent; set one with `modelscout prices set {event.model_ref} ...`")
            elif isinstance(event, ev.RunFinished):
                status = event.status
                if event.reason and event.reason != "cancelled":
                    progress.note(f"run {event.status}: {event.reason}")
    except KeyboardInterrupt:
        cancel.set()
        execution.close()  # stops the worker, marks the run interrupted
        progress.note(f"interrupted; resume with: modelscout run --resume {run_id}")
        raise
    finally:
        progress.end()
    return status


class _Progress:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.total = self.done_before = 0
        self.started = time.perf_counter()
        self.line_open = False

    def start(self, total: int, done: int) -> None:
        self.total, self.done_before = total, done
        self.started = time.perf_counter()
        if done:
            self.note(f"resuming: {done} of {total} answers already stored")

    def note(self, text: str) -> None:
        self._clear()
        print(text, file=self.stream, flush=True)

    def case(self, event: Any) -> None:
        row = event.row
        elapsed = time.perf_counter() - self.started
        fresh = event.done - self.done_before
        eta = elapsed / fresh * (event.total - event.done) if fresh else 0
        if row["error"]:
            outcome = "error"
        elif row["grade_passed"] is None:
            outcome = "answered"
        else:
            outcome = "pass" if row["grade_passed"] else "fail"
        speed = row["generation_tokens_per_second"]
        batch = (row.get("parallel") or 1) > 1 and row.get("batch_tokens_per_second")
        rate = (f" · {speed:.0f} tok/s ({batch:.0f} in all, {row['parallel']} at once)" if speed and batch
                else f" · {speed:.0f} tok/s" if speed else "")
        text = (f"[{event.done}/{event.total}] {event.model_key} · {event.case_id}: {outcome}"
                + (" (reused)" if event.reused else rate)
                + f" · ETA {int(eta) // 60}:{int(eta) % 60:02d}")
        if self.tty:
            self._clear()
            print(text[:120], end="", file=self.stream, flush=True)
            self.line_open = True
        else:
            print(text, file=self.stream, flush=True)

    def _clear(self) -> None:
        if self.line_open:
            print("\r\033[K", end="", file=self.stream)
            self.line_open = False

    def end(self) -> None:
        if self.line_open:
            print(file=self.stream)
            self.line_open = False


def _scoring_options(args: argparse.Namespace) -> Any:
    from desktop_app.runner.scoring import ScoringOptions

    return ScoringOptions(judge=args.judge, reference=args.reference, rubric=args.rubric,
                          pairwise=getattr(args, "pairwise", False), judge_max_tokens=args.judge_max_tokens)


def _score(runner: Any, run_id: str, options: Any, only_if_active: bool = False) -> Any:
    """Score a stored run, showing progress on stderr; returns the ScoringFinished event (or None)."""
    from desktop_app.runner import scoring

    scorer = scoring.RunScorer(runner)
    if only_if_active and not options.over(scoring.scoring_of(runner.store, run_id)).active:
        return None  # `run` scores again only when it or its suite asks for a judge or a reference
    progress = _Progress(sys.stderr)
    finished = None
    errors_shown = 0
    try:
        for event in scorer.score(run_id, options):
            if isinstance(event, scoring.JudgingStarted):
                progress.note(f"judging with {event.judge}: {event.total} judgments")
            elif isinstance(event, scoring.JudgmentMade):
                if event.error and errors_shown < 3:  # the first few, so a wrong judge shows at once
                    errors_shown += 1
                    progress.note(f"{event.model_key} · {event.case_id}: {event.error}")
            elif isinstance(event, scoring.ScoringFinished):
                finished = event
    finally:
        progress.end()
    if finished is not None and (finished.judged or finished.reused):
        print(f"judgments: {finished.judged} made, {finished.reused} reused, {finished.errors} without a verdict; "
              f"the judge cost {_usd(finished.judge_cost_usd)} (apart from the answers)", file=sys.stderr)
    return finished


def cmd_score(args: argparse.Namespace) -> int:
    from desktop_app.runner.runner import Runner
    from desktop_app.runner.scoring import pairwise_tally

    settings = settings_module.load()
    store = _store(settings)
    run_id = store.resolve_run_id(args.run_id)
    runner = Runner(store, settings)
    finished = _score(runner, run_id, _scoring_options(args))
    summary = _summary(store, run_id, settings)
    tally = pairwise_tally(store, run_id)
    if args.json:
        data = summary.to_dict()
        for entry in data["models"]:
            if entry["model"] in tally:
                entry["pairwise"] = tally[entry["model"]]  # wins, losses, ties, inconsistent, errors, against
        data["judge_cost_usd"] = store.judge_spend(run_id)
        data["pairwise_base"] = finished.pairwise_base if finished else None
        print(json.dumps(data, indent=2))
        return 0
    print(_comparison(summary))
    if tally:
        rows = [[model, t["against"], str(t["wins"]), str(t["losses"]), str(t["ties"]), str(t["inconsistent"]),
                 str(t["errors"])] for model, t in tally.items()]
        print()
        print(_table(["model", "against", "wins", "losses", "ties", "inconsistent", "no verdict"], rows))
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    summary = _summary(_store(settings), args.run_id, settings)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        run = summary.run
        print(f"run {run['id']} · {run['suite_name']} v{run['suite_version']} · {run['status']} · "
              f"{run['created_at'][:19].replace('T', ' ')} UTC")
        if run.get("status_reason"):
            print(run["status_reason"])
        print(_comparison(summary))
        tags = sorted({tag for m in summary.models for tag in m.tags})
        if len(tags) > 1:  # quality per tag: where a model is strong and where weak
            print()
            print(_table(["model", *tags], [[m.model, *(
                f"{m.tags[t].mean:.0%} ({m.tags[t].n})" if t in m.tags else "-" for t in tags)]
                for m in summary.models]))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from desktop_app.reports import build_report, export

    if not (args.html or args.csv or args.json):
        raise UserError("say what to write: --html FILE, --csv FILE_OR_DIR or --json FILE (any of them)")
    settings = settings_module.load()
    for path in export(build_report(_store(settings), args.run_id, settings), args.html, args.csv, args.json):
        print(f"wrote {path}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    store = _store()
    runs = store.runs(limit=None if args.all else args.limit, search=args.search)
    total = store.count_runs(args.search) if not args.all else len(runs)
    if args.json:
        print(json.dumps(runs, indent=2))
    elif not runs:
        print(f"No runs match {args.search!r}" if args.search and total == 0 and store.count_runs()
              else "No runs yet: modelscout run --suite FILE --model PATH", file=sys.stderr)
    else:
        print(_table(["run", "created (UTC)", "status", "suite", "models", "answers"],
                     [[r["id"], r["created_at"][:19].replace("T", " "), r["status"],
                       f"{r['suite_name']} v{r['suite_version']}", str(r["models"]), str(r["results"])]
                      for r in runs]))
    if len(runs) < total:  # said on stderr, so the table (or JSON) stays whole for a pipe
        print(f"showing {len(runs)} of {total} runs; --all or --limit N for more", file=sys.stderr)
    return 0


def cmd_models_available(args: argparse.Namespace) -> int:
    from desktop_app.providers.api import ApiModelSpec
    from desktop_app.providers.registry import api_provider

    if args.provider == "openai-compatible" and not args.base_url:
        raise UserError("give the server's address: --base-url http://host:port/v1")
    spec = ApiModelSpec(args.provider, "any", args.base_url)
    for name in api_provider(spec, label=args.provider).list_models():
        print(f"{args.provider}:{name}" + (f"@{args.base_url}" if args.provider == "openai-compatible" else ""))
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    from desktop_app.analysis.projection import Volume, project

    settings = settings_module.load()
    volume = Volume(args.requests_per_day, args.input_tokens, args.output_tokens)
    result = project(_store(settings), args.run_id, settings, volume)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(f"{volume.requests_per_day:,.0f} requests a day, {volume.input_tokens} tokens in and "
          f"{volume.output_tokens} out each; hardware {_usd(result.hardware_usd)} over "
          f"{result.hardware_lifetime_years:g} years")
    print(_table(["model", "kind", "time/request", "$/1K requests", "$/month", "note"],
                 [[m.model, "local" if m.local else "API", _num(m.seconds_per_request, "{:.1f} s"),
                   format_usd_per_1k(m.usd_per_request), _usd(m.monthly_usd), m.note] for m in result.models]))
    for b in result.break_evens:
        print(f"{b.local} vs {b.api}: {b.note}")
    for line in ([result.order_note] if result.order_note else []) + result.measurement_notes:
        print(line)
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from desktop_app.analysis.projection import Volume
    from desktop_app.analysis.recommend import recommend_run

    settings = settings_module.load()
    machine = None
    if args.must_fit:
        from desktop_app.models.hardware import probe

        machine = probe()
    result = recommend_run(_store(settings), args.run_id, settings, Volume(args.requests_per_day), machine,
                           tolerance=args.tolerance, axis=args.axis, max_latency_ms=args.max_latency_ms,
                           min_tokens_per_second=args.min_tokens_per_second, must_fit=args.must_fit)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0

    def points(x: float) -> str:  # a difference in score points (a score of 1 is 100)
        text = f"{x * 100:+.1f}"
        return "0.0" if text in ("+0.0", "-0.0") else text

    rows = []
    for m in result.models:
        quality = "-" if m.quality is None else f"{m.quality:.0%}"
        if m.quality_low is not None:
            quality += f" ({m.quality_low:.0%}-{m.quality_high:.0%})"
        difference = "-"
        if m.verdict == "best":
            difference = "0"
        elif m.difference_to_best is not None:
            difference = f"{points(m.difference_to_best)} ({points(m.difference_low)} to {points(m.difference_high)})"
        verdict = m.verdict.replace("_", " ") + (" *" if m.excluded else "")
        rows.append([m.model, quality, difference, verdict, format_usd_per_1k(m.cost_per_answer_usd),
                     _num(m.wall_time_ms, "{:,.0f} ms"), _usd(m.monthly_usd)])
    print(_table(["model", "quality (95% CI)", "vs best, points (95% CI)", "verdict", "$/1K answers",
                  "time/answer", f"$/month at {args.requests_per_day:,.0f}/day"], rows))
    if any(m.excluded for m in result.models):
        print("* left out by your limits")
    print()
    print(result.reason)
    return 0


def cmd_keys_set(args: argparse.Namespace) -> int:
    import getpass

    from desktop_app import keys

    if sys.stdin.isatty():
        key = getpass.getpass(f"API key for {args.name} (not shown): ")
    else:
        key = sys.stdin.readline().strip()
    keys.store(args.name, key)
    print(f"stored the key for {args.name} in the OS keychain")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from desktop_app import keys
    from desktop_app.providers.api import parse_model_ref

    settings = settings_module.load()
    extra = [spec.key_name for ref in settings.api_models if (spec := parse_model_ref(ref))]
    rows = [[k.name, k.source or "not set", keys.env_var(k.name)]
            for k in keys.status(keys.known_names(extra))]
    print(_table(["provider", "key from", "environment variable"], rows))
    return 0


def cmd_keys_delete(args: argparse.Namespace) -> int:
    from desktop_app import keys

    if keys.delete(args.name):
        print(f"deleted the key for {args.name} from the OS keychain")
        return 0
    raise UserError(f"the OS keychain has no key for {args.name}; `modelscout keys list` shows where "
                    f"each key comes from")


def cmd_prices_set(args: argparse.Namespace) -> int:
    from desktop_app.costing.prices import PriceOverride
    from desktop_app.providers.api import parse_model_ref

    spec = parse_model_ref(args.ref)
    if spec is None:
        raise UserError(f"{args.ref!r} is not an API model; write it as in run --model, e.g. "
                        f"openai-compatible:MODEL@http://host:port/v1")
    override = PriceOverride(input_usd_per_mtok=args.input, output_usd_per_mtok=args.output,
                             cached_input_usd_per_mtok=args.cached, usd_per_hour=args.per_hour)
    settings = settings_module.load()
    settings.price_overrides[spec.ref] = override.to_dict()
    settings_module.save(settings)
    print(f"{spec.ref}: {override.describe()}")
    return 0


def cmd_prices_list(args: argparse.Namespace) -> int:
    from desktop_app.costing.prices import pricing_for
    from desktop_app.providers.api import parse_model_ref

    settings = settings_module.load()
    refs = list(dict.fromkeys([*settings.price_overrides, *settings.api_models]))
    if not refs:
        print("No API models or prices yet: modelscout prices set MODEL --input USD --output USD",
              file=sys.stderr)
        return 0
    rows = []
    for ref in refs:
        spec = parse_model_ref(ref)
        rows.append([ref, pricing_for(spec, settings).describe()])
    print(_table(["model", "price"], rows))
    return 0


def cmd_prices_delete(args: argparse.Namespace) -> int:
    from desktop_app.providers.api import parse_model_ref

    spec = parse_model_ref(args.ref)
    settings = settings_module.load()
    ref = spec.ref if spec else args.ref
    if settings.price_overrides.pop(ref, None) is None:
        raise UserError(f"no price of yours for {ref}; `modelscout prices list` shows them")
    settings_module.save(settings)
    print(f"forgot your price for {ref}")
    return 0


def _store(settings: Any = None) -> Any:
    from desktop_app.storage.store import Store

    return Store(settings_module.database_path(settings or settings_module.load()))


def _summary(store: Any, run_id: str, settings: Any) -> Any:
    from desktop_app.analysis.summary import summarize

    return summarize(store, run_id, settings)


def _comparison(summary: Any) -> str:
    """The per-model table; speeds that come with a note (measured under load, sharing the CPU, in
    another run) are starred, and the notes follow the table."""
    rows = []
    notes = []
    for m in summary.models:
        star = ""
        if m.measurement_notes:
            star = "*" * (len(notes) + 1)
            notes.append(f"{star} {m.model}: " + "; ".join(m.measurement_notes))
        quality = "-" if m.quality is None else f"{m.quality:.0%}"
        if m.quality_low is not None:
            quality += f" ({m.quality_low:.0%}-{m.quality_high:.0%})"
        rows.append([
            m.model, f"{m.answered}/{m.cases}", f"{m.passed}/{m.graded}", quality, str(m.errors),
            _num(m.tokens_per_second, "{:.1f}") + (f" ({m.parallel} at once)" if m.parallel else "") + star,
            _num(m.time_to_first_token_ms, "{:.0f} ms"),
            (str(m.threads) if m.threads else "-") if m.is_local else "API",
            format_usd_per_1k(m.cost_per_answer_usd), _usd(m.cost_per_million_tokens_usd),
        ])
    # Per 1,000 answers: one answer often costs a fraction of a cent, hard to compare down a column.
    table = _table(["model", "answers", "passed", "quality (95% CI)", "errors", "tok/s", "first token",
                    "threads", "$/1K answers", "$/M tokens"], rows)
    if any(m.parallel for m in summary.models):
        notes.append("(N at once): cases decoded together; tok/s is what they wrote in all, and one answer "
                     "alone streams slower (`results --json`: stream_tokens_per_second)")
    return "\n".join([table, *notes])


# formatting ---------------------------------------------------------------------------------

def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _count(n: int | None) -> str:
    if not n:
        return "-"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _usd(value: float | None) -> str:
    return format_usd(value)


def _verdict(fit: dict[str, Any]) -> str:
    return {"full_gpu": "GPU", "partial_gpu": f"GPU {fit.get('gpu_layers')} layers + CPU",
            "cpu_only": "CPU", "will_not_fit": "won't fit", "will_not_load": "won't load"}.get(fit["verdict"],
                                                                                              fit["verdict"])
