"""DeepSeek's OpenAI-compatible Chat Completions API: `POST /chat/completions` and `/v1/chat/completions`."""
from __future__ import annotations

import re

from tests.fake_provider.wire import MESSAGES, Reply, Wire, content_text, sse


class DeepSeekWire(Wire):
    """DeepSeek's OpenAI-compatible Chat Completions API."""

    name = "deepseek"
    overloaded = 503
    routes = (("POST", re.compile(r".*/chat/completions", re.S)),)
    error_types = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                   404: "not_found_error", 429: "rate_limit_error"}

    def conversation(self, body: dict) -> tuple[str, list[tuple[str, str]]]:
        messages = [(m.get("role"), content_text(m.get("content"))) for m in body.get("messages") or []]
        system = " ".join(text for role, text in messages if role == "system")
        return system, [(role, text) for role, text in messages if role != "system"]

    def max_tokens(self, body: dict) -> int | None:
        return body.get("max_tokens") or body.get("max_completion_tokens")

    def error(self, status: int, message: str) -> tuple[int, dict]:
        kind = self.error_types.get(status, "server_error" if status >= 500 else "invalid_request_error")
        return status, {"error": {"message": message, "type": kind, "param": None, "code": kind}}

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
        return {"prompt_tokens": reply.input_tokens, "completion_tokens": len(reply.tokens),
                "total_tokens": reply.input_tokens + len(reply.tokens),
                "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
                "prompt_cache_hit_tokens": reply.cached_tokens,
                "prompt_cache_miss_tokens": reply.input_tokens - reply.cached_tokens}

    def _finish_reason(self, reply: Reply) -> str:
        """stop, or length when the request's limit cut the reply."""
        return "length" if reply.truncated else "stop"

    def json_reply(self, reply: Reply) -> dict:
        choice = {"index": 0, "message": {"role": "assistant", "content": reply.text},
                  "finish_reason": self._finish_reason(reply), "logprobs": None}
        return self._envelope(reply, "chat.completion", [choice], self._usage(reply))

    def stream_open(self, reply: Reply) -> bytes:
        return sse(self._chunk(reply, {"role": "assistant", "content": ""}))

    def stream_token(self, reply: Reply, text: str) -> bytes:
        return sse(self._chunk(reply, {"content": text}))

    def stream_close(self, reply: Reply) -> bytes:
        events = [sse(self._chunk(reply, {"content": ""}, self._finish_reason(reply)))]
        if reply.include_usage:
            events.append(sse(self._envelope(reply, "chat.completion.chunk", [], self._usage(reply))))
        return b"".join([*events, sse("[DONE]")])

    def stream_error(self, reply: Reply) -> bytes:
        return sse(self.error(503, MESSAGES[503])[1])
