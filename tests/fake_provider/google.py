"""The Gemini API: `POST /{version}/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`."""
from __future__ import annotations

import re
from typing import Any

from tests.fake_provider.wire import MESSAGES, Reply, Route, Wire, content_text, sse

PATH = re.compile(r"(?:/.*)?/v[^/]*/(?:models|tunedModels)/(?P<model>[^/:]+)"
                  r":(?P<call>generateContent|streamGenerateContent)")


class GoogleWire(Wire):
    """The Gemini API: generateContent and streamGenerateContent (SSE lines end in CRLF, as Google's do)."""

    name = "google"
    overloaded = 503
    no_key_status = 403
    routes = (("POST", PATH),)
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

    def error(self, status: int, message: str) -> tuple[int, dict]:
        if status == 401:
            # Gemini answers a wrong key with 400, not 401.
            info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com"}
            error = {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                     "status": "INVALID_ARGUMENT", "details": [info]}
            return 400, {"error": error}
        return status, {"error": {"code": status, "message": message, "status": self.statuses.get(status, "UNKNOWN")}}

    def _chunk(self, reply: Reply, text: str, finish: bool = False) -> dict:
        """A GenerateContentResponse carrying `text`; the finishing one adds finishReason and full usage."""
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        usage = {"promptTokenCount": reply.input_tokens, "totalTokenCount": reply.input_tokens}
        if finish:
            candidate["finishReason"] = "MAX_TOKENS" if reply.truncated else "STOP"
            usage = {"promptTokenCount": reply.input_tokens, "candidatesTokenCount": len(reply.tokens),
                     "totalTokenCount": reply.input_tokens + len(reply.tokens)}
        if reply.cached_tokens:  # Gemini leaves the field out when nothing came from the cache
            usage["cachedContentTokenCount"] = reply.cached_tokens
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": reply.model, "responseId": reply.id}

    def json_reply(self, reply: Reply) -> dict:
        return self._chunk(reply, reply.text, finish=True)

    def stream_token(self, reply: Reply, text: str) -> bytes:
        return sse(self._chunk(reply, text), end="\r\n\r\n")

    def stream_close(self, reply: Reply) -> bytes:
        return sse(self._chunk(reply, "", finish=True), end="\r\n\r\n")

    def stream_error(self, reply: Reply) -> bytes:
        return sse(self.error(503, MESSAGES[503])[1], end="\r\n\r\n")
