"""Watching a reply: its thoughts and text after offsets as they come, then Ended once it is stored.

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
from .live import REPLIES, Delta, Ended, Heartbeat, LiveReply, Thinking
from .relay import RedisRelay

Event = Delta | Thinking | Heartbeat | Ended


def follow(engine: Engine, message_id: int, after: int, heartbeat_seconds: float, poll_seconds: float = 1.0,
           live: LiveReply | None = None, relay: RedisRelay | None = None,
           thinking_after: int = 0) -> Iterator[Event]:
    """Thoughts after `thinking_after` and text after `after` of a reply, as they come, then Ended once stored.

    Thoughts come first: at the start, all those after `thinking_after` in one Thinking.
    """
    live = live or REPLIES.get(message_id)
    if live is not None:
        yield from _follow_live(live, after, thinking_after, heartbeat_seconds)
    elif relay is not None:
        yield from _follow_relay(engine, relay, message_id, after, thinking_after, heartbeat_seconds)
    else:
        yield from _follow_stored(engine, message_id, after, thinking_after, heartbeat_seconds, poll_seconds)


def with_stored_view(engine: Engine, message_id: int, events: Iterator[Event]) -> Iterator[Event]:
    """The events, with the stored message on Ended (read back only when the writer could not give it)."""
    for event in events:
        if isinstance(event, Ended) and event.view is None:
            view = replies_store.load(engine, message_id)
            if view is None:  # deleted meanwhile: nothing left to show
                return
            event = replace(event, view=view)
        yield event


def _follow_live(live: LiveReply, after: int, thinking_after: int, heartbeat_seconds: float) -> Iterator[Event]:
    text, length, thoughts, watcher = live.watch()
    try:
        if len(thoughts) > thinking_after:
            yield Thinking(thoughts[thinking_after:], len(thoughts))
        if length > after:
            yield Delta(text[after:], length)
        following = None  # an event already taken from the queue, not yet passed on
        while True:
            if following is not None:
                event, following = following, None
            else:
                try:
                    event = watcher.get(timeout=heartbeat_seconds)
                except queue.Empty:
                    yield Heartbeat()
                    continue
            if isinstance(event, Ended):
                yield event
                return
            event, following = _with_queued(event, watcher)
            yield event
    finally:
        live.unwatch(watcher)


def _with_queued(first: Delta | Thinking, watcher: queue.SimpleQueue) -> tuple[Delta | Thinking, Event | None]:
    """`first` joined with the events of its kind already queued behind it, and the next other event if queued.

    A stream that fell behind (a slow client, a busy worker) catches up in one event, not one per token.
    """
    kind, texts, offset = type(first), [first.text], first.offset
    while True:
        try:
            event = watcher.get_nowait()
        except queue.Empty:
            return kind("".join(texts), offset), None
        if type(event) is not kind:
            return kind("".join(texts), offset), event
        texts.append(event.text)
        offset = event.offset


def _follow_relay(engine: Engine, relay: RedisRelay, message_id: int, after: int, thinking_after: int,
                  heartbeat_seconds: float) -> Iterator[Event]:
    stored = replies_store.load(engine, message_id)
    if stored is None:
        return

    def still_pending() -> bool:
        latest = replies_store.load(engine, message_id)
        return latest is not None and latest.pending and latest.attempt == stored.attempt

    for item in relay.follow(message_id, stored.attempt, after, heartbeat_seconds, still_pending, thinking_after):
        if isinstance(item, Ended):  # the stored message is the truth
            stored = replies_store.load(engine, message_id)
            yield Ended(stored.status, view=stored)
            return
        yield item


def _follow_stored(engine: Engine, message_id: int, after: int, thinking_after: int, heartbeat_seconds: float,
                   poll_seconds: float) -> Iterator[Event]:
    offset, thinking_offset, silent_since = after, thinking_after, time.monotonic()
    while True:
        view = replies_store.load(engine, message_id)
        if view is None:
            return
        thoughts = view.thinking or ""
        if len(thoughts) > thinking_offset:
            yield Thinking(thoughts[thinking_offset:], len(thoughts))
            thinking_offset, silent_since = len(thoughts), time.monotonic()
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
