"""Anthropic Claude through the `anthropic` SDK (Messages API, streaming)."""
from __future__ import annotations

from typing import Iterator

import anthropic
import httpx2

from .base import (
    LIST_OPTIONS, Event, ModelInfo, ProviderSettings, ProviderSpec, ReplyRequest, StreamEnd, TextDelta,
    ThinkingDelta, model_missing_error, status_error, transport_error,
)

LABEL = "Anthropic Claude"
# An `event: error` inside a stream arrives with HTTP status 200; its type says what happened.
ERROR_TYPE_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}


class AnthropicAdapter:
    """Anthropic Claude adapter."""

    def __init__(self, settings: ProviderSettings) -> None:
        if not settings.api_key:
            raise SPEC.missing_key_error()
        self.settings = settings
        self._client = anthropic.Anthropic(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            open_telemetry={},  # given explicitly, so the ANTHROPIC_OPEN_TELEMETRY* variables are not read
        )
        # The SDK merges ANTHROPIC_CUSTOM_HEADERS into every request; only our settings shape requests.
        self._client._custom_headers = {}

    def stream(self, request: ReplyRequest) -> Iterator[Event]:
        """Yield the reply's text deltas, then one StreamEnd; see Adapter.stream."""
        input_tokens = output_tokens = stop_reason = reasoning_tokens = None
        cached_input_tokens = cache_write_tokens = None
        model = request.model

        def reported() -> StreamEnd | None:
            # message_start reports the input first: a reply that fails after it still records what it cost.
            return StreamEnd(input_tokens, output_tokens, None, model, reasoning_tokens,
                             cached_input_tokens=cached_input_tokens,
                             cache_write_tokens=cache_write_tokens) if input_tokens is not None else None

        try:
            # The `with` closes the HTTP response when the caller closes this generator (Stop).
            with self._client.messages.create(
                model=request.model,
                max_tokens=request.max_output_tokens,
                system=request.system or anthropic.omit,
                messages=[{"role": turn.role, "content": turn.text} for turn in request.turns],
                thinking=thinking_config(request),
                stream=True,
            ) as events:
                for event in events:
                    if event.type == "content_block_delta":
                        if event.delta.type == "text_delta" and event.delta.text:
                            yield TextDelta(event.delta.text)
                        elif event.delta.type == "thinking_delta" and event.delta.thinking:
                            yield ThinkingDelta(event.delta.thinking)
                        # signature_delta (and redacted_thinking blocks) matter only with tools: dropped
                    elif event.type == "message_start":
                        input_tokens, model = event.message.usage.input_tokens, event.message.model
                        cached_input_tokens = event.message.usage.cache_read_input_tokens
                        cache_write_tokens = event.message.usage.cache_creation_input_tokens
                    elif event.type == "message_delta":
                        stop_reason, output_tokens = event.delta.stop_reason, event.usage.output_tokens
                        input_tokens = event.usage.input_tokens or input_tokens
                        details = event.usage.output_tokens_details
                        reasoning_tokens = details.thinking_tokens if details else reasoning_tokens
                        cached_input_tokens = event.usage.cache_read_input_tokens or cached_input_tokens
                        cache_write_tokens = event.usage.cache_creation_input_tokens or cache_write_tokens
        except anthropic.NotFoundError as exc:
            raise model_missing_error(LABEL, request.model) from exc
        except anthropic.APIStatusError as exc:
            midway = exc.status_code == 200
            status = ERROR_TYPE_STATUS.get(exc.type or "") if midway else exc.status_code
            error = status_error(LABEL, status, midway=midway)
            error.end = reported()
            raise error from exc
        except anthropic.APIConnectionError as exc:
            raise transport_error(LABEL, self.settings, exc.__cause__, midway=False) from exc
        except httpx2.HTTPError as exc:
            # While a stream is read, transport errors escape the SDK unwrapped.
            error = transport_error(LABEL, self.settings, exc, midway=True)
            error.end = reported()
            raise error from exc
        except anthropic.AnthropicError as exc:
            raise status_error(LABEL, None) from exc
        yield StreamEnd(input_tokens, output_tokens, stop_reason, model, reasoning_tokens,
                        cached_input_tokens=cached_input_tokens, cache_write_tokens=cache_write_tokens)

    def list_models(self) -> list[ModelInfo]:
        """The models that are not retired, every page read; see Adapter.list_models."""
        try:
            # Iterating the page follows has_more / last_id through every page.
            listed = list(self._client.with_options(**LIST_OPTIONS).models.list())
        except anthropic.APIStatusError as exc:
            raise status_error(LABEL, exc.status_code) from exc
        except anthropic.APIConnectionError as exc:
            raise transport_error(LABEL, self.settings, exc.__cause__, midway=False) from exc
        return [_model_info(model) for model in listed if model.lifecycle != "retired"]


def thinking_config(request: ReplyRequest):
    """The `thinking` parameter: adaptive with summarized thoughts, or off where the model allows it.

    Budgeted thinking (`enabled`) is refused by current models, and some (Fable 5) refuse `disabled`:
    that is only sent when the catalogue says the model accepts it; otherwise the parameter is left
    out, and the model's default (5.x: thoughts omitted) keeps them hidden. Thinking tokens count
    toward max_tokens either way.
    """
    if request.thinking:
        return {"type": "adaptive", "display": "summarized"}
    return {"type": "disabled"} if request.thinking_optional else anthropic.omit


def _model_info(model: anthropic.types.ModelInfo) -> ModelInfo:
    """A listed model, with what its capabilities say about thinking."""
    thinking = model.capabilities.thinking if model.capabilities else None
    thinks = bool(thinking and thinking.supported)
    return ModelInfo(model.id, model.display_name or model.id, thinks=thinks,
                     thinking_optional=not thinks or thinking.types.disabled.supported)


SPEC = ProviderSpec(
    name="anthropic",
    label=LABEL,
    default_model="claude-sonnet-5-5",
    default_base_url="https://api.anthropic.com",
    key_vars=('ANTHROPIC_API_KEY',),
    base_url_var="ANTHROPIC_BASE_URL",
    model_var="ANTHROPIC_MODEL",
    adapter_class=AnthropicAdapter,
    input_counts_cached=False,  # input_tokens leaves out cache reads and writes
)
