"""Google Gemini through the `google-genai` SDK (streaming generate-content)."""
from __future__ import annotations

from typing import Iterator

import httpx2
from google import genai
from google.genai import errors, types
from google.genai.client import DebugConfig

from .base import (
    Event, ProviderSettings, ProviderSpec, StreamEnd, ReplyRequest, TextDelta, status_error, transport_error,
)

LABEL = "Google Gemini"
API_VERSION = "v1"  # the SDK's own default, pinned so GOOGLE_GENAI_API_VERSION has no effect
RETRY_STATUSES = [429, 500, 502, 503, 504]


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
                for text in _texts(last):
                    yield TextDelta(text)
        except errors.APIError as exc:
            # Gemini answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
            key_rejected = "API_KEY_INVALID" in str(exc.details)
            raise status_error(LABEL, exc.code, midway=last is not None, key_rejected=key_rejected) from exc
        except httpx2.HTTPError as exc:
            # genai lets every transport error escape as a raw httpx2 exception.
            raise transport_error(LABEL, self.settings, exc, midway=last is not None) from exc
        finally:
            chunks.close()
        yield _reply_end(last, request.model)


def _texts(chunk: types.GenerateContentResponse) -> Iterator[str]:
    """The visible text parts of a chunk's first candidate (thoughts left out)."""
    content = chunk.candidates[0].content if chunk.candidates else None
    for part in (content.parts if content else None) or ():
        if part.text and not part.thought:
            yield part.text


def _reply_end(last: types.GenerateContentResponse | None, model: str) -> StreamEnd:
    """Usage, finish reason and model version, which the last chunk carries."""
    usage = last.usage_metadata if last else None
    reason = last.candidates[0].finish_reason if last and last.candidates else None
    return StreamEnd(
        input_tokens=usage.prompt_token_count if usage else None,
        output_tokens=usage.candidates_token_count if usage else None,
        stop_reason=str(getattr(reason, "value", reason)).lower() if reason else None,
        model=(last.model_version if last else None) or model,
        reasoning_tokens=usage.thoughts_token_count if usage else None,
        cached_input_tokens=usage.cached_content_token_count if usage else None,
    )


SPEC = ProviderSpec(
    name="google",
    label=LABEL,
    default_model="gemini-2.5-flash",
    default_base_url="https://generativelanguage.googleapis.com",
    key_vars=('GEMINI_API_KEY', 'GOOGLE_API_KEY'),
    base_url_var="GOOGLE_GEMINI_BASE_URL",
    model_var="GEMINI_MODEL",
    adapter_class=GoogleAdapter,
    output_counts_reasoning=False,  # candidatesTokenCount leaves out thoughtsTokenCount, billed as output
)
