"""The Anthropic Messages API: `POST …/v1/messages`."""
from __future__ import annotations

import re

from tests.fake_provider.models import FakeModel
from tests.fake_provider.wire import MESSAGES, Reply, Wire, content_text, page_after, sse


# Claude 4.7+ and 5.x think adaptively only: a budget (`enabled`) is a 400; 5.x think by default.
ADAPTIVE_ONLY = re.compile(r"claude-[a-z]+-(?:5|4-7|4-8)\b")
THINKS_BY_DEFAULT = re.compile(r"claude-[a-z]+-5\b")
ALWAYS_THINKS = re.compile(r"claude-fable-5\b")  # refuses `disabled`
THINKING_TYPES = ("adaptive", "enabled", "disabled", "between_tools")
MIN_BUDGET = 1024
SIGNATURE = "EqQBCkYIBxgCKkBmYWtlLXNpZ25hdHVyZQ=="


class AnthropicWire(Wire):
    """The Anthropic Messages API."""

    name = "anthropic"
    overloaded = 529
    routes = (("POST", re.compile(r".*/v1/messages", re.S)),)
    list_path = re.compile(r"(?:/.*)?/v1/models")
    page_size = 4  # Anthropic's is 20
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

    def lists_for(self, headers: dict[str, str]) -> bool:
        return "anthropic-version" in headers

    def list_page(self, models: tuple[FakeModel, ...], query: dict[str, str]) -> dict:
        """`GET /v1/models?limit&after_id&before_id`: data, has_more, first_id, last_id."""
        ids = [model.id for model in models]
        size = int(query.get("limit") or self.page_size)
        if "before_id" in query:
            end = ids.index(query["before_id"]) if query["before_id"] in ids else 0
            page, start = models[max(0, end - size):end], max(0, end - size)
            more = start > 0
        else:
            start = ids.index(query["after_id"]) + 1 if query.get("after_id") in ids else 0
            page, following = page_after(list(models), start, size)
            more = following is not None
        data = [self._model(model) for model in page]
        return {"data": data, "has_more": more, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None}

    def _model(self, model: FakeModel) -> dict:
        """A ModelInfo object with its capabilities (the ones the app reads, and a few it does not)."""
        def supported(value: bool) -> dict:
            return {"supported": value}

        thinking = {"supported": model.thinks, "types": {
            "adaptive": supported(model.thinks), "enabled": supported(False),
            "disabled": supported(model.can_disable_thinking), "between_tools": supported(model.thinks)}}
        return {"type": "model", "id": model.id, "display_name": model.label or model.id,
                "created_at": "2026-09-01T00:00:00Z", "lifecycle": model.lifecycle, "deprecated_at": None,
                "retires_at": None, "max_input_tokens": 1_000_000, "max_tokens": 128_000,
                "capabilities": {"thinking": thinking, "image_input": supported(True),
                                 "effort": {"supported": True, "low": supported(True), "medium": supported(True),
                                            "high": supported(True), "xhigh": supported(True),
                                            "max": supported(True)}}}

    def unknown_model(self, model: str | None) -> tuple[int, dict]:
        return self.error(404, f"model: {model}")

    def headers(self, reply: Reply | None) -> list[tuple[str, str]]:
        return [("request-id", f"req_{reply.id if reply else 'fake'}")]

    def error(self, status: int, message: str) -> tuple[int, dict]:
        kind = self.error_types.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return status, {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}

    def thinking_param(self, body: dict):
        return body.get("thinking")

    def thinking_error(self, body: dict, model: str) -> str | None:
        thinking = body.get("thinking")
        if thinking is None:
            return None
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        if kind not in THINKING_TYPES:
            return f"thinking.type: Input should be one of {', '.join(THINKING_TYPES)}"
        if thinking.get("display") not in (None, "summarized", "omitted"):
            return "thinking.display: Input should be 'summarized' or 'omitted'"
        if kind == "enabled":
            if ADAPTIVE_ONLY.match(model):
                return (f'"thinking.type.enabled" is not supported for this model ({model}). '
                        'Use "thinking.type.adaptive" and "output_config.effort" instead.')
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or budget < MIN_BUDGET:
                return f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_BUDGET}"
            if budget >= (body.get("max_tokens") or 0):
                return "`max_tokens` must be greater than `thinking.budget_tokens`."
        if kind == "disabled" and ALWAYS_THINKS.match(model):
            return f'"thinking.type.disabled" is not supported for this model ({model}).'
        return None

    def thinks(self, body: dict, model: str) -> bool:
        thinking = body.get("thinking")
        if thinking is None:
            return bool(THINKS_BY_DEFAULT.match(model))
        return thinking["type"] in ("adaptive", "enabled")

    def shows_thoughts(self, body: dict) -> bool:
        # 5.x omit the thinking text unless asked; only "summarized" sends it.
        return (body.get("thinking") or {}).get("display") == "summarized"

    def _text_index(self, reply: Reply) -> int:
        """The text block's index: 1 behind a thinking block."""
        return 1 if reply.thought_tokens else 0

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

    def _output_usage(self, reply: Reply) -> dict:
        """Output tokens, thoughts included, and how many were thoughts where it thought."""
        usage: dict = {"output_tokens": reply.thought_tokens + len(reply.tokens)}
        if reply.thought_tokens:
            usage["output_tokens_details"] = {"thinking_tokens": reply.thought_tokens}
        return usage

    def _input_usage(self, reply: Reply) -> dict:
        """Input tokens as Anthropic counts them: cache reads and writes apart from the rest."""
        return {"input_tokens": max(0, reply.input_tokens - reply.cached_tokens - reply.cache_write_tokens),
                "cache_creation_input_tokens": reply.cache_write_tokens,
                "cache_read_input_tokens": reply.cached_tokens}

    def json_reply(self, reply: Reply) -> dict:
        content = [{"type": "text", "text": reply.text}]
        if reply.thought_tokens:
            content.insert(0, {"type": "thinking", "thinking": "".join(reply.thoughts), "signature": SIGNATURE})
        message = self._message(reply, content, self._stop_reason(reply), 0)
        message["usage"].update(self._output_usage(reply))
        return message

    def stream_open(self, reply: Reply) -> bytes:
        first = {"type": "thinking", "thinking": "", "signature": ""} if reply.thought_tokens else \
            {"type": "text", "text": ""}
        block = {"type": "content_block_start", "index": 0, "content_block": first}
        return b"".join([
            sse({"type": "message_start", "message": self._message(reply, [], None, 1)}, "message_start"),
            sse(block, "content_block_start"),
            sse({"type": "ping"}, "ping"),
        ])

    def stream_thought(self, reply: Reply, text: str) -> bytes:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": text}}
        return sse(delta, "content_block_delta")

    def stream_answer_start(self, reply: Reply) -> bytes:
        if not reply.thought_tokens:
            return b""
        signature = {"type": "content_block_delta", "index": 0,
                     "delta": {"type": "signature_delta", "signature": SIGNATURE}}
        block = {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}
        return b"".join([
            sse(signature, "content_block_delta"),
            sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            sse(block, "content_block_start"),
        ])

    def stream_token(self, reply: Reply, text: str) -> bytes:
        delta = {"type": "content_block_delta", "index": self._text_index(reply),
                 "delta": {"type": "text_delta", "text": text}}
        return sse(delta, "content_block_delta")

    def stream_close(self, reply: Reply) -> bytes:
        delta = {"type": "message_delta", "delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None},
                 "usage": self._output_usage(reply)}
        return b"".join([
            sse({"type": "content_block_stop", "index": self._text_index(reply)}, "content_block_stop"),
            sse(delta, "message_delta"),
            sse({"type": "message_stop"}, "message_stop"),
        ])

    def stream_error(self, reply: Reply) -> bytes:
        return sse(self.error(529, MESSAGES[529])[1], "error")
