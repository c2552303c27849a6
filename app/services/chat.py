"""The life of a reply, without a request: start it, run it, watch it, stop or retry it."""
from __future__ import annotations

import logging
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator, Mapping

from flask import current_app
from sqlalchemy import Engine, create_engine, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from .. import db_pool, providers
from ..extensions import db
from ..models import COMPLETE, ERROR, INTERRUPTED, PENDING, RETRYABLE, STOPPED, Message, Project, Thread, utcnow
from ..providers.base import ProviderError, ReplyEnd, ReplyRequest, TextDelta
from . import history, replies_store
from .live import REPLIES, Delta, Ended, Heartbeat, LiveReply, ReplyStopped
from .relay import RedisRelay
from .replies_store import MessageView

log = logging.getLogger(__name__)
SHUTDOWN_ERROR = "The server restarted while writing this reply. Retry to get an answer."


class ReplyConflict(Exception):
    """The thread already has a reply in flight, or the message can't be retried."""

    status = 409


class RepliesBusy(Exception):
    """This process already runs as many replies as it may; the client should try again shortly."""

    status = 503


@dataclass(frozen=True)
class ReplyJob:
    """Everything a runner needs, as plain data: no ORM object crosses into it."""

    reply: MessageView  # the pending reply as stored when it started
    provider: str
    request: ReplyRequest


@dataclass(frozen=True)
class Finished:
    """A reply the provider is done with, waiting for its ending to be stored."""

    job: ReplyJob
    live: LiveReply
    ending: replies_store.Ending
    http_status: int | None
    give_up_at: float | None = None  # set at the first failed write; past it the sweeper takes over


@dataclass(frozen=True)
class Started:
    """What a post created: the user's message (None on retry) and the pending reply."""

    user_message: MessageView | None
    reply: MessageView
    live: LiveReply  # followed directly, so a reply that ends at once still streams its text


# --- starting ---------------------------------------------------------------

THREAD_BUSY = "This thread is still writing a reply. Wait for it or stop it first."
SERVER_BUSY = "The server is writing as many replies as it can right now. Try again in a few seconds."


def start_reply(thread: Thread, content: str, config: Mapping) -> Started:
    """Store the user's message and a pending reply in one short transaction, then run it."""
    with _place_for_a_reply(config):
        spec = providers.get(thread.model_provider)
        now = utcnow()
        with _one_pending_reply():
            # One INSERT for both rows, returning them (in no set order) as plain views: no ORM objects
            # to build, track and expire on the path of every post.
            rows = db.session.execute(insert(replies_store.messages).returning(*replies_store.VIEW_COLUMNS), [
                {"thread_id": thread.id, "role": "user", "content": content, "status": COMPLETE, "provider": None,
                 "model": None, "attempt": 0, "created_at": now, "heartbeat_at": None},
                {"thread_id": thread.id, "role": "assistant", "content": "", "status": PENDING,
                 "provider": spec.name, "model": spec.model(config), "attempt": 1, "created_at": now,
                 "heartbeat_at": now},
            ])
            user, reply = sorted(map(replies_store.view_of, rows), key=lambda message: message.role == "assistant")
        _touch(thread, now)
        return _launch(thread, reply, user, config)


def retry_reply(message: Message, config: Mapping) -> Started:
    """Run the latest failed, stopped or interrupted reply again, in the same message."""
    with _place_for_a_reply(config):
        thread = message.thread
        latest = db.session.scalar(select(Message.id).where(Message.thread_id == thread.id)
                                   .order_by(Message.id.desc()).limit(1))
        if message.role != "assistant" or message.id != latest or message.status not in RETRYABLE:
            raise ReplyConflict("Only the latest reply can be retried, once it has failed or stopped.")
        spec = providers.get(thread.model_provider)
        with _one_pending_reply():
            result = db.session.execute(
                update(Message).where(Message.id == message.id, Message.status.in_(RETRYABLE)).values(
                    status=PENDING, attempt=Message.attempt + 1, content="", error=None, stop_reason=None,
                    input_tokens=None, output_tokens=None, stop_requested=False, heartbeat_at=utcnow(),
                    provider=spec.name, model=spec.model(config))
            )
        if result.rowcount != 1:
            db.session.rollback()
            raise ReplyConflict("This reply is already being retried.")
        _touch(thread, utcnow())
        db.session.refresh(message)
        return _launch(thread, replies_store.view_of(message), None, config)


@contextmanager
def _place_for_a_reply(config: Mapping):
    """Hold a place among the replies this process may run, from the check until the reply runs.

    A fast "try again" beats queueing for a CPU and a database pool that are already saturated. The
    place is held across the post, since under gevent many posts pass the check before any has started.
    """
    if not REPLIES.reserve(int(config["MAX_REPLIES_IN_FLIGHT"])):
        raise RepliesBusy(SERVER_BUSY)
    try:
        yield  # the runner's start takes the place over as it registers the reply
    except BaseException:
        REPLIES.unreserve()
        raise


@contextmanager
def _one_pending_reply():
    """Turn a hit on the one-pending-reply-per-thread index into a ReplyConflict."""
    try:
        yield
    except IntegrityError:
        db.session.rollback()
        raise ReplyConflict(THREAD_BUSY) from None


def _touch(thread: Thread, now) -> None:
    """Mark activity on the thread and its project (Thread.touch, as two plain UPDATEs: no flush)."""
    db.session.execute(update(Thread.__table__).where(Thread.__table__.c.id == thread.id).values(updated_at=now))
    db.session.execute(update(Project.__table__).where(Project.__table__.c.id == thread.project_id)
                       .values(updated_at=now))


def _launch(thread: Thread, reply: MessageView, user: MessageView | None, config: Mapping) -> Started:
    # Everything the runner and the answer need is read inside the transaction, so nothing is
    # loaded again after the commit expires it. (The callers' writes already met the pending-reply index.)
    system = thread.project.instructions or None
    budget = int(config["CONTEXT_BUDGET_TOKENS"]) - history.estimate_tokens(system or "")
    turns = history.conversation(db.session, thread.id, reply.id, budget)
    job = ReplyJob(reply, providers.get(thread.model_provider).name, ReplyRequest(
        turns=turns, system=system, model=reply.model, max_output_tokens=int(config["MAX_OUTPUT_TOKENS"])))
    db.session.commit()
    return Started(user, reply, runner().start(job))


# --- stopping ---------------------------------------------------------------

def stop_reply(message: Message) -> None:
    """Ask a pending reply to stop, wherever its runner lives; ended replies stay as they are."""
    db.session.execute(update(Message).where(Message.id == message.id, Message.status == PENDING)
                       .values(stop_requested=True))
    db.session.commit()
    live = REPLIES.get(message.id)
    if live is not None:
        live.interrupt()


def wait_until_ended(engine: Engine, message_id: int, timeout: float) -> MessageView:
    """The stored message once it is no longer pending (or as it is after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        view = replies_store.load(engine, message_id)
        if view is None or not view.pending or time.monotonic() >= deadline:
            return view
        time.sleep(0.1)


# --- running ----------------------------------------------------------------

class Runner:
    """Runs replies in this process, one greenlet (or thread) each, and keeps them alive."""

    def __init__(self, engine: Engine, config: Mapping):
        self.engine = engine
        self.config = config  # the app's live config; read without Flask
        self.tick_seconds = float(config["REPLY_TICK_SECONDS"])
        self.save_seconds = float(config["REPLY_SAVE_SECONDS"])
        self.heartbeat_seconds = float(config["REPLY_HEARTBEAT_SECONDS"])
        self.stale_seconds = float(config["REPLY_STALE_SECONDS"])
        self._ticker: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._finished: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        self._unstored: dict[LiveReply, Finished] = {}  # handed to the writer, not stored yet
        self._lock = threading.Lock()
        self._last_sweep = float("-inf")
        self.relay = RedisRelay(config["REDIS_URL"]) if config.get("REDIS_URL") else None

    def start(self, job: ReplyJob) -> LiveReply:
        """Run a reply in the background of this process."""
        live = LiveReply(job.reply.id, job.reply.attempt)
        REPLIES.add(live, reserved=True)
        self.ensure_ticker()
        threading.Thread(target=self.run, args=(job, live), daemon=True,
                         name=f"reply-{job.reply.id}").start()
        return live

    def run(self, job: ReplyJob, live: LiveReply) -> None:
        """Call the provider, pass on each delta, then hand how the reply ended to the writer."""
        usage: ReplyEnd | None = None
        outcome: dict = {"status": COMPLETE}
        http_status = None
        if self.relay is not None:
            self.relay.begin(live.message_id, live.attempt)
        try:
            live.begin_streaming()
            adapter = providers.adapter_for(job.provider, self.config)
            stream = adapter.stream(job.request)
            try:
                for event in stream:
                    if live.stop_requested:
                        raise ReplyStopped
                    if isinstance(event, TextDelta):
                        live.add(event.text)
                        if self.relay is not None:
                            self.relay.delta(live.message_id, live.attempt, event.text, live.length)
                    elif isinstance(event, ReplyEnd):
                        usage = event
            finally:
                stream.close()
        except ReplyStopped:
            outcome = {"status": STOPPED, "stop_reason": "user_stopped"}
        except ProviderError as exc:
            outcome = {"status": ERROR, "error": exc.message}
            http_status = exc.status
        except Exception:  # a bug must still end the reply, never leave it pending
            log.exception("Reply %s failed unexpectedly", live.message_id)
            outcome = {"status": ERROR, "error": "The reply failed unexpectedly. Retry to try again."}
            http_status = 500
        finally:
            live.end_streaming()
        if usage is not None:
            outcome.setdefault("stop_reason", usage.stop_reason)
            outcome.update(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                           model=usage.model or None)
        ending = replies_store.Ending(live.message_id, live.attempt, live.text(), **outcome)
        try:
            self._hand_over(Finished(job, live, ending, http_status))
        except ReplyStopped:  # a Stop sent as the provider finished lands late; the ending stands
            self._ensure_writer()

    # --- storing endings: one writer per process, so a rush of finishing replies costs one
    # connection and a few transactions, and a busy database delays an ending but never loses it.

    def _hand_over(self, item: Finished) -> None:
        if item.live.ended is not None:  # a retry whose ending the shutdown has stored meanwhile
            return
        self._unstored[item.live] = item
        self._finished.put(item)
        self._ensure_writer()

    def _ensure_writer(self) -> None:
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_while_busy, daemon=True, name="reply-writer")
                self._writer.start()

    def _write_while_busy(self) -> None:
        try:
            while True:
                try:
                    batch = [self._finished.get(timeout=self.tick_seconds)]
                except queue.Empty:
                    with self._lock:
                        if self._finished.empty():
                            self._writer = None
                            return
                    continue
                self._store(batch + self._take_finished())
        except Exception:  # a bug here must not leave endings queued with no writer
            log.exception("Reply writer failed; starting another")
            with self._lock:
                self._writer = None
            self._ensure_writer()

    def _take_finished(self) -> list[Finished]:
        items = []
        while True:
            try:
                items.append(self._finished.get_nowait())
            except queue.Empty:
                return items

    def _store(self, batch: list[Finished]) -> None:
        if not batch:
            return
        try:
            stored = replies_store.finish(self.engine, [item.ending for item in batch])
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
            self._end(item, stored)

    def _store_later(self, item: Finished) -> None:
        # Meanwhile the reply stays live: the ticker keeps its heartbeat and the sweeper leaves it alone.
        now = time.monotonic()
        item = item if item.give_up_at is not None else replace(item, give_up_at=now + self.stale_seconds / 2)
        if now < item.give_up_at:
            log.warning("Storing reply %s failed; trying again", item.live.message_id, exc_info=True)
            timer = threading.Timer(1.0, self._hand_over, args=(item,))
            timer.name = f"reply-retry-{item.live.message_id}"
            timer.daemon = True
            timer.start()
        else:
            log.exception("Could not store reply %s; the sweeper will mark it interrupted", item.live.message_id)
            self._end(item, stored=False)

    def _end(self, item: Finished, stored: bool) -> None:
        # Watchers get the stored message with the news, so they need not read it back.
        try:
            view = replies_store.ended_view(item.job.reply, item.ending) if stored else None
            if self.relay is not None:
                self.relay.ended(item.live.message_id, item.live.attempt, item.ending.status)
        except Exception:
            log.exception("Ending reply %s: its watchers will read it from the database", item.live.message_id)
            view = None
        finally:
            REPLIES.remove(item.live)
            self._unstored.pop(item.live, None)
            item.live.end(item.ending.status, item.http_status, view)

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
            self.maybe_sweep()

    def tick(self, save: bool = True, beat: bool = True) -> None:
        """One round: act on stop requests, save partial text, bump the heartbeat."""
        live = REPLIES.all()
        for message_id in replies_store.stop_requested(self.engine, [r.message_id for r in live]):
            reply = REPLIES.get(message_id)
            if reply is not None:
                reply.interrupt()
        if save:
            changed = [r for r in live if r.length != r.saved_length]
            replies_store.save_partials(self.engine, [(r.message_id, r.attempt, r.text()) for r in changed])
            for reply in changed:
                reply.saved_length = reply.length
        if beat:
            replies_store.beat(self.engine, [(r.message_id, r.attempt) for r in live])

    def maybe_sweep(self) -> None:
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
        self._take_finished()  # stored below, with the rest
        left = REPLIES.all()
        endings = [self._unstored[live].ending if live in self._unstored else replies_store.Ending(
            live.message_id, live.attempt, live.text(), INTERRUPTED, error=SHUTDOWN_ERROR) for live in left]
        if endings:
            replies_store.finish(self.engine, endings)
        for live, ending in zip(left, endings):
            live.interrupt()  # its own late write no longer matches the attempt, so it changes nothing
            REPLIES.remove(live)
            live.end(ending.status)


def runner() -> Runner:
    """The current app's runner."""
    return current_app.extensions["reply_runner"]


def init_app(app) -> None:
    """Give the app its runner, bound to its own engine and the app's configuration."""
    with app.app_context():
        app.extensions["reply_runner"] = Runner(_runner_engine(db.engine), app.config)


def _runner_engine(engine: Engine) -> Engine:
    """A small pool of the runner's own, so storing replies never queues behind requests for a connection.

    SQLite serialises writes itself, and a second pool would only open more files: it shares the app's.
    """
    if engine.dialect.name == "sqlite":
        return engine
    own = create_engine(engine.url, pool_size=2, max_overflow=2)
    db_pool.ping_when_idle(own)
    return own


# --- watching ---------------------------------------------------------------

def current_text(engine: Engine, stored: MessageView) -> str:
    """The text a reply has so far: live in this process, else as last saved."""
    live = REPLIES.get(stored.id)
    if live is not None:
        return live.text()
    latest = replies_store.load(engine, stored.id)
    return latest.content if latest is not None else stored.content


def wait_for_end(engine: Engine, started: Started) -> Ended:
    """Block (cooperatively) until the reply is stored."""
    for item in follow(engine, started.reply.id, 0, heartbeat_seconds=3600, live=started.live):
        if isinstance(item, Ended):
            return item
    return Ended("error")


def follow(engine: Engine, message_id: int, after: int, heartbeat_seconds: float, poll_seconds: float = 1.0,
           live: LiveReply | None = None, relay: RedisRelay | None = None) -> Iterator[Delta | Heartbeat | Ended]:
    """Text of a reply after offset `after`, as it comes, then Ended once it is stored.

    A reply running in this process is followed live; one running elsewhere through Redis
    when configured, else by polling the partial text its runner saves about once a second.
    """
    live = live or REPLIES.get(message_id)
    if live is not None:
        yield from _follow_live(live, after, heartbeat_seconds)
    elif relay is not None:
        yield from _follow_relay(engine, relay, message_id, after, heartbeat_seconds)
    else:
        yield from _follow_stored(engine, message_id, after, heartbeat_seconds, poll_seconds)


def _follow_relay(engine: Engine, relay: RedisRelay, message_id: int, after: int, heartbeat_seconds: float):
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


def _follow_live(live: LiveReply, after: int, heartbeat_seconds: float):
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


def _follow_stored(engine: Engine, message_id: int, after: int, heartbeat_seconds: float, poll_seconds: float):
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
