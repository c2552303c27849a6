"""The runner: each reply on a greenlet (or thread) of its own, from the provider's stream to the writer.

A per-process ticker, not the deltas, saves partial text, bumps the heartbeat and acts on Stop;
the sweep marks replies whose runner died as interrupted; the shutdown ends what is left.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Mapping

from sqlalchemy import Engine, create_engine

from .. import db_pool, providers
from ..models import COMPLETE, ERROR, INTERRUPTED, STOPPED
from ..providers.base import MODEL_MISSING, ProviderError, ReplyRequest, StreamEnd, TextDelta, ThinkingDelta
from . import pricing, replies_store
from .live import REPLIES, Ended, LiveReply, ReplyStopped
from .relay import RedisRelay
from .replies_store import Ending, MessageView
from .usage_store import Spender
from .writer import QueuedEnding, Writer

log = logging.getLogger(__name__)
SHUTDOWN_ERROR = "The server restarted while writing this reply. Retry to get an answer."
UNEXPECTED_ERROR = "The reply failed unexpectedly. Retry to try again."


@dataclass(frozen=True)
class ReplyJob:
    """Everything a runner needs, as plain data: no ORM object crosses into it."""

    reply: MessageView  # the pending reply as stored when it started
    provider: str
    request: ReplyRequest
    spender: Spender | None = None  # whose usage totals the reply counts in


class Runner:
    """Runs replies in this process and keeps them alive until the writer has stored them."""

    def __init__(self, engine: Engine, config: Mapping,
                 model_missing: Callable[[str], threading.Event | None] = lambda name: None):
        self.engine = engine
        self.config = config  # the app's live config; read without Flask
        self.model_missing = model_missing  # told the provider's name when it no longer offers a model
        self.tick_seconds = float(config["REPLY_TICK_SECONDS"])
        self.save_seconds = float(config["REPLY_SAVE_SECONDS"])
        self.heartbeat_seconds = float(config["REPLY_HEARTBEAT_SECONDS"])
        self.stale_seconds = float(config["REPLY_STALE_SECONDS"])
        self.relay = RedisRelay(config["REDIS_URL"]) if config.get("REDIS_URL") else None
        self.writer = Writer(engine, self.relay, self.tick_seconds, self.stale_seconds)
        self._ticker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last_sweep = float("-inf")

    def start(self, job: ReplyJob) -> LiveReply:
        """Run a reply in the background of this process."""
        live = LiveReply(job.reply.id, job.reply.attempt)
        REPLIES.add(live, reserved=True)
        self.ensure_ticker()
        threading.Thread(target=self.run, args=(job, live), daemon=True,
                         name=f"reply-{job.reply.id}").start()
        return live

    def run(self, job: ReplyJob, live: LiveReply) -> None:
        """Call the provider, pass on each delta, then queue how the reply ended for the writer."""
        end: StreamEnd | None = None
        http_status = None
        show_thoughts, thinking = job.request.thinking, False
        if self.relay is not None:
            self.relay.begin(live.message_id, live.attempt)
        try:
            with live.streaming():
                stream = providers.adapter_for(job.provider, self.config).stream(job.request)
                try:
                    for event in stream:
                        if live.stop_requested:
                            raise ReplyStopped
                        if isinstance(event, TextDelta):
                            if thinking:  # the answer begins: it thought until now
                                live.done_thinking()
                                thinking = False
                            live.add(event.text)
                            if self.relay is not None:
                                self.relay.delta(live.message_id, live.attempt, event.text, live.length)
                        elif isinstance(event, ThinkingDelta):
                            if show_thoughts:  # with the thread's setting off, thoughts are neither shown nor kept
                                thinking = True
                                live.think(event.text)
                                if self.relay is not None:
                                    self.relay.thinking(live.message_id, live.attempt, event.text,
                                                        live.thinking_length)
                        elif isinstance(event, StreamEnd):
                            end = event
                finally:
                    stream.close()
            ending = _ending(live, end, COMPLETE)
        except ReplyStopped:
            ending = _ending(live, end, STOPPED, stop_reason="user_stopped")
        except ProviderError as exc:
            ending, http_status = _ending(live, end or exc.end, ERROR, error=exc.message), exc.status
            if exc.reason == MODEL_MISSING:
                self._refresh_models(job.provider)
        except Exception:  # a bug must still end the reply, never leave it pending
            log.exception("Reply %s failed unexpectedly", live.message_id)
            ending, http_status = _ending(live, end, ERROR, error=UNEXPECTED_ERROR), 500
        ending = _priced(ending, job, pricing.table_for(self.config))
        try:
            self.writer.queue(QueuedEnding(job.reply, live, ending, http_status))
        except ReplyStopped:  # a Stop sent as the provider finished lands late; the ending stands
            self.writer.ensure_running()

    def _refresh_models(self, provider: str) -> None:
        """Have the provider's model list read again, and wait a little for it."""
        # So the page that shows this error already offers only the models that are left.
        refreshing = self.model_missing(provider)
        if refreshing is not None:
            refreshing.wait(float(self.config["MODEL_LIST_WAIT_SECONDS"]))

    # The ticker, not the deltas, saves partial text, beats and acts on Stop,
    # so a silent provider can still be stopped and a dead runner is noticed.
    def ensure_ticker(self) -> None:
        """Start this process's ticker unless it runs; it ends when no reply is left."""
        with self._lock:
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick_while_busy, daemon=True, name="reply-ticker")
                self._ticker.start()

    def _tick_while_busy(self) -> None:
        last_save = last_beat = 0.0
        while True:
            time.sleep(self.tick_seconds)
            with self._lock:
                if not REPLIES.all():
                    self._ticker = None
                    return
            now = time.monotonic()
            save, beat = now - last_save >= self.save_seconds, now - last_beat >= self.heartbeat_seconds
            try:
                self.tick(save=save, beat=beat)
            except Exception:
                log.exception("Reply ticker failed; trying again")
                continue
            last_save = now if save else last_save
            last_beat = now if beat else last_beat
            self.sweep()

    def tick(self, save: bool = True, beat: bool = True) -> None:
        """One round: act on stop requests, save partial text, bump the heartbeat."""
        live = REPLIES.all()
        for message_id in replies_store.stop_requested(self.engine, [r.message_id for r in live]):
            reply = REPLIES.get(message_id)
            if reply is not None:
                reply.interrupt()
        changed = [r for r in live if r.length != r.saved_length or r.thinking_length != r.saved_thinking_length] \
            if save else []
        # One statement for the tick: the changed replies' text and thoughts, and every reply's heartbeat when due.
        lengths = {r: (r.length, r.thinking_length) for r in changed}
        rows = {r: (None, None) for r in live} if beat else {}
        rows.update((r, (r.text(), r.thinking() or None)) for r in changed)
        replies_store.save_partials(self.engine, [(r.message_id, r.attempt, *texts) for r, texts in rows.items()])
        for reply, (length, thinking_length) in lengths.items():
            reply.saved_length, reply.saved_thinking_length = length, thinking_length

    def sweep(self) -> None:
        """Mark replies whose runner died as interrupted, at most a few times per stale period."""
        now = time.monotonic()
        if now - self._last_sweep >= self.stale_seconds / 4:
            self._last_sweep = now
            replies_store.sweep_stale(self.engine, self.stale_seconds,
                                      exclude=[r.message_id for r in REPLIES.all()])

    def shutdown(self, grace_seconds: float) -> None:
        """Let running replies finish for a while, then store the rest and end them.

        A reply the provider is done with is stored as it ended, even one the writer has not reached
        or will retry; one still streaming is stored as interrupted, with its text so far.
        """
        deadline = time.monotonic() + grace_seconds
        while REPLIES.all() and time.monotonic() < deadline:
            time.sleep(0.1)
        unstored = self.writer.withdraw()
        left = REPLIES.all()
        endings = [unstored.get(live) or _ending(live, None, INTERRUPTED, error=SHUTDOWN_ERROR) for live in left]
        if endings:
            replies_store.store_endings(self.engine, endings)
        for live, ending in zip(left, endings):
            live.interrupt()  # its own late write no longer matches the attempt, so it changes nothing
            REPLIES.remove(live)
            live.announce(Ended(ending.status))


def _ending(live: LiveReply, end: StreamEnd | None, status: str, stop_reason: str | None = None,
            error: str | None = None) -> Ending:
    """The row to store for a reply that ended with `status`, with the stream's usage if it got that far."""
    live.done_thinking()
    thoughts = {"thinking": live.thinking() or None, "thinking_ms": live.thinking_ms}
    if end is None:
        return Ending(live.message_id, live.attempt, live.text(), status, stop_reason=stop_reason, error=error,
                      **thoughts)
    return Ending(live.message_id, live.attempt, live.text(), status, model=end.model or None,
                  stop_reason=stop_reason or end.stop_reason, error=error,
                  input_tokens=end.input_tokens, output_tokens=end.output_tokens,
                  cached_input_tokens=end.cached_input_tokens, cache_write_tokens=end.cache_write_tokens,
                  reasoning_tokens=end.reasoning_tokens, **thoughts)


def _priced(ending: Ending, job: ReplyJob, prices: pricing.PriceTable) -> Ending:
    """The ending with its cost (priced by the model that answered, else the one asked for) and spender."""
    usage = pricing.Usage(ending.input_tokens, ending.output_tokens, ending.cached_input_tokens,
                          ending.cache_write_tokens, ending.reasoning_tokens)
    cost = prices.cost_micros(job.provider, (ending.model, job.reply.model), usage)
    return replace(ending, cost_micros=cost, spender=job.spender)


def own_engine(engine: Engine) -> Engine:
    """A small pool of the runner's own, so storing replies never queues behind requests for a connection.

    SQLite serialises writes itself, and a second pool would only open more files: it shares the app's.
    """
    if engine.dialect.name == "sqlite":
        return engine
    own = create_engine(engine.url, pool_size=2, max_overflow=2)
    db_pool.ping_when_idle(own)
    return own
