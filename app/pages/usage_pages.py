"""The usage page (one person's spending) and the admin page (every account, team settings, the audit log)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, flash, url_for
from flask_login import current_user

from ..htmx import redirect_to, render_page
from ..models import utcnow
from ..services import admin, usage
from ..services.pricing import format_cost
from .forms import AccountChangeForm, TeamSettingsForm
from .routes import bp

CHART_WIDTH, CHART_HEIGHT = 620, 160


@dataclass(frozen=True)
class Bar:
    """One day's bar of the chart, in SVG user units."""

    x: float
    y: float
    width: float
    height: float
    label: str
    cost: str


def chart(days: list) -> list[Bar]:
    """Bars for each day's cost, scaled to the dearest day (no bar at all for a day without cost)."""
    top = max((totals.cost_micros for _, totals in days), default=0) or 1
    step = CHART_WIDTH / max(len(days), 1)
    return [Bar(round(i * step + 1, 2), round(CHART_HEIGHT - totals.cost_micros / top * CHART_HEIGHT, 2),
                round(step - 2, 2), round(totals.cost_micros / top * CHART_HEIGHT, 2), day.isoformat(),
                format_cost(totals.cost_micros))
            for i, (day, totals) in enumerate(days)]


def report(user_id: int | None) -> dict:
    """This month and last for one person (None: the whole team), by day, provider, project (and user)."""
    this = usage.Month.of(utcnow().date())
    months = []
    for month in (this, this.previous()):
        days = usage.daily(user_id, month)
        groups = {by: usage.grouped(user_id, month.start, month.end, by)
                  for by in ("provider", "project", *(("user",) if user_id is None else ()))}
        months.append({"month": month, "total": usage.period_totals(user_id, month.start, month.end),
                       "days": [d for d in days if d[1].replies], "bars": chart(days), "groups": groups})
    return {"months": months, "chart_width": CHART_WIDTH, "chart_height": CHART_HEIGHT}


@bp.get("/usage")
def usage_page():
    """What I spent this month and last."""
    return render_page("pages/usage.html", **report(current_user.id))


def _admin_page(status: int = 200, settings_form: TeamSettingsForm | None = None):
    month = usage.Month.of(utcnow().date())
    settings = admin.team_settings(current_app.config)
    if settings_form is None:
        settings_form = TeamSettingsForm(formdata=None)
        settings_form.fill(settings)
    return render_page("pages/admin.html", accounts=admin.accounts(month), settings=settings,
                       settings_form=settings_form, events=admin.audit_log(), change_form=AccountChangeForm,
                       **report(None)), status


@bp.get("/admin")
def admin_page():
    """Every account, the team's settings and usage, and the audit log (admins only)."""
    admin.admin_or_404(current_user)
    return _admin_page()


@bp.post("/admin/users/<int:user_id>")
def admin_change_account(user_id: int):
    """Disable, re-enable, promote, demote an account or set its budget (admins only)."""
    admin.admin_or_404(current_user)
    target = admin.user_or_404(user_id)
    form = AccountChangeForm()
    if form.validate_on_submit():
        try:
            admin.update_user(current_user, target, **form.change())
            return redirect_to(url_for("pages.admin_page"))
        except admin.AdminError as exc:
            flash(str(exc), "error")
            return _admin_page(400)
    flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
    return _admin_page(400)


@bp.post("/admin/settings")
def admin_change_settings():
    """Open or close registration and set the team's default budget (admins only)."""
    admin.admin_or_404(current_user)
    form = TeamSettingsForm()
    if form.validate_on_submit():
        admin.update_settings(current_user, current_app.config, **form.change())
        return redirect_to(url_for("pages.admin_page"))
    return _admin_page(400, form)
