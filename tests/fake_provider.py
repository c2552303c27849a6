"""A wire-accurate fake of the Anthropic, Gemini and DeepSeek (OpenAI-style) HTTP APIs.

The real SDKs run unmodified against it: HTTP/1.1 with keep-alive, JSON replies, and
SSE streams in chunked encoding (so a cut stream is detectable, as with the real APIs).
Stdlib only, one asyncio loop, so several hundred concurrent streams are cheap.

Routes: `POST …/v1/messages` (anthropic), `POST /{version}/models/{model}:generateContent`
and `:streamGenerateContent?alt=sse` (google), `POST /chat/completions` and
`/v1/chat/completions` (deepseek). A request without an API key gets the provider's own
answer to that (Gemini: 403 PERMISSION_DENIED, the others 401).

The default reply is "Hello", " from", " fake", " <provider>", "." and then " w5", " w6", …
up to the token count; the request's max-tokens limit cuts it short with the provider's
max-tokens stop reason. Usage: input = word count of the request's text, output = tokens sent.

Markers in the text of the request's LAST user message steer it, so an SDK retry of the
same request behaves the same way. Several may be combined:

    [[fail:STATUS]]          answer STATUS (400 401 403 404 429 500 503 529 …) with the
                             provider's error body, every time; for google, 401 answers as
                             Gemini does for a wrong key: 400 INVALID_ARGUMENT, API_KEY_INVALID
    [[fail:STATUS:N]]        fail only the first N requests of this provider with this same
                             last user text, then answer normally
    [[stall]]                send nothing at all; hold until the client goes away
    [[stall-after:N]]        stream N tokens, then go silent until the client goes away
    [[cut:N]]                stream N tokens, then drop the connection mid-body
    [[midstream-error:N]]    stream N tokens, then an in-stream error in the provider's format
    [[delay:SECONDS]]        wait before the first token (streams send their headers first)
    [[tokens:N]]             reply with N tokens
    [[token-delay:SECONDS]]  wait between tokens
    [[chunks:A|B|C]]         reply exactly "ABC", streamed as the pieces A, B and C
    [[canned:markdown]]      a reply with a heading, a fenced python block and a table

Inside a marker a backslash takes the next character literally: write `|` as `\\|`, `]` as
`\\]` (so `]]` as `\\]\\]`) and a backslash as `\\\\`. Anything else, `<`, `>` and quotes
included, is taken as it is. Without a body to stream, cut drops the connection before
answering, stall-after stalls, and midstream-error answers the provider's overloaded status.

In pytest: `fake = FakeProvider().start()`, then `fake.base_url`, `fake.requests`,
`fake.last("google")`, `fake.reset()`, `fake.stop()`. Standalone, until SIGTERM or SIGINT:
`python -m tests.fake_provider --port 0 --first-token-delay 0.2 --tokens 50 --token-delay 0.036`
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

HOST = "127.0.0.1"
MARKER = re.compile(r"\[\[([a-z-]+)(?::((?:\\.|(?!\]\])[^\\])*))?\]\]", re.S)
GEMINI_PATH = re.compile(r"(?:/.*)?/v[^/]*/(?:models|tunedModels)/([^/:]+):(generateContent|streamGenerateContent)")
END_OF_BODY = b"0\r\n\r\n"
MESSAGES = {
    400: "The request is invalid.", 401: "The API key is invalid.", 402: "Insufficient balance.",
    403: "This API key may not use this resource.", 404: "The requested resource was not found.",
    429: "Rate limit reached; slow down.", 500: "Internal server error.",
    503: "The service is temporarily overloaded.", 504: "The request timed out.", 529: "Overloaded",
}
CANNED = {
    "markdown": (
        "## A canned reply\n\nSome **bold** text, then code:\n\n```python\n"
        "def greet(name):\n    return f\"Hello, {name}!\"\n```\n\n"
        "| Provider | Tokens |\n|---|---|\n| fake | 42 |\n"
    ),
}
_ids = itertools.count(1)


def default_tokens(provider: str, count: int) -> list[str]:
    """The default reply of `count` tokens, naming the provider."""
    opening = ["Hello", " from", " fake", f" {provider}", "."]
    return (opening + [f" w{i}" for i in range(len(opening), count)])[:count]


def words(text: str) -> int:
    """A rough token count: whitespace-separated words."""
    return len(text.split())


def _split_chunks(arg: str) -> list[str]:
    """Split a chunks argument at every `|`; a backslash takes the next character literally."""
    chunks, current, chars = [], [], iter(arg)
    for char in chars:
        if char == "\\":
            current.append(next(chars, "\\"))
        elif char == "|":
            chunks.append("".join(current))
            current = []
        else:
            current.append(char)
    return [*chunks, "".join(current)]


@dataclass
class Plan:
    """What one request asked for through its markers, on top of the server's defaults."""

    delay: float
    tokens: int
    token_delay: float
    fail: int | None = None
    fail_times: int | None = None
    stall: bool = False
    stall_after: int | None = None
    cut: int | None = None
    midstream_error: int | None = None
    text_chunks: list[str] | None = None

    @classmethod
    def parse(cls, text: str, *, delay: float, tokens: int, token_delay: float) -> Plan:
        """The plan for a last user message; raises ValueError for a malformed marker."""
        plan = cls(delay, tokens, token_delay)
        for match in MARKER.finditer(text):
            name, arg = match.group(1), match.group(2) or ""
            try:
                plan._apply(name, arg)
            except (ValueError, KeyError, IndexError):
                raise ValueError(f"fake provider: bad marker {match.group(0)!r}") from None
        return plan

    def _apply(self, name: str, arg: str) -> None:
        """Apply one marker; raises ValueError, KeyError or IndexError when it is malformed."""
        args = arg.split(":")
        if name == "fail":
            self.fail = int(args[0])
            self.fail_times = int(args[1]) if len(args) > 1 else None
        elif name == "stall":
            self.stall = True
        elif name in ("stall-after", "cut", "midstream-error", "tokens"):
            setattr(self, name.replace("-", "_"), int(args[0]))
        elif name in ("delay", "token-delay"):
            setattr(self, name.replace("-", "_"), float(args[0]))
        elif name == "chunks":
            self.text_chunks = _split_chunks(arg)
        elif name == "canned":
            self.text_chunks = re.findall(r"\S+\s*|\s+", CANNED[arg])
        else:
            raise KeyError(name)

    def reply_tokens(self, provider: str) -> list[str]:
        """The tokens of the full reply, before any max-tokens limit."""
        return self.text_chunks if self.text_chunks is not None else default_tokens(provider, self.tokens)


@dataclass
class RecordedRequest:
    """One request as the fake saw it, and how it ended."""

    provider: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    model: str | None = None
    stream: bool = False
    last_user_text: str = ""
    status: int | None = None
    tokens_sent: int = 0
    disconnected: bool = False
    cut: bool = False
    done: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def wait_done(self, timeout: float = 5.0) -> bool:
        """Wait until the server has finished with this request: answered, cut, or the client left."""
        return self.done.wait(timeout)


@dataclass
class Reply:
    """The reply being sent for one request."""

    model: str
    tokens: list[str]
    truncated: bool
    input_tokens: int
    include_usage: bool = True
    id: str = field(default_factory=lambda: f"fake{next(_ids):08d}")
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def text(self) -> str:
        """The whole reply text."""
        return "".join(self.tokens)


def _text(content: Any) -> str:
    """The text of a message content: a string, or a list of blocks or parts with `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return ""


def _sse(data: Any, event: str | None = None, end: str = "\n\n") -> bytes:
    """One server-sent event: an optional `event:` line and a `data:` line of JSON (or a plain string)."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return ((f"event: {event}\n" if event else "") + f"data: {payload}{end}").encode()


class Wire:
    """One provider's HTTP dialect; each subclass fills it in for its API."""

    name: str
    overloaded: int  # the status it answers when overloaded

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


class AnthropicWire(Wire):
    """The Anthropic Messages API."""

    name = "anthropic"
    overloaded = 529
    error_types = {
        400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
        403: "permission_error", 404: "not_found_error", 413: "request_too_large",
        429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error",
    }

    def conversation(self, body: dict) -> tuple[str, list[tuple[str, str]]]:
        return _text(body.get("system")), [(m.get("role"), _text(m.get("content"))) for m in body.get("messages") or []]

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
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": output},
        }

    def json_reply(self, reply: Reply) -> dict:
        content = [{"type": "text", "text": reply.text}]
        return self._message(reply, content, self._stop_reason(reply), len(reply.tokens))

    def stream_open(self, reply: Reply) -> bytes:
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        return b"".join([
            _sse({"type": "message_start", "message": self._message(reply, [], None, 1)}, "message_start"),
            _sse(block, "content_block_start"),
            _sse({"type": "ping"}, "ping"),
        ])

    def stream_token(self, reply: Reply, text: str) -> bytes:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        return _sse(delta, "content_block_delta")

    def stream_close(self, reply: Reply) -> bytes:
        delta = {"type": "message_delta", "delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None},
                 "usage": {"output_tokens": len(reply.tokens)}}
        return b"".join([
            _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            _sse(delta, "message_delta"),
            _sse({"type": "message_stop"}, "message_stop"),
        ])

    def stream_error(self, reply: Reply) -> bytes:
        return _sse(self.error(529, MESSAGES[529])[1], "error")


class GeminiWire(Wire):
    """The Gemini API: generateContent and streamGenerateContent (SSE lines end in CRLF, as Google's do)."""

    name = "google"
    overloaded = 503
    statuses = {
        400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
    }

    def conversation(self, body: dict) -> tuple[str, list[tuple[str, str]]]:
        system = _text((body.get("systemInstruction") or {}).get("parts"))
        return system, [(c.get("role", "user"), _text(c.get("parts"))) for c in body.get("contents") or []]

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
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": reply.model, "responseId": reply.id}

    def json_reply(self, reply: Reply) -> dict:
        return self._chunk(reply, reply.text, finish=True)

    def stream_token(self, reply: Reply, text: str) -> bytes:
        return _sse(self._chunk(reply, text), end="\r\n\r\n")

    def stream_close(self, reply: Reply) -> bytes:
        return _sse(self._chunk(reply, "", finish=True), end="\r\n\r\n")

    def stream_error(self, reply: Reply) -> bytes:
        return _sse(self.error(503, MESSAGES[503])[1], end="\r\n\r\n")


class OpenAIWire(Wire):
    """DeepSeek's OpenAI-compatible Chat Completions API."""

    name = "deepseek"
    overloaded = 503
    error_types = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                   404: "not_found_error", 429: "rate_limit_error"}

    def conversation(self, body: dict) -> tuple[str, list[tuple[str, str]]]:
        messages = [(m.get("role"), _text(m.get("content"))) for m in body.get("messages") or []]
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
                "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": reply.input_tokens}

    def _finish_reason(self, reply: Reply) -> str:
        """stop, or length when the request's limit cut the reply."""
        return "length" if reply.truncated else "stop"

    def json_reply(self, reply: Reply) -> dict:
        choice = {"index": 0, "message": {"role": "assistant", "content": reply.text},
                  "finish_reason": self._finish_reason(reply), "logprobs": None}
        return self._envelope(reply, "chat.completion", [choice], self._usage(reply))

    def stream_open(self, reply: Reply) -> bytes:
        return _sse(self._chunk(reply, {"role": "assistant", "content": ""}))

    def stream_token(self, reply: Reply, text: str) -> bytes:
        return _sse(self._chunk(reply, {"content": text}))

    def stream_close(self, reply: Reply) -> bytes:
        events = [_sse(self._chunk(reply, {"content": ""}, self._finish_reason(reply)))]
        if reply.include_usage:
            events.append(_sse(self._envelope(reply, "chat.completion.chunk", [], self._usage(reply))))
        return b"".join([*events, _sse("[DONE]")])

    def stream_error(self, reply: Reply) -> bytes:
        return _sse(self.error(503, MESSAGES[503])[1])


ANTHROPIC, GEMINI, OPENAI = AnthropicWire(), GeminiWire(), OpenAIWire()


def _route(method: str, path: str) -> tuple[Wire | None, str | None, bool | None]:
    """(wire, model from the path, stream from the path) for a request, or (None, None, None)."""
    if method != "POST":
        return None, None, None
    if path.endswith("/v1/messages"):
        return ANTHROPIC, None, None
    if path.endswith("/chat/completions"):
        return OPENAI, None, None
    if match := GEMINI_PATH.fullmatch(path):
        return GEMINI, match.group(1), match.group(2) == "streamGenerateContent"
    return None, None, None


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 status line and headers."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Overloaded" if status == 529 else "Error"
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(data: bytes) -> bytes:
    """`data` as one chunk of a chunked body (nothing for no data: an empty chunk ends the body)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    """(method, target, lower-cased headers, body) of the next request, or None at a clean end."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length") or 0))
    return method, target, headers, body


async def _forever() -> None:
    """Wait until cancelled: by the client leaving, or by shutdown."""
    await asyncio.Event().wait()


class FakeProvider:
    """The fake server: in a background thread (`start`/`stop`) or in asyncio (`serve`)."""

    def __init__(self, *, port: int = 0, first_token_delay: float = 0.0, tokens: int = 8,
                 token_delay: float = 0.0, history: int = 10_000) -> None:
        self.port = port
        self._defaults = (first_token_delay, tokens, token_delay)
        self.first_token_delay, self.tokens, self.token_delay = self._defaults
        self._records: deque[RecordedRequest] = deque(maxlen=history)
        self._failures: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._connections: set[asyncio.Task] = set()
        self._accepted = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The server's root URL, e.g. http://127.0.0.1:PORT (valid once started)."""
        return f"http://{HOST}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every recorded request, oldest first."""
        with self._lock:
            return list(self._records)

    @property
    def connections(self) -> int:
        """TCP connections accepted since the last reset."""
        return self._accepted

    def last(self, provider: str | None = None) -> RecordedRequest:
        """The latest request, optionally for one provider; LookupError if there is none."""
        for record in reversed(self.requests):
            if provider is None or record.provider == provider:
                return record
        raise LookupError(f"the fake provider has recorded no request{f' for {provider}' if provider else ''}")

    def reset(self) -> None:
        """Forget recorded requests, failure counts and accepted connections; restore the default reply settings."""
        with self._lock:
            self._records.clear()
            self._failures.clear()
            self._accepted = 0
        self.first_token_delay, self.tokens, self.token_delay = self._defaults

    def start(self) -> FakeProvider:
        """Serve from a background thread with its own event loop; returns self once listening."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-provider", daemon=True)
        self._thread.start()
        if not ready.wait(10) or not self._thread.is_alive():
            raise RuntimeError("the fake provider did not start")
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and join the thread."""
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self.shutdown)
            self._thread.join(10)
            self._loop.close()
            self._loop = self._thread = None

    def __enter__(self) -> FakeProvider:
        """Start serving for a `with` block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop serving at the end of a `with` block."""
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        """The background thread: run `serve` on this server's own loop."""
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.serve(ready.set))
        finally:
            ready.set()

    def shutdown(self) -> None:
        """Ask `serve` to return; call it on the server's loop."""
        if self._stopping:
            self._stopping.set()

    async def serve(self, on_ready=None) -> None:
        """Listen on 127.0.0.1 and serve until `shutdown` is called."""
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connection, HOST, self.port, backlog=2048)
        self.port = server.sockets[0].getsockname()[1]
        if on_ready:
            on_ready()
        await self._stopping.wait()
        server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one keep-alive connection, request after request."""
        task = asyncio.current_task()
        self._connections.add(task)
        with self._lock:
            self._accepted += 1
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Shutting down; asyncio's stream callback logs a connection task that ends cancelled.
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; True to keep the connection for the next one."""
        request = await _read_request(reader)
        if request is None:
            return False
        method, target, headers, raw = request
        path, _, query = target.partition("?")
        wire, path_model, path_stream = _route(method, path)
        if wire is None:
            await self._send_json(writer, 404, {"error": {"message": f"fake provider: no route {method} {path}"}})
            return True
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        record = RecordedRequest(wire.name, method, path, query, headers, body)
        with self._lock:
            self._records.append(record)
        try:
            keep = await self._watched(reader, record, self._respond(writer, wire, record, path_model, path_stream))
        finally:
            record.done.set()
        return keep and headers.get("connection", "").lower() != "close"

    async def _watched(self, reader: asyncio.StreamReader, record: RecordedRequest, respond) -> bool:
        """Run `respond`, abandoning it as soon as the client closes the connection."""
        task = asyncio.current_task()
        responding = True

        def client_left(read: asyncio.Future) -> None:
            if responding and not read.cancelled() and (read.exception() is not None or not read.result()):
                record.disconnected = True
                task.cancel()

        watcher = asyncio.ensure_future(reader.read(1))
        watcher.add_done_callback(client_left)
        try:
            return await respond
        except asyncio.CancelledError:
            if not record.disconnected:
                raise
            task.uncancel()
            return False
        except ConnectionError:
            record.disconnected = True
            return False
        finally:
            responding = False
            watcher.cancel()
            # Let the cancelled read finish, or the next request's read finds it still waiting.
            await asyncio.wait([watcher])

    async def _respond(self, writer, wire, record: RecordedRequest, path_model, path_stream) -> bool:
        """Answer one routed request as its markers say; True to keep the connection."""
        body = record.body
        if not isinstance(body, dict):
            return await self._send_error(writer, wire, record, 400, "fake provider: the body is not a JSON object")
        record.model = path_model or body.get("model")
        record.stream = bool(body.get("stream")) if path_stream is None else path_stream
        record.last_user_text = wire.last_user_text(body)
        if not wire.has_key(record.headers, record.query):
            return await self._send_error(writer, wire, record, 403 if wire is GEMINI else 401, "No API key was sent.")
        try:
            plan = Plan.parse(record.last_user_text, delay=self.first_token_delay, tokens=self.tokens,
                              token_delay=self.token_delay)
        except ValueError as exc:
            return await self._send_error(writer, wire, record, 400, str(exc))
        if plan.fail is not None and self._should_fail(record, plan.fail_times):
            return await self._send_error(writer, wire, record, plan.fail, MESSAGES.get(plan.fail, "Error."))
        if plan.stall:
            await _forever()
        tokens = plan.reply_tokens(wire.name)
        limit = wire.max_tokens(body)
        reply = Reply(
            model=record.model or "", tokens=tokens[:limit] if limit else tokens,
            truncated=bool(limit) and len(tokens) > limit, input_tokens=wire.input_tokens(body),
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        )
        if record.stream:
            return await self._stream(writer, wire, record, reply, plan)
        return await self._reply_json(writer, wire, record, reply, plan)

    def _should_fail(self, record: RecordedRequest, times: int | None) -> bool:
        """Whether a fail marker applies to this request, counting the failures per provider and text."""
        if times is None:
            return True
        key = (record.provider, record.last_user_text)
        with self._lock:
            failed = self._failures.get(key, 0)
            self._failures[key] = failed + 1
        return failed < times

    async def _send_json(self, writer, status: int, payload: dict, extra=()) -> None:
        """Send a complete JSON response."""
        data = json.dumps(payload).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(data))), *extra]
        writer.write(_head(status, headers) + data)
        await writer.drain()

    async def _send_error(self, writer, wire, record: RecordedRequest, status: int, message: str) -> bool:
        """Send the provider's error body for `status` and record it."""
        record.status, payload = wire.error(status, message)
        await self._send_json(writer, record.status, payload, wire.headers(None))
        return True

    async def _reply_json(self, writer, wire, record: RecordedRequest, reply: Reply, plan: Plan) -> bool:
        """Answer a non-streamed request, after the time the stream would have taken."""
        if plan.cut is not None:
            record.cut = True
            return False
        if plan.stall_after is not None:
            await _forever()
        if plan.midstream_error is not None:
            return await self._send_error(writer, wire, record, wire.overloaded, MESSAGES[wire.overloaded])
        await asyncio.sleep(plan.delay + plan.token_delay * max(len(reply.tokens) - 1, 0))
        record.status = 200
        await self._send_json(writer, 200, wire.json_reply(reply), wire.headers(reply))
        record.tokens_sent = len(reply.tokens)
        return True

    async def _stream(self, writer, wire, record: RecordedRequest, reply: Reply, plan: Plan) -> bool:
        """Stream the reply as SSE in chunked encoding, honouring stall, cut and in-stream error markers."""
        record.status = 200
        headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache"),
                   ("transfer-encoding", "chunked"), *wire.headers(reply)]
        writer.write(_head(200, headers) + _chunk(wire.stream_open(reply)))
        await writer.drain()
        if plan.delay:
            await asyncio.sleep(plan.delay)
        count = len(reply.tokens)
        for index in range(count + 1):
            if index == _at_most(plan.stall_after, count):
                await _forever()
            if index == _at_most(plan.cut, count):
                record.cut = True
                return False
            if index == _at_most(plan.midstream_error, count):
                writer.write(_chunk(wire.stream_error(reply)) + END_OF_BODY)
                await writer.drain()
                return True
            if index == count:
                break
            if index and plan.token_delay:
                await asyncio.sleep(plan.token_delay)
            writer.write(_chunk(wire.stream_token(reply, reply.tokens[index])))
            await writer.drain()
            record.tokens_sent += 1
        writer.write(_chunk(wire.stream_close(reply)) + END_OF_BODY)
        await writer.drain()
        return True


def _at_most(value: int | None, limit: int) -> int | None:
    """A marker's token position, clamped to the reply's length."""
    return None if value is None else min(value, limit)


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on 127.0.0.1 until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_provider", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds before the first token")
    parser.add_argument("--tokens", type=int, default=8, help="tokens in a default reply")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between tokens")
    args = parser.parse_args(argv)
    fake = FakeProvider(port=args.port, first_token_delay=args.first_token_delay, tokens=args.tokens,
                        token_delay=args.token_delay)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, fake.shutdown)
        await fake.serve(lambda: print(f"listening on {fake.base_url}", flush=True))

    asyncio.run(run())


if __name__ == "__main__":
    main()
