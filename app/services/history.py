"""The current path's messages as the turns a provider sees, within the context budget."""
from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..models import COMPLETE, STOPPED
from ..providers.base import Turn
from .replies_store import messages  # plain columns: the ORM adds nothing to reading text
from .tree import path_up

BATCH = 200
CHARS_PER_TOKEN, TOKENS_PER_TURN = 4, 4
# Replies that count as said: stopped ones too, since the user saw their text.
SAID = (COMPLETE, STOPPED)


def estimate_tokens(text: str) -> int:
    """A cheap token estimate: about four characters a token, plus a little per turn."""
    return len(text) // CHARS_PER_TOKEN + TOKENS_PER_TURN


def conversation(session: Session, last_id: int | None, budget: int) -> tuple[Turn, ...]:
    """The turns of the path from the first message to `last_id`, newest kept first until the budget is spent.

    Only that path is read, never another branch. Failed, interrupted or empty assistant turns are
    left out; consecutive turns of one role are joined, since providers expect the roles to alternate.
    """
    kept: list[tuple[str, str]] = []
    cursor = last_id
    while budget > 0 and cursor is not None:
        path = path_up(cursor, BATCH)
        rows = session.execute(
            select(messages.c.role, messages.c.content, messages.c.status, messages.c.parent_id)
            .join(path, messages.c.id == path.c.id).order_by(path.c.depth)
        ).all()
        for row in rows:
            if not _said(row.role, row.content, row.status):
                continue
            cost = estimate_tokens(row.content)
            if cost > budget and kept:  # the latest user message is kept whatever it costs
                budget = 0
                break
            budget -= cost
            kept.append((row.role, row.content))
        if len(rows) < BATCH:
            break
        cursor = rows[-1].parent_id
    return _alternate(reversed(kept))


def context_tokens(session: Session, thread_id: int, head_id: int | None, system: str, budget: int) -> int:
    """About how many tokens the next message's context holds (system prompt and the said turns of the
    current path, up from `head_id`), at most the budget: estimate_tokens summed by the database in one query."""
    if head_id is None:
        return min(estimate_tokens(system), budget)
    path = path_up(head_id, thread_id=thread_id)
    said = or_(messages.c.role == "user", and_(messages.c.role == "assistant", messages.c.status.in_(SAID)))
    total = session.scalar(select(func.coalesce(func.sum(
        func.length(messages.c.content) // CHARS_PER_TOKEN + TOKENS_PER_TURN), 0))
        .join(path, messages.c.id == path.c.id).where(said, func.length(messages.c.content) > 0))
    return min(int(total) + estimate_tokens(system), budget)


def _said(role: str, content: str, status: str) -> bool:
    if role == "user":
        return bool(content.strip())
    return status in SAID and bool(content.strip())


def _alternate(turns) -> tuple[Turn, ...]:
    merged: list[Turn] = []
    for role, text in turns:
        if merged and merged[-1].role == role:
            merged[-1] = Turn(role, merged[-1].text + "\n\n" + text)
        else:
            merged.append(Turn(role, text))
    # A conversation starts with the user: drop a leading reply whose question fell off the budget.
    while merged and merged[0].role != "user":
        merged.pop(0)
    return tuple(merged)
