"""The fake's HTTP server: keep-alive connections on one asyncio loop, every request recorded."""
from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from tests.fake_provider import http1
from tests.fake_provider.anthropic import AnthropicWire
from tests.fake_provider.deepseek import DeepSeekWire
from tests.fake_provider.google import GoogleWire
from tests.fake_provider.markers import Plan, thought_tokens
from tests.fake_provider.models import FakeModel, ModelSets
from tests.fake_provider.wire import MESSAGES, Reply, Route, Wire

HOST = "127.0.0.1"
# Every dialect the fake speaks: a new provider is one more wire module, listed here.
WIRES: tuple[Wire, ...] = (AnthropicWire(), DeepSeekWire(), GoogleWire())


def route(method: str, path: str, headers: dict[str, str]) -> tuple[Wire, Route] | tuple[None, None]:
    """The wire that answers a request, and what its path says; (None, None) when none does."""
    for wire in WIRES:
        if (found := wire.route(method, path, headers)) is not None:
            return wire, found
    return None, None


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
    thoughts_sent: int = 0
    thinking: Any = None  # the request's thinking parameter, as sent (see Wire.thinking_param)
    disconnected: bool = False
    cut: bool = False
    done: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def wait_done(self, timeout: float = 5.0) -> bool:
        """Wait until the server has finished with this request: answered, cut, or the client left."""
        return self.done.wait(timeout)


@dataclass(frozen=True)
class ListingFault:
    """How a provider's model listing misbehaves: slow, failing with a status, or answering garbage."""

    delay: float = 0.0
    status: int | None = None
    garbage: bool = False


class FakeProvider:
    """The fake server: in a background thread (`start`/`stop`) or in asyncio (`serve`)."""

    def __init__(self, *, port: int = 0, first_token_delay: float = 0.0, tokens: int = 8,
                 token_delay: float = 0.0, thinking_tokens: int = 0, history: int = 10_000) -> None:
        self.port = port
        self._defaults = (first_token_delay, tokens, token_delay, thinking_tokens)
        self.first_token_delay, self.tokens, self.token_delay, self.thinking_tokens = self._defaults
        self._records: deque[RecordedRequest] = deque(maxlen=history)
        self._listings: deque[RecordedRequest] = deque(maxlen=history)
        self._models = ModelSets()
        self._listing_faults: dict[str, ListingFault] = {}
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
    def listings(self) -> list[RecordedRequest]:
        """Every recorded model-listing request (one per page), oldest first; `requests` has the rest."""
        with self._lock:
            return list(self._listings)

    def models(self, provider: str, models=None) -> tuple[FakeModel, ...]:
        """The provider's models; with `models` (ids or FakeModels), set them first."""
        if models is not None:
            self._models.set(provider, models)
        return self._models.listed(provider)

    def retire(self, provider: str, model_id: str) -> None:
        """Retire a model: chat requests for it get the provider's unknown-model error from now on."""
        self._models.retire(provider, model_id)

    def listing_fault(self, provider: str, *, delay: float = 0.0, status: int | None = None,
                      garbage: bool = False) -> None:
        """Make the provider's model listing slow, fail with `status`, or answer garbage, until reset."""
        self._listing_faults[provider] = ListingFault(delay, status, garbage)

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
            self._listings.clear()
            self._failures.clear()
            self._accepted = 0
        self._models.reset()
        self._listing_faults.clear()
        self.first_token_delay, self.tokens, self.token_delay, self.thinking_tokens = self._defaults

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
        request = await http1.read_request(reader)
        if request is None:
            return False
        method, target, headers, raw = request
        path, _, query = target.partition("?")
        wire, path_route = route(method, path, headers)
        if wire is None:
            await http1.send_json(writer, 404, {"error": {"message": f"fake provider: no route {method} {path}"}})
            return True
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        record = RecordedRequest(wire.name, method, path, query, headers, body)
        with self._lock:
            (self._listings if path_route.listing else self._records).append(record)
        respond = self._list(writer, wire, record) if path_route.listing else self._respond(
            writer, wire, record, path_route)
        try:
            keep = await self._watched(reader, record, respond)
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

    async def _list(self, writer, wire: Wire, record: RecordedRequest) -> bool:
        """Answer one page of the model listing, or misbehave as the provider's listing fault says."""
        if not wire.has_key(record.headers, record.query):
            return await http1.send_error(writer, wire, record, wire.no_key_status, "No API key was sent.")
        fault = self._listing_faults.get(wire.name, ListingFault())
        await asyncio.sleep(fault.delay)
        if fault.status is not None:
            return await http1.send_error(writer, wire, record, fault.status, MESSAGES.get(fault.status, "Error."))
        record.status = 200
        if fault.garbage:
            await http1.send_json(writer, 200, {"models": "garbage", "data": 42, "has_more": "perhaps"})
            return True
        page = wire.list_page(self._models.listed(wire.name), dict(parse_qsl(record.query)))
        await http1.send_json(writer, 200, page)
        return True

    async def _respond(self, writer, wire: Wire, record: RecordedRequest, path_route: Route) -> bool:
        """Answer one routed request as its markers say; True to keep the connection."""
        body = record.body
        if not isinstance(body, dict):
            return await http1.send_error(writer, wire, record, 400, "fake provider: the body is not a JSON object")
        record.model = path_route.model or body.get("model")
        record.stream = bool(body.get("stream")) if path_route.stream is None else path_route.stream
        record.last_user_text = wire.last_user_text(body)
        record.thinking = wire.thinking_param(body)
        if not wire.has_key(record.headers, record.query):
            return await http1.send_error(writer, wire, record, wire.no_key_status, "No API key was sent.")
        if not self._models.answers(wire.name, record.model):
            record.status, payload = wire.unknown_model(record.model)
            await http1.send_json(writer, record.status, payload, wire.headers(None))
            return True
        try:
            plan = Plan.parse(record.last_user_text, delay=self.first_token_delay, tokens=self.tokens,
                              token_delay=self.token_delay, think=self.thinking_tokens)
        except ValueError as exc:
            return await http1.send_error(writer, wire, record, 400, str(exc))
        if (refused := wire.thinking_error(body, record.model or "")) is not None:
            return await http1.send_error(writer, wire, record, 400, refused)
        if plan.fail is not None and self._should_fail(record, plan.fail_times):
            return await http1.send_error(writer, wire, record, plan.fail, MESSAGES.get(plan.fail, "Error."))
        if plan.stall:
            await http1.forever()
        tokens = plan.reply_tokens(wire.name)
        limit = wire.max_tokens(body) or None
        input_tokens = wire.input_tokens(body)
        thought = thought_tokens(plan.think) if wire.thinks(body, record.model or "") else []
        if limit is not None:  # thoughts count toward the limit, as with the real APIs
            thought = thought[:limit]
            limit -= len(thought)
        reply = Reply(
            model=record.model or "", tokens=tokens[:limit] if limit is not None else tokens,
            truncated=limit is not None and len(tokens) > limit, input_tokens=input_tokens,
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            thoughts=thought if wire.shows_thoughts(body) else [], thought_tokens=len(thought),
            cached_tokens=min(plan.cached, input_tokens),
            cache_write_tokens=min(plan.cache_write, input_tokens - min(plan.cached, input_tokens)),
        )
        send = http1.send_stream if record.stream else http1.send_reply
        return await send(writer, wire, record, reply, plan)

    def _should_fail(self, record: RecordedRequest, times: int | None) -> bool:
        """Whether a fail marker applies to this request, counting the failures per provider and text."""
        if times is None:
            return True
        key = (record.provider, record.last_user_text)
        with self._lock:
            failed = self._failures.get(key, 0)
            self._failures[key] = failed + 1
        return failed < times
