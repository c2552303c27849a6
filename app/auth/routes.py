"""Log in, register, log out, and manage API tokens."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from .. import rate_limits
from ..extensions import db, login
from ..models import User, utcnow
from ..services import accounts, catalog
from .forms import LoginForm, RegisterForm, TokenForm

bp = Blueprint("auth", __name__)


@login.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in user from the session cookie; a disabled account is signed out at once."""
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.disabled_at is None else None


def _safe_next(target: str | None) -> str:
    # Only local paths, so the login page can't be used to redirect elsewhere.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("pages.index")


def _sign_in(user: User):
    session.permanent = True
    login_user(user)
    user.last_login_at = utcnow()
    db.session.commit()
    return redirect(_safe_next(request.args.get("next")), code=303)


@bp.route("/login", methods=["GET", "POST"])
@rate_limits.failed_logins_per_ip
@rate_limits.failed_logins_per_account
def login_page():
    """Show the login form and sign a user in."""
    if current_user.is_authenticated:
        return redirect(url_for("pages.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None and user.disabled_at is None:
            return _sign_in(user)
        form.password.errors.append("This account is disabled; ask an admin to re-enable it." if user is not None
                                    else "Wrong email or password.")
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form,
                           registration_open=accounts.registration_open()), status


@bp.route("/register", methods=["GET", "POST"])
@rate_limits.registrations_per_ip
def register():
    """Create an account while registration is open."""
    if not accounts.registration_open():
        return render_template("auth/register.html", form=None), 403 if request.method == "POST" else 200
    form = RegisterForm()
    if form.validate_on_submit():
        user = accounts.create_user(form.email.data, form.password.data)
        return _sign_in(user)
    return render_template("auth/register.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
@login_required
def logout():
    """Sign out and end the session."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login_page"), code=303)


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    """List the user's API tokens and create a new one (its secret shown once)."""
    form = TokenForm()
    secret = None
    if form.validate_on_submit():
        _, secret = accounts.create_token(current_user, form.name.data)
        form = TokenForm(formdata=None)
    return render_template(
        "auth/settings.html", form=form, secret=secret, tokens=accounts.user_tokens(current_user),
        statuses=catalog.current().summaries(),
    ), 400 if form.errors else 200


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of the user's tokens."""
    accounts.revoke_token(accounts.owned_token_or_404(current_user, token_id))
    flash("Token revoked.", "success")
    return redirect(url_for("auth.settings"), code=303)
