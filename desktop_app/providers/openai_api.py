"""OpenAI's Chat Completions API through the official SDK: OpenAI itself and every compatible server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from desktop_app.providers.api import (
    ApiProvider,
    Fault,
    Usage,
    _Chunk,
    classify_sdk_error,
)
from desktop_app.providers.base import Request
from desktop_app.providers.stops import StopCutter

_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter", "tool_calls": "stop"}
MAX_API_STOPS = 4  # Chat Completions refuses more stop strings than this


class OpenAIProvider(ApiProvider):
    def _make_client(self, key: str) -> Any:
        import openai  # imported on first use: the SDK takes ~0.3 s to import

        # Retries are ours (cancel-aware, Retry-After honoured, no retry once tokens came).
        return openai.OpenAI(api_key=key, base_url=self.spec.endpoint, timeout=self.spec.timeout_s,
                             max_retries=0)

    def _open(self, request: Request, dropped: set[str], holder: dict[str, Any]) -> Iterator[_Chunk]:
        sampling = request.sampling
        params: dict[str, Any] = {
            "model": self.spec.model,
            "messages": [dict(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": sampling.seed,
        }
        # OpenAI's current models take max_completion_tokens only; most compatible servers know
        # only max_tokens.
        limit = "max_completion_tokens" if self.spec.provider == "openai" else "max_tokens"
        params[limit] = sampling.max_tokens
        stops = [s for s in sampling.stop if s]
        if stops:
            params["stop"] = stops[:MAX_API_STOPS]  # and every one is applied here too
        for name in dropped:
            params.pop(name, None)
        stream = self._client.chat.completions.create(**params)
        holder["stream"] = stream
        cutter = StopCutter(stops)
        model = None
        for chunk in stream:
            model = getattr(chunk, "model", None) or model
            usage = _usage(chunk.usage) if chunk.usage else None
            for choice in chunk.choices[:1]:
                text = (choice.delta.content or "") if choice.delta else ""
                finish = _FINISH.get(choice.finish_reason, choice.finish_reason) if choice.finish_reason \
                    else None
                pieces = cutter.feed(text)
                if cutter.stopped:
                    # Nothing past the stop is streamed, and reading ends here: the caller then closes
                    # the stream, which ends the generation on the server (its usage never comes).
                    yield from (_Chunk(piece, model=model) for piece in pieces)
                    yield _Chunk("", usage, "stop", model, cut=True)
                    return
                if finish:
                    pieces += cutter.flush()
                for piece in pieces[:-1]:
                    yield _Chunk(piece, model=model)
                yield _Chunk(pieces[-1] if pieces else "", usage, finish, model)
            if not chunk.choices and usage:
                yield _Chunk("", usage, model=model)
        for piece in cutter.flush():
            yield _Chunk(piece, model=model)

    def _classify(self, exc: BaseException) -> Fault:
        import openai

        return classify_sdk_error(exc, openai)

    def _list_models(self) -> list[str]:
        return [model.id for model in self._client.models.list()]


def _usage(usage: Any) -> Usage:
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details else None
    return Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                 cached_tokens=cached, raw=usage.model_dump(exclude_none=True))
