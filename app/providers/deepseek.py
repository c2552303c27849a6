"""DeepSeek through the `openai` SDK pointed at DeepSeek's OpenAI-compatible endpoint."""
from __future__ import annotations

import re
from itertools import islice
from typing import Iterator

import httpx2
import openai

from .base import (
    LIST_OPTIONS, Event, ModelInfo, ProviderSettings, ProviderSpec, ReplyRequest, StreamEnd, TextDelta,
    ThinkingDelta, model_missing_error, status_error, transport_error,
)

LABEL = "DeepSeek"
# What may follow [DONE]: the end of the chunked body, a read or two; more and the connection is dropped.
TAIL_READS = 4
# DeepSeek lists bare ids, nothing about thinking. Its docs: the V4 models and deepseek-flash (V4.1
# Flash) think by default and take {"thinking": {"type": "disabled"}}; the older ones never thought.
THINKING_MODELS = re.compile(r"^deepseek-(v4|flash)")
MODEL_NOT_EXIST = "Model Not Exist"


class _DrainingDecoder:
    """The SDK's SSE decoder, reading the body to its end after [DONE] so the connection can be reused."""

    def __init__(self, decoder) -> None:
        self._decoder = decoder

    def iter_bytes(self, iterator: Iterator[bytes]):
        """The decoder's events; the sync Stream closes the body right after [DONE], unread without this."""
        for event in self._decoder.iter_bytes(iterator):
            if event.data.startswith("[DONE]"):
                try:
                    for _ in islice(iterator, TAIL_READS):
                        pass
                except httpx2.HTTPError:
                    pass  # the reply is complete; only the connection is lost
            yield event


class _PooledOpenAI(openai.OpenAI):
    """The OpenAI client whose streams hand their connection back to the pool."""

    def _make_sse_decoder(self):
        # The SDK's hook for a client's own stream framing (Anthropic's Bedrock client uses it).
        return _DrainingDecoder(super()._make_sse_decoder())


class DeepSeekAdapter:
    """DeepSeek adapter."""

    def __init__(self, settings: ProviderSettings) -> None:
        if not settings.api_key:
            raise SPEC.missing_key_error()
        self.settings = settings
        self._client = _PooledOpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )
        # The SDK fills these from OPENAI_ORG_ID, OPENAI_PROJECT_ID and OPENAI_CUSTOM_HEADERS and sends
        # them with every request; only our settings may shape what DeepSeek receives.
        self._client.organization = self._client.project = None
        self._client._custom_headers = {}

    def stream(self, request: ReplyRequest) -> Iterator[Event]:
        """Yield the reply's text deltas, then one StreamEnd; see Adapter.stream."""
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": turn.role, "content": turn.text} for turn in request.turns]
        usage = stop_reason = None
        model = request.model
        opened = False
        try:
            # The sync openai Stream sits in a reference cycle: only `with` closes it promptly on Stop.
            with self._client.chat.completions.create(
                model=request.model,
                messages=messages,
                max_tokens=request.max_output_tokens,
                stream=True,
                stream_options={"include_usage": True},
                # DeepSeek's own switch (V4 thinks by default); models that never think ignore it.
                extra_body={"thinking": {"type": "enabled" if request.thinking else "disabled"}},
            ) as chunks:
                opened = True
                for chunk in chunks:
                    model, usage = chunk.model or model, chunk.usage or usage
                    for choice in chunk.choices[:1]:
                        if choice.delta.content:
                            yield TextDelta(choice.delta.content)
                        else:
                            # An undeclared field: the SDK keeps it as an extra attribute.
                            thought = getattr(choice.delta, "reasoning_content", None)
                            if thought:
                                yield ThinkingDelta(thought)
                        stop_reason = choice.finish_reason or stop_reason
        except openai.APIStatusError as exc:
            if exc.status_code == 400 and MODEL_NOT_EXIST in exc.message:
                raise model_missing_error(LABEL, request.model) from exc
            raise status_error(LABEL, exc.status_code) from exc
        except openai.APIConnectionError as exc:
            # Timeouts and broken connections come wrapped, mid-stream too; the cause says which.
            raise transport_error(LABEL, self.settings, exc.__cause__, midway=opened) from exc
        except openai.APIError as exc:
            # An error object inside the stream.
            raise status_error(LABEL, exc.code if isinstance(exc.code, int) else None, midway=True) from exc
        yield StreamEnd(
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
            reasoning_tokens=_reasoning_tokens(usage),
            stop_reason=stop_reason,
            model=model,
            cached_input_tokens=_cache_hits(usage),
        )

    def list_models(self) -> list[ModelInfo]:
        """Every model DeepSeek lists (all of them chat); see Adapter.list_models."""
        try:
            listed = list(self._client.with_options(**LIST_OPTIONS).models.list())
        except openai.APIStatusError as exc:
            raise status_error(LABEL, exc.status_code) from exc
        except openai.APIConnectionError as exc:
            raise transport_error(LABEL, self.settings, exc.__cause__, midway=False) from exc
        return [_model_info(model.id) for model in listed]


def _model_info(model_id: str) -> ModelInfo:
    """A listed id, with a label made from it ("deepseek-v4-pro" → "DeepSeek V4 Pro")."""
    words = [word.upper() if re.fullmatch(r"v\d.*", word) else word.capitalize()
             for word in model_id.removeprefix("deepseek-").split("-")]
    thinks = bool(THINKING_MODELS.match(model_id))
    return ModelInfo(model_id, " ".join(["DeepSeek", *words]), thinks=thinks, thinking_optional=True)


def _reasoning_tokens(usage) -> int | None:
    """The reply's thought tokens, which completion_tokens includes."""
    details = usage.completion_tokens_details if usage else None
    return details.reasoning_tokens if details else None


def _cache_hits(usage) -> int | None:
    """Prompt tokens read from the cache: DeepSeek's own field, else the OpenAI-typed one."""
    if usage is None:
        return None
    hits = (usage.model_extra or {}).get("prompt_cache_hit_tokens")
    details = usage.prompt_tokens_details
    return hits if isinstance(hits, int) else (details.cached_tokens if details else None)


SPEC = ProviderSpec(
    name="deepseek",
    label=LABEL,
    default_model="deepseek-flash",
    default_base_url="https://api.deepseek.com",
    key_vars=('DEEPSEEK_API_KEY',),
    base_url_var="DEEPSEEK_BASE_URL",
    model_var="DEEPSEEK_MODEL",
    adapter_class=DeepSeekAdapter,
)
