"""Replies running in this process: their text (and thoughts) so far, who watches them, and how to stop them.

Each delta only appends to a list and wakes the watchers' queues: no database write,
template render or log line per delta.
"""
from __future__ import annotations

import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .replies_store import MessageView

try:  # under gunicorn the gevent worker patched threading, so runners are greenlets
    import gevent
    from gevent import monkey
except ImportError:  # pragma: no cover - gevent is a production dependency
    gevent = None
    monkey = None


class ReplyStopped(Exception):
    """Raised inside a runner to end its provider stream on purpose."""


@dataclass(frozen=True)
class Delta:
    """New text; `offset` is the reply's length after it (the SSE id)."""

    text: str
    offset: int


@dataclass(frozen=True)
class Thinking:
    """New thoughts; `offset` is the thoughts' length after them (one from offset 0 holds them all)."""

    text: str
    offset: int

    @property
    def whole(self) -> bool:
        """Whether these are all the thoughts so far, to show in place of any shown before."""
        return self.offset == len(self.text)


@dataclass(frozen=True)
class Ended:
    """The news for watchers: the reply is stored.

    `http_status` is what the API answers for it (None when not known here); `view` is the
    stored message when known here, else `chat.watch` reads it back before passing the news on.
    """

    status: str
    http_status: int | None = None
    view: MessageView | None = None


@dataclass(frozen=True)
class Heartbeat:
    """Nothing new for a while; streams send a comment so proxies keep the connection."""


class LiveReply:
    """One reply being written in this process."""

    def __init__(self, message_id: int, attempt: int):
        self.message_id = message_id
        self.attempt = attempt
        self.chunks: list[str] = []
        self.length = 0
        self.saved_length = 0
        self.thoughts: list[str] = []
        self.thinking_length = 0
        self.saved_thinking_length = 0
        self.thinking_ms: int | None = None
        self._thinking_since: float | None = None
        self.ended: Ended | None = None
        self._streaming = False
        self.stop_requested = False
        self._watchers: list[queue.SimpleQueue] = []
        self._lock = threading.Lock()
        self._greenlet = None

    def text(self) -> str:
        """The text so far."""
        return "".join(self.chunks)

    def add(self, text: str) -> None:
        """Append a delta and pass it to every watcher."""
        with self._lock:
            self.chunks.append(text)
            self.length += len(text)
            event = Delta(text, self.length)
            for watcher in self._watchers:
                watcher.put(event)

    def thinking(self) -> str:
        """The thoughts so far."""
        return "".join(self.thoughts)

    def think(self, text: str) -> None:
        """Append a piece of the thoughts and pass it to every watcher."""
        with self._lock:
            if self._thinking_since is None:
                self._thinking_since = time.monotonic()
            self.thoughts.append(text)
            self.thinking_length += len(text)
            event = Thinking(text, self.thinking_length)
            for watcher in self._watchers:
                watcher.put(event)

    def done_thinking(self) -> None:
        """Note how long it thought, from the first thought until now (the answer's start, or the end)."""
        if self._thinking_since is not None and self.thinking_ms is None:
            self.thinking_ms = round((time.monotonic() - self._thinking_since) * 1000)

    def watch(self) -> tuple[str, int, str, queue.SimpleQueue]:
        """The text so far, its length, the thoughts so far, and a queue of what comes after them."""
        watcher: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            if self.ended is not None:
                watcher.put(self.ended)
            else:
                self._watchers.append(watcher)
            return self.text(), self.length, self.thinking(), watcher

    def unwatch(self, watcher: queue.SimpleQueue) -> None:
        """Forget a watcher that went away; the reply goes on."""
        with self._lock:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

    def announce(self, ended: Ended) -> None:
        """Tell every watcher the reply is stored."""
        with self._lock:
            self.ended = ended
            for watcher in self._watchers:
                watcher.put(ended)
            self._watchers.clear()

    @contextmanager
    def streaming(self):
        """The provider phase, the only one a stop may interrupt; after it the runner stores undisturbed."""
        self._streaming = True
        if gevent is not None and monkey.is_module_patched("threading"):
            self._greenlet = gevent.getcurrent()
        try:
            yield
        finally:
            self._streaming = False
            self._greenlet = None

    def interrupt(self) -> None:
        """Stop the reply now, even while the provider is silent.

        Under gevent the runner's greenlet gets ReplyStopped at whatever read it waits in,
        which closes the provider's stream; in plain threads the runner checks the flag
        between events.
        """
        self.stop_requested = True
        if self._streaming and self._greenlet is not None and self._greenlet is not gevent.getcurrent():
            gevent.kill(self._greenlet, ReplyStopped)  # asynchronous: raised when the runner next runs


class Registry:
    """The replies this process runs, by message id."""

    def __init__(self):
        self._replies: dict[int, LiveReply] = {}
        self._starting = 0
        self._lock = threading.Lock()

    def reserve(self, limit: int) -> bool:
        """Count one more reply as starting, unless `limit` replies already run or are starting."""
        with self._lock:
            if len(self._replies) + self._starting >= limit:
                return False
            self._starting += 1
            return True

    def unreserve(self) -> None:
        """The reply a place was reserved for will not start."""
        with self._lock:
            self._starting -= 1

    def add(self, reply: LiveReply, reserved: bool = False) -> None:
        """Register a running reply; `reserved` turns its place from starting into running at once."""
        with self._lock:
            self._replies[reply.message_id] = reply
            self._starting -= reserved

    def remove(self, reply: LiveReply) -> None:
        with self._lock:
            if self._replies.get(reply.message_id) is reply:
                del self._replies[reply.message_id]

    def get(self, message_id: int) -> LiveReply | None:
        return self._replies.get(message_id)

    def all(self) -> list[LiveReply]:
        with self._lock:
            return list(self._replies.values())


REPLIES = Registry()
