"""The bench's own SQL on the app's database: bulk seeding, and checking what the app stored."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, MetaData, func, insert, select, text, update

from tests.fake_provider import default_tokens

from .load import MODELS, provider_of

SEED_REPLY = (
    "Here is a **short** answer with `inline code` and a list:\n\n"
    "- the first point, in a sentence of ordinary length;\n- the second point.\n\n"
    "And a closing paragraph, so each message renders a few blocks of Markdown."
)


def _tables(engine: Engine):
    """The app's tables as the migrations built them (reflected, so the app itself is not imported)."""
    metadata = MetaData()
    metadata.reflect(engine, only=["users", "projects", "threads", "messages"])
    return metadata.tables


def user_id(engine: Engine, email: str) -> int:
    """The id of the user with this email."""
    users = _tables(engine)["users"]
    with engine.connect() as conn:
        return conn.execute(select(users.c.id).where(users.c.email == email)).scalar_one()


def _project(conn, tables, owner: int, name: str) -> int:
    now = datetime.now(timezone.utc)
    return conn.execute(insert(tables["projects"]).values(
        user_id=owner, name=name, instructions="", created_at=now, updated_at=now,
    ).returning(tables["projects"].c.id)).scalar_one()


def _insert_threads(conn, tables, project_id: int, count: int, provider=provider_of) -> list[int]:
    """`count` threads in one bulk insert, thread i bound to provider(i); their ids in order."""
    threads = tables["threads"]
    now = datetime.now(timezone.utc)
    rows = [{"project_id": project_id, "title": f"Chat {i}", "model_provider": provider(i),
             "created_at": now, "updated_at": now} for i in range(count)]
    if rows:
        conn.execute(insert(threads), rows)
    return list(conn.execute(select(threads.c.id).where(threads.c.project_id == project_id)
                             .order_by(threads.c.id)).scalars())


def chat_threads(engine: Engine, owner: int, name: str, count: int) -> tuple[int, list[int]]:
    """A project holding one fresh thread per chat of a shape: (project id, thread ids)."""
    tables = _tables(engine)
    with engine.begin() as conn:
        project_id = _project(conn, tables, owner, name)
        return project_id, _insert_threads(conn, tables, project_id, count)


def page_fixtures(engine: Engine, owner: int, threads: int = 5_000, messages: int = 10_000) -> tuple[int, int]:
    """A project with `threads` threads, the first of them holding `messages` messages: (project, thread)."""
    tables = _tables(engine)
    start = datetime.now(timezone.utc) - timedelta(days=30)
    with engine.begin() as conn:
        project_id = _project(conn, tables, owner, "Bench pages")
        thread_ids = _insert_threads(conn, tables, project_id, threads)
        rows = []
        for i in range(messages):
            user = i % 2 == 0
            rows.append({
                "thread_id": thread_ids[0], "role": "user" if user else "assistant",
                "content": f"Question {i // 2}: how does this part work?" if user else SEED_REPLY,
                "created_at": start + timedelta(seconds=i), "status": "complete",
                "provider": None if user else "anthropic", "model": None if user else MODELS["anthropic"],
                "attempt": 0 if user else 1, "stop_requested": False,
            })
        conn.execute(insert(tables["messages"]), rows)
        _chain(conn, tables, thread_ids[0])
    return project_id, thread_ids[0]


def _chain(conn, tables, thread_id: int) -> None:
    """Each message's parent is the one before it, and the last is the head: a linear thread."""
    messages, threads = tables["messages"], tables["threads"]
    earlier = messages.alias("earlier")
    conn.execute(update(messages).where(messages.c.thread_id == thread_id).values(parent_id=(
        select(func.max(earlier.c.id)).where(earlier.c.thread_id == thread_id, earlier.c.id < messages.c.id)
        .scalar_subquery())))
    conn.execute(update(threads).where(threads.c.id == thread_id).values(head_id=(
        select(func.max(messages.c.id)).where(messages.c.thread_id == thread_id).scalar_subquery())))


def tree_shape(messages: int, branches: int) -> list[int | None]:
    """The parent (an index into the list, or None for a first message) of each of `messages` messages.

    `branches` chains of alternating user and assistant messages; each chain after the first starts
    with another version of a user message, under a reply of an earlier chain (every hundredth one at
    the thread's start). Messages at even indexes are the user's.
    """
    length = messages // branches
    parents: list[int | None] = []
    for branch in range(branches):
        start = branch * length
        if branch == 0 or branch % 100 == 0:
            parents.append(None)
        else:
            earlier = (branch * 7919) % branch
            parents.append(earlier * length + 2 * ((branch * 31) % (length // 2)) + 1)
        parents.extend(range(start, start + length - 1))
    return parents


def branched_thread(engine: Engine, project_id: int, messages: int = 10_000, branches: int = 1_000) -> int:
    """A thread of `messages` messages over `branches` branches, its head the newest: its id."""
    tables = _tables(engine)
    messages_table, threads = tables["messages"], tables["threads"]
    start = datetime.now(timezone.utc) - timedelta(days=30)
    with engine.begin() as conn:
        (thread_id,) = _insert_threads(conn, tables, project_id, 1, provider=lambda i: "google")[-1:]
        first = (conn.execute(select(func.max(messages_table.c.id))).scalar() or 0) + 1
        rows = [{
            "id": first + i, "thread_id": thread_id, "parent_id": None if parent is None else first + parent,
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"Question {i // 2}: what if?" if i % 2 == 0 else SEED_REPLY,
            "created_at": start + timedelta(seconds=i), "status": "complete",
            "provider": None if i % 2 == 0 else "google", "model": None if i % 2 == 0 else MODELS["google"],
            "attempt": 0 if i % 2 == 0 else 1, "stop_requested": False,
        } for i, parent in enumerate(tree_shape(messages, branches))]
        conn.execute(insert(messages_table), rows)
        conn.execute(update(threads).where(threads.c.id == thread_id).values(head_id=first + messages - 1))
        if conn.dialect.name == "postgresql":  # the ids were given: the sequence must pass them
            conn.execute(text("SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))"))
    return thread_id


def expected_reply(provider: str, tokens: int) -> str:
    """The text the fake streams for a default reply."""
    return "".join(default_tokens(provider, tokens))


def stored_replies(engine: Engine, project_id: int, tokens: int, wait_seconds: float = 120.0) -> dict[str, int]:
    """How the project's replies are stored, once none is pending (or after `wait_seconds`).

    `complete` counts replies with status complete and exactly the text the fake sent.
    """
    tables = _tables(engine)
    messages, threads = tables["messages"], tables["threads"]
    query = (select(messages.c.status, messages.c.provider, messages.c.content)
             .join(threads, threads.c.id == messages.c.thread_id)
             .where(threads.c.project_id == project_id, messages.c.role == "assistant"))
    deadline = time.monotonic() + wait_seconds
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if not any(row.status == "pending" for row in rows) or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    counts = {"replies": len(rows), "complete": 0}
    for row in rows:
        if row.status == "complete" and row.content == expected_reply(row.provider, tokens):
            counts["complete"] += 1
        else:
            key = row.status if row.status != "complete" else "complete, wrong text"
            counts[key] = counts.get(key, 0) + 1
    return counts
