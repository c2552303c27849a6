"""A reply's life behind one façade: start it, watch it, wait for it, stop or retry it.

Views and gunicorn.conf.py call only this module. Below it, one module per job:
runner.py runs a reply (provider stream, ticker, sweep, shutdown), writer.py stores how it ended,
watch.py follows it (live, through Redis or by polling), live.py holds what runs in this process,
replies_store.py the statements and relay.py the Redis side.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from .. import providers
from ..extensions import db
from ..models import COMPLETE, ERROR, PENDING, RETRYABLE, Message, Project, Thread, utcnow
from ..providers.base import ReplyRequest
from . import budgets, catalog, history, replies_store
from .live import REPLIES, Ended, LiveReply
from .replies_store import MessageView
from .runner import ReplyJob, Runner, own_engine
from .usage_store import Spender
from .watch import Event, follow, with_stored_view

WAIT_POLL_SECONDS = 0.1
threads = Thread.__table__
projects = Project.__table__


class ReplyConflict(Exception):
    """The thread already has a reply in flight, or the message can't be retried."""

    status = 409


class NotEditable(Exception):
    """Editing a reply or regenerating a user's message: the other action is meant."""

    status = 400


BudgetExceeded = budgets.BudgetExceeded  # raised by every start of a reply and by retry_reply; views catch it here


class RepliesBusy(Exception):
    """This process already runs as many replies as it may; the client should try again shortly."""

    status = 503


@dataclass(frozen=True)
class Started:
    """What a post created: the user's message (None on retry or regenerate) and the pending reply."""

    user_message: MessageView | None
    reply: MessageView
    live: LiveReply  # followed directly, so a reply that ends at once still streams its text


# --- starting ---------------------------------------------------------------

THREAD_BUSY = "This thread is still writing a reply. Wait for it or stop it first."
SERVER_BUSY = "The server is writing as many replies as it can right now. Try again in a few seconds."


def start_reply(thread: Thread, content: str, config: Mapping) -> Started:
    """Store the user's message under the thread's head and a pending reply to it, then run it."""
    head = select(threads.c.head_id).where(threads.c.id == thread.id).scalar_subquery()  # as it is now
    return _start(thread, content, head, config)


def edit_message(message: Message, content: str, config: Mapping) -> Started:
    """A new version of a user's message beside it (same parent), and a reply to it; the old branch stays."""
    if message.role != "user":
        raise NotEditable("Only your own messages can be edited; regenerate a reply instead.")
    return _start(message.thread, content, message.parent_id, config)


def regenerate_reply(message: Message, config: Mapping) -> Started:
    """A new reply beside this one, to the same message of the user."""
    if message.role != "assistant":
        raise NotEditable("Only a reply can be regenerated; edit your message instead.")
    return _start(message.thread, None, message.parent_id, config)


def answer(thread: Thread, message_id: int, config: Mapping) -> Started:
    """A reply to a user's message that has none yet (the last message of a forked thread)."""
    return _start(thread, None, message_id, config)


def _start(thread: Thread, content: str | None, parent, config: Mapping) -> Started:
    """Store a user's message under `parent` (unless None: a reply to `parent` itself) and a pending reply.

    One short transaction; the reply becomes the head, set in the UPDATE that touches the thread.
    """
    budgets.check(thread.project.user_id)  # before anything is stored or sent; raises BudgetExceeded
    with _place_for_a_reply(config):
        spec = providers.get(thread.model_provider)
        now = utcnow()
        user = None
        with _one_pending_reply():
            if content is not None:
                user = _insert({"thread_id": thread.id, "parent_id": parent, "role": "user", "content": content,
                                "status": COMPLETE, "provider": None, "model": None, "attempt": 0,
                                "created_at": now, "heartbeat_at": None})
                parent = user.id
            reply = _insert({"thread_id": thread.id, "parent_id": parent, "role": "assistant", "content": "",
                             "status": PENDING, "provider": spec.name, "model": _model(thread), "attempt": 1,
                             "created_at": now, "heartbeat_at": now})
        _touch(thread, now, head_id=reply.id)
        return _launch(thread, reply, user, config)


def _insert(row: dict) -> MessageView:
    # Core INSERT … RETURNING as a plain view: no ORM object to build, track and expire on every post.
    return replies_store.view_of(db.session.execute(
        insert(replies_store.messages).values(row).returning(*replies_store.VIEW_COLUMNS)).one())


def retry_reply(message: Message, config: Mapping) -> Started:
    """Run the failed, stopped or interrupted reply at the thread's head again, in the same message."""
    budgets.check(message.thread.project.user_id)
    with _place_for_a_reply(config):
        thread = message.thread
        if message.role != "assistant" or message.id != thread.head_id or message.status not in RETRYABLE:
            raise ReplyConflict("Only the latest reply can be retried, once it has failed or stopped.")
        spec = providers.get(thread.model_provider)
        with _one_pending_reply():
            result = db.session.execute(
                update(Message).where(Message.id == message.id, Message.status.in_(RETRYABLE)).values(
                    status=PENDING, attempt=Message.attempt + 1, content="", error=None, stop_reason=None,
                    input_tokens=None, output_tokens=None, cached_input_tokens=None, cache_write_tokens=None,
                    cost_micros=None, thinking=None, reasoning_tokens=None, thinking_ms=None,
                    stop_requested=False, heartbeat_at=utcnow(),
                    provider=spec.name, model=_model(thread))
            )
        if result.rowcount != 1:
            db.session.rollback()
            raise ReplyConflict("This reply is already being retried.")
        _touch(thread, utcnow())
        db.session.refresh(message)
        return _launch(thread, replies_store.view_of(message), None, config)


def _model(thread: Thread) -> str:
    """The model the thread's next reply asks for: its own, else its provider's default (from the cache only)."""
    return thread.model or catalog.current().default_model(thread.provider)


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


def _touch(thread: Thread, now, **changes) -> None:
    """Mark activity on the thread (with `changes`) and its project (Thread.touch, as plain UPDATEs: no flush).

    On PostgreSQL both go in one statement (the thread's UPDATE as a CTE), a round trip less per post.
    """
    touch_thread = update(threads).where(threads.c.id == thread.id).values(updated_at=now, **changes)
    touch_project = update(projects).where(projects.c.id == thread.project_id).values(updated_at=now)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(touch_project.add_cte(touch_thread.cte("touched_thread")))
    else:
        db.session.execute(touch_thread)
        db.session.execute(touch_project)


def _launch(thread: Thread, reply: MessageView, user: MessageView | None, config: Mapping) -> Started:
    # Everything the runner and the answer need is read inside the transaction, so nothing is
    # loaded again after the commit expires it. (The callers' writes already met the pending-reply index.)
    system = thread.project.instructions or None
    budget = int(config["CONTEXT_BUDGET_TOKENS"]) - history.estimate_tokens(system or "")
    turns = history.conversation(db.session, reply.parent_id, budget)
    provider = providers.get(thread.model_provider).name
    known = catalog.current().known_model(provider, reply.model)
    job = ReplyJob(reply, provider, ReplyRequest(
        turns=turns, system=system, model=reply.model, max_output_tokens=int(config["MAX_OUTPUT_TOKENS"]),
        thinking=thread.thinking, thinking_optional=known.thinking_optional if known else None),
        spender=Spender(thread.project.user_id, thread.project_id, provider, reply.model or ""))
    db.session.commit()
    return Started(user, reply, _runner().start(job))


# --- stopping ---------------------------------------------------------------

def stop_reply(message: Message) -> None:
    """Ask a pending reply to stop, wherever its runner lives; ended replies stay as they are."""
    db.session.execute(update(Message).where(Message.id == message.id, Message.status == PENDING)
                       .values(stop_requested=True))
    db.session.commit()
    live = REPLIES.get(message.id)
    if live is not None:
        live.interrupt()


# --- watching ---------------------------------------------------------------

def watch(message_id: int, after: int = 0, started: Started | None = None, thinking_after: int = 0) -> Iterator[Event]:
    """The reply's thoughts after `thinking_after` and text after offset `after` as they come (with a
    Heartbeat while silent), then Ended.

    Closes the request's session first, so no connection is held while the provider works.
    """
    heartbeat = float(current_app.config["SSE_HEARTBEAT_SECONDS"])
    return _watch(message_id, after, started, heartbeat, poll_seconds=1.0, thinking_after=thinking_after)


def wait_until_stored(message_id: int, timeout: float | None = None, started: Started | None = None) -> Ended:
    """Ended once the reply is stored; with a `timeout`, at most that late, with the message as it is then."""
    deadline = None if timeout is None else time.monotonic() + timeout
    wake = 3600.0 if deadline is None else WAIT_POLL_SECONDS  # how often the wait may look at its deadline
    engine = db.engine
    for event in _watch(message_id, 0, started, wake, min(wake, 1.0)):
        if isinstance(event, Ended):
            return event
        if deadline is not None and time.monotonic() >= deadline:
            break
    view = replies_store.load(engine, message_id)
    return Ended(view.status if view is not None else ERROR, view=view)


def text_so_far(message: Message | MessageView) -> str:
    """The text a reply has so far: live in this process, else as stored."""
    live = REPLIES.get(message.id)
    return live.text() if live is not None else message.content


def thinking_so_far(message: Message | MessageView) -> str:
    """The thoughts a reply has so far: live in this process, else as stored."""
    live = REPLIES.get(message.id)
    return live.thinking() if live is not None else message.thinking or ""


def sweep_stale_replies() -> None:
    """Mark replies whose runner died as interrupted, so they show with Retry (now and then, not each call)."""
    _runner().sweep()


def _watch(message_id: int, after: int, started: Started | None, heartbeat_seconds: float,
           poll_seconds: float, thinking_after: int = 0) -> Iterator[Event]:
    engine, relay = db.engine, _runner().relay
    db.session.close()
    events = follow(engine, message_id, after, heartbeat_seconds, poll_seconds,
                    live=started.live if started is not None else None, relay=relay, thinking_after=thinking_after)
    return with_stored_view(engine, message_id, events)


# --- the runner of this app -------------------------------------------------

def _runner() -> Runner:
    return current_app.extensions["reply_runner"]


def init_app(app) -> None:
    """Give the app its runner, bound to its own engine and the app's configuration.

    A model the provider no longer offers makes the runner refresh that provider's model list.
    """
    with app.app_context():
        app.extensions["reply_runner"] = Runner(own_engine(db.engine), app.config,
                                                model_missing=app.extensions["model_catalog"].refresh)


def shutdown(app, grace_seconds: float) -> None:
    """Let the app's running replies finish for a while, then store the rest as interrupted."""
    app.extensions["reply_runner"].shutdown(grace_seconds)
