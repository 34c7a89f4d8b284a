"""Anthropic's Messages API through the official SDK, streaming its documented events."""

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

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "refusal": "content_filter"}


class AnthropicProvider(ApiProvider):
    def _make_client(self, key: str) -> Any:
        import anthropic  # imported on first use, like every SDK

        return anthropic.Anthropic(api_key=key, base_url=self.spec.endpoint, timeout=self.spec.timeout_s,
                                   max_retries=0)

    def _open(self, request: Request, dropped: set[str], holder: dict[str, Any]) -> Iterator[_Chunk]:
        sampling = request.sampling
        system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
        params: dict[str, Any] = {
            "model": self.spec.model,
            "messages": [dict(m) for m in request.messages if m["role"] != "system"],
            "max_tokens": sampling.max_tokens,
            "stream": True,
        }
        if system:
            params["system"] = system
        if sampling.stop:
            params["stop_sequences"] = list(sampling.stop)
        # The SDK no longer names sampling settings; the API takes them on the models that still
        # allow them, and a model that refuses one gets the request again without it.
        extra: dict[str, Any] = {"temperature": min(sampling.temperature, 1.0)}  # the API's range is 0..1
        if sampling.top_p < 1:  # recent models refuse temperature and top_p together
            extra["top_p"] = sampling.top_p
        extra = {k: v for k, v in extra.items() if k not in dropped}
        stream = self._client.messages.create(**params, extra_body=extra or None)
        holder["stream"] = stream
        usage = Usage()
        raw: dict[str, Any] = {}
        for event in stream:
            if event.type == "message_start":
                raw = event.message.usage.model_dump(exclude_none=True)
                usage = _usage(raw)
                yield _Chunk("", usage, model=getattr(event.message, "model", None))
            elif event.type == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
                yield _Chunk(event.delta.text)
            elif event.type == "message_delta":
                # message_delta's usage counts are cumulative and win over message_start's.
                raw.update(event.usage.model_dump(exclude_none=True))
                usage = _usage(raw)
                reason = event.delta.stop_reason
                yield _Chunk("", usage, _FINISH.get(reason, reason) if reason else None)

    def _classify(self, exc: BaseException) -> Fault:
        import anthropic

        return classify_sdk_error(exc, anthropic)

    def _list_models(self) -> list[str]:
        return [model.id for model in self._client.models.list()]


def _usage(raw: dict[str, Any]) -> Usage:
    cache_read = raw.get("cache_read_input_tokens") or 0
    cache_write = raw.get("cache_creation_input_tokens") or 0
    prompt = raw.get("input_tokens")
    return Usage(prompt_tokens=None if prompt is None else prompt + cache_read + cache_write,
                 completion_tokens=raw.get("output_tokens"),
                 cached_tokens=cache_read or None, raw=dict(raw))
