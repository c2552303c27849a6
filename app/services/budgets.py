"""Monthly budgets: a person's own or the team's default, checked before a reply starts.

Counted from the stored usage totals, so every server agrees; one indexed query per check.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import BigInteger, cast, func, select

from ..extensions import db
from ..models import Setting, User, utcnow
from .pricing import format_cost
from .usage_store import month_start, next_month, spent_since

DEFAULT_BUDGET_KEY = "default_budget_micros"
WARN_AT = 0.8  # the composer warns from this share of the budget on


class BudgetExceeded(Exception):
    """This month's cost has reached the person's budget: nothing may be sent to a provider."""

    status = 402


@dataclass(frozen=True)
class Standing:
    """What a person spent this month against their budget (None: no budget)."""

    spent_micros: int
    budget_micros: int | None
    resets_on: date

    @property
    def exhausted(self) -> bool:
        return self.budget_micros is not None and self.spent_micros >= self.budget_micros

    @property
    def nearly_exhausted(self) -> bool:
        return self.budget_micros is not None and self.spent_micros >= WARN_AT * self.budget_micros

    @property
    def message(self) -> str:
        """What the person reads when the budget stops (or nearly stops) them."""
        used = f"You have used {format_cost(self.spent_micros)} of your {format_cost(self.budget_micros)} budget"
        resets = f"it resets on {self.resets_on.day} {self.resets_on.strftime('%B %Y')}"
        if self.exhausted:
            return f"{used} this month; {resets}. Ask an admin to raise it."
        return f"{used} this month ({resets})."


def default_budget():
    """A select of the team's default budget in micro-dollars (NULL: none)."""
    return (select(cast(Setting.value, BigInteger)).where(Setting.key == DEFAULT_BUDGET_KEY)
            .scalar_subquery())


def standing(user_id: int, today: date | None = None) -> Standing:
    """This month's spending and budget of one person, in one query."""
    today = today or utcnow().date()
    row = db.session.execute(
        select(spent_since(user_id, month_start(today)), func.coalesce(User.monthly_budget_micros, default_budget()))
        .where(User.id == user_id)
    ).first()
    spent, budget = (row if row is not None else (0, None))
    return Standing(int(spent or 0), None if budget is None else int(budget), next_month(today))


def check(user_id: int) -> None:
    """Raise BudgetExceeded when the person's month has used up their budget."""
    current = standing(user_id)
    if current.exhausted:
        raise BudgetExceeded(current.message)
