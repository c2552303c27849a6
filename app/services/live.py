"""Replies running in this process: their text so far, who watches them, and how to stop them.

Each delta only appends to a list and wakes the watchers' queues: no database write,
template render or log line per delta.
"""
from __future__ import annotations

import queue
import threading
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

    def watch(self) -> tuple[str, int, queue.SimpleQueue]:
        """The text so far, its length, and a queue of what comes after it."""
        watcher: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            if self.ended is not None:
                watcher.put(self.ended)
            else:
                self._watchers.append(watcher)
            return self.text(), self.length, watcher

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
