"""The runner's database writes: short Core statements on the engine, no Flask, no ORM session.

Every write of a runner lands only while the reply is still its own attempt, so a late
runner never overwrites a retried or swept reply.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import CTE, Engine, and_, column, func, literal, select, update, values

from ..models import INTERRUPTED, PENDING, Message, ReplyState, utcnow
from . import usage_store

messages = Message.__table__


@dataclass(frozen=True)
class MessageView(ReplyState):
    """A stored message as plain data, safe to use after the session has closed."""

    id: int
    thread_id: int
    parent_id: int | None
    role: str
    content: str
    status: str
    provider: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cache_write_tokens: int | None
    cost_micros: int | None
    stop_reason: str | None
    error: str | None
    attempt: int
    created_at: datetime
    thinking: str | None
    reasoning_tokens: int | None
    thinking_ms: int | None


VIEW_COLUMNS = [messages.c[name] for name in MessageView.__dataclass_fields__]


def view_of(row) -> MessageView:
    """A MessageView from a row or an ORM Message."""
    return MessageView(**{name: getattr(row, name) for name in MessageView.__dataclass_fields__})


def load(engine: Engine, message_id: int) -> MessageView | None:
    """The stored message, read in its own short connection."""
    with engine.connect() as conn:
        row = conn.execute(select(*VIEW_COLUMNS).where(messages.c.id == message_id)).first()
    return view_of(row) if row is not None else None


def _rows(names: Sequence[str], rows: Iterable[tuple]) -> CTE:
    """Rows of values as one table `v` whose columns are typed like the messages columns of those names.

    A None is sent as a typed NULL, so PostgreSQL can type a column that is NULL in every row.
    """
    types = [messages.c[name].type for name in names]
    typed = [tuple(literal(None, kind) if value is None else value for value, kind in zip(row, types))
             for row in rows]
    return values(*(column(name, kind) for name, kind in zip(names, types)), name="v").data(typed).cte("v")


def _own_attempt(rows: CTE):
    """The messages matching `rows` by id and attempt, only while still pending: the runner's own attempt."""
    return and_(messages.c.id == rows.c.id, messages.c.attempt == rows.c.attempt, messages.c.status == PENDING)

# Several replies are written by ONE statement (UPDATE … FROM a VALUES table), so a tick or a batch of
# endings is one round trip however many replies run. Their rows go in message id order: two
# transactions of one process (the ticker's and the writer's) then lock shared rows in the same order.

def save_partials(engine: Engine, partials: Iterable[tuple[int, int, str | None, str | None]]) -> None:
    """Keep the text and thoughts so far of several replies (None: unchanged) and bump their heartbeat, in one
    statement."""
    ordered = sorted(partials, key=lambda row: row[:2])
    if ordered:
        rows = _rows(("id", "attempt", "content", "thinking"), ordered)
        with engine.begin() as conn:
            conn.execute(update(messages).where(_own_attempt(rows)).values(
                content=func.coalesce(rows.c.content, messages.c.content),
                thinking=func.coalesce(rows.c.thinking, messages.c.thinking), heartbeat_at=utcnow()))


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
    thinking: str | None = None
    reasoning_tokens: int | None = None
    thinking_ms: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    cost_micros: int | None = None
    spender: usage_store.Spender | None = None  # whose usage totals the reply counts in; None: no usage


# Each field but these names a messages column (store_endings writes them as they are).
ENDING_VALUES = [f.name for f in fields(Ending) if f.name not in ("message_id", "attempt", "spender")]


def store_endings(engine: Engine, endings: Sequence[Ending]) -> bool:
    """Store how several replies ended, in one statement.

    True when every one was still its runner's attempt; a late runner changes nothing.
    """
    ordered = sorted(endings, key=lambda e: e.message_id)
    if not ordered:
        return True
    now = utcnow()
    rows = _rows(("id", "attempt", *ENDING_VALUES),
                 [(e.message_id, e.attempt, *(getattr(e, name) for name in ENDING_VALUES)) for e in ordered])
    statement = update(messages).where(_own_attempt(rows)).values({
        **{name: rows.c[name] for name in ENDING_VALUES},
        "model": func.coalesce(rows.c.model, messages.c.model),
        "heartbeat_at": now,
    }).returning(messages.c.id)  # SQLite gives no rowcount for UPDATE … FROM behind a WITH
    with engine.begin() as conn:
        written = set(conn.execute(statement).scalars())
        # In the same transaction: the totals count exactly the endings this batch wrote.
        usage_store.add(conn, [(e.spender, e) for e in ordered if e.spender is not None and e.message_id in written],
                        now)
    return len(written) == len(ordered)


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
