"""The load client: one asyncio loop and aiohttp, chats through the app or straight to the fake provider.

Every time is measured from when a chat was due to start (the burst instant, or its scheduled
arrival), so a client that falls behind shows up as latency instead of hiding it.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import AsyncContextManager, Callable, Protocol

import aiohttp

PROVIDERS = ("anthropic", "google", "deepseek")  # chat i is bound to PROVIDERS[i % 3]
MODELS = {"anthropic": "claude-sonnet-5-5", "google": "gemini-flash-latest", "deepseek": "deepseek-flash"}
CHAT_TIMEOUT_SECONDS = 120.0
MAX_OUTPUT_TOKENS = 4096
TOKEN, END, ERROR = "token", "end", "error"


def provider_of(index: int) -> str:
    """The provider of the index-th chat: the three mixed evenly."""
    return PROVIDERS[index % len(PROVIDERS)]


def prompt(index: int) -> str:
    """The user's message of the index-th chat (no fake-provider markers: the default workload)."""
    return f"Benchmark chat {index}: please answer."


@dataclass
class Chat:
    """How one chat went; times in seconds from when it was due."""

    route: str  # "api", "htmx" or "direct"
    provider: str
    due: float  # seconds from the start of the shape
    ttft: float | None = None
    total: float | None = None  # until the last event, or until it failed
    tokens: int = 0
    error: str | None = None


class Target(Protocol):
    """Something that runs the index-th chat when it is due (a loop time)."""

    async def chat(self, index: int, due: float, offset: float) -> Chat: ...


def new_session() -> aiohttp.ClientSession:
    """A client with an unbounded pool and no cookie jar: each chat sends what it needs."""
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar())


async def _blocks(response: aiohttp.ClientResponse, separator: bytes):
    """The raw SSE events of a streamed response, one per separator."""
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        end = buffer.find(separator)
        while end >= 0:
            yield buffer[:end]
            buffer = buffer[end + len(separator):]
            end = buffer.find(separator)


async def _run(chat: Chat, due: float, request: Callable[[], AsyncContextManager[aiohttp.ClientResponse]],
               ok_statuses: tuple[int, ...], separator: bytes, classify) -> Chat:
    """Send a request, read its event stream, and time the first token and the end."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(CHAT_TIMEOUT_SECONDS):
            async with request() as response:
                if response.status not in ok_statuses:
                    chat.error = await _status_error(response)
                    return chat
                state = {"blocks": 0}
                async for block in _blocks(response, separator):
                    kind = classify(block, state)
                    if kind == TOKEN:
                        chat.tokens += 1
                        if chat.ttft is None:
                            chat.ttft = loop.time() - due
                    elif kind == END:
                        chat.total = loop.time() - due
                        return chat
                    elif kind == ERROR:
                        chat.error = _error_text(block)
                        return chat
                chat.error = "the stream ended before its last event"
    except TimeoutError:
        chat.error = f"no end within {CHAT_TIMEOUT_SECONDS:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        chat.error = f"{type(exc).__name__}: {exc}"[:160]
    chat.total = loop.time() - due
    return chat


async def _status_error(response: aiohttp.ClientResponse) -> str:
    """An error answer as `HTTP status: message` (the JSON error's message; HTML pages are left out)."""
    body = await response.read()
    try:
        message = json.loads(body).get("error")
    except (ValueError, AttributeError):
        message = None
    if isinstance(message, dict):
        message = message.get("message")
    return f"HTTP {response.status}" + (f": {str(message)[:100]}" if message else f" ({response.content_type})")


def _error_text(block: bytes) -> str:
    """A short description of an error event."""
    data = b"".join(line[6:] for line in block.split(b"\n") if line.startswith(b"data: "))
    try:
        payload = json.loads(data)
        message = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(message, dict):
            message = message.get("message")
        return f"error event: {message or data[:120].decode(errors='replace')}"
    except ValueError:
        return "error event: " + data[:120].decode(errors="replace")


# --- through the app ----------------------------------------------------------

def _api_event(block: bytes, state: dict) -> str | None:
    if block.startswith(b"event: delta"):
        return TOKEN
    if block.startswith(b"event: done"):
        return END
    if block.startswith(b"event: error"):
        return ERROR
    return None


def _htmx_event(block: bytes, state: dict) -> str | None:
    # Unnamed events: first the new messages, then deltas (with ids), then the stored message.
    if block.startswith(b":"):
        return None
    state["blocks"] += 1
    if block.startswith(b"id: "):
        return TOKEN
    if state["blocks"] == 1:
        return None
    return ERROR if b"status-error" in block else END


@dataclass
class AppTarget:
    """Chats through the app: the JSON API with Accept: text/event-stream, and every `htmx_every`-th
    chat through the htmx endpoint with the session cookie and CSRF token."""

    session: aiohttp.ClientSession
    base_url: str
    token: str
    cookie: str
    csrf_token: str
    thread_ids: list[int]
    htmx_every: int = 10

    def is_htmx(self, index: int) -> bool:
        """Whether the index-th chat goes through the htmx endpoint."""
        return bool(self.htmx_every) and index % self.htmx_every == self.htmx_every - 1

    async def chat(self, index: int, due: float, offset: float) -> Chat:
        """Post the index-th chat's message to its own thread and read the reply's stream."""
        thread_id = self.thread_ids[index]
        if self.is_htmx(index):
            chat = Chat("htmx", provider_of(index), offset)
            request = lambda: self.session.post(  # noqa: E731
                f"{self.base_url}/threads/{thread_id}/messages",
                data={"content": prompt(index), "csrf_token": self.csrf_token},
                headers={"HX-Request": "true", "Cookie": self.cookie})
            return await _run(chat, due, request, (200,), b"\n\n", _htmx_event)
        chat = Chat("api", provider_of(index), offset)
        request = lambda: self.session.post(  # noqa: E731
            f"{self.base_url}/api/threads/{thread_id}/messages", json={"content": prompt(index)},
            headers={"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"})
        return await _run(chat, due, request, (200, 201), b"\n\n", _api_event)


# --- straight to the fake provider ----------------------------------------------

def _anthropic_event(block: bytes, state: dict) -> str | None:
    if block.startswith(b"event: content_block_delta"):
        return TOKEN
    if block.startswith(b"event: message_stop"):
        return END
    return ERROR if block.startswith(b"event: error") else None


def _google_event(block: bytes, state: dict) -> str | None:
    if block.startswith(b'data: {"error"'):
        return ERROR
    if b'"finishReason"' in block:
        return END
    return TOKEN if b'"text":"' in block and b'"text":""' not in block else None


def _deepseek_event(block: bytes, state: dict) -> str | None:
    if block.startswith(b"data: [DONE]"):
        return END
    if block.startswith(b'data: {"error"'):
        return ERROR
    return TOKEN if b'"content":"' in block and b'"content":""' not in block else None


@dataclass
class DirectTarget:
    """The same chats sent straight to the fake provider, each in its provider's own wire format."""

    session: aiohttp.ClientSession
    base_url: str
    key: str

    def _request(self, provider: str, text: str):
        """(url, headers, body, event separator, event classifier) of a streamed request to a provider."""
        turn = {"role": "user", "content": text}
        if provider == "anthropic":
            return (f"{self.base_url}/v1/messages",
                    {"x-api-key": self.key, "anthropic-version": "2023-06-01"},
                    {"model": MODELS[provider], "max_tokens": MAX_OUTPUT_TOKENS, "messages": [turn],
                     "stream": True}, b"\n\n", _anthropic_event)
        if provider == "google":
            return (f"{self.base_url}/v1/models/{MODELS[provider]}:streamGenerateContent?alt=sse",
                    {"x-goog-api-key": self.key},
                    {"contents": [{"role": "user", "parts": [{"text": text}]}],
                     "generationConfig": {"maxOutputTokens": MAX_OUTPUT_TOKENS}}, b"\r\n\r\n", _google_event)
        return (f"{self.base_url}/chat/completions", {"Authorization": f"Bearer {self.key}"},
                {"model": MODELS[provider], "messages": [turn], "max_tokens": MAX_OUTPUT_TOKENS, "stream": True,
                 "stream_options": {"include_usage": True}}, b"\n\n", _deepseek_event)

    async def chat(self, index: int, due: float, offset: float) -> Chat:
        """Ask the fake for the index-th chat's reply and read its stream."""
        provider = provider_of(index)
        url, headers, body, separator, classify = self._request(provider, prompt(index))
        request = lambda: self.session.post(url, json=body, headers=headers)  # noqa: E731
        return await _run(Chat("direct", provider, offset), due, request, (200,), separator, classify)


# --- load shapes ------------------------------------------------------------------

async def burst(target: Target, count: int) -> list[Chat]:
    """`count` chats started at the same instant."""
    due = asyncio.get_running_loop().time()
    return list(await asyncio.gather(*(target.chat(i, due, 0.0) for i in range(count))))


async def one_at_a_time(target: Target, count: int) -> list[Chat]:
    """`count` chats one after another, each due when the one before it has ended: one chat in flight."""
    loop = asyncio.get_running_loop()
    return [await target.chat(i, loop.time(), 0.0) for i in range(count)]


async def steady(target: Target, rate: float, seconds: float) -> list[Chat]:
    """Open loop: chat k is due at k / rate and starts then, whether or not earlier ones have ended."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for index in range(int(rate * seconds)):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(target.chat(index, due, due - start)))
    return list(await asyncio.gather(*tasks))
