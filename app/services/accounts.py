"""Users and API tokens: registration, sign-in checks and bearer-token lookup."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import ApiToken, Setting, User, utcnow

TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def registration_open() -> bool:
    """Open while nobody has an account (a fresh install), then as an admin set it, else as configured."""
    stored = db.session.get(Setting, "registration_open")
    is_open = current_app.config["REGISTRATION_OPEN"] if stored is None else stored.value == "1"
    return is_open or not db.session.scalar(select(exists().select_from(User)))


def user_by_email(email: str) -> User | None:
    """The user with this email, compared case-insensitively."""
    return db.session.scalar(select(User).where(User.email == User.normalize_email(email)))


def create_user(email: str, password: str, is_admin: bool = False) -> User:
    """A new user, an admin if asked or the first account; the caller has checked the email is free."""
    first = not db.session.scalar(select(exists().select_from(User)))
    user = User(email=User.normalize_email(email), is_admin=is_admin or first)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user these credentials belong to, or None."""
    user = user_by_email(email)
    return user if user is not None and user.check_password(password) else None


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token and its secret, which the caller shows once."""
    token, secret = ApiToken.issue(user, name)
    db.session.add(token)
    db.session.commit()
    return token, secret


def user_tokens(user: User) -> list[ApiToken]:
    """The user's tokens, newest first."""
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ))


def owned_token_or_404(user: User, token_id: int) -> ApiToken:
    """The user's token, or 404."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if token is None:
        abort(404, description="Token not found.")
    return token


def revoke_token(token: ApiToken) -> None:
    """Revoke a token; revoking twice changes nothing."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()


def user_for_bearer(header: str) -> User | None:
    """The owner of an active token from an `Authorization: Bearer …` header, or None.

    One indexed lookup by SHA-256; last_used_at is written at most once a minute.
    """
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    token = db.session.scalar(
        select(ApiToken).options(joinedload(ApiToken.user))
        .where(ApiToken.token_hash == ApiToken.hash_secret(secret.strip()))
    )
    if token is None or token.revoked_at is not None or token.user.disabled_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        token.last_used_at = now
        db.session.commit()
    return token.user
