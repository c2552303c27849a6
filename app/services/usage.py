"""What was spent: a thread's, a project's and a person's totals, grouped for the usage page and the API.

Every figure is one aggregate query on an index (messages by thread, usage_totals by project or by
person and day); nothing is summed in Python.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta

from sqlalchemy import case, func, literal, or_, select

from .. import providers
from ..extensions import db
from ..models import Message, Project, User
from . import catalog, history, pricing
from .pricing import format_cost
from .usage_store import TOKEN_COLUMNS, month_start, next_month, totals

GROUPS = ("day", "provider", "project", "model", "user")


@dataclass(frozen=True)
class Totals:
    """Tokens and cost of a set of replies; `unpriced` of them have no known cost."""

    replies: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_micros: int = 0
    unpriced: int = 0

    @property
    def cost_text(self) -> str:
        """"$1.23", "unknown" when no reply has a price, or "$1.23 + unknown" when some lack one."""
        if self.unpriced and self.unpriced == self.replies:
            return "unknown"
        return format_cost(self.cost_micros) + (" + unknown" if self.unpriced else "")

    def as_json(self) -> dict:
        """The totals as the API shows them: cost in micro-dollars, null when every reply's is unknown."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["cost_micros"] = None if self.unpriced and self.unpriced == self.replies else self.cost_micros
        values["cost"] = self.cost_text
        return values


def _totals(row) -> Totals:
    return Totals(*(int(value or 0) for value in row)) if row is not None else Totals()


def sums(table):
    """The summed columns of usage_totals, in Totals' order."""
    return [func.coalesce(func.sum(table.c[name]), 0) for name in ("replies", *TOKEN_COLUMNS, "cost_micros",
                                                                     "unpriced_replies")]


def thread_totals(thread_id: int) -> Totals:
    """The replies of one thread as they are stored now (a retried reply counts its last attempt)."""
    m = Message.__table__
    reported = or_(m.c.input_tokens.is_not(None), m.c.output_tokens.is_not(None))
    row = db.session.execute(select(
        func.count(m.c.id), *[func.coalesce(func.sum(m.c[name]), 0) for name in TOKEN_COLUMNS],
        func.coalesce(func.sum(m.c.cost_micros), 0),
        func.coalesce(func.sum(case((m.c.cost_micros.is_(None), 1), else_=0)), 0),
    ).where(m.c.thread_id == thread_id, m.c.role == "assistant", reported)).first()
    return _totals(row)


def project_totals(project_id: int) -> Totals:
    """Every reply ever written in a project, retried attempts and deleted threads included."""
    return _totals(db.session.execute(select(*sums(totals)).where(totals.c.project_id == project_id)).first())


def period_totals(user_id: int | None, start: date, end: date) -> Totals:
    """One person's (None: everyone's) totals from `start` up to, not including, `end`."""
    return _totals(db.session.execute(select(*sums(totals)).where(*_period(user_id, start, end))).first())


def grouped(user_id: int | None, start: date, end: date, group_by: str) -> list[tuple[str, Totals]]:
    """Totals per day, provider, project, model or user, in that key's order; raises ValueError otherwise."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}.")
    key, joins = _group_key(group_by)
    query = select(key.label("key"), *sums(totals)).select_from(joins).where(*_period(user_id, start, end))
    rows = db.session.execute(query.group_by(key).order_by(key)).all()
    return [(str(row[0]), _totals(row[1:])) for row in rows]


def _group_key(group_by: str):
    if group_by == "project":
        joined = totals.outerjoin(Project.__table__, Project.__table__.c.id == totals.c.project_id)
        return func.coalesce(Project.__table__.c.name, literal("Deleted project")), joined
    if group_by == "user":
        return User.__table__.c.email, totals.join(User.__table__, User.__table__.c.id == totals.c.user_id)
    return totals.c[group_by], totals


def _period(user_id: int | None, start: date, end: date) -> list:
    where = [totals.c.day >= start, totals.c.day < end]
    return [*where, totals.c.user_id == user_id] if user_id is not None else where


@dataclass(frozen=True)
class Month:
    """A calendar month (UTC): its first day and the first day of the next."""

    start: date
    end: date

    @property
    def label(self) -> str:
        return self.start.strftime("%B %Y")

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(month_start(day), next_month(day))

    def previous(self) -> Month:
        return Month.of(self.start - timedelta(days=1))


def daily(user_id: int | None, month: Month) -> list[tuple[date, Totals]]:
    """Every day of the month with its totals (days without replies as zeros), for the chart."""
    found = {key: value for key, value in grouped(user_id, month.start, month.end, "day")}
    days = [month.start + timedelta(days=n) for n in range((month.end - month.start).days)]
    return [(day, found.get(str(day), Totals())) for day in days]



def parse_period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """`from`/`to` as ISO days (to inclusive), this month by default; raises ValueError when malformed."""
    try:
        first = date.fromisoformat(start) if start is not None else month_start(today)
        last = date.fromisoformat(end) if end is not None else next_month(today) - timedelta(days=1)
    except ValueError:
        raise ValueError("from and to must be days as YYYY-MM-DD.") from None
    if last < first:
        raise ValueError("to must not be before from.")
    if (last - first).days > 3660:
        raise ValueError("A period can span at most ten years.")
    return first, last + timedelta(days=1)


def last_day(end: date) -> date:
    """The last day of a period that ends (exclusively) at `end`."""
    return end - timedelta(days=1)


@dataclass(frozen=True)
class ContextEstimate:
    """What the next message will send besides itself: its tokens, and their cost as input (None: unknown)."""

    tokens: int
    cost_micros: int | None

    @property
    def cost_text(self) -> str:
        return format_cost(self.cost_micros)


def context_estimate(thread, config) -> ContextEstimate:
    """The context the thread's next message sends, estimated as history.py does, priced as fresh input."""
    spec = providers.get(thread.model_provider)
    tokens = history.context_tokens(db.session, thread.id, thread.head_id, thread.project.instructions or "",
                                    int(config["CONTEXT_BUDGET_TOKENS"]))
    price = pricing.table_for(config).price(spec.name, thread.model or catalog.current().default_model(spec.name))
    return ContextEstimate(tokens, None if price is None else int(tokens * price.input))
