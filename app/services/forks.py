"""Forking: a new thread, bound to a provider of the user's choice, starting with a copy of a path."""
from __future__ import annotations

from sqlalchemy import Integer, func, insert, literal, select, update

from ..extensions import db
from ..limits import THREAD_TITLE_MAX
from ..models import Message, Project, Thread, utcnow
from .replies_store import messages
from .tree import path_up

threads = Thread.__table__
# What a copy keeps of each message: a reply stays the work of the provider and model that wrote it.
COPIED = ("role", "content", "created_at", "status", "provider", "model", "input_tokens", "output_tokens",
          "thinking", "reasoning_tokens", "thinking_ms", "stop_reason", "error", "attempt")


class ForkConflict(Exception):
    """The fork point is a reply still being written."""

    status = 409


def fork_title(thread: Thread) -> str:
    """The default title of a fork of this thread."""
    suffix = " (fork)"
    return thread.title[:THREAD_TITLE_MAX - len(suffix)] + suffix


def fork(message: Message, project: Project, provider: str, model: str | None, title: str | None) -> Thread:
    """A new thread in `project` holding a copy of the path up to `message`, bound to `provider`."""
    if message.pending:
        raise ForkConflict("This reply is still being written. Fork once it has finished.")
    now = utcnow()
    thread = Thread(project=project, title=title or fork_title(message.thread), model_provider=provider,
                    model=model or None, forked_from_message_id=message.id, created_at=now, updated_at=now)
    db.session.add(thread)
    project.updated_at = now
    db.session.flush()
    path = path_up(message.id)
    db.session.execute(insert(messages).from_select(
        ["thread_id", *COPIED],
        select(literal(thread.id, Integer), *[messages.c[name] for name in COPIED])
        .join(path, messages.c.id == path.c.id).order_by(path.c.depth.desc())))
    # The copies went in in path order, so each one's parent is the copy just before it.
    earlier = messages.alias("earlier")
    db.session.execute(update(messages).where(messages.c.thread_id == thread.id).values(parent_id=(
        select(func.max(earlier.c.id)).where(earlier.c.thread_id == thread.id, earlier.c.id < messages.c.id)
        .scalar_subquery())))
    db.session.execute(update(threads).where(threads.c.id == thread.id).values(head_id=(
        select(func.max(messages.c.id)).where(messages.c.thread_id == thread.id).scalar_subquery())))
    db.session.commit()
    return thread


def origin(thread: Thread):
    """Where a forked thread came from: (thread id, title, message id, message time), or None."""
    if thread.forked_from_message_id is None:  # a thread whose origin is deleted is no longer a fork
        return None
    return db.session.execute(
        select(threads.c.id, threads.c.title, messages.c.id.label("message_id"), messages.c.created_at)
        .join(messages, messages.c.thread_id == threads.c.id)
        .where(messages.c.id == thread.forked_from_message_id)).first()
