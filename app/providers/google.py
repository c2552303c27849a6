"""Google Gemini through the `google-genai` SDK (streaming generate-content)."""
from __future__ import annotations

import re
from typing import Iterator

import httpx2
from google import genai
from google.genai import errors, types
from google.genai.client import DebugConfig

from .base import (
    LIST_OPTIONS, Event, ModelInfo, ProviderError, ProviderSettings, ProviderSpec, ReplyRequest, StreamEnd,
    TextDelta, ThinkingDelta, model_missing_error, status_error, transport_error,
)

LABEL = "Google Gemini"
API_VERSION = "v1"  # the SDK's own default, pinned so GOOGLE_GENAI_API_VERSION has no effect
RETRY_STATUSES = [429, 500, 502, 503, 504]
# Models that pass the generateContent filter but do not chat in text: speech, images, live audio.
NOT_CHAT = re.compile(r"tts|image|imagen|embedding|live|native-audio|veo|aqa")
# Gemini's listing says whether a model thinks, not whether thinking can be switched off. Gemini 3 (and the
# -latest aliases, which point at it) is not documented to take a zero thinking budget and the Pro models
# refuse one: for them "off" hides the thoughts instead of sending a parameter the API may refuse.
ALWAYS_THINKS = re.compile(r"^gemini-3|-pro\b|-latest$")


class GoogleAdapter:
    """Google Gemini adapter."""

    def __init__(self, settings: ProviderSettings) -> None:
        if not settings.api_key:
            raise SPEC.missing_key_error()
        self.settings = settings
        # One long-lived client: anything taken from a collected Client fails, as its __del__ closes it.
        self._client = genai.Client(
            api_key=settings.api_key,
            vertexai=False,
            # Explicit, so the GOOGLE_GENAI_CLIENT_MODE/REPLAY* variables cannot switch on record/replay.
            debug_config=DebugConfig(client_mode=None, replays_directory=None, replay_id=None),
            http_options=types.HttpOptions(
                base_url=settings.base_url,
                api_version=API_VERSION,
                timeout=int(settings.timeout * 1000),
                # Like the other SDKs: backoff 0.5 s doubling to 8 s; genai has no retries by default.
                retry_options=types.HttpRetryOptions(
                    attempts=settings.max_retries + 1, initial_delay=0.5, max_delay=8.0, exp_base=2,
                    jitter=0.25, http_status_codes=RETRY_STATUSES,
                ),
                # genai's default pool queues every stream past the 100th.
                client_args={"limits": httpx2.Limits(max_connections=1000, max_keepalive_connections=100)},
            ),
        )

    def stream(self, request: ReplyRequest) -> Iterator[Event]:
        """Yield the reply's text deltas, then one StreamEnd; see Adapter.stream."""
        config = types.GenerateContentConfig(
            system_instruction=request.system or None,
            max_output_tokens=request.max_output_tokens,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            thinking_config=thinking_config(request),
        )
        contents = [
            {"role": "model" if turn.role == "assistant" else "user", "parts": [{"text": turn.text}]}
            for turn in request.turns
        ]
        # A lazy generator: the request goes out, and may fail, at the first next().
        chunks = self._client.models.generate_content_stream(model=request.model, contents=contents, config=config)
        last = None
        try:
            for last in chunks:
                yield from _parts(last)
        except errors.APIError as exc:
            if exc.code == 404 and last is None:
                raise model_missing_error(LABEL, request.model) from exc
            raise _api_error(exc, midway=last is not None) from exc
        except httpx2.HTTPError as exc:
            # genai lets every transport error escape as a raw httpx2 exception.
            raise transport_error(LABEL, self.settings, exc, midway=last is not None) from exc
        finally:
            chunks.close()
        yield _reply_end(last, request.model)

    def list_models(self) -> list[ModelInfo]:
        """The models that can chat, every page read; see Adapter.list_models."""
        config = {"http_options": types.HttpOptions(
            timeout=int(LIST_OPTIONS["timeout"] * 1000), retry_options=types.HttpRetryOptions(attempts=1))}
        try:
            # Iterating the pager follows nextPageToken through every page.
            listed = list(self._client.models.list(config=config))
        except errors.APIError as exc:
            raise _api_error(exc, midway=False) from exc
        except httpx2.HTTPError as exc:
            raise transport_error(LABEL, self.settings, exc, midway=False) from exc
        return [_model_info(model) for model in listed if _chats(model)]


def _api_error(exc: errors.APIError, *, midway: bool) -> ProviderError:
    # Gemini answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    key_rejected = "API_KEY_INVALID" in str(exc.details)
    return status_error(LABEL, exc.code, midway=midway, key_rejected=key_rejected)


def _model_id(model: types.Model) -> str:
    return (model.name or "").removeprefix("models/")


def _chats(model: types.Model) -> bool:
    """Whether a listed model answers a text chat."""
    return "generateContent" in (model.supported_actions or ()) and not NOT_CHAT.search(_model_id(model))


def _model_info(model: types.Model) -> ModelInfo:
    model_id = _model_id(model)
    return ModelInfo(model_id, model.display_name or model_id, thinks=bool(model.thinking),
                     thinking_optional=not ALWAYS_THINKS.search(model_id))


def thinking_config(request: ReplyRequest) -> types.ThinkingConfig | None:
    """Thought summaries when thinking is on; off, a zero budget only where the model accepts one.

    Gemini 3 models always think and may refuse a zero budget, so without the catalogue's word
    the config is left out: thoughts are then not sent (only billed).
    """
    if request.thinking:
        return types.ThinkingConfig(include_thoughts=True)
    return types.ThinkingConfig(thinking_budget=0) if request.thinking_optional else None


def _parts(chunk: types.GenerateContentResponse) -> Iterator[Event]:
    """The text and thought parts of a chunk's first candidate, as deltas."""
    content = chunk.candidates[0].content if chunk.candidates else None
    for part in (content.parts if content else None) or ():
        if part.text:
            yield ThinkingDelta(part.text) if part.thought else TextDelta(part.text)


def _reply_end(last: types.GenerateContentResponse | None, model: str) -> StreamEnd:
    """Usage, finish reason and model version, which the last chunk carries."""
    usage = last.usage_metadata if last else None
    reason = last.candidates[0].finish_reason if last and last.candidates else None
    return StreamEnd(
        input_tokens=usage.prompt_token_count if usage else None,
        output_tokens=usage.candidates_token_count if usage else None,
        reasoning_tokens=usage.thoughts_token_count if usage else None,
        stop_reason=str(getattr(reason, "value", reason)).lower() if reason else None,
        model=(last.model_version if last else None) or model,
        cached_input_tokens=usage.cached_content_token_count if usage else None,
    )


SPEC = ProviderSpec(
    name="google",
    label=LABEL,
    default_model="gemini-flash-latest",
    default_base_url="https://generativelanguage.googleapis.com",
    key_vars=('GEMINI_API_KEY', 'GOOGLE_API_KEY'),
    base_url_var="GOOGLE_GEMINI_BASE_URL",
    model_var="GEMINI_MODEL",
    adapter_class=GoogleAdapter,
    output_counts_reasoning=False,  # candidatesTokenCount leaves out thoughtsTokenCount, billed as output
)
