"""The usage totals: added to as each reply is stored, read for budgets, thread/project totals and the usage page."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Sequence

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..models import UsageTotal

totals = UsageTotal.__table__
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens")


@dataclass(frozen=True)
class Spender:
    """Whose totals a reply counts in: the thread's owner, its project, provider and the model asked for."""

    user_id: int
    project_id: int
    provider: str
    model: str


def add(conn: Connection, stored: Sequence[tuple[Spender, object]], now: datetime) -> None:
    """Add stored Endings to their day's totals; one with no usage reported adds nothing."""
    keyed: dict[tuple, dict] = {}
    for spender, ending in stored:
        if ending.input_tokens is None and ending.output_tokens is None:
            continue
        row = _row(spender, ending, now)
        key = (row["user_id"], row["day"], row["project_id"], row["provider"], row["model"])
        if key in keyed:  # one row per key: an INSERT … ON CONFLICT may touch a row only once
            for name in (*TOKEN_COLUMNS, "replies", "cost_micros", "unpriced_replies"):
                keyed[key][name] += row[name]
        else:
            keyed[key] = row
    if not keyed:
        return
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(totals)
    # One statement for the batch, its rows in a fixed key order: two writers lock the same totals in one order.
    insert = insert.values([keyed[key] for key in sorted(keyed)])
    counted = (*TOKEN_COLUMNS, "replies", "cost_micros", "unpriced_replies")
    upsert = insert.on_conflict_do_update(
        index_elements=["user_id", "day", "project_id", "provider", "model"],
        set_={**{name: totals.c[name] + insert.excluded[name] for name in counted},
              "updated_at": insert.excluded.updated_at},
    )
    conn.execute(upsert)


def _row(spender: Spender, ending, now: datetime) -> dict:
    return {
        "user_id": spender.user_id, "day": now.date(), "project_id": spender.project_id,
        "provider": spender.provider, "model": (ending.model or spender.model)[:100],
        "replies": 1, **{name: getattr(ending, name) or 0 for name in TOKEN_COLUMNS},
        "cost_micros": ending.cost_micros or 0, "unpriced_replies": int(ending.cost_micros is None),
        "updated_at": now,
    }


def month_start(today: date) -> date:
    """The first day of `today`'s month (UTC)."""
    return today.replace(day=1)


def next_month(today: date) -> date:
    """The first day of the month after `today`'s: when a monthly budget resets."""
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


def spent_since(user_id: int, since: date):
    """A select of the micro-dollars a person spent since a day, as one indexed read."""
    return (select(func.coalesce(func.sum(totals.c.cost_micros), 0))
            .where(totals.c.user_id == user_id, totals.c.day >= since).scalar_subquery())
