"""The provider class for an API model spec."""

from __future__ import annotations

from desktop_app.providers.api import ApiModelSpec, ApiProvider


def api_provider(spec: ApiModelSpec, label: str | None = None, key: str | None = None) -> ApiProvider:
    if spec.provider == "anthropic":
        from desktop_app.providers.anthropic_api import AnthropicProvider

        return AnthropicProvider(spec, label=label, key=key)
    from desktop_app.providers.openai_api import OpenAIProvider

    return OpenAIProvider(spec, label=label, key=key)
