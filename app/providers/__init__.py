"""The registry of providers: the only place that knows their names, labels, models and adapters.

Adding a provider is adding one module that defines `SPEC` and listing it here.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Mapping

from . import anthropic, deepseek, google
from .base import Adapter, ProviderError, ProviderSpec

DEFAULT_PROVIDER = "anthropic"


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec for spec in (anthropic.SPEC, google.SPEC, deepseek.SPEC)
}


class UnknownProvider(ValueError):
    """A provider name that is not registered."""


def names() -> list[str]:
    """The registered provider names, in display order."""
    return list(PROVIDERS)


def get(name: str | None) -> ProviderSpec:
    """The spec for a stored provider name; NULL means the default provider."""
    key = name or DEFAULT_PROVIDER
    try:
        return PROVIDERS[key]
    except KeyError:
        raise UnknownProvider(unknown_provider_message(key)) from None


def unknown_provider_message(value: object) -> str:
    """An error naming the bad value and listing the valid ones."""
    return f"Unknown model_provider {value!r}; valid values are: {', '.join(names())}."


@lru_cache(maxsize=None)
def _adapter(spec_name: str, settings: ProviderSettings) -> Adapter:
    return PROVIDERS[spec_name].adapter_class(settings)


def adapter_for(name: str | None, config: Mapping) -> Adapter:
    """The long-lived adapter for a provider under this configuration.

    Raises ProviderError (503) when the provider has no API key.
    """
    spec = get(name)
    settings = spec.settings(config)
    if not settings.api_key:
        raise ProviderError(spec.missing_key_message(), status=503)
    return _adapter(spec.name, settings)


__all__ = [
    "DEFAULT_PROVIDER", "PROVIDERS", "ProviderSpec", "UnknownProvider", "ProviderError",
    "names", "get", "adapter_for", "unknown_provider_message",
]
