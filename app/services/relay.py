"""Replies across processes through Redis: each delta is appended to the reply's text and published.

Optional (REDIS_URL). Without it, a watcher in another process polls the partial text the
runner saves about once a second.
"""
from __future__ import annotations

import json
import logging
from typing import Callable, Iterator

import redis

from .live import Delta, Ended, Heartbeat, Thinking

log = logging.getLogger(__name__)

TEXT_TTL_SECONDS = 3600


class RedisRelay:
    """Publishes a running reply's deltas and follows replies running elsewhere."""

    def __init__(self, url: str):
        self.redis = redis.Redis.from_url(url)

    @staticmethod
    def _keys(message_id: int, attempt: int) -> tuple[str, str]:
        base = f"chat:reply:{message_id}:{attempt}"
        return base + ":text", base + ":events"

    @staticmethod
    def _thinking_key(message_id: int, attempt: int) -> str:
        return f"chat:reply:{message_id}:{attempt}:thinking"

    def begin(self, message_id: int, attempt: int) -> None:
        """Start the reply's text and thoughts afresh (ids can repeat after a database is reset)."""
        self._send(self.redis.delete, self._keys(message_id, attempt)[0], self._thinking_key(message_id, attempt))

    def delta(self, message_id: int, attempt: int, text: str, offset: int) -> None:
        """Append a delta and tell the watchers; one round trip."""
        text_key, channel = self._keys(message_id, attempt)
        pipe = self.redis.pipeline(transaction=False)
        pipe.append(text_key, text)
        pipe.expire(text_key, TEXT_TTL_SECONDS)
        pipe.publish(channel, json.dumps({"o": offset, "t": text}))
        self._send(pipe.execute)

    def thinking(self, message_id: int, attempt: int, text: str, offset: int) -> None:
        """Append a piece of the thoughts and tell the watchers; one round trip."""
        thinking_key, (_, channel) = self._thinking_key(message_id, attempt), self._keys(message_id, attempt)
        pipe = self.redis.pipeline(transaction=False)
        pipe.append(thinking_key, text)
        pipe.expire(thinking_key, TEXT_TTL_SECONDS)
        pipe.publish(channel, json.dumps({"o": offset, "t": text, "k": "thinking"}))
        self._send(pipe.execute)

    def announce(self, message_id: int, attempt: int, status: str) -> None:
        """Tell the watchers the reply is stored."""
        _, channel = self._keys(message_id, attempt)
        self._send(self.redis.publish, channel, json.dumps({"end": status}))

    @staticmethod
    def _send(call, *args) -> None:
        # Redis only speeds up watchers elsewhere; an outage must not fail the reply itself.
        try:
            call(*args)
        except redis.RedisError as exc:
            log.warning("Could not publish to Redis: %s", exc)

    def follow(self, message_id: int, attempt: int, after: int, heartbeat_seconds: float,
               still_pending: Callable[[], bool],
               thinking_after: int = 0) -> Iterator[Delta | Thinking | Heartbeat | Ended]:
        """Thoughts after `thinking_after` and text after offset `after` as they arrive, then Ended;
        `still_pending` checks the database while nothing arrives, so a runner that died is not waited on
        forever."""
        text_key, channel = self._keys(message_id, attempt)
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(channel)
        try:
            # Subscribed first, so whatever is appended after these reads also arrives as a message.
            thoughts = (self.redis.get(self._thinking_key(message_id, attempt)) or b"").decode()
            thinking_offset = max(thinking_after, len(thoughts))
            if len(thoughts) > thinking_after:
                yield Thinking(thoughts[thinking_after:], len(thoughts))
            known = (self.redis.get(text_key) or b"").decode()
            offset = after
            if len(known) > offset:
                yield Delta(known[offset:], len(known))
                offset = len(known)
            if not still_pending():
                yield Ended("")
                return
            while True:
                message = pubsub.get_message(timeout=heartbeat_seconds)
                if message is None:
                    if not still_pending():
                        yield Ended("")
                        return
                    yield Heartbeat()
                    continue
                event = json.loads(message["data"])
                if "end" in event:
                    yield Ended(event["end"])
                    return
                end, text = event["o"], event["t"]
                if "k" in event:
                    if end > thinking_offset:
                        yield Thinking(text[len(text) - (end - thinking_offset):], end)
                        thinking_offset = end
                elif end > offset:
                    yield Delta(text[len(text) - (end - offset):], end)
                    offset = end
        finally:
            pubsub.close()
