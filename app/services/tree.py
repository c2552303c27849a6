"""A thread's messages as a tree: its current path, siblings, switching and deleting branches.

Every message but a thread's first has a parent; the thread's head is the last message of the
current path. A child is always newer than its parent, so the newest message under any message is
a leaf: "the most recent leaf" is the largest id of a subtree.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from sqlalchemy import and_, case, delete, func, literal_column, or_, select, update

from ..extensions import db
from ..models import PENDING, Message, Thread
from ..pagination import Page, cursor_id, decode_cursor, encode_cursor
from .replies_store import messages

threads = Thread.__table__
BRANCH_BUSY = "A reply in this branch is still being written. Wait for it or stop it first."


def path_up(start, limit: int | None = None, thread_id: int | None = None):
    """A recursive CTE (id, parent_id, depth) from message `start` up to the root, at most `limit` rows."""
    anchor = select(messages.c.id, messages.c.parent_id, literal_column("0").label("depth")).where(
        messages.c.id == start)
    if thread_id is not None:
        anchor = anchor.where(messages.c.thread_id == thread_id)
    path = anchor.cte("path", recursive=True)
    step = select(messages.c.id, messages.c.parent_id, path.c.depth + literal_column("1")).join(
        path, messages.c.id == path.c.parent_id)
    if limit is not None:
        step = step.where(path.c.depth < limit - 1)
    return path.union_all(step)


def subtree(message_id: int):
    """A recursive CTE (id) of a message and everything under it."""
    anchor = select(messages.c.id).where(messages.c.id == message_id).cte("subtree", recursive=True)
    return anchor.union_all(select(messages.c.id).join(anchor, messages.c.parent_id == anchor.c.id))


def path_page(thread: Thread, limit: int, cursor: str | None) -> Page[Message]:
    """The latest `limit` messages of the current path before the cursor, oldest first; pages go back in time."""
    if cursor:
        (start,) = decode_cursor(cursor, 1)
        start = cursor_id(start)
    elif thread.head_id is None:
        return Page([], None)
    else:
        start = thread.head_id
    path = path_up(start, limit + 1, thread.id)
    rows = list(db.session.scalars(select(Message).join(path, Message.id == path.c.id)
                                   .order_by(path.c.depth)))
    more = len(rows) > limit
    return Page(rows[:limit][::-1], encode_cursor(rows[limit].id) if more else None)


def current_path_ids(thread: Thread) -> list[int]:
    """The ids of the thread's current path, from the head up to the first message (one query)."""
    if thread.head_id is None:
        return []
    path = path_up(thread.head_id, thread_id=thread.id)
    return list(db.session.scalars(select(path.c.id).order_by(path.c.depth)))


@dataclass(frozen=True)
class Siblings:
    """The ids of the messages sharing a parent, oldest first, for the messages of one page."""

    by_parent: dict

    def of(self, message) -> tuple[int, ...]:
        return self.by_parent.get(message.parent_id, (message.id,))

    def index(self, message) -> int:
        return self.of(message).index(message.id)


def siblings(thread_id: int, page: list) -> Siblings:
    """Siblings of the page's messages, in one query whatever the thread's size."""
    parents = {m.parent_id for m in page}
    if not page:
        return Siblings({})
    wanted = [messages.c.parent_id.in_(parents - {None})]
    if None in parents:  # the first messages of the thread, through the partial index of roots
        wanted.append(and_(messages.c.thread_id == thread_id, messages.c.parent_id.is_(None)))
    by_parent: dict = {}
    for parent_id, message_id in db.session.execute(
            select(messages.c.parent_id, messages.c.id).where(or_(*wanted)).order_by(messages.c.id)):
        by_parent.setdefault(parent_id, []).append(message_id)
    return Siblings({parent: tuple(ids) for parent, ids in by_parent.items()})


def message_in_thread_or_400(thread: Thread, message_id: int) -> Message:
    """A message of this thread, or 400 (another thread's message is not a head this one can have)."""
    message = db.session.scalar(select(Message).where(Message.id == message_id, Message.thread_id == thread.id))
    if message is None:
        abort(400, description="message_id is not a message of this thread.")
    return message


def latest_leaf(message_id: int) -> int:
    """The most recent leaf under a message (itself when it has no children)."""
    tree = subtree(message_id)
    return db.session.scalar(select(func.max(tree.c.id)))


def switch_to(thread: Thread, message: Message) -> int:
    """Make the branch holding `message` current: the head moves to its most recent leaf."""
    head = latest_leaf(message.id)
    db.session.execute(update(threads).where(threads.c.id == thread.id).values(head_id=head))
    db.session.commit()
    return head


class BranchBusy(Exception):
    """A reply in the branch is pending; it can't be deleted."""

    status = 409


def delete_branch(thread: Thread, message: Message) -> None:
    """Delete a message and everything under it; the head moves to a surviving sibling's latest leaf, else the parent."""
    tree = subtree(message.id)
    pending, holds_head = db.session.execute(select(
        func.count(case((messages.c.status == PENDING, 1))),
        func.count(case((messages.c.id == thread.head_id, 1))),
    ).join(tree, messages.c.id == tree.c.id)).one()
    if pending:
        raise BranchBusy(BRANCH_BUSY)
    parent_id = message.parent_id
    # One statement for the whole subtree: parent_id has no cascade (see migration 0005).
    db.session.execute(delete(messages).where(messages.c.id.in_(select(tree.c.id))))
    if holds_head:
        if parent_id is not None:
            head = latest_leaf(parent_id)
        else:  # a first message: the newest of what is left is a leaf of another first message
            head = db.session.scalar(select(func.max(messages.c.id)).where(messages.c.thread_id == thread.id))
        db.session.execute(update(threads).where(threads.c.id == thread.id).values(head_id=head))
    db.session.commit()
