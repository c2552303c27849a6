"""Watching a reply: its text after an offset as it comes, then Ended once it is stored.

A reply running in this process is followed live; one running elsewhere through the Redis relay
when configured, else by polling the partial text its runner saves about once a second.
"""
from __future__ import annotations

import queue
import time
from dataclasses import replace
from typing import Iterator

from sqlalchemy import Engine

from . import replies_store
from .live import REPLIES, Delta, Ended, Heartbeat, LiveReply
from .relay import RedisRelay

Event = Delta | Heartbeat | Ended


def follow(engine: Engine, message_id: int, after: int, heartbeat_seconds: float, poll_seconds: float = 1.0,
           live: LiveReply | None = None, relay: RedisRelay | None = None) -> Iterator[Event]:
    """Text of a reply after offset `after`, as it comes, then Ended once it is stored."""
    live = live or REPLIES.get(message_id)
    if live is not None:
        yield from _follow_live(live, after, heartbeat_seconds)
    elif relay is not None:
        yield from _follow_relay(engine, relay, message_id, after, heartbeat_seconds)
    else:
        yield from _follow_stored(engine, message_id, after, heartbeat_seconds, poll_seconds)


def with_stored_view(engine: Engine, message_id: int, events: Iterator[Event]) -> Iterator[Event]:
    """The events, with the stored message on Ended (read back only when the writer could not give it)."""
    for event in events:
        if isinstance(event, Ended) and event.view is None:
            view = replies_store.load(engine, message_id)
            if view is None:  # deleted meanwhile: nothing left to show
                return
            event = replace(event, view=view)
        yield event


def _follow_live(live: LiveReply, after: int, heartbeat_seconds: float) -> Iterator[Event]:
    text, length, watcher = live.watch()
    try:
        if length > after:
            yield Delta(text[after:], length)
        while True:
            try:
                event = watcher.get(timeout=heartbeat_seconds)
            except queue.Empty:
                yield Heartbeat()
                continue
            if isinstance(event, Delta):
                event, ended = _with_queued_deltas(event, watcher)
                yield event
                event = ended or event
            if isinstance(event, Ended):
                yield event
                return
    finally:
        live.unwatch(watcher)


def _with_queued_deltas(first: Delta, watcher: queue.SimpleQueue) -> tuple[Delta, Ended | None]:
    """`first` joined with the deltas already queued behind it, and the end if it is queued too.

    A stream that fell behind (a slow client, a busy worker) catches up in one event, not one per token.
    """
    texts, offset = [first.text], first.offset
    while True:
        try:
            event = watcher.get_nowait()
        except queue.Empty:
            return Delta("".join(texts), offset), None
        if isinstance(event, Ended):
            return Delta("".join(texts), offset), event
        texts.append(event.text)
        offset = event.offset


def _follow_relay(engine: Engine, relay: RedisRelay, message_id: int, after: int,
                  heartbeat_seconds: float) -> Iterator[Event]:
    stored = replies_store.load(engine, message_id)
    if stored is None:
        return

    def still_pending() -> bool:
        latest = replies_store.load(engine, message_id)
        return latest is not None and latest.pending and latest.attempt == stored.attempt

    for item in relay.follow(message_id, stored.attempt, after, heartbeat_seconds, still_pending):
        if isinstance(item, Ended):  # the stored message is the truth
            stored = replies_store.load(engine, message_id)
            yield Ended(stored.status, view=stored)
            return
        yield item


def _follow_stored(engine: Engine, message_id: int, after: int, heartbeat_seconds: float,
                   poll_seconds: float) -> Iterator[Event]:
    offset, silent_since = after, time.monotonic()
    while True:
        view = replies_store.load(engine, message_id)
        if view is None:
            return
        if len(view.content) > offset:
            yield Delta(view.content[offset:], len(view.content))
            offset, silent_since = len(view.content), time.monotonic()
        if not view.pending:
            yield Ended(view.status, view=view)
            return
        if time.monotonic() - silent_since >= heartbeat_seconds:
            yield Heartbeat()
            silent_since = time.monotonic()
        time.sleep(poll_seconds)
