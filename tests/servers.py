"""Real servers on loopback for the API providers' tests.

- llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`) on the demo model;
- a fault-injecting HTTP proxy in front of it (429 with Retry-After, 5xx, a connection dropped
  mid-stream, a slow response), forwarding everything else byte for byte;
- a server that speaks Anthropic's Messages API streaming events as the documentation gives them,
  answering with the demo model through the llama server (so answers and token counts are real);
- a scripted judge: an OpenAI-compatible chat server whose replies are fixed or computed from the request.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """`python -m llama_cpp.server` serving one GGUF as model `alias`, key required."""

    def __init__(self, model: Path, alias: str = "demo", api_key: str = "sk-loopback-test-key",
                 threads: int = 2) -> None:
        self.alias, self.api_key, self.port = alias, api_key, free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log = open(os.devnull, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048",
             "--n_threads", str(threads), "--verbose", "False", "--api_key", api_key,
             # Queue concurrent requests rather than cut the running one off (its default).
             "--interrupt_requests", "False"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(f"{self.base_url}/models",
                                         headers={"Authorization": f"Bearer {self.api_key}"})
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("llama_cpp.server did not start in time")

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """A non-streaming chat completion, as the fake Anthropic server's source of answers."""
        data = json.dumps({**body, "model": self.alias, "stream": False}).encode()
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=data, headers={
            "Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def tokenize(self, text: str) -> list[int]:
        """The served model's own tokens for `text` (llama-cpp-python's /extras/tokenize; no BOS)."""
        root = self.base_url.removesuffix("/v1")
        request = urllib.request.Request(f"{root}/extras/tokenize", data=json.dumps({"input": text}).encode(),
                                         headers={"Authorization": f"Bearer {self.api_key}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["tokens"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Loopback:
    """A threaded HTTP server on 127.0.0.1 with a handler bound to this object."""

    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        owner = self

        class Handler(self.handler):  # type: ignore[misc, valid-type]
            server_owner = owner

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        # stop() waits for the loop to look at its flag: every 20 ms, not the default half second.
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Fault:
    """What the proxy does to one request instead of (or while) passing it on."""

    status: int | None = None  # answer this status at once, without asking upstream
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay_s: float = 0.0  # wait this long before passing the request on
    drop_after_bytes: int | None = None  # pass it on, then cut the connection mid-body
    empty: bool = False  # end the stream at once, cleanly, with no text and no usage (a cut-off request)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: FaultProxy

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        proxy = self.server_owner
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = proxy.next_fault()
        proxy.seen.append({"path": self.path, "at": time.monotonic(), "fault": fault,
                           "body": json.loads(body) if body else None,
                           "headers": {k.lower(): v for k, v in self.headers.items()}})
        with proxy.lock:
            proxy.in_flight += 1
            proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
        try:
            self._answer(proxy, fault, body)
        finally:
            with proxy.lock:
                proxy.in_flight -= 1

    def _answer(self, proxy: FaultProxy, fault: Fault | None, body: bytes) -> None:
        if fault and fault.status:
            payload = json.dumps(fault.body or {"error": {"message": f"injected {fault.status}",
                                                          "type": "injected"}}).encode()
            self.send_response(fault.status)
            for name, value in {"Content-Type": "application/json", **fault.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            return
        if fault and fault.empty:
            # What a server sends when it drops a request for another one: a finished, empty stream.
            chunk = {"id": "cut", "object": "chat.completion.chunk", "created": int(time.time()), "model": "demo",
                     "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            payload = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            return
        if fault and fault.delay_s:
            time.sleep(fault.delay_s)
        upstream = urlsplit(proxy.upstream)
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
        except OSError:
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "content-length", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")  # so a cut body is seen as cut, not as the end
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        try:
            while data := response.read1(65536):
                if fault and fault.drop_after_bytes is not None and sent + len(data) > fault.drop_after_bytes:
                    data = data[:max(0, fault.drop_after_bytes - sent)]
                    if data:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)  # no final chunk: a dropped connection
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                sent += len(data)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client went away (a cancel): nothing to finish
        finally:
            conn.close()
            self.close_connection = True


class FaultProxy(_Loopback):
    """Forwards to `upstream`, applying the planned faults to the next requests in order."""

    handler = _ProxyHandler

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path
        self._faults: queue.Queue[Fault] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        super().__init__()
        self.base_url = f"http://127.0.0.1:{self.port}{self.prefix}"

    def plan(self, *faults: Fault) -> None:
        for fault in faults:
            self._faults.put(fault)

    def next_fault(self) -> Fault | None:
        try:
            return self._faults.get_nowait()
        except queue.Empty:
            return None

    def reset(self) -> None:
        while self.next_fault():
            pass
        self.seen.clear()
        self.max_in_flight = 0


class _AnthropicHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: FakeAnthropic

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("request-id", "req_" + secrets.token_hex(8))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        # https://docs.anthropic.com/en/api/errors: {"type": "error", "error": {"type", "message"}}
        self._json(status, {"type": "error", "error": {"type": kind, "message": message},
                            "request_id": "req_" + secrets.token_hex(8)}, headers)

    def _authorised(self, body: dict[str, Any] | None = None) -> bool:
        fake = self.server_owner
        fake.seen.append({"path": self.path, "body": body,
                          "headers": {k.lower(): v for k, v in self.headers.items()}})
        # The API takes the key as x-api-key; SDK 2.x sends it as a bearer token, which it also takes.
        bearer = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        if fake.api_key not in (self.headers.get("x-api-key"), bearer):
            self._error(401, "authentication_error", "invalid x-api-key")
            return False
        if not self.headers.get("anthropic-version"):
            self._error(400, "invalid_request_error", "anthropic-version header is required")
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path.split("?")[0] != "/v1/models":
            self._error(404, "not_found_error", f"no route {self.path}")
            return
        models = [{"type": "model", "id": name, "display_name": name, "created_at": "2026-01-01T00:00:00Z"}
                  for name in self.server_owner.models]
        self._json(200, {"data": models, "has_more": False, "first_id": models[0]["id"],
                         "last_id": models[-1]["id"]})

    def do_POST(self) -> None:
        try:
            self._post()
        except OSError:
            pass  # the client went away (a cancel, a timeout): nothing to finish

    def _post(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if not self._authorised(body):
            return
        fake = self.server_owner
        fault = fake.next_fault()
        if self.path != "/v1/messages":
            self._error(404, "not_found_error", f"no route {self.path}")
            return
        if body.get("model") not in fake.models:
            self._error(404, "not_found_error", f"model: {body.get('model')}")
            return
        if fault == "overloaded":
            self._error(529, "overloaded_error", "Overloaded")
            return
        if fault == "rate_limited":
            self._error(429, "rate_limit_error", "Number of requests has exceeded your rate limit",
                        {"retry-after": "1"})
            return
        if "max_tokens" not in body:
            self._error(400, "invalid_request_error", "max_tokens: Field required")
            return
        messages = ([{"role": "system", "content": body["system"]}] if body.get("system") else [])
        messages += body["messages"]
        answer = fake.llama.chat({"messages": messages, "max_tokens": body["max_tokens"],
                                  "temperature": body.get("temperature", 1.0),
                                  "stop": body.get("stop_sequences") or None})
        text = answer["choices"][0]["message"]["content"] or ""
        usage = answer["usage"]
        stop_reason = "max_tokens" if answer["choices"][0]["finish_reason"] == "length" else "end_turn"
        message_id = "msg_" + secrets.token_hex(12)
        if not body.get("stream"):
            self._json(200, {"id": message_id, "type": "message", "role": "assistant", "model": body["model"],
                             "content": [{"type": "text", "text": text}], "stop_reason": stop_reason,
                             "stop_sequence": None, "usage": {"input_tokens": usage["prompt_tokens"],
                                                              "output_tokens": usage["completion_tokens"]}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def event(name: str, data: dict[str, Any]) -> None:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        # The order and shapes of https://docs.anthropic.com/en/docs/build-with-claude/streaming
        event("message_start", {"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "content": [], "model": body["model"],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": 1}}})
        event("content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "text", "text": ""}})
        event("ping", {"type": "ping"})
        pieces = _pieces(text)
        for n, piece in enumerate(pieces):
            if fault == "error_mid_stream" and n == max(1, len(pieces) // 2):
                event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                return
            event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": piece}})
            time.sleep(fake.delay_between_events_s)
        event("content_block_stop", {"type": "content_block_stop", "index": 0})
        event("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                "usage": {"output_tokens": usage["completion_tokens"]}})
        event("message_stop", {"type": "message_stop"})
        fake.last_output_tokens = usage["completion_tokens"]


def _pieces(text: str) -> list[str]:
    """Split an answer into word-sized deltas, spaces kept, as streaming APIs send it."""
    pieces, current = [], ""
    for char in text:
        if char == " " and current.strip():
            pieces.append(current)
            current = ""
        current += char
    return pieces + ([current] if current else [])


class FakeAnthropic(_Loopback):
    """The Messages API on loopback; answers come from the demo model behind `llama`."""

    handler = _AnthropicHandler

    def __init__(self, llama: LlamaServer, api_key: str = "sk-ant-loopback-test",
                 models: tuple[str, ...] = ("claude-loopback-1",)) -> None:
        self.llama, self.api_key, self.models = llama, api_key, list(models)
        self.delay_between_events_s = 0.0
        self.last_output_tokens: int | None = None
        self._faults: queue.Queue[str] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        super().__init__()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def plan(self, *faults: str) -> None:
        """Faults for the next message requests: overloaded, rate_limited, error_mid_stream."""
        for fault in faults:
            self._faults.put(fault)

    def next_fault(self) -> str | None:
        try:
            return self._faults.get_nowait()
        except queue.Empty:
            return None


class _ScriptedJudgeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: ScriptedJudge

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/v1/models":
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        self._json(200, {"object": "list", "data": [{"id": self.server_owner.model, "object": "model",
                                                     "created": 0, "owned_by": "loopback"}]})

    def do_POST(self) -> None:
        try:
            self._post()
        except OSError:
            pass  # the client went away (a cancel): nothing to finish

    def _post(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        judge = self.server_owner
        with judge.lock:
            judge.seen.append(body)
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        reply = judge.reply(body) if callable(judge.reply) else judge.reply
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        pieces = _pieces(reply)
        finish = "stop"
        if limit is not None and len(pieces) > limit:  # one piece is one token here
            pieces, finish = pieces[:limit], "length"
        text = "".join(pieces)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) + 4 for m in body.get("messages", []))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces),
                 "total_tokens": prompt_tokens + len(pieces)}
        created, reply_id = int(time.time()), "chatcmpl-" + secrets.token_hex(8)
        if not body.get("stream"):
            self._json(200, {"id": reply_id, "object": "chat.completion", "created": created, "model": judge.model,
                             "choices": [{"index": 0, "finish_reason": finish,
                                          "message": {"role": "assistant", "content": text}}],
                             "usage": usage})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> None:
            data = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": judge.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}
            self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        # OpenAI's order: the role, the content deltas, the finish reason, then (when asked with
        # stream_options.include_usage) a chunk with no choices and the usage, then [DONE].
        chunk({"role": "assistant", "content": ""})
        for piece in pieces:
            chunk({"content": piece})
        chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            data = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": judge.model,
                    "choices": [], "usage": usage}
            self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class ScriptedJudge(_Loopback):
    """An OpenAI-compatible chat server whose every reply is scripted: a fixed text, or a function of
    the request body; it records the bodies it was sent. One word-sized piece counts as one token."""

    handler = _ScriptedJudgeHandler

    def __init__(self, reply: str | Any = "Assistant A is better. [[A]]", model: str = "scripted-judge") -> None:
        self.reply, self.model = reply, model
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        super().__init__()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def user_texts(self) -> list[str]:
        """The last user message of each request received, in order."""
        return [[m for m in body["messages"] if m["role"] == "user"][-1]["content"] for body in self.seen]
