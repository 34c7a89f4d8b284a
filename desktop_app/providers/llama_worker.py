"""The child process that hosts one llama.cpp model and answers batches of requests from a pipe (see
llama_engine for how a batch is decoded: several requests at once, up to the model's `n_parallel`).

Only this module imports llama_cpp, and only inside the worker process: a crash of native code
(a malformed file, out of memory) kills this process, not the app.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from desktop_app.providers.llama_engine import Engine, Prepared
from desktop_app.providers.prompt_formats import COMPLETION, FALLBACK_LABEL
from desktop_app.providers.threads import ThreadGovernor

# Bump whenever the worker would write a different answer for the same model file, load settings and
# request: how the prompt is formatted (templates, BOS), which stop strings end a turn, how tokens are
# sampled or decoded, the KV-cache policy. It is part of LocalProvider.identity(), so answers stored by
# an older version are not reused as if this code had written them.
# 2: chat templates chosen per model (llama.cpp's built-in ones, plain completion); a turn ends at the
#    template's end-of-turn marker even when the model writes it as text.
# 3: llama.cpp's own sampler chain, several requests decoded together in one unified cache, a batch's
#    shared prompt prefix decoded once (llama_engine).
GENERATION_VERSION = 3

_log_lines: deque[str] = deque(maxlen=200)
_log_callback: Any = None  # module-level: llama.cpp calls it until the process exits


def _install_log_capture(llama_cpp: Any) -> None:
    """Keep llama.cpp's log in memory so a load failure can say what llama.cpp said."""
    global _log_callback

    @llama_cpp.llama_log_callback
    def capture(level: int, text: bytes, user_data: Any) -> None:
        line = text.decode("utf-8", errors="replace").strip()
        if line and level in (3, 4):  # ggml's GGML_LOG_LEVEL_WARN and _ERROR
            _log_lines.append(line)

    _log_callback = capture
    llama_cpp.llama_log_set(capture, ctypes.c_void_p(0))


def _peak_memory_bytes() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        return getattr(psutil.Process().memory_info(), "peak_wset", None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class PeakMemory:
    """The worker's peak resident memory during one answer: on Linux the kernel's high-water mark is
    reset before the answer ("5" to /proc/self/clear_refs) and read after it (VmHWM). Elsewhere, or
    where the kernel refuses the reset, the figure is the worker's lifetime peak, and says so."""

    def __init__(self) -> None:
        self.scope = "process"

    def start(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w") as file:
                file.write("5")
            self.scope = "answer" if _vm_hwm() is not None else "process"
        except OSError:
            self.scope = "process"

    def finish(self) -> tuple[int | None, str]:
        """(peak bytes, "answer" or "process")."""
        if self.scope == "answer":
            peak = _vm_hwm()
            if peak is not None:
                return peak, "answer"
        return _peak_memory_bytes(), "process"


def _vm_hwm() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # the kernel writes kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def builtin_templates(llama_cpp: Any) -> list[str]:
    """llama.cpp's own chat template names (chatml, llama3, gemma, ...)."""
    count = llama_cpp.llama_chat_builtin_templates(None, 0)
    names = (ctypes.c_char_p * max(count, 1))()
    llama_cpp.llama_chat_builtin_templates(names, count)
    return sorted(n.decode() for n in names[:count] if n)


def apply_builtin_template(llama_cpp: Any, name: str, messages: list[dict[str, str]], add_assistant: bool) -> str:
    """Format messages with one of llama.cpp's built-in templates, as llama.cpp's server would."""
    chat = (llama_cpp.llama_chat_message * len(messages))()
    keep = []  # the bytes must outlive the call
    for i, message in enumerate(messages):
        role, content = message["role"].encode(), message["content"].encode()
        keep += [role, content]
        chat[i].role, chat[i].content = role, content
    size = 256 + 2 * sum(len(b) for b in keep)
    for _ in range(2):
        buffer = ctypes.create_string_buffer(size)
        needed = llama_cpp.llama_chat_apply_template(name.encode(), chat, len(messages), add_assistant,
                                                     buffer, size)
        if needed < 0:
            raise ValueError(f"llama.cpp has no chat template named {name!r}")
        if needed <= size:
            return buffer.raw[:needed].decode("utf-8", "replace")
        size = needed
    raise ValueError(f"llama.cpp's {name!r} template gave no stable length")


def turn_end_stops(llama_cpp: Any, name: str) -> list[str]:
    """What ends an assistant's turn in a built-in template, read off the template itself.

    A two-turn chat is rendered and whatever follows the assistant's text is its end marker
    (<|im_end|>, <|eot_id|>, <end_of_turn>, </s>); a template that writes none is ended where the
    next user turn would begin. The model may write the marker as plain text (a model trained on
    another format, or without the marker in its vocabulary), so it is also a stop string.
    """
    answer, follow_up = "ZQXANSWERZQX", "ZQXNEXTZQX"
    two_turns = apply_builtin_template(llama_cpp, name, [{"role": "user", "content": "ZQXQUESTIONZQX"},
                                                         {"role": "assistant", "content": answer}], False)
    end = two_turns[two_turns.find(answer) + len(answer):].strip() if answer in two_turns else ""
    if end:
        return [end]
    three_turns = apply_builtin_template(llama_cpp, name, [{"role": "user", "content": "ZQXQUESTIONZQX"},
                                                           {"role": "assistant", "content": answer},
                                                           {"role": "user", "content": follow_up}], False)
    start, stop = three_turns.find(answer), three_turns.find(follow_up)
    if start == -1 or stop == -1:
        return []
    separator = three_turns[start + len(answer):stop].strip()
    return [separator] if separator else []


def _load_failure_reason() -> str:
    for line in _log_lines:
        if "error loading model:" in line:  # llama.cpp's own reason, e.g. an unknown architecture
            return line.split("error loading model:", 1)[1].strip()
    return _log_lines[-1] if _log_lines else ""


class _Model:
    """The loaded model: its prompt format, and the batching engine that answers with it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import llama_cpp
        from llama_cpp._internals import LlamaModel
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama_cpp = llama_cpp
        self.closing = False  # told to close while answering
        _install_log_capture(llama_cpp)
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = spec.get("n_gpu_layers", 0)
        self.model = LlamaModel(path_model=spec["path"], params=params, verbose=False)
        self.n_ctx = spec["n_ctx"]
        parallel = spec.get("n_parallel") or 1
        threads = spec.get("n_threads") or _physical_cores()
        self.engine = Engine(llama_cpp, self.model, n_ctx=self.n_ctx, parallel=parallel,
                             total_cells=spec.get("n_ctx_batch") or self.n_ctx * parallel,
                             threads=threads, n_batch=max(spec.get("n_batch", 512), parallel),
                             governor=ThreadGovernor(threads) if spec.get("adapt_threads") else None)
        self.threads = self.engine.threads  # what llama.cpp decodes with, not what was asked for

        metadata = self.model.metadata()
        template = metadata.get("tokenizer.chat_template")
        template = template if isinstance(template, str) and template.strip() else None
        eos, bos = self.model.token_eos(), self.model.token_bos()
        eos_text = self.engine.piece(eos, special=True).decode("utf-8", "replace") if eos != -1 else ""
        self.bos_text = self.engine.piece(bos, special=True).decode("utf-8", "replace") if bos != -1 else ""
        choice = spec.get("chat_template")
        self.formatter: Any = None
        self.builtin: str | None = None
        self.turn_stops: list[str] = []
        if choice is None and template:
            self.template_source = "gguf"
            self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos_text, bos_token=self.bos_text,
                                                 stop_token_ids=[eos])
        elif choice == COMPLETION:
            self.template_source = COMPLETION
        else:
            # No template in the file (often a base model): ChatML, the most common format among small
            # instruct models, labelled as the guess it is.
            self.builtin = choice or "chatml"
            if self.builtin not in builtin_templates(llama_cpp):
                raise TemplateError(unknown_template_message(self.builtin, spec["path"],
                                                             builtin_templates(llama_cpp)))
            self.template_source = choice or FALLBACK_LABEL
            self.turn_stops = turn_end_stops(llama_cpp, self.builtin)

    def close(self) -> None:
        self.engine.close()
        self.model.close()

    def format(self, messages: list[dict[str, str]]) -> tuple[str, list[str], bool]:
        """The prompt text, the stop strings its format ends a turn with, and whether to add BOS."""
        if self.formatter is not None:
            formatted = self.formatter(messages=messages)
            return formatted.prompt, _as_list(formatted.stop), not formatted.added_special
        if self.builtin is not None:
            text = apply_builtin_template(self.llama_cpp, self.builtin, messages, True)
            # Tokenizing adds BOS where the vocabulary asks for it, unless the template wrote it.
            return text, self.turn_stops, not (self.bos_text and text.startswith(self.bos_text))
        text = "\n\n".join(m["content"] for m in messages if m["content"])
        return text, [], True

    def prepare(self, index: int, request: dict[str, Any], received: float) -> Prepared | dict[str, Any]:
        """A request as tokens, or the error result of one that cannot be answered (too long)."""
        sampling = request["sampling"]
        text, format_stops, add_bos = self.format(request["messages"])
        prompt = self.engine.tokenize(text, add_bos)
        if len(prompt) >= self.n_ctx:
            return {"finish_reason": "error", "text": "", "prompt_tokens": len(prompt), "completion_tokens": 0,
                    "error_kind": "permanent",  # the same prompt never fits
                    "error": (f"the prompt is {len(prompt)} tokens, more than the context size of {self.n_ctx}; "
                              f"raise the context size or shorten the prompt")}
        stops = [s for s in (*sampling.get("stop", ()), *format_stops) if s]
        return Prepared(index, prompt, min(sampling["max_tokens"], self.n_ctx - len(prompt)), stops, sampling,
                        received)

    def answer(self, requests: list[dict[str, Any]], conn: Connection) -> None:
        """Answer a batch of requests, streaming over `conn`: ("admitted", i) when request i starts,
        ("token", i, text) as it writes, ("done", i, result) when it ends, then ("idle",). A cancel
        stops the answers under way and drops those not started; a close is carried out afterwards."""
        received = time.perf_counter()
        peak = PeakMemory()
        peak.start()
        channel = _PipeChannel(conn, self, peak, "answer" if len(requests) == 1 else "batch")
        jobs = []
        for index, request in enumerate(requests):
            prepared = self.prepare(index, request, received)
            if isinstance(prepared, Prepared):
                jobs.append(prepared)
            else:
                channel.done(index, prepared)
        if jobs:
            self.engine.answer(jobs, channel)
        conn.send(("idle",))


class _PipeChannel:
    """The engine's reports, sent to the app; between steps the app's messages are read, so a cancel
    stops the batch at the next step and a dead parent ends the worker."""

    def __init__(self, conn: Connection, model: _Model, peak: PeakMemory, scope: str) -> None:
        self.conn, self.model, self.peak, self.scope = conn, model, peak, scope
        self.stopped = False

    def admitted(self, index: int) -> None:
        self.conn.send(("admitted", index))

    def token(self, index: int, text: str) -> None:
        self.conn.send(("token", index, text))

    def done(self, index: int, result: dict[str, Any]) -> None:
        peak, scope = self.peak.finish()
        result.update(peak_memory_bytes=peak, peak_memory_scope=scope if scope == "process" else self.scope,
                      chat_template=self.model.template_source)
        result.setdefault("threads", self.model.threads)
        self.conn.send(("done", index, result))

    def cancelled(self) -> bool:
        while not self.stopped and self.conn.poll():
            message = self.conn.recv()  # EOFError: the parent is gone, and the worker leaves quietly
            if message[0] == "close":
                self.model.closing = True
            if message[0] in ("close", "cancel"):
                self.stopped = True
        return self.stopped


def _physical_cores() -> int:
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


class TemplateError(ValueError):
    """The spec names a chat template this llama.cpp does not have."""


def unknown_template_message(name: str, path: str, known: list[str]) -> str:
    return (f"unknown chat template {name!r} for {path}: this llama.cpp knows {', '.join(known)}; "
            f"choose one of them, or {COMPLETION!r} for a plain text prompt, on the Models screen")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def main(conn: Connection, spec: dict[str, Any]) -> None:
    """Entry point of the worker process (started through worker_process.start, which makes it leave
    quietly with its parent). Messages: ("generate", [request, ...]), ("cancel",) and ("close",)."""
    if hasattr(os, "nice"):
        # Below the app's own priority: when cores are short, the window repaints first.
        os.nice(5)
    try:
        model = _Model(spec)
    except TemplateError as exc:
        conn.send(("spec_error", str(exc)))
        return
    except Exception as exc:  # llama.cpp reports a failed load as a Python exception
        reason = _load_failure_reason() or str(exc)
        conn.send(("load_error", reason))
        return
    import llama_cpp

    conn.send(("ready", {"llama_cpp_version": llama_cpp.__version__,
                         "n_ctx": model.n_ctx,
                         "parallel": model.engine.parallel,
                         "chat_template": model.template_source,
                         "turn_stops": model.turn_stops,
                         "threads": model.threads,
                         "peak_memory_bytes": _peak_memory_bytes()}))
    while not model.closing:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the app went away
        if message[0] == "close":
            break
        if message[0] == "generate":
            try:
                model.answer(message[1], conn)
            except (EOFError, BrokenPipeError, ConnectionResetError):
                raise  # the parent is gone: nothing to answer, and the worker leaves quietly
            except Exception as exc:  # every request of the batch not answered yet ends with this error
                conn.send(("failed", f"llama.cpp failed: {exc}"))
                conn.send(("idle",))
        # ("cancel",) for a batch already answered: nothing left to stop
    model.close()


def check_main(conn: Connection, model_paths: list[str]) -> None:
    """Entry point of a short-lived process that checks llama.cpp can open each model (vocab only)."""
    import llama_cpp

    _install_log_capture(llama_cpp)
    for path in model_paths:
        _log_lines.clear()
        try:
            llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False).close()
            conn.send((path, None))
        except Exception as exc:
            conn.send((path, _load_failure_reason() or str(exc)))
    conn.send(None)


def capabilities_main(conn: Connection) -> None:
    """Entry point of a short-lived process that reports what this llama.cpp build can do."""
    import llama_cpp

    conn.send({
        "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        "chat_templates": builtin_templates(llama_cpp),
        "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
    })
