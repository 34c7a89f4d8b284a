"""llama.cpp driven through its C API: several requests decoded together in one context (continuous
batching), sampled by llama.cpp's own sampler chain, with as little Python work per token as possible.

Imported only inside the worker process (see llama_worker). One `Engine` holds the model and one context
with `parallel` sequence slots sharing a unified KV cache. `Engine.answer(requests, channel)` admits each
request into a free slot as soon as one frees (and its cells fit), decodes every live sequence one token
per step in a single `llama_decode`, asks for logits only on rows it samples from, and frees a finished
sequence's cells at once. With one slot the same loop is the single-stream path.

Why these choices (measured in benchmarks/suite_throughput.py and ../shared/docs/performance.md):
- a unified KV cache (`kv_unified`): with a cache stream per sequence a step of 16 tokens cost as much as
  16 single steps; with one cache the step costs little more than one token;
- llama.cpp's sampler chain in C, sampled in place (`llama_sampler_sample(chain, ctx, row)`): the high-level
  `Llama` class copied the whole logits row into numpy on every token (262k floats for a large vocabulary);
- greedy decoding (temperature 0, no repetition penalty) takes the largest logit straight from llama.cpp's
  logits buffer, without a sampler chain: the chain builds a candidate array of the whole vocabulary for
  every token (1.2 ms a token for a 262k vocabulary, 14 ms a step for 16 sequences; numpy's argmax over
  the same row, no copy, 0.05-0.2 ms) and picks the same token, the first largest;
- one sampler chain (and seed) per request, so its sampling does not depend on the requests beside it;
- the prompt prefix every request of a batch shares (the template's header, a system prompt) is decoded
  once into a spare sequence and shared (`llama_memory_seq_cp`) by each request admitted.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from desktop_app.providers.threads import ThreadGovernor

# A prefix shorter than this is not worth a sequence of its own.
MIN_SHARED_PREFIX = 4
# One KV cache for every sequence (see the module's docstring). Set MODELSCOUT_KV_UNIFIED=0 to give each
# sequence its own cache stream instead: benchmarks/suite_throughput.py --kv-split measures the difference.
KV_UNIFIED_ENV = "MODELSCOUT_KV_UNIFIED"


# Steps of this many tokens (prompt reading) can be cancelled part way; smaller ones end within milliseconds.
ABORTABLE_FROM_TOKENS = 64
ABORT_POLL_S = 0.02


class Channel(Protocol):
    """Where the engine reports (the worker's pipe), and how it learns of a cancel."""

    def admitted(self, index: int) -> None: ...
    def token(self, index: int, text: str) -> None: ...
    def done(self, index: int, result: dict[str, Any]) -> None: ...
    def cancelled(self) -> bool: ...


@dataclass
class Prepared:
    """A request turned into tokens, ready to be admitted."""

    index: int
    tokens: list[int]
    max_tokens: int
    stops: list[str]
    sampling: dict[str, Any]
    received: float  # when the batch arrived

    @property
    def longest_stop(self) -> int:
        return max((len(s) for s in self.stops), default=0)

    @property
    def cells(self) -> int:
        """KV cells it may take at most: its prompt and every token it may write."""
        return len(self.tokens) + self.max_tokens


@dataclass
class Slot:
    """One live sequence: a request being answered in sequence `seq`."""

    seq: int
    job: Prepared
    sampler: Any
    admitted_at: float
    cached: int  # prompt tokens shared from the prefix sequence, not decoded again
    fed: int = 0  # prompt tokens in the cache so far
    next_token: int | None = None  # the token sampled last, to decode at the next step
    row: int = -1  # its row in this step's batch that carries logits, or -1
    output: int = -1  # that row's place among the step's logits rows
    text: str = ""
    sent: int = 0
    generated: int = 0
    sampled: int = 0
    first_at: float | None = None
    last_at: float | None = None
    busy_seconds: float = 0.0  # its share of the engine's decoding time, by tokens
    threads: int = 0  # the fewest threads any step of it was decoded with
    batch_tokens_at_first: int = 0
    longest_stop: int = 0  # the job's, read once: checked on every token
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))
    finish: str | None = None
    stopped_by_string: bool = False

    @property
    def pos(self) -> int:
        return self.fed + self.generated


class Engine:
    """The model, one context with `parallel` slots, and the loop that answers batches of requests."""

    def __init__(self, llama_cpp: Any, model: Any, *, n_ctx: int, parallel: int, total_cells: int,
                 threads: int, n_batch: int, governor: ThreadGovernor | None = None) -> None:
        self.llama_cpp = llama_cpp
        self.model = model  # llama_cpp._internals.LlamaModel
        self.vocab = model.vocab
        self.n_ctx = n_ctx  # what one request may use
        self.parallel = max(1, parallel)
        self.prefix_seq = self.parallel  # the spare sequence holding a batch's shared prefix
        self.total_cells = max(total_cells, n_ctx)
        self.n_batch = n_batch
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = self.total_cells
        params.n_batch = n_batch
        params.n_ubatch = min(n_batch, 512)
        params.n_seq_max = self.parallel + 1
        params.n_threads = params.n_threads_batch = threads
        params.kv_unified = os.environ.get(KV_UNIFIED_ENV, "1") != "0"
        if not params.kv_unified:  # each stream holds n_ctx / n_seq_max cells: room for one case each
            params.n_ctx = max(self.total_cells, n_ctx) * (self.parallel + 1)
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(model.model, params)
        if not self.ctx:
            raise RuntimeError(f"llama.cpp could not create a context of {self.total_cells} tokens "
                               f"for {self.parallel} sequences (out of memory?)")
        self.threads = int(llama_cpp.llama_n_threads(self.ctx))  # the most it decodes with
        self.governor = governor  # automatic threads: fewer while other programs keep cores busy
        self.threads_now = self.threads
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self._outputs = 0  # rows with logits in the step under way
        self._logits_view: tuple[tuple[int | None, int], Any] | None = None  # see _logits
        # A step of a long prompt can take seconds on a CPU: llama.cpp asks this between the operations of
        # such a step whether to stop, so a cancel ends it at once instead of after it.
        self._abort_check = llama_cpp.ggml_abort_callback(self._should_abort)
        self._abort_set = False
        self._channel: Channel | None = None
        self._next_abort_poll = 0.0
        self.aborted = False  # the last decode was stopped by a cancel
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._piece_buffer = ctypes.create_string_buffer(256)
        self._penalties = _penalties_function(llama_cpp)
        self.generated_total = 0  # tokens sampled by every sequence since the engine started
        self._prefix_seconds = 0.0

    def close(self) -> None:
        if self.ctx:
            self.llama_cpp.llama_batch_free(self.batch)
            self.llama_cpp.llama_free(self.ctx)
            self.ctx = None

    # Text -----------------------------------------------------------------------------------

    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self.model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def piece(self, token: int, special: bool = False) -> bytes:
        llama = self.llama_cpp
        n = llama.llama_token_to_piece(self.vocab, token, self._piece_buffer, len(self._piece_buffer), 0, special)
        if n < 0:
            self._piece_buffer = ctypes.create_string_buffer(-n)
            n = llama.llama_token_to_piece(self.vocab, token, self._piece_buffer, len(self._piece_buffer), 0,
                                           special)
        return self._piece_buffer.raw[:n]

    # Sampling -------------------------------------------------------------------------------

    def sampler(self, sampling: dict[str, Any]) -> Any:
        """llama.cpp's sampler chain for one request: greedy at temperature 0, else top-k, top-p, min-p,
        temperature and a seeded draw, after the repetition penalty when one is set. None for plain greedy
        decoding, which takes the largest logit itself (see `_greedy`)."""
        llama = self.llama_cpp
        if float(sampling.get("temperature", 0.0)) <= 0 and float(sampling.get("repeat_penalty", 1.0)) == 1.0:
            return None
        chain = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
        penalty = float(sampling.get("repeat_penalty", 1.0))
        if penalty != 1.0:
            llama.llama_sampler_chain_add(chain, self._penalties(64, penalty, 0.0, 0.0))
        temperature = float(sampling.get("temperature", 0.0))
        if temperature <= 0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_greedy())
            return chain
        if sampling.get("top_k", 0) > 0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_k(int(sampling["top_k"])))
        if sampling.get("top_p", 1.0) < 1.0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_p(float(sampling["top_p"]), 1))
        if sampling.get("min_p", 0.0) > 0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_min_p(float(sampling["min_p"]), 1))
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_temp(temperature))
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_dist(int(sampling.get("seed", 0)) & 0xFFFFFFFF))
        return chain

    # The loop -------------------------------------------------------------------------------

    def answer(self, jobs: list[Prepared], channel: Channel) -> None:
        """Answer every job, `parallel` at a time; each ends with exactly one channel.done (unless the
        batch is cancelled before it was admitted)."""
        llama = self.llama_cpp
        llama.llama_memory_clear(self.memory, True)  # every batch starts from an empty cache
        self._channel = channel  # what a long step asks whether to stop (the shared prefix's too)
        if self.governor is not None:
            self._use_threads(self.governor.restart(), [])
        queue = deque(jobs)
        prefix = self._decode_shared_prefix(jobs) if len(jobs) > 1 else 0
        prefix_share = 0.0
        if prefix:
            prefix_share = self._prefix_seconds / len(jobs)
        free = list(range(self.parallel - 1, -1, -1))
        live: list[Slot] = []
        reserved = prefix
        mark = time.perf_counter()  # each step's time runs from the end of the one before: nothing uncounted
        while queue or live:
            if channel.cancelled():
                for slot in live:
                    slot.finish = "cancelled"
                    self._finish(slot, channel)
                return
            # Admit while a slot is free and the cache can hold everything the newcomer may write.
            while queue and free and (not live or reserved + queue[0].cells - prefix <= self.total_cells):
                job = queue.popleft()
                seq = free.pop()
                cached = prefix if prefix and len(job.tokens) > prefix else 0
                if cached:
                    llama.llama_memory_seq_cp(self.memory, self.prefix_seq, seq, -1, -1)
                slot = Slot(seq, job, self.sampler(job.sampling), time.perf_counter(), cached, fed=cached,
                            longest_stop=job.longest_stop)
                slot.busy_seconds = prefix_share
                slot.threads = self.threads_now
                reserved += job.cells - cached
                live.append(slot)
                channel.admitted(job.index)
            shares = self._fill_batch(live)
            if self.governor is not None:
                self._use_threads(self.governor.threads(), live)
            status = self._decode(channel)
            if status != 0:
                if self.aborted:  # cancelled in the middle of the step
                    for slot in live:
                        slot.finish = "cancelled"
                        self._finish(slot, channel)
                    return
                for slot in live:
                    slot.finish = "error"
                    self._finish(slot, channel, error=_decode_error(status), error_kind="transient")
                return
            now = time.perf_counter()
            step_seconds, mark = now - mark, now
            step_tokens = sum(shares.values()) or 1
            logits = None
            for slot in list(live):
                slot.busy_seconds += step_seconds * shares.get(slot.seq, 0) / step_tokens
                if slot.row < 0:
                    continue  # still reading its prompt
                if slot.sampler is None:
                    if logits is None:
                        logits = self._logits()
                    token = int(logits[slot.output].argmax())  # the first largest, as the greedy sampler
                else:
                    token = llama.llama_sampler_sample(slot.sampler, self.ctx, slot.row)
                self.generated_total += 1
                if self._take(slot, token, channel, now):
                    live.remove(slot)
                    free.append(slot.seq)
                    reserved -= slot.job.cells - slot.cached
                    self._finish(slot, channel)

    def _decode(self, channel: Channel) -> int:
        """llama_decode of this step's batch; a large one can be stopped part way by a cancel."""
        large = self.batch.n_tokens >= ABORTABLE_FROM_TOKENS
        if large != self._abort_set:  # the check costs a Python call per operation: only where it pays
            self.llama_cpp.llama_set_abort_callback(self.ctx, self._abort_check if large else
                                                    self.llama_cpp.ggml_abort_callback(), None)
            self._abort_set = large
        self._channel, self.aborted = channel, False
        return self.llama_cpp.llama_decode(self.ctx, self.batch)

    def _should_abort(self, _data: Any) -> bool:
        """Called by llama.cpp between the operations of a large step: read the app's messages now and then."""
        now = time.perf_counter()
        if now < self._next_abort_poll or self._channel is None:
            return False
        self._next_abort_poll = now + ABORT_POLL_S
        self.aborted = self._channel.cancelled()
        return self.aborted

    def _use_threads(self, threads: int, live: list[Slot]) -> None:
        """Decode the next steps with `threads` (llama.cpp takes a new count from one decode to the next)."""
        if threads != self.threads_now:
            self.llama_cpp.llama_set_n_threads(self.ctx, threads, threads)
            self.threads_now = threads
            for slot in live:
                slot.threads = min(slot.threads, threads)

    def _logits(self) -> Any:
        """This step's logits rows (in batch order), as an array over llama.cpp's own buffer: no copy. The
        buffer stays where it is from step to step (llama.cpp moves it only to grow it), so the array made
        for it is kept while its place and row count hold: making one costs more than the argmax."""
        pointer = self.llama_cpp.llama_get_logits(self.ctx)
        key = (ctypes.cast(pointer, ctypes.c_void_p).value, self._outputs)
        if self._logits_view is None or self._logits_view[0] != key:
            import numpy

            self._logits_view = (key, numpy.ctypeslib.as_array(pointer, shape=(self._outputs, self.n_vocab)))
        return self._logits_view[1]

    def _fill_batch(self, live: list[Slot]) -> dict[int, int]:
        """One step's batch: the last sampled token of every sequence that is writing, then as much of
        the waiting prompts as fits. Returns tokens per sequence (to share the step's time by)."""
        batch, room = self.batch, self.n_batch
        n = outputs = 0
        shares: dict[int, int] = {}
        for slot in live:
            slot.row = -1
            if slot.next_token is not None:
                self._add(n, slot.next_token, slot.pos - 1, slot.seq, True)
                slot.row, slot.output, n, outputs = n, outputs, n + 1, outputs + 1
                shares[slot.seq] = 1
        for slot in live:
            if slot.next_token is not None or n >= room:
                continue
            take = min(len(slot.job.tokens) - slot.fed, room - n)
            for i in range(take):
                last = slot.fed + i == len(slot.job.tokens) - 1
                self._add(n, slot.job.tokens[slot.fed + i], slot.fed + i, slot.seq, last)
                if last:
                    slot.row, slot.output, outputs = n, outputs, outputs + 1
                n += 1
            slot.fed += take
            shares[slot.seq] = shares.get(slot.seq, 0) + take
        batch.n_tokens = n
        self._outputs = outputs
        return shares

    def _add(self, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        batch = self.batch
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = logits

    def _take(self, slot: Slot, token: int, channel: Channel, now: float) -> bool:
        """Record a sampled token; True when the answer is over."""
        slot.sampled += 1
        slot.last_at = now
        if slot.first_at is None:
            slot.first_at = now
            slot.batch_tokens_at_first = self.generated_total
        if self.llama_cpp.llama_vocab_is_eog(self.vocab, token):
            slot.finish = "stop"
            return True
        slot.generated += 1
        slot.next_token = token
        slot.text += slot.decoder.decode(self.piece(token))
        stops = slot.job.stops
        if stops:
            hit = _find_stop(slot.text, stops, max(0, slot.sent - slot.longest_stop))
            if hit is not None:
                slot.text = slot.text[:hit]
                slot.finish, slot.stopped_by_string = "stop", True
                return True
            safe = len(slot.text) - _held_back(slot.text, stops)
        else:
            safe = len(slot.text)
        if safe > slot.sent:
            channel.token(slot.job.index, slot.text[slot.sent:safe])
            slot.sent = safe
        if slot.generated >= slot.job.max_tokens:
            slot.finish = "length"
            return True
        return False

    def _finish(self, slot: Slot, channel: Channel, error: str | None = None, error_kind: str | None = None) -> None:
        llama = self.llama_cpp
        llama.llama_memory_seq_rm(self.memory, slot.seq, -1, -1)
        if slot.sampler is not None:
            llama.llama_sampler_free(slot.sampler)
        if not slot.stopped_by_string:
            slot.text += slot.decoder.decode(b"", final=True)
        if len(slot.text) > slot.sent:
            channel.token(slot.job.index, slot.text[slot.sent:])
        ended = time.perf_counter()
        first, last = slot.first_at, slot.last_at
        result: dict[str, Any] = {
            "text": slot.text, "finish_reason": slot.finish, "prompt_tokens": len(slot.job.tokens),
            "cached_tokens": slot.cached or None, "completion_tokens": slot.generated,
            "time_to_first_token_ms": (first - slot.admitted_at) * 1000 if first else None,
            "prompt_tokens_per_second": ((len(slot.job.tokens) - slot.cached) / (first - slot.admitted_at)
                                         if first and first > slot.admitted_at else None),
            "generation_tokens_per_second": ((slot.sampled - 1) / (last - first)
                                             if first and last and slot.sampled > 1 and last > first else None),
            "batch_tokens_per_second": ((self.generated_total - slot.batch_tokens_at_first) / (last - first)
                                        if first and last and last > first else None),
            "wall_time_ms": (ended - slot.admitted_at) * 1000,
            "queued_ms": (slot.admitted_at - slot.job.received) * 1000,
            "busy_seconds": slot.busy_seconds,
            "parallel": self.parallel,
            "threads": slot.threads or self.threads_now,
        }
        if error:
            result.update(error=error, error_kind=error_kind)
        channel.done(slot.job.index, result)

    def _decode_shared_prefix(self, jobs: list[Prepared]) -> int:
        """Decode the tokens every job starts with once, into the spare sequence; returns how many."""
        self._prefix_seconds = 0.0
        shared = _common_prefix([job.tokens for job in jobs])
        shared = min(shared, min(len(job.tokens) for job in jobs) - 1)  # each job decodes one token at least
        if shared < MIN_SHARED_PREFIX:
            return 0
        started = time.perf_counter()
        tokens = jobs[0].tokens[:shared]
        for start in range(0, shared, self.n_batch):
            chunk = tokens[start:start + self.n_batch]
            for i, token in enumerate(chunk):
                self._add(i, token, start + i, self.prefix_seq, False)
            self.batch.n_tokens = len(chunk)
            if self.llama_cpp.llama_decode(self.ctx, self.batch) != 0:
                self.llama_cpp.llama_memory_seq_rm(self.memory, self.prefix_seq, -1, -1)
                return 0  # not shared, then: each job decodes its whole prompt
        self._prefix_seconds = time.perf_counter() - started
        return shared


def _penalties_function(llama_cpp: Any) -> Any:
    """llama_sampler_init_penalties as the C library declares it (last_n, repeat, freq, present): the
    Python binding of 0.3.x still lists the n_vocab argument llama.cpp removed."""
    lib = llama_cpp.llama_cpp._lib
    prototype = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int32, ctypes.c_float, ctypes.c_float, ctypes.c_float)
    function = prototype(("llama_sampler_init_penalties", lib))
    sampler_pointer = llama_cpp.llama_sampler_init_greedy.restype

    def make(last_n: int, repeat: float, freq: float, present: float) -> Any:
        return ctypes.cast(function(last_n, repeat, freq, present), sampler_pointer)

    return make


def _common_prefix(token_lists: list[list[int]]) -> int:
    first = token_lists[0]
    n = min(len(tokens) for tokens in token_lists)
    for tokens in token_lists[1:]:
        i = 0
        while i < n and tokens[i] == first[i]:
            i += 1
        n = i
    return n


def _decode_error(status: int) -> str:
    if status == 1:
        return "llama.cpp found no room in its cache for this batch; run with fewer cases at once (--parallel)"
    if status == 2:
        return "llama.cpp stopped decoding (aborted)"
    return f"llama.cpp failed to decode (status {status})"


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
