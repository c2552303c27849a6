"""The Gemini API: `POST /{version}/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`."""
from __future__ import annotations

import re
from typing import Any

from tests.fake_provider.models import FakeModel
from tests.fake_provider.wire import MESSAGES, Reply, Route, Wire, content_text, page_after, sse

PATH = re.compile(r"(?:/.*)?/v[^/]*/(?:models|tunedModels)/(?P<model>[^/:]+)"
                  r":(?P<call>generateContent|streamGenerateContent)")


THINKS = re.compile(r"gemini-(?:2\.5|3)")  # thinking models: they think unless given a zero budget
NO_ZERO_BUDGET = re.compile(r"gemini-3")  # Gemini 3 cannot be turned off (unconfirmed for 3.7/3.8 Flash)


def _get(mapping: dict, camel: str, snake: str):
    """A field the SDK may send in either case."""
    return mapping.get(camel, mapping.get(snake))


class GoogleWire(Wire):
    """The Gemini API: generateContent and streamGenerateContent (SSE lines end in CRLF, as Google's do)."""

    name = "google"
    overloaded = 503
    no_key_status = 403
    routes = (("POST", PATH),)
    list_path = re.compile(r"(?:/.*)?/v[^/]*/models")
    page_size = 5  # Google's is 50
    statuses = {
        400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
    }

    def path_route(self, match: re.Match[str]) -> Route:
        return Route(match["model"], match["call"] == "streamGenerateContent")

    def conversation(self, body: dict) -> tuple[str, list[tuple[str, str]]]:
        system = content_text((body.get("systemInstruction") or {}).get("parts"))
        return system, [(c.get("role", "user"), content_text(c.get("parts"))) for c in body.get("contents") or []]

    def max_tokens(self, body: dict) -> int | None:
        return (body.get("generationConfig") or {}).get("maxOutputTokens")

    def has_key(self, headers: dict[str, str], query: str) -> bool:
        return bool(headers.get("x-goog-api-key")) or "key=" in query

    def list_page(self, models: tuple[FakeModel, ...], query: dict[str, str]) -> dict:
        """`GET /{version}/models?pageSize&pageToken`: models, and nextPageToken unless it is the last page."""
        start = int(query["pageToken"].removeprefix("page-")) if query.get("pageToken") else 0
        page, following = page_after(list(models), start, int(query.get("pageSize") or self.page_size))
        body: dict[str, Any] = {"models": [self._model(model) for model in page]}
        if following is not None:
            body["nextPageToken"] = f"page-{following}"
        return body

    def _model(self, model: FakeModel) -> dict:
        return {"name": f"models/{model.id}", "baseModelId": model.id, "version": "001",
                "displayName": model.label or model.id, "description": f"The fake {model.id}.",
                "inputTokenLimit": 1_048_576, "outputTokenLimit": 65_536,
                "supportedGenerationMethods": list(model.actions), "temperature": 1.0, "maxTemperature": 2.0,
                "topP": 0.95, "topK": 64, "thinking": model.thinks}

    def unknown_model(self, model: str | None) -> tuple[int, dict]:
        message = (f"models/{model} is not found for API version v1, or is not supported for generateContent. "
                   "Call ListModels to see the list of available models and their supported methods.")
        return 404, {"error": {"code": 404, "message": message, "status": "NOT_FOUND"}}

    def error(self, status: int, message: str) -> tuple[int, dict]:
        if status == 401:
            # Gemini answers a wrong key with 400, not 401.
            info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com"}
            error = {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                     "status": "INVALID_ARGUMENT", "details": [info]}
            return 400, {"error": error}
        return status, {"error": {"code": status, "message": message, "status": self.statuses.get(status, "UNKNOWN")}}

    def thinking_param(self, body: dict):
        return _get(body.get("generationConfig") or {}, "thinkingConfig", "thinking_config")

    def thinking_error(self, body: dict, model: str) -> str | None:
        config = self.thinking_param(body) or {}
        budget = _get(config, "thinkingBudget", "thinking_budget")
        if budget is not None and _get(config, "thinkingLevel", "thinking_level") is not None:
            return "You can only set one of thinking budget and thinking level."
        if budget == 0 and NO_ZERO_BUDGET.match(model):
            return "Budget 0 is invalid. This model only works in thinking mode."
        return None

    def thinks(self, body: dict, model: str) -> bool:
        config = self.thinking_param(body)
        if _get(config or {}, "thinkingBudget", "thinking_budget") == 0:
            return False
        return config is not None or bool(THINKS.match(model))

    def shows_thoughts(self, body: dict) -> bool:
        return bool(_get(self.thinking_param(body) or {}, "includeThoughts", "include_thoughts"))

    def _chunk(self, reply: Reply, text: str, finish: bool = False, thought: bool = False) -> dict:
        """A GenerateContentResponse carrying `text`; the finishing one adds finishReason and full usage."""
        part: dict[str, Any] = {"text": text, "thought": True} if thought else {"text": text}
        candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
        usage: dict[str, Any] = {"promptTokenCount": reply.input_tokens, "totalTokenCount": reply.input_tokens}
        if finish:
            candidate["finishReason"] = "MAX_TOKENS" if reply.truncated else "STOP"
            output = len(reply.tokens) + reply.thought_tokens
            usage = {"promptTokenCount": reply.input_tokens, "candidatesTokenCount": len(reply.tokens),
                     "totalTokenCount": reply.input_tokens + output}
        if reply.thought_tokens:  # billed whether sent or not
            usage["thoughtsTokenCount"] = reply.thought_tokens
        if reply.cached_tokens:  # Gemini leaves the field out when nothing came from the cache
            usage["cachedContentTokenCount"] = reply.cached_tokens
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": reply.model, "responseId": reply.id}

    def json_reply(self, reply: Reply) -> dict:
        body = self._chunk(reply, reply.text, finish=True)
        if reply.thoughts:
            body["candidates"][0]["content"]["parts"].insert(0, {"text": "".join(reply.thoughts), "thought": True})
        return body

    def stream_thought(self, reply: Reply, text: str) -> bytes:
        return sse(self._chunk(reply, text, thought=True), end="\r\n\r\n")

    def stream_token(self, reply: Reply, text: str) -> bytes:
        return sse(self._chunk(reply, text), end="\r\n\r\n")

    def stream_close(self, reply: Reply) -> bytes:
        return sse(self._chunk(reply, "", finish=True), end="\r\n\r\n")

    def stream_error(self, reply: Reply) -> bytes:
        return sse(self.error(503, MESSAGES[503])[1], end="\r\n\r\n")
