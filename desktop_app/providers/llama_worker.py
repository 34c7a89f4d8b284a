"""The child process that hosts one llama.cpp model and answers requests from a pipe, one at a time.

Only this module imports llama_cpp, and only inside the worker process: a crash of native code
(a malformed file, out of memory) kills this process, not the app.
"""

from __future__ import annotations

import codecs
import os
import ctypes
import sys
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

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


def _load_failure_reason() -> str:
    for line in _log_lines:
        if "error loading model:" in line:  # llama.cpp's own reason, e.g. an unknown architecture
            return line.split("error loading model:", 1)[1].strip()
    return _log_lines[-1] if _log_lines else ""


class _Engine:
    def __init__(self, spec: dict[str, Any]) -> None:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama_cpp = llama_cpp
        _install_log_capture(llama_cpp)
        kwargs: dict[str, Any] = {
            "model_path": spec["path"],
            "n_ctx": spec["n_ctx"],
            "n_gpu_layers": spec.get("n_gpu_layers", 0),
            "n_batch": spec.get("n_batch", 512),
            "seed": 0,
            "verbose": False,
        }
        if spec.get("n_threads"):
            kwargs["n_threads"] = spec["n_threads"]
            kwargs["n_threads_batch"] = spec["n_threads"]
        self.llm = llama_cpp.Llama(**kwargs)
        self.vocab = self.llm._model.vocab
        self._piece_buffer = ctypes.create_string_buffer(256)

        template = self.llm.metadata.get("tokenizer.chat_template")
        eos = self.llm.token_eos()
        bos = self.llm.token_bos()
        eos_text = self._piece(eos, special=True).decode("utf-8", "replace") if eos != -1 else ""
        bos_text = self._piece(bos, special=True).decode("utf-8", "replace") if bos != -1 else ""
        # Models without a template get ChatML, the most common format among small instruct models.
        self.template_source = "gguf" if template else "chatml (the file has no chat template)"
        self.formatter = Jinja2ChatFormatter(template=template or _CHATML, eos_token=eos_text,
                                             bos_token=bos_text, stop_token_ids=[eos])

    def _piece(self, token: int, special: bool = False) -> bytes:
        n = self.llama_cpp.llama_token_to_piece(self.vocab, token, self._piece_buffer,
                                                len(self._piece_buffer), 0, special)
        if n < 0:
            self._piece_buffer = ctypes.create_string_buffer(-n)
            n = self.llama_cpp.llama_token_to_piece(self.vocab, token, self._piece_buffer,
                                                    len(self._piece_buffer), 0, special)
        return self._piece_buffer.raw[:n]

    def generate(self, request: dict[str, Any], conn: Connection, cancel: Any) -> dict[str, Any]:
        started = time.perf_counter()
        sampling = request["sampling"]
        result: dict[str, Any] = {"text": "", "finish_reason": None}
        formatted = self.formatter(messages=request["messages"])
        prompt = self.llm.tokenize(formatted.prompt.encode("utf-8"),
                                   add_bos=not formatted.added_special, special=True)
        result["prompt_tokens"] = len(prompt)
        n_ctx = self.llm.n_ctx()
        if len(prompt) >= n_ctx:
            result.update(finish_reason="error", completion_tokens=0, error=(
                f"the prompt is {len(prompt)} tokens, more than the context size of {n_ctx}; "
                f"raise the context size or shorten the prompt"))
            return result
        max_tokens = min(sampling["max_tokens"], n_ctx - len(prompt))
        stops = [s for s in (*sampling.get("stop", ()), *_as_list(formatted.stop)) if s]
        longest_stop = max((len(s) for s in stops), default=0)

        # Every request starts from an empty KV cache: the answer then depends only on the request,
        # never on which prompt ran before, which is what makes stored answers reusable.
        self.llm.reset()
        self.llm.set_seed(sampling["seed"])
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""
        sent = 0
        generated = 0
        sampled = 0
        first_at = last_at = None
        finish = "length"
        stopped_by_string = False
        is_eog = self.llama_cpp.llama_vocab_is_eog
        eval_started = time.perf_counter()
        tokens = self.llm.generate(
            prompt, top_k=sampling["top_k"], top_p=sampling["top_p"], min_p=sampling["min_p"],
            temp=sampling["temperature"], repeat_penalty=sampling["repeat_penalty"])
        try:
            for token in tokens:
                last_at = time.perf_counter()
                sampled += 1
                if first_at is None:
                    first_at = last_at
                if cancel.is_set():
                    finish = "cancelled"
                    break
                if is_eog(self.vocab, token):
                    finish = "stop"
                    break
                generated += 1
                text += decoder.decode(self._piece(token))
                if stops:
                    hit = _find_stop(text, stops, max(0, sent - longest_stop))
                    if hit is not None:
                        text = text[:hit]
                        finish = "stop"
                        stopped_by_string = True
                        break
                    safe = len(text) - _held_back(text, stops)
                else:
                    safe = len(text)
                if safe > sent:
                    conn.send(("token", text[sent:safe]))
                    sent = safe
                if generated >= max_tokens:
                    break
        finally:
            tokens.close()
        if not stopped_by_string:
            text += decoder.decode(b"", final=True)
        if len(text) > sent:
            conn.send(("token", text[sent:]))

        ended = time.perf_counter()
        result.update(
            text=text,
            finish_reason=finish,
            completion_tokens=generated,
            time_to_first_token_ms=(first_at - started) * 1000 if first_at else None,
            prompt_tokens_per_second=(len(prompt) / (first_at - eval_started)
                                      if first_at and first_at > eval_started else None),
            generation_tokens_per_second=((sampled - 1) / (last_at - first_at)
                                          if sampled > 1 and last_at > first_at else None),
            wall_time_ms=(ended - started) * 1000,
        )
        return result


_CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
           " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
           "{{ '<|im_start|>assistant\n' }}{% endif %}")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _find_stop(text: str, stops: list[str], start: int) -> int | None:
    hits = [i for i in (text.find(s, start) for s in stops) if i != -1]
    return min(hits) if hits else None


def _held_back(text: str, stops: list[str]) -> int:
    """How many trailing characters might be the start of a stop string, so must wait."""
    held = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), held, -1):
            if text.endswith(stop[:size]):
                held = size
                break
    return held


def main(conn: Connection, cancel: Any, spec: dict[str, Any]) -> None:
    """Entry point of the worker process."""
    if hasattr(os, "nice"):
        # Below the app's own priority: when cores are short, the window repaints first.
        os.nice(5)
    try:
        engine = _Engine(spec)
    except Exception as exc:  # llama.cpp reports a failed load as a Python exception
        reason = _load_failure_reason() or str(exc)
        conn.send(("load_error", reason))
        return
    import llama_cpp

    conn.send(("ready", {"llama_cpp_version": llama_cpp.__version__,
                         "n_ctx": engine.llm.n_ctx(),
                         "chat_template": engine.template_source,
                         "peak_memory_bytes": _peak_memory_bytes()}))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the app went away
        if message[0] == "close":
            engine.llm.close()
            return
        if message[0] == "generate":
            try:
                result = engine.generate(message[1], conn, cancel)
            except Exception as exc:
                result = {"finish_reason": "error", "error": f"llama.cpp failed: {exc}"}
            result["peak_memory_bytes"] = _peak_memory_bytes()
            conn.send(("done", result))


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
