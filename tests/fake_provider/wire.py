"""What every provider dialect fills in: the Wire base class, the reply it renders, and SSE framing."""
from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tests.fake_provider.markers import words
from tests.fake_provider.models import FakeModel

MESSAGES = {
    400: "The request is invalid.", 401: "The API key is invalid.", 402: "Insufficient balance.",
    403: "This API key may not use this resource.", 404: "The requested resource was not found.",
    429: "Rate limit reached; slow down.", 500: "Internal server error.",
    503: "The service is temporarily overloaded.", 504: "The request timed out.", 529: "Overloaded",
}
_ids = itertools.count(1)


class Route(NamedTuple):
    """What a request's path says: the model, whether to stream (None: the body says), or a model listing."""

    model: str | None = None
    stream: bool | None = None
    listing: bool = False


@dataclass
class Reply:
    """The reply being sent for one request."""

    model: str
    tokens: list[str]
    truncated: bool
    input_tokens: int
    include_usage: bool = True
    thoughts: list[str] = field(default_factory=list)  # the thought tokens sent, before the answer
    thought_tokens: int = 0  # how many it thought, sent or not (usage counts them)
    cached_tokens: int = 0  # of input_tokens, read from the prompt cache
    cache_write_tokens: int = 0  # of input_tokens, written to the prompt cache (anthropic)
    id: str = field(default_factory=lambda: f"fake{next(_ids):08d}")
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def text(self) -> str:
        """The whole reply text."""
        return "".join(self.tokens)


def content_text(content: Any) -> str:
    """The text of a message content: a string, or a list of blocks or parts with `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return ""


def page_after(items: list, start: int, size: int) -> tuple[list, int | None]:
    """items[start:start+size], and where the next page starts (None after the last)."""
    end = start + size if size else len(items)
    return items[start:end], (end if end < len(items) else None)


def sse(data: Any, event: str | None = None, end: str = "\n\n") -> bytes:
    """One server-sent event: an optional `event:` line and a `data:` line of JSON (or a plain string)."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return ((f"event: {event}\n" if event else "") + f"data: {payload}{end}").encode()


class Wire:
    """One provider's HTTP dialect; each subclass fills it in for its API, one method per kind of answer."""

    name: str
    overloaded: int  # the status it answers when overloaded
    no_key_status = 401  # the status it answers a request without an API key
    routes: tuple[tuple[str, re.Pattern[str]], ...] = ()  # (method, path pattern) of every request it answers
    list_path: re.Pattern[str]  # GET: the model listing
    page_size = 0  # a listing's page size when the request names none (0: one page); small, so paging is proven

    def route(self, method: str, path: str, headers: dict[str, str]) -> Route | None:
        """What the path says about a request this wire answers, or None when it is not this wire's."""
        if method == "GET" and self.list_path.fullmatch(path) and self.lists_for(headers):
            return Route(listing=True)
        for route_method, pattern in self.routes:
            if method == route_method and (match := pattern.fullmatch(path)):
                return self.path_route(match)
        return None

    def lists_for(self, headers: dict[str, str]) -> bool:
        """Whether a GET of the listing path comes from this provider's SDK (Anthropic's and Gemini's paths match)."""
        return True

    def list_page(self, models: tuple[FakeModel, ...], query: dict[str, str]) -> dict:
        """One page of the model listing, as the query asks."""
        raise NotImplementedError

    def unknown_model(self, model: str | None) -> tuple[int, dict]:
        """(status, body) of the provider's answer to a chat request for a model it does not offer."""
        raise NotImplementedError

    def path_route(self, match: re.Match[str]) -> Route:
        """The model and stream flag a matched path carries; by default the body carries both."""
        return Route()

    def conversation(self, body: dict) -> tuple[str, list[tuple[str, str]]]:
        """(system prompt, [(role, text), …]) of a request body."""
        raise NotImplementedError

    def max_tokens(self, body: dict) -> int | None:
        """The request's limit on output tokens, if any."""
        raise NotImplementedError

    def has_key(self, headers: dict[str, str], query: str) -> bool:
        """Whether the request carries an API key."""
        return bool(headers.get("authorization", "").removeprefix("Bearer").strip())

    def error(self, status: int, message: str) -> tuple[int, dict]:
        """(status, body) of an error answer."""
        raise NotImplementedError

    def json_reply(self, reply: Reply) -> dict:
        """The body of a complete, non-streamed reply."""
        raise NotImplementedError

    def stream_open(self, reply: Reply) -> bytes:
        """The events a stream starts with, before any text."""
        return b""

    def stream_token(self, reply: Reply, text: str) -> bytes:
        """The event carrying one token of text."""
        raise NotImplementedError

    def stream_thought(self, reply: Reply, text: str) -> bytes:
        """The event carrying one thought token."""
        raise NotImplementedError

    def stream_answer_start(self, reply: Reply) -> bytes:
        """The events between the thoughts and the answer's first token."""
        return b""

    def thinking_param(self, body: dict) -> Any:
        """What the request asked of thinking, as it sent it (None: nothing)."""
        return None

    def thinking_error(self, body: dict, model: str) -> str | None:
        """Why the real API would refuse this request's thinking parameter (a 400), or None."""
        return None

    def thinks(self, body: dict, model: str) -> bool:
        """Whether the model thinks on this request: asked to, or by default."""
        return False

    def shows_thoughts(self, body: dict) -> bool:
        """Whether the request asks to be sent the thoughts (not only billed for them)."""
        return True

    def stream_close(self, reply: Reply) -> bytes:
        """The events that end a complete stream: stop reason and usage."""
        raise NotImplementedError

    def stream_error(self, reply: Reply) -> bytes:
        """An "overloaded" error reported inside the stream."""
        raise NotImplementedError

    def headers(self, reply: Reply | None) -> list[tuple[str, str]]:
        """Extra response headers."""
        return []

    def last_user_text(self, body: dict) -> str:
        """The text of the request's last user message, where markers live."""
        return next((text for role, text in reversed(self.conversation(body)[1]) if role == "user"), "")

    def input_tokens(self, body: dict) -> int:
        """A plausible input token count: the words of the system prompt and every message."""
        system, turns = self.conversation(body)
        return max(1, words(" ".join([system, *(text for _, text in turns)])))
