"""Helpers the test modules share: reading SSE, the stored messages and rows, waiting for a reply to end."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Iterable, Iterator

from sqlalchemy import func, select, text, update

from app.extensions import db
from app.models import Message, Thread


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, str | None, str]]:
    """SSE lines as (event, id, data); comments come as ('comment', None, text)."""
    name, event_id, data = "message", None, []
    for line in lines:
        if line == "":
            if data or name != "message":
                yield name, event_id, "\n".join(data)
            name, event_id, data = "message", None, []
        elif line.startswith(":"):
            yield "comment", None, line[1:].strip()
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "id":
                event_id = value
            elif field == "data":
                data.append(value)


def read_events(response) -> list[tuple[str, str | None, str]]:
    """A test client's whole SSE body as (event, id, data) triples; comments as ('comment', None, text)."""
    return list(parse_sse(response.get_data(as_text=True).split("\n")))


def read_sse(response) -> Iterator[tuple[str, str | None, str]]:
    """A streaming httpx2 response's events, as they arrive."""
    return parse_sse(response.iter_lines())


def stored_messages(app) -> list[tuple[str, str, str]]:
    """(role, content, status) of every stored message, oldest first."""
    with app.app_context():
        return [(m.role, m.content, m.status) for m in db.session.scalars(select(Message).order_by(Message.id))]


def wait_until_done(app, timeout: float = 5) -> None:
    """Wait until no stored reply is pending, or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while any(status == "pending" for *_, status in stored_messages(app)) and time.monotonic() < deadline:
        time.sleep(0.05)


def snapshot(app) -> dict:
    """Every row of every table (but when a token was last used), to show a request changed nothing."""
    with app.app_context():
        return {table.name: db.session.execute(
                    select(*[c for c in table.columns if c.name != "last_used_at"]).order_by(*table.primary_key)
                ).all() for table in db.metadata.sorted_tables}


def sent_conversation(record) -> tuple[str | None, list[tuple[str, str]]]:
    """(system prompt, [(role, text), …]) as the request carried them, in the provider's own shape."""
    body = record.body
    if record.provider == "anthropic":
        return body.get("system"), [(m["role"], m["content"]) for m in body["messages"]]
    if record.provider == "google":
        system = body.get("systemInstruction")
        turns = [(c["role"], "".join(p["text"] for p in c["parts"])) for c in body["contents"]]
        return (system["parts"][0]["text"] if system else None), turns
    if record.provider == "deepseek":
        messages = [(m["role"], m["content"]) for m in body["messages"]]
        if messages and messages[0][0] == "system":
            return messages[0][1], messages[1:]
        return None, messages
    raise AssertionError(f"teach sent_conversation how {record.provider} carries a conversation")


def link_as_chain(session, thread_ids) -> None:
    """Make the messages of threads seeded row by row a chain (each one's parent the one before), as migration 0005 does."""
    messages, threads = Message.__table__, Thread.__table__
    earlier = messages.alias("earlier")
    session.execute(update(messages).where(messages.c.thread_id.in_(thread_ids)).values(parent_id=(
        select(func.max(earlier.c.id)).where(earlier.c.thread_id == messages.c.thread_id,
                                             earlier.c.id < messages.c.id).scalar_subquery())))
    session.execute(update(threads).where(threads.c.id.in_(thread_ids)).values(head_id=(
        select(func.max(messages.c.id)).where(messages.c.thread_id == threads.c.id).scalar_subquery())))


def seed_at_first_revision() -> None:
    """Rows as a database at the first revision holds them: a user, a project, two threads, a message."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    statements = [
        ("INSERT INTO users (id, email, password_hash, created_at) VALUES (1, 'old@example.com', 'x', :now)", {}),
        ("INSERT INTO projects (id, user_id, name, instructions, created_at, updated_at) "
         "VALUES (1, 1, 'Legacy', '', :now, :now)", {}),
        ("INSERT INTO threads (id, project_id, title, created_at, updated_at) VALUES (1, 1, 'Old one', :now, :now)", {}),
        ("INSERT INTO threads (id, project_id, title, created_at, updated_at) VALUES (2, 1, 'Old two', :now, :now)", {}),
        ("INSERT INTO messages (id, thread_id, role, content, created_at) VALUES (1, 1, 'user', 'hi', :now)", {}),
    ]
    for sql, params in statements:
        db.session.execute(text(sql), {"now": now, **params})
    db.session.commit()
