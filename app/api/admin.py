"""Usage for everyone, and the admin API: accounts, team settings, the audit log. Members get 404 on /api/admin."""
from __future__ import annotations

from flask import abort, current_app, g, request

from ..extensions import db
from ..models import utcnow
from ..services import admin, usage
from . import schemas
from .routes import bp


@bp.get("/usage")
def get_usage():
    """The caller's usage (an admin's: everyone's with group_by=user) between two days, grouped."""
    group_by = request.args.get("group_by", "day")
    if group_by not in usage.GROUPS or (group_by == "user" and not admin.is_admin(g.user)):
        allowed = usage.GROUPS if admin.is_admin(g.user) else usage.GROUPS[:-1]
        abort(400, description=f"group_by must be one of {', '.join(allowed)}.")
    try:
        start, end = usage.parse_period(request.args.get("from"), request.args.get("to"), utcnow().date())
    except ValueError as exc:
        abort(400, description=str(exc))
    who = None if group_by == "user" else g.user.id
    groups = usage.grouped(who, start, end, group_by)
    return {"from": start.isoformat(), "to": usage.last_day(end).isoformat(), "group_by": group_by,
            "total": usage.period_totals(who, start, end).as_json(),
            "groups": [{"key": key, **totals.as_json()} for key, totals in groups]}


@bp.before_request
def admins_only():
    """Members never learn /api/admin exists."""
    if request.path.startswith("/api/admin"):
        admin.admin_or_404(g.get("user"))


@bp.get("/admin/users")
def admin_list_users():
    """Every account with its last activity and this month's tokens and cost."""
    month = usage.Month.of(utcnow().date())
    return {"users": [schemas.account_json(account) for account in admin.accounts(month)]}


@bp.patch("/admin/users/<int:user_id>")
def admin_update_user(user_id: int):
    """Disable or re-enable an account, promote or demote it, or set its monthly budget (dollars)."""
    target = admin.user_or_404(user_id)
    data = schemas.validate(schemas.ADMIN_USER_UPDATE)
    try:
        admin.update_user(g.user, target, disabled=data.get("disabled"), is_admin=data.get("is_admin"),
                          budget_micros=data.get("monthly_budget"), set_budget="monthly_budget" in data)
    except admin.AdminError as exc:
        db.session.rollback()
        abort(400, description=str(exc))
    month = usage.Month.of(utcnow().date())
    return schemas.account_json(next(a for a in admin.accounts(month) if a.user.id == target.id))


@bp.get("/admin/settings")
def admin_get_settings():
    """Whether registration is open, and the team's default monthly budget."""
    return schemas.settings_json(admin.team_settings(current_app.config))


@bp.patch("/admin/settings")
def admin_update_settings():
    """Open or close registration (null: back to REGISTRATION_OPEN) and set the default budget (dollars)."""
    data = schemas.validate(schemas.ADMIN_SETTINGS_UPDATE)
    try:
        admin.update_settings(g.user, current_app.config, registration=data.get("registration_open"),
                              set_registration="registration_open" in data,
                              budget_micros=data.get("default_budget"), set_budget="default_budget" in data)
    except admin.AdminError as exc:
        db.session.rollback()
        abort(400, description=str(exc))
    return schemas.settings_json(admin.team_settings(current_app.config))


@bp.get("/admin/audit")
def admin_audit_log():
    """The latest admin actions, newest first."""
    return {"events": [schemas.audit_json(event) for event in admin.audit_log()]}
