"""What admins do: see every account, disable or promote one, set budgets and registration; all of it audited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask import abort
from sqlalchemy import func, select

from ..extensions import db
from ..models import AuditEvent, Setting, User, utcnow
from .budgets import DEFAULT_BUDGET_KEY
from .pricing import format_cost
from .usage import Month, Totals, sums
from .usage_store import totals

REGISTRATION_KEY = "registration_open"
BUDGET_MAX_DOLLARS = Decimal(1_000_000)
AUDIT_PAGE = 100


class AdminError(ValueError):
    """An admin change that can't be made (bad value, the last admin); nothing was changed."""


@dataclass(frozen=True)
class Account:
    """One account as the admin page lists it."""

    user: User
    last_active: datetime | None
    month: Totals


def is_admin(user) -> bool:
    """Whether this signed-in (or token) user is an admin."""
    return bool(getattr(user, "is_admin", False))


def admin_or_404(user) -> None:
    """Members never learn the admin pages exist."""
    if not is_admin(user):
        abort(404)


def user_or_404(user_id: int) -> User:
    """Any account by id (admins may change every one), or 404."""
    return db.get_or_404(User, user_id)


def accounts(month: Month) -> list[Account]:
    """Every account, oldest first, with its last activity and this month's tokens and cost (two queries)."""
    users = list(db.session.scalars(select(User).order_by(User.id)))
    rows = db.session.execute(
        select(totals.c.user_id, func.max(totals.c.updated_at), *sums(totals))
        .where(totals.c.day >= month.start, totals.c.day < month.end).group_by(totals.c.user_id)
    ).all()
    found = {row[0]: row for row in rows}
    listed = []
    for user in users:
        row = found.get(user.id)
        month_totals = Totals(*(int(v or 0) for v in row[2:])) if row else Totals()
        replied = row[1] if row else None
        if replied is not None and replied.tzinfo is None:  # SQLite drops the zone of an aggregate
            replied = replied.replace(tzinfo=utcnow().tzinfo)
        active = max((t for t in (user.last_login_at, replied) if t is not None), default=None)
        listed.append(Account(user, active, month_totals))
    return listed


def dollars_to_micros(value, name: str = "monthly_budget") -> int | None:
    """A budget given in dollars (a number, or text from a form) as micro-dollars; None or "" means none."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise AdminError(f"{name} must be a number of dollars, or null.")
    try:
        amount = Decimal(str(value).strip().lstrip("$"))
    except InvalidOperation:
        raise AdminError(f"{name} must be a number of dollars, or null.") from None
    if not amount.is_finite() or amount < 0 or amount > BUDGET_MAX_DOLLARS:
        raise AdminError(f"{name} must be between 0 and {BUDGET_MAX_DOLLARS:,} dollars.")
    return int(amount * 1_000_000)


def update_user(actor: User, target: User, *, disabled: bool | None = None, is_admin: bool | None = None,
                budget_micros: int | None = None, set_budget: bool = False) -> None:
    """Change an account as an admin asked, audited; the last active admin can't be demoted or disabled."""
    events = []
    if is_admin is not None and is_admin != target.is_admin:
        if not is_admin:
            _keep_an_admin(target)
        target.is_admin = is_admin
        events.append(("promote" if is_admin else "demote", "made an admin" if is_admin else "made a member"))
    if disabled is not None and disabled != (target.disabled_at is not None):
        if disabled:
            if target.id == actor.id:
                raise AdminError("You can't disable your own account.")
            if target.is_admin:
                _keep_an_admin(target)
        target.disabled_at = utcnow() if disabled else None
        events.append(("disable" if disabled else "enable", "disabled" if disabled else "re-enabled"))
    if set_budget and budget_micros != target.monthly_budget_micros:
        target.monthly_budget_micros = budget_micros
        events.append(("set_budget", "monthly budget " + (format_cost(budget_micros) if budget_micros is not None
                                                          else "set to the team default")))
    for action, detail in events:
        db.session.add(AuditEvent(actor_id=actor.id, target_id=target.id, action=action, detail=detail))
    db.session.commit()


def _keep_an_admin(target: User) -> None:
    others = db.session.scalar(select(func.count(User.id)).where(
        User.is_admin.is_(True), User.disabled_at.is_(None), User.id != target.id))
    if not others:
        raise AdminError("There must always be an admin: promote someone else first.")


def setting(key: str) -> str | None:
    """A stored team setting, or None (the default)."""
    row = db.session.get(Setting, key)
    return row.value if row is not None else None


def team_settings(config) -> dict:
    """Registration (stored, else REGISTRATION_OPEN) and the default budget in micro-dollars (None: none)."""
    stored = setting(REGISTRATION_KEY)
    budget = setting(DEFAULT_BUDGET_KEY)
    return {"registration_open": config["REGISTRATION_OPEN"] if stored is None else stored == "1",
            "registration_stored": stored is not None,
            "default_budget_micros": None if budget is None else int(budget)}


def update_settings(actor: User, config, *, registration: bool | None = None, set_registration: bool = False,
                    budget_micros: int | None = None, set_budget: bool = False) -> None:
    """Open or close registration (None: back to REGISTRATION_OPEN) and set the default budget; audited."""
    before = team_settings(config)
    events = []
    if set_registration:
        stored = None if registration is None else ("1" if registration else "0")
        if stored != setting(REGISTRATION_KEY):
            _store(REGISTRATION_KEY, stored)
            after = config["REGISTRATION_OPEN"] if registration is None else registration
            events.append(("registration", ("opened registration" if after else "closed registration")
                           + (" (back to the server's setting)" if registration is None else "")))
    if set_budget and budget_micros != before["default_budget_micros"]:
        _store(DEFAULT_BUDGET_KEY, None if budget_micros is None else str(budget_micros))
        events.append(("default_budget", "team default budget " + (format_cost(budget_micros)
                                                                  if budget_micros is not None else "removed")))
    for action, detail in events:
        db.session.add(AuditEvent(actor_id=actor.id, action=action, detail=detail))
    db.session.commit()


def _store(key: str, value: str | None) -> None:
    row = db.session.get(Setting, key)
    if value is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value


def audit_log(limit: int = AUDIT_PAGE) -> list[AuditEvent]:
    """The latest admin actions, newest first."""
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
