"""Rate limits: which requests count, keyed by what, and how long a client waits once over.

The numbers are settings (RATELIMIT_*, read per request). Each limit counts in a fixed window
that opens with the first counted request and closes its length later; the count then starts
again from zero. Counts live in this process's memory unless RATELIMIT_STORAGE_URI names a
shared store (redis://…), which several workers or servers need to count together.
"""
from __future__ import annotations

import hashlib
import math
import time

from flask import Flask, current_app, g, request
from flask_login import current_user
from limits import parse_many

from .extensions import limiter
from .models import User

SETTINGS = (
    "RATELIMIT_LOGIN_PER_IP", "RATELIMIT_LOGIN_PER_ACCOUNT", "RATELIMIT_REGISTER_PER_IP",
    "RATELIMIT_MESSAGES_PER_USER", "RATELIMIT_API_PER_TOKEN",
)


def _setting(name: str):
    return lambda: current_app.config[name]


def _failed(response) -> bool:
    # The login form answers 400 to wrong credentials and to every other rejected attempt.
    return response.status_code == 400


def _started(response) -> bool:
    return response.status_code < 400


def _account_key() -> str:
    return "account:" + User.normalize_email(request.form.get("email", ""))


def _user_key() -> str:
    user = getattr(g, "user", None) or current_user  # the API sets g.user, the pages sign in
    return f"user:{user.id}"


def _token_key() -> str:
    # A digest, so no token reaches the rate-limit store.
    return "token:" + hashlib.sha256(request.headers["Authorization"].encode()).hexdigest()


failed_logins_per_ip = limiter.limit(
    _setting("RATELIMIT_LOGIN_PER_IP"), methods=["POST"], deduct_when=_failed,
    error_message="Too many failed logins from your network.",
)
failed_logins_per_account = limiter.limit(
    _setting("RATELIMIT_LOGIN_PER_ACCOUNT"), key_func=_account_key, methods=["POST"], deduct_when=_failed,
    error_message="Too many failed logins for this account.",
)
registrations_per_ip = limiter.limit(
    _setting("RATELIMIT_REGISTER_PER_IP"), methods=["POST"],
    error_message="Too many attempts to create an account from your network.",
)
# One count per user across the pages and the API, since each started message or retry costs a provider
# call; it adds to the API's per-token limit instead of replacing it (override_defaults=False).
new_messages_per_user = limiter.shared_limit(
    _setting("RATELIMIT_MESSAGES_PER_USER"), scope="new-messages", key_func=_user_key,
    deduct_when=_started, override_defaults=False,
    error_message="You are sending messages too quickly.",
)
api_calls_per_token = limiter.limit(
    _setting("RATELIMIT_API_PER_TOKEN"), key_func=_token_key,
    exempt_when=lambda: "Authorization" not in request.headers,
    error_message="Too many API calls with this token.",
)


def retry_after_seconds() -> int:
    """Seconds until the limit this request went over lets it through again."""
    window_ends = limiter.current_limit.window[0]
    return max(1, math.ceil(window_ends - time.time()))


def init_app(app: Flask) -> None:
    """Check every configured limit reads as one, then bind the limiter to the app."""
    for name in SETTINGS:
        try:
            parse_many(app.config[name])
        except ValueError:
            raise RuntimeError(
                f"{name}={app.config[name]!r} is not a rate limit; write it like '5 per 15 minutes'."
            ) from None
    limiter.init_app(app)
