"""DeepSeek's OpenAI-compatible Chat Completions API: `POST /chat/completions` and `/v1/chat/completions`."""
from __future__ import annotations

import re

from tests.fake_provider.models import FakeModel
from tests.fake_provider.wire import MESSAGES, Reply, Wire, content_text, sse


# V4 models think by default (thinking.type defaults to "enabled"); deepseek-reasoner always did.
THINKS_BY_DEFAULT = re.compile(r"deepseek-(?:flash|v4|reasoner)")


class DeepSeekWire(Wire):
    """DeepSeek's OpenAI-compatible Chat Completions API."""

    name = "deepseek"
    overloaded = 503
    routes = (("POST", re.compile(r".*/chat/completions", re.S)),)
    list_path = re.compile(r"(?:/v1)?/models")
    error_types = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                   404: "not_found_error", 429: "rate_limit_error"}

    def conversation(self, body: dict) -> tuple[str, list[tuple[str, str]]]:
        messages = [(m.get("role"), content_text(m.get("content"))) for m in body.get("messages") or []]
        system = " ".join(text for role, text in messages if role == "system")
        return system, [(role, text) for role, text in messages if role != "system"]

    def max_tokens(self, body: dict) -> int | None:
        return body.get("max_tokens") or body.get("max_completion_tokens")

    def lists_for(self, headers: dict[str, str]) -> bool:
        # /v1/models is Gemini's listing path too: the SDKs tell them apart by their own headers.
        return "x-goog-api-key" not in headers and "anthropic-version" not in headers

    def list_page(self, models: tuple[FakeModel, ...], query: dict[str, str]) -> dict:
        """`GET /models`: every model in one list, with no `created` (DeepSeek sends none)."""
        return {"object": "list", "data": [{"id": m.id, "object": "model", "owned_by": "deepseek"} for m in models]}

    def unknown_model(self, model: str | None) -> tuple[int, dict]:
        return 400, {"error": {"message": "Model Not Exist", "type": "invalid_request_error", "param": None,
                               "code": "invalid_request_error"}}

    def error(self, status: int, message: str) -> tuple[int, dict]:
        kind = self.error_types.get(status, "server_error" if status >= 500 else "invalid_request_error")
        return status, {"error": {"message": message, "type": kind, "param": None, "code": kind}}

    def thinking_param(self, body: dict):
        return body.get("thinking")

    def thinking_error(self, body: dict, model: str) -> str | None:
        thinking = body.get("thinking")
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        if thinking is not None and kind not in ("enabled", "disabled"):
            return "thinking.type must be one of enabled, disabled"
        return None

    def thinks(self, body: dict, model: str) -> bool:
        kind = (body.get("thinking") or {}).get("type")
        return kind == "enabled" or (kind is None and bool(THINKS_BY_DEFAULT.match(model)))

    def _envelope(self, reply: Reply, kind: str, choices: list, usage: dict | None) -> dict:
        """A chat.completion or chat.completion.chunk object."""
        body = {"id": f"chatcmpl-{reply.id}", "object": kind, "created": reply.created, "model": reply.model,
                "system_fingerprint": "fp_fake", "choices": choices}
        if reply.include_usage or kind == "chat.completion":
            body["usage"] = usage
        return body

    def _chunk(self, reply: Reply, delta: dict, finish: str | None = None) -> dict:
        """A chunk with one choice."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._envelope(reply, "chat.completion.chunk", [choice], None)

    def _usage(self, reply: Reply) -> dict:
        """The usage object, with DeepSeek's cache fields."""
        output = len(reply.tokens) + reply.thought_tokens  # completion_tokens include the reasoning
        usage = {"prompt_tokens": reply.input_tokens, "completion_tokens": output,
                 "total_tokens": reply.input_tokens + output,
                 "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
                 "prompt_cache_hit_tokens": reply.cached_tokens,
                 "prompt_cache_miss_tokens": reply.input_tokens - reply.cached_tokens}
        if reply.thought_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": reply.thought_tokens}
        return usage

    def _finish_reason(self, reply: Reply) -> str:
        """stop, or length when the request's limit cut the reply."""
        return "length" if reply.truncated else "stop"

    def json_reply(self, reply: Reply) -> dict:
        message = {"role": "assistant", "content": reply.text}
        if reply.thoughts:
            message["reasoning_content"] = "".join(reply.thoughts)
        choice = {"index": 0, "message": message,
                  "finish_reason": self._finish_reason(reply), "logprobs": None}
        return self._envelope(reply, "chat.completion", [choice], self._usage(reply))

    def stream_open(self, reply: Reply) -> bytes:
        return sse(self._chunk(reply, {"role": "assistant", "content": ""}))

    def stream_token(self, reply: Reply, text: str) -> bytes:
        return sse(self._chunk(reply, {"content": text}))

    def stream_thought(self, reply: Reply, text: str) -> bytes:
        return sse(self._chunk(reply, {"content": None, "reasoning_content": text}))

    def stream_close(self, reply: Reply) -> bytes:
        events = [sse(self._chunk(reply, {"content": ""}, self._finish_reason(reply)))]
        if reply.include_usage:
            events.append(sse(self._envelope(reply, "chat.completion.chunk", [], self._usage(reply))))
        return b"".join([*events, sse("[DONE]")])

    def stream_error(self, reply: Reply) -> bytes:
        return sse(self.error(503, MESSAGES[503])[1])
