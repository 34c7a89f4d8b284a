"""Models behind an HTTP API: what names one, how faults are retried, and the streaming loop they share.

Each provider (OpenAI, Anthropic, any OpenAI-compatible server) only turns a request into the
SDK's event stream; this module owns what they must all do the same way: a bound on concurrent
requests per endpoint, retries with backoff on transient faults, an answer cut off mid-stream kept
with its error, a cancel that returns at once even while the network is silent, and error text
that never carries the API key.
"""

from __future__ import annotations

import email.utils
import queue
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from desktop_app import keys
from desktop_app.errors import UserError
from desktop_app.providers.base import ProviderError, Request, Result, Token

API_PROVIDERS = ("openai", "anthropic", "openai-compatible")
DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
LONGEST_RETRY_WAIT_S = 120.0  # a server asking for a longer pause is reported, not waited for


@dataclass(frozen=True)
class ApiModelSpec:
    """One model at one endpoint, and how patiently to call it."""

    provider: str  # one of API_PROVIDERS
    model: str
    base_url: str | None = None  # None: the provider's public endpoint
    timeout_s: float = 60.0  # the longest wait for the first byte or between two chunks
    max_retries: int = 4
    max_concurrency: int = 4  # requests in flight to this endpoint at once
    # The longest an answer may spend on the wire, every attempt together; it bounds what an answer
    # priced by the hour can cost. None: no bound.
    deadline_s: float | None = None
    # What the user calls it (`NAME=provider:model`, or the Add API model dialog); None: see api_model_name.
    # Not part of the model's identity: renaming a model keeps its stored answers reusable.
    display_name: str | None = None

    def __post_init__(self) -> None:
        if self.provider not in API_PROVIDERS:
            raise UserError(f"unknown API provider {self.provider!r}; use one of {', '.join(API_PROVIDERS)}")
        if not self.model.strip():
            raise UserError(f"{self.provider}: the model name is empty")
        if self.provider == "openai-compatible" and not self.base_url:
            raise UserError("an openai-compatible model needs a base URL: "
                            "openai-compatible:MODEL@http://host:port/v1")
        if self.base_url:
            parts = urlsplit(self.base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UserError(f"{self.base_url!r} is not an http(s) URL; write it like "
                                f"http://127.0.0.1:8080/v1")
        if self.display_name is not None and (not self.display_name.strip() or "\n" in self.display_name):
            raise UserError(f"{self.ref}: a model's name must be one line of text, e.g. smol=openai:gpt-4o-mini")
        if self.timeout_s <= 0 or self.max_retries < 0 or self.max_concurrency < 1 or \
                (self.deadline_s is not None and self.deadline_s <= 0):
            raise UserError(f"{self.ref}: timeout must be above 0, retries 0 or more, concurrency 1 or more")

    @property
    def ref(self) -> str:
        """The spec as the user writes it: openai:MODEL, anthropic:MODEL, openai-compatible:MODEL@URL."""
        if self.provider == "openai-compatible":
            return f"{self.provider}:{self.model}@{self.base_url}"
        return f"{self.provider}:{self.model}"

    @property
    def endpoint(self) -> str:
        return self.base_url or DEFAULT_BASE_URLS[self.provider]

    @property
    def key_name(self) -> str:
        """Which stored key this model uses: the provider's, or the host's for a compatible server."""
        if self.provider == "openai-compatible":
            return keys.name_for_url(self.endpoint)
        return self.provider

    @property
    def needs_key(self) -> bool:
        """A public endpoint; a server on this machine or the local network may run without a key."""
        return not keys.is_private_url(self.endpoint)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApiModelSpec:
        return cls(**data)


def parse_model_ref(text: str) -> ApiModelSpec | None:
    """An API model from `[NAME=]provider:model[@base_url]`, or None when the text names a local file.

    NAME is what tables and plots call the model (e.g. `smol=openai-compatible:/models/smol.gguf@URL`).
    """
    name, eq, ref = text.partition("=")
    if not eq or ":" in name or not ref.partition(":")[0] in API_PROVIDERS:
        name, ref = "", text  # no name given (an "=" inside a URL or a path is not one)
    provider, sep, rest = ref.partition(":")
    if not sep or provider not in API_PROVIDERS:
        return None  # a path, even one with a drive letter
    model, at, base_url = rest.partition("@") if provider == "openai-compatible" else (rest, "", "")
    if provider == "openai-compatible" and not at:
        raise UserError(f"{ref!r}: an openai-compatible model needs its server, as "
                        f"openai-compatible:MODEL@http://host:port/v1")
    return ApiModelSpec(provider, model.strip(), base_url.strip().rstrip("/") or None,
                        display_name=name.strip() or None)


def api_model_name(spec: ApiModelSpec) -> str:
    """What an API model is called in runs, tables and plots: the user's name for it; for a compatible
    server, `model @ host:port`, the model named by its file when the server reports a path (llama.cpp's
    server does); else the reference (openai:gpt-4o-mini)."""
    if spec.display_name:
        return spec.display_name.strip()
    if spec.provider == "openai-compatible":
        return f"{short_model_name(spec.model)} @ {keys.name_for_url(spec.endpoint)}"
    return spec.ref


_SPLIT_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")


def short_model_name(model: str) -> str:
    """A model id as a person names it: "/srv/models/smol.gguf" -> "smol"; other ids stay as they are
    ("Qwen/Qwen2.5-7B-Instruct" is a repository, not a path)."""
    text = model.strip()
    is_path = text.startswith(("/", "~", "\\", "./", "../")) or bool(re.match(r"^[A-Za-z]:[\\/]", text)) \
        or text.lower().endswith(".gguf")
    if not is_path:
        return text
    name = re.split(r"[\\/]", text.rstrip("/\\"))[-1]
    if name.lower().endswith(".gguf"):
        name = _SPLIT_SUFFIX.sub("", name[:-5])
    return name or text


def display_url(url: str) -> str:
    """A URL fit to show or store: any user:password part removed."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


# Faults ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fault:
    """A failed call, classified: whether trying again may help, and how long the server asks to wait."""

    kind: str  # status, timeout, connection, dropped, empty, internal
    message: str
    status: int | None = None
    retry_after_s: float | None = None

    @property
    def retryable(self) -> bool:
        if self.kind == "status":
            return self.status == 429 or (self.status or 0) >= 500 or self.status == 408
        return self.kind != "internal"


def retry_after_seconds(headers: Any) -> float | None:
    """The pause a server asks for: Retry-After as seconds or an HTTP date, or retry-after-ms."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: a wait drawn uniformly between 0 and the capped
    exponential ceiling, so clients that failed together spread out; a server's Retry-After wins
    when it asks for longer."""

    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, attempt: int, retry_after_s: float | None = None,
              rng: random.Random | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** attempt)
        jittered = (rng or random).uniform(0, ceiling)
        return max(jittered, retry_after_s) if retry_after_s is not None else jittered


_KEYLIKE = re.compile(r"\b(sk|key|pk|rk)-[A-Za-z0-9_\-*.]{6,}")


def redact(text: str, secret: str | None) -> str:
    """Error text fit to show and store: the key, and anything shaped like a key, replaced."""
    if secret:
        text = text.replace(secret, "[key hidden]")
    return _KEYLIKE.sub("[key hidden]", text)


# The shared streaming loop ---------------------------------------------------------------------

# Keyed by the bound too: a changed setting applies to the next requests, not after a restart.
_ENDPOINT_SLOTS: dict[tuple[str, str, int], threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def _slots(spec: ApiModelSpec) -> threading.BoundedSemaphore:
    with _SLOTS_LOCK:
        key = (spec.provider, spec.endpoint, spec.max_concurrency)
        if key not in _ENDPOINT_SLOTS:
            _ENDPOINT_SLOTS[key] = threading.BoundedSemaphore(spec.max_concurrency)
        return _ENDPOINT_SLOTS[key]


@dataclass
class Usage:
    """Token counts as the provider reported them (None where it did not)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    raw: dict[str, Any] | None = None


@dataclass
class _Chunk:
    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str | None = None  # the model the server says answered
    cut: bool = False  # the answer ended at a stop string applied on our side (it may be empty then)


class ApiProvider:
    """The provider contract over a streaming HTTP API; subclasses supply `_open` and `_classify`."""

    loaded = True  # nothing to load: a client is cheap and holds no model

    def __init__(self, spec: ApiModelSpec, label: str | None = None, key: str | None = None,
                 backoff: Backoff | None = None) -> None:
        self.spec = spec
        self.label = label or spec.ref
        self._explicit_key = key
        self._key: keys.KeyLookup | None = None
        self._client: Any = None
        self.backoff = backoff or Backoff()
        self.load_info: dict[str, Any] = {"load_ms": 0.0}
        # A refused key or an unknown model fails every later request too: they are not sent.
        self._fatal: str | None = None

    # Contract -----------------------------------------------------------------------------

    def load(self) -> None:
        """Find the key and build the SDK client; no network call."""
        if self._client is not None:
            return
        self._key = keys.find(self.spec.key_name, explicit=self._explicit_key,
                              required=self.spec.needs_key)
        self._client = self._make_client(self._key.key or "no-key-needed")

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing a client must not fail a run
                pass

    def memory_bytes(self) -> int | None:
        return None

    def identity(self) -> dict[str, Any]:
        return {"provider": self.spec.provider, "model": self.spec.model,
                "base_url": display_url(self.spec.endpoint)}

    def list_models(self) -> list[str]:
        """The model names the endpoint offers, for a picker."""
        self.load()
        try:
            return sorted(self._list_models())
        except Exception as exc:  # noqa: BLE001 - every SDK fault becomes one plain message
            fault = self._classify(exc)
            raise ProviderError(self._message(fault, attempts=1)) from None

    def stream(self, request: Request, cancel: threading.Event | None = None) -> Iterator[Token | Result]:
        cancel = cancel or threading.Event()
        started = time.perf_counter()
        if self._fatal:
            yield Result(finish_reason="error", error=self._fatal, wall_time_ms=0.0, error_kind="permanent")
            return
        try:
            self.load()
        except UserError as exc:
            yield Result(finish_reason="error", error=str(exc), wall_time_ms=_ms_since(started),
                         error_kind="permanent")
            return
        slots = _slots(self.spec)
        while not slots.acquire(timeout=0.05):
            if cancel.is_set():
                yield Result(finish_reason="cancelled", wall_time_ms=_ms_since(started))
                return
        try:
            yield from self._stream_with_retries(request, cancel, started)
        finally:
            slots.release()

    # The loop -----------------------------------------------------------------------------

    def _stream_with_retries(self, request: Request, cancel: threading.Event,
                             started: float) -> Iterator[Token | Result]:
        dropped: set[str] = set()
        attempt = 0
        billed = 0.0  # seconds on the wire, every attempt: what a per-hour price charges
        deadline = self.spec.deadline_s
        while True:
            sent = time.perf_counter()
            parts: list[str] = []
            first_at = last_at = None
            usage = Usage()
            finish = None
            served = None
            fault: Fault | None = None
            chunks = 0
            stopped = None  # "cancelled" or "deadline"
            cut = False
            limit = None if deadline is None else deadline - billed
            for item in self._pump(request, dropped, cancel, limit):
                if isinstance(item, _Chunk):
                    if item.text:
                        now = time.perf_counter()
                        first_at = first_at or now
                        last_at = now
                        chunks += 1
                        parts.append(item.text)
                        yield Token(item.text)
                    usage = item.usage or usage
                    finish = item.finish_reason or finish
                    served = item.model or served
                    cut = cut or item.cut
                elif isinstance(item, str):
                    stopped = item
                else:
                    fault = item
            billed += time.perf_counter() - sent

            def result(finish_reason: str | None, error: str | None = None, kind: str | None = None) -> Result:
                answer = self._result("".join(parts), finish_reason, usage, chunks, request, dropped,
                                      sent, first_at, last_at)
                answer.error, answer.error_kind = error, kind
                answer.served_model, answer.billed_seconds = served, billed
                return answer

            if stopped == "cancelled":
                yield result("cancelled")  # what streamed was paid for: its tokens stay counted
                return
            if stopped == "deadline":
                yield result("error", f"{self.label}: stopped after {deadline:g} s, the longest an answer "
                                      f"may take (Settings > API models); the partial answer is kept",
                             "transient")
                return
            if fault is None and not parts and not usage.completion_tokens and not cut:
                # A server that cuts a request off may end the stream cleanly with nothing in it: that
                # is a failure to retry, never an answer to grade, charge or reuse.
                fault = Fault("empty", "the server sent an empty answer: no text and no tokens")
            if fault is None:
                yield result(finish)
                return
            unsupported = _unsupported_parameter(fault, dropped)
            if unsupported and not parts:
                dropped.add(unsupported)  # e.g. a reasoning model that only takes temperature 1
                continue
            if parts:  # cut off mid-answer: keep what came, never pay for it twice
                yield result("error", f"{self.label}: the connection broke mid-answer "
                                      f"({redact(fault.message, self._key_text())}); the partial answer "
                                      f"is kept", "transient")
                return
            kind = "transient" if fault.retryable else "permanent"
            if not fault.retryable or attempt >= self.spec.max_retries:
                message = self._message(fault, attempt + 1)
                if fault.kind == "status" and fault.status in (401, 403, 404):
                    self._fatal = message
                yield self._failure(message, kind, started, billed)
                return
            delay = self.backoff.delay(attempt, fault.retry_after_s)
            if delay > LONGEST_RETRY_WAIT_S:
                yield self._failure(self._message(fault, attempt + 1), kind, started, billed)
                return
            attempt += 1
            if cancel.wait(delay):
                yield Result(finish_reason="cancelled", wall_time_ms=_ms_since(started), billed_seconds=billed)
                return

    @staticmethod
    def _failure(message: str, kind: str, started: float, billed: float) -> Result:
        return Result(finish_reason="error", wall_time_ms=_ms_since(started), error=message, error_kind=kind,
                      billed_seconds=billed)

    def _pump(self, request: Request, dropped: set[str], cancel: threading.Event,
              limit_s: float | None = None) -> Iterator[_Chunk | Fault | str]:
        """Read the SDK's stream on a helper thread, so a cancel (or the deadline) never waits on a
        silent network; ends with "cancelled" or "deadline" when either stops it."""
        items: queue.Queue[Any] = queue.Queue()
        done = object()
        holder: dict[str, Any] = {}
        ends = None if limit_s is None else time.perf_counter() + max(0.0, limit_s)

        def read() -> None:
            try:
                for chunk in self._open(request, dropped, holder):
                    items.put(chunk)
                    if cancel.is_set():
                        break
            except Exception as exc:  # noqa: BLE001 - classified by the provider below
                items.put(self._classify(exc))
            finally:
                _close_quietly(holder.get("stream"))
                items.put(done)

        threading.Thread(target=read, name=f"api-{self.spec.provider}", daemon=True).start()
        while True:
            stop = "cancelled" if cancel.is_set() else \
                "deadline" if ends is not None and time.perf_counter() >= ends else None
            if stop:
                _close_quietly(holder.get("stream"))  # wakes the reader; it exits on its own
                yield stop
                return
            try:
                item = items.get(timeout=0.05 if ends is None else max(0.0, min(0.05, ends - time.perf_counter())))
            except queue.Empty:
                continue
            if item is done:
                return
            yield item

    def _result(self, text: str, finish: str | None, usage: Usage, chunks: int, request: Request,
                dropped: set[str], sent: float, first_at: float | None, last_at: float | None) -> Result:
        """An answer's record; its latency counts from when the request was sent, not from waiting
        for a free slot or a backoff."""
        completion = usage.completion_tokens
        prompt = usage.prompt_tokens
        raw = dict(usage.raw or {})
        if completion is None:  # the server sent no usage: one streamed chunk is one token
            completion = chunks
            raw["completion_tokens_counted_from_chunks"] = True
        if prompt is None:
            prompt = estimate_prompt_tokens(request)
            raw["prompt_tokens_estimated"] = True
        if dropped:
            raw["dropped_parameters"] = sorted(dropped)
        ttft = (first_at - sent) * 1000 if first_at else None
        generation = (completion - 1) / (last_at - first_at) if first_at and last_at and \
            last_at > first_at and completion > 1 else None
        return Result(text=text, finish_reason=finish or "stop", prompt_tokens=prompt,
                      completion_tokens=completion, cached_tokens=usage.cached_tokens,
                      time_to_first_token_ms=ttft,
                      prompt_tokens_per_second=prompt / (ttft / 1000) if ttft and prompt else None,
                      generation_tokens_per_second=generation, wall_time_ms=_ms_since(sent),
                      usage=raw)

    def _key_text(self) -> str | None:
        return self._key.key if self._key else self._explicit_key

    def _message(self, fault: Fault, attempts: int) -> str:
        """What went wrong, in words, with what to do; never the key."""
        where = f"{self.label} ({display_url(self.spec.endpoint)})"
        detail = redact(fault.message, self._key_text())
        tries = f" after {attempts} tries" if attempts > 1 else ""
        if fault.kind == "status":
            status = fault.status
            if status == 401:
                source = f" (the key came from {self._key.source})" if self._key and self._key.source else ""
                return (f"{where}: the API key was refused (401){source}: it is wrong, expired or "
                        f"missing. Set it with `modelscout keys set {self.spec.key_name}` or in "
                        f"Settings > API keys{keys.env_hint(self.spec.key_name)}")
            if status == 403:
                return f"{where}: permission denied (403): this key may not use {self.spec.model}. {detail}"
            if status == 404:
                return (f"{where}: not found (404): check the model name {self.spec.model!r} and the URL. "
                        f"{detail}")
            if status == 429:
                return (f"{where}: rate limited (429){tries}; wait a while and resume the run, or lower "
                        f"the concurrency. {detail}")
            if status is not None and status >= 500:
                return f"{where}: the server failed ({status}){tries}; try again later. {detail}"
            return f"{where}: the request was refused ({status}): {detail}"
        if fault.kind == "timeout":
            return (f"{where}: no response within {self.spec.timeout_s:g} s{tries}; the server is "
                    f"overloaded or unreachable")
        if fault.kind == "empty":
            return (f"{where}: the server sent an empty answer{tries} (no text, no tokens: servers do this "
                    f"when they cut a request off, e.g. for another one); resume the run to try again")
        if fault.kind == "connection":
            return f"{where}: cannot connect{tries} ({detail}); check the URL and that the server is running"
        if fault.kind == "internal":
            return f"{where}: the request failed inside ModelScout ({detail}); please report this"
        return f"{where}: the connection broke{tries} ({detail})"

    # For subclasses -----------------------------------------------------------------------

    def _make_client(self, key: str) -> Any:
        raise NotImplementedError

    def _open(self, request: Request, dropped: set[str], holder: dict[str, Any]) -> Iterator[_Chunk]:
        """Send the request and yield its chunks; put the SDK stream in holder['stream']."""
        raise NotImplementedError

    def _classify(self, exc: BaseException) -> Fault:
        raise NotImplementedError

    def _list_models(self) -> list[str]:
        raise NotImplementedError


def classify_sdk_error(exc: BaseException, sdk: Any) -> Fault:
    """Both official SDKs share one error hierarchy; anything from the HTTP layer is a drop."""
    if isinstance(exc, sdk.APIStatusError):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        return Fault("status", _server_message(exc), exc.status_code, retry_after_seconds(headers))
    if isinstance(exc, sdk.APITimeoutError):
        return Fault("timeout", "timed out")
    if isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        return Fault("connection", str(cause or exc) or type(exc).__name__)
    if isinstance(exc, sdk.APIError):  # an error event inside the stream
        return Fault("status", _server_message(exc), getattr(exc, "status_code", None) or 500)
    if isinstance(exc, OSError) or type(exc).__module__.split(".")[0].startswith(("httpx", "httpcore")):
        return Fault("dropped", f"{type(exc).__name__}: {exc}".rstrip(": "))
    return Fault("internal", f"{type(exc).__name__}: {exc}")  # a bug here or in the SDK: not retried


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return str(getattr(exc, "message", None) or exc)


_PARAMETERS = ("temperature", "top_p", "top_k", "seed", "stop")


def _unsupported_parameter(fault: Fault, dropped: set[str]) -> str | None:
    if fault.kind != "status" or fault.status != 400:
        return None
    message = fault.message.lower()
    if not any(word in message for word in ("unsupported", "not support", "deprecated", "not allowed",
                                            "not permitted", "extra inputs", "unknown")):
        return None
    for name in _PARAMETERS:
        if name not in dropped and re.search(rf"\b{name}\b", message):
            return name
    return None


# Pieces no tokenizer merges across: a word (a capital may lead it), a run of capitals, a digit,
# a run of spaces or tabs, a run of newlines, any other ASCII character, any other character.
_TOKEN_PIECES = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]|[ \t]+|\n+|[\x00-\x7f]|[^\x00-\x7f]")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")
MESSAGE_OVERHEAD_TOKENS = 5  # a chat template's role markers around each message (ChatML: 5)
REPLY_OVERHEAD_TOKENS = 3  # and the opening of the reply


def estimate_prompt_tokens(request: Request) -> int:
    """A deliberately high count when no tokenizer is at hand, for the cost cap's worst case.

    Words count 3 letters a token (2 when all capitals or without a vowel: acronyms, hashes),
    each digit and each other ASCII character one, spaces and tabs 4 to a token (a single space
    before a word is free), newlines 2. Any other character counts its UTF-8 bytes, which a
    byte-level tokenizer never exceeds (CJK, emoji). Plus the chat template's tokens."""
    total = REPLY_OVERHEAD_TOKENS
    for message in request.messages:
        text = message["content"]
        total += MESSAGE_OVERHEAD_TOKENS
        for match in _TOKEN_PIECES.finditer(text):
            piece = match.group()
            first = piece[0]
            if not first.isascii():
                total += len(piece.encode())
            elif first.isalpha():
                per_token = 2 if (len(piece) > 1 and piece.isupper()) or not _VOWEL.search(piece) else 3
                total += -(-len(piece) // per_token)
            elif first in " \t":
                after = text[match.end():match.end() + 1]
                if not (piece == " " and after.isascii() and after.isalpha()):
                    total += -(-len(piece) // 4)
            elif first == "\n":
                total += -(-len(piece) // 2)
            else:
                total += 1
    return total


def _close_quietly(stream: Any) -> None:
    if stream is not None:
        try:
            stream.close()
        except Exception:  # noqa: BLE001 - closing from another thread may race the reader
            pass


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
