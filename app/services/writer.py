"""The per-process writer: stores how replies ended, in batches, and tells their watchers.

One writer per process, so a rush of finishing replies costs one connection and a few transactions,
and a busy database delays an ending but never loses it.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from . import replies_store
from .live import REPLIES, Ended, LiveReply
from .relay import RedisRelay
from .replies_store import Ending, MessageView

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedEnding:
    """An Ending waiting for the writer."""

    reply: MessageView  # the pending reply as stored when it started
    live: LiveReply
    ending: Ending
    http_status: int | None  # what the API answers for it
    give_up_at: float | None = None  # set at the first failed write; past it the sweeper takes over


class Writer:
    """Stores queued endings on a thread (or greenlet) of its own, which ends when the queue is empty."""

    def __init__(self, engine: Engine, relay: RedisRelay | None, idle_seconds: float, stale_seconds: float):
        self.engine = engine
        self.relay = relay
        self.idle_seconds = idle_seconds
        self.stale_seconds = stale_seconds
        self._queue: queue.SimpleQueue[QueuedEnding] = queue.SimpleQueue()
        self._unstored: dict[LiveReply, QueuedEnding] = {}  # queued or waiting to retry, not stored yet
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Called with each reply once it is stored and announced (automatic titles); must not block.
        self.listeners: list[Callable[[MessageView], None]] = []

    def queue(self, item: QueuedEnding) -> None:
        """Store this ending soon, with whatever others are queued."""
        if item.live.ended is not None:  # a retry whose ending the shutdown has stored meanwhile
            return
        self._unstored[item.live] = item
        self._queue.put(item)
        self.ensure_running()

    def ensure_running(self) -> None:
        """Start the writer's thread unless it runs."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_while_busy, daemon=True, name="reply-writer")
                self._thread.start()

    def withdraw(self) -> dict[LiveReply, Ending]:
        """Take every ending not stored yet out of the writer's hands (for the shutdown to store)."""
        self._take_queued()
        return {live: item.ending for live, item in list(self._unstored.items())}

    def _write_while_busy(self) -> None:
        try:
            while True:
                try:
                    batch = [self._queue.get(timeout=self.idle_seconds)]
                except queue.Empty:
                    with self._lock:
                        if self._queue.empty():
                            self._thread = None
                            return
                    continue
                self._store(batch + self._take_queued())
        except Exception:  # a bug here must not leave endings queued with no writer
            log.exception("Reply writer failed; starting another")
            with self._lock:
                self._thread = None
            self.ensure_running()

    def _take_queued(self) -> list[QueuedEnding]:
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _store(self, batch: list[QueuedEnding]) -> None:
        if not batch:
            return
        try:
            stored = replies_store.store_endings(self.engine, [item.ending for item in batch])
        except (OperationalError, PoolTimeout):  # the database as a whole is busy or away: all try again
            for item in batch:
                self._store_later(item)
            return
        except Exception:
            if len(batch) > 1:  # the database refused one ending: it must not hold back the others
                for item in batch:
                    self._store([item])
            else:
                self._store_later(batch[0])
            return
        for item in batch:
            self._announce(item, stored)

    def _store_later(self, item: QueuedEnding) -> None:
        # Meanwhile the reply stays live: the ticker keeps its heartbeat and the sweeper leaves it alone.
        now = time.monotonic()
        item = item if item.give_up_at is not None else replace(item, give_up_at=now + self.stale_seconds / 2)
        if now < item.give_up_at:
            log.warning("Storing reply %s failed; trying again", item.live.message_id, exc_info=True)
            timer = threading.Timer(1.0, self.queue, args=(item,))
            timer.name = f"reply-retry-{item.live.message_id}"
            timer.daemon = True
            timer.start()
        else:
            log.exception("Could not store reply %s; the sweeper will mark it interrupted", item.live.message_id)
            self._announce(item, stored=False)

    def _announce(self, item: QueuedEnding, stored: bool) -> None:
        # Watchers get the stored message with the news, so they need not read it back.
        try:
            view = replies_store.stored_view(item.reply, item.ending) if stored else None
            if self.relay is not None:
                self.relay.announce(item.live.message_id, item.live.attempt, item.ending.status)
        except Exception:
            log.exception("Ending reply %s: its watchers will read it from the database", item.live.message_id)
            view = None
        finally:
            REPLIES.remove(item.live)
            self._unstored.pop(item.live, None)
            item.live.announce(Ended(item.ending.status, item.http_status, view))
        for listener in self.listeners if view is not None else ():
            try:
                listener(view)
            except Exception:
                log.exception("A listener failed on reply %s", item.live.message_id)
