"""The runner's database writes: short Core statements on the engine, no Flask, no ORM session.

Every write of a runner lands only while the reply is still its own attempt, so a late
runner never overwrites a retried or swept reply.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import Engine, and_, bindparam, func, select, update

from ..models import INTERRUPTED, PENDING, Message, ReplyState, utcnow
from . import usage_store

messages = Message.__table__


@dataclass(frozen=True)
class MessageView(ReplyState):
    """A stored message as plain data, safe to use after the session has closed."""

    id: int
    thread_id: int
    role: str
    content: str
    status: str
    provider: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost_micros: int | None
    stop_reason: str | None
    error: str | None
    attempt: int
    created_at: datetime


VIEW_COLUMNS = [messages.c[name] for name in MessageView.__dataclass_fields__]


def view_of(row) -> MessageView:
    """A MessageView from a row or an ORM Message."""
    return MessageView(**{name: getattr(row, name) for name in MessageView.__dataclass_fields__})


def load(engine: Engine, message_id: int) -> MessageView | None:
    """The stored message, read in its own short connection."""
    with engine.connect() as conn:
        row = conn.execute(select(*VIEW_COLUMNS).where(messages.c.id == message_id)).first()
    return view_of(row) if row is not None else None


def _own_attempt(message_id_param="m_id", attempt_param="m_attempt"):
    return and_(messages.c.id == bindparam(message_id_param), messages.c.status == PENDING,
                messages.c.attempt == bindparam(attempt_param))


# Writes of several rows go in message id order: two transactions of one process (the ticker's and
# the writer's) then lock shared rows in the same order and cannot deadlock on PostgreSQL.

def save_partials(engine: Engine, partials: Iterable[tuple[int, int, str]]) -> None:
    """Keep the text so far of several replies, and their heartbeat, in one transaction."""
    rows = [{"m_id": i, "m_attempt": a, "text": t, "now": utcnow()} for i, a, t in sorted(partials)]
    if rows:
        with engine.begin() as conn:
            conn.execute(update(messages).where(_own_attempt())
                         .values(content=bindparam("text"), heartbeat_at=bindparam("now")), rows)


def beat(engine: Engine, replies: Iterable[tuple[int, int]]) -> None:
    """Bump the heartbeat of the replies this process is running."""
    rows = [{"m_id": i, "m_attempt": a, "now": utcnow()} for i, a in sorted(replies)]
    if rows:
        with engine.begin() as conn:
            conn.execute(update(messages).where(_own_attempt()).values(heartbeat_at=bindparam("now")), rows)


def stop_requested(engine: Engine, ids: list[int]) -> set[int]:
    """Which of these replies someone asked to stop (from any process)."""
    if not ids:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(
            select(messages.c.id).where(messages.c.id.in_(ids), messages.c.stop_requested.is_(True))
        ).scalars())


@dataclass(frozen=True)
class Ending:
    """The row to write for a reply that ended, as its runner builds it; a None model keeps the stored one."""

    message_id: int
    attempt: int
    content: str
    status: str
    model: str | None = None
    stop_reason: str | None = None
    error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_micros: int | None = None
    spender: usage_store.Spender | None = None  # whose usage totals the reply counts in; None: no usage


ENDING_VALUES = [f.name for f in fields(Ending) if f.name not in ("message_id", "attempt", "spender")]
_STORE_ENDING = update(messages).where(_own_attempt()).values({
    **{name: bindparam(f"e_{name}") for name in ENDING_VALUES},
    "model": func.coalesce(bindparam("e_model"), messages.c.model),
    "heartbeat_at": bindparam("now"),
})


def store_endings(engine: Engine, endings: Sequence[Ending]) -> bool:
    """Store how several replies ended, in one transaction.

    True when every one was still its runner's attempt; a late runner changes nothing.
    """
    now = utcnow()
    rows = [{"m_id": e.message_id, "m_attempt": e.attempt, "now": now,
             **{f"e_{name}": getattr(e, name) for name in ENDING_VALUES}}
            for e in sorted(endings, key=lambda e: e.message_id)]
    with engine.begin() as conn:
        result = conn.execute(_STORE_ENDING, rows)
        stored = endings
        if result.rowcount != len(rows):  # a late runner's: count only the rows this transaction wrote
            written = set(conn.execute(select(messages.c.id).where(
                messages.c.id.in_([e.message_id for e in endings]), messages.c.heartbeat_at == now)).scalars())
            stored = [e for e in endings if e.message_id in written]
        usage_store.add(conn, [(e.spender, e) for e in stored if e.spender is not None], now)
    return result.rowcount == len(rows)


def stored_view(reply: MessageView, ending: Ending) -> MessageView:
    """The pending `reply` as it reads once `store_endings` has stored this ending."""
    values = {name: getattr(ending, name) for name in ENDING_VALUES}
    values["model"] = reply.model if ending.model is None else ending.model
    return replace(reply, **values)


def sweep_stale(engine: Engine, stale_seconds: float, exclude: Iterable[int] = ()) -> int:
    """Mark pending replies whose runner stopped beating as interrupted; they can be retried."""
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    query = update(messages).where(messages.c.status == PENDING, messages.c.heartbeat_at < cutoff)
    excluded = list(exclude)
    if excluded:
        query = query.where(messages.c.id.not_in(excluded))
    with engine.begin() as conn:
        result = conn.execute(query.values(
            status=INTERRUPTED,
            error="The server stopped while writing this reply. Retry to get an answer.",
        ))
    return result.rowcount
