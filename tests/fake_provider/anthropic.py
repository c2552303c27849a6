"""The Anthropic Messages API: `POST …/v1/messages`."""
from __future__ import annotations

import re

from tests.fake_provider.wire import MESSAGES, Reply, Wire, content_text, sse


class AnthropicWire(Wire):
    """The Anthropic Messages API."""

    name = "anthropic"
    overloaded = 529
    routes = (("POST", re.compile(r".*/v1/messages", re.S)),)
    error_types = {
        400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
        403: "permission_error", 404: "not_found_error", 413: "request_too_large",
        429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error",
    }

    def conversation(self, body: dict) -> tuple[str, list[tuple[str, str]]]:
        turns = [(m.get("role"), content_text(m.get("content"))) for m in body.get("messages") or []]
        return content_text(body.get("system")), turns

    def max_tokens(self, body: dict) -> int | None:
        return body.get("max_tokens")

    def has_key(self, headers: dict[str, str], query: str) -> bool:
        return bool(headers.get("x-api-key")) or super().has_key(headers, query)

    def headers(self, reply: Reply | None) -> list[tuple[str, str]]:
        return [("request-id", f"req_{reply.id if reply else 'fake'}")]

    def error(self, status: int, message: str) -> tuple[int, dict]:
        kind = self.error_types.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return status, {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}

    def _stop_reason(self, reply: Reply) -> str:
        """end_turn, or max_tokens when the request's limit cut the reply."""
        return "max_tokens" if reply.truncated else "end_turn"

    def _message(self, reply: Reply, content: list, stop: str | None, output: int) -> dict:
        """A Message object, complete or (in message_start) empty."""
        return {
            "id": f"msg_{reply.id}", "type": "message", "role": "assistant", "model": reply.model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {**self._input_usage(reply), "output_tokens": output},
        }

    def _input_usage(self, reply: Reply) -> dict:
        """Input tokens as Anthropic counts them: cache reads and writes apart from the rest."""
        return {"input_tokens": max(0, reply.input_tokens - reply.cached_tokens - reply.cache_write_tokens),
                "cache_creation_input_tokens": reply.cache_write_tokens,
                "cache_read_input_tokens": reply.cached_tokens}

    def json_reply(self, reply: Reply) -> dict:
        content = [{"type": "text", "text": reply.text}]
        return self._message(reply, content, self._stop_reason(reply), len(reply.tokens))

    def stream_open(self, reply: Reply) -> bytes:
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        return b"".join([
            sse({"type": "message_start", "message": self._message(reply, [], None, 1)}, "message_start"),
            sse(block, "content_block_start"),
            sse({"type": "ping"}, "ping"),
        ])

    def stream_token(self, reply: Reply, text: str) -> bytes:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        return sse(delta, "content_block_delta")

    def stream_close(self, reply: Reply) -> bytes:
        delta = {"type": "message_delta", "delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None},
                 "usage": {"output_tokens": len(reply.tokens)}}
        return b"".join([
            sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            sse(delta, "message_delta"),
            sse({"type": "message_stop"}, "message_stop"),
        ])

    def stream_error(self, reply: Reply) -> bytes:
        return sse(self.error(529, MESSAGES[529])[1], "error")
