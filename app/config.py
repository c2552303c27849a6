"""Every setting, read from the environment once, with laptop defaults.

Nothing else in the app reads os.environ.
"""
from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

from .providers import PROVIDERS

load_dotenv()

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
DEV_SECRET_KEY = "dev-only-not-secret"
# The longest message, 100,000 characters, takes 12 bytes a character at worst: a 4-byte
# character percent-encoded in a form (%F0%9F%98%80) or escaped as a surrogate pair in JSON.
DEFAULT_MAX_BODY = 2 * 1024 * 1024


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _engine_options() -> dict:
    # A fixed pool, no overflow: on PostgreSQL the bench measured 20 per worker well ahead of
    # SQLAlchemy's 5 + 10, whose overflow connections are opened and closed again under load.
    # No pool_pre_ping: app/db_pool.py checks only connections that sat idle.
    return {
        "pool_size": _int("DATABASE_POOL_SIZE", 20),
        "max_overflow": _int("DATABASE_MAX_OVERFLOW", 0),
    }


def _provider_env() -> dict[str, str | None]:
    # The registry says which variables each provider reads.
    return {var: os.environ.get(var) or None for spec in PROVIDERS.values() for var in spec.env_vars}


def _title_models() -> dict[str, str | None]:
    # ANTHROPIC_TITLE_MODEL and the like: the model that names threads (unset: the thread's own).
    return {spec.title_model_var: os.environ.get(spec.title_model_var) or None for spec in PROVIDERS.values()}


def load() -> dict:
    """The app's configuration as a dict, from the environment."""
    return {
        "APP_ENV": os.environ.get("APP_ENV", "development"),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or DEV_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or f"sqlite:///{INSTANCE_DIR / 'chat.sqlite3'}",
        "REGISTRATION_OPEN": _bool("REGISTRATION_OPEN", False),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", DEFAULT_MAX_BODY),
        # A form's fields are its whole body, already bounded above; Flask's own default (500 kB)
        # would refuse a long message typed in a non-Latin script.
        "MAX_FORM_MEMORY_SIZE": _int("MAX_CONTENT_LENGTH", DEFAULT_MAX_BODY),
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "PROXY_COUNT": _int("PROXY_COUNT", 0),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "PROVIDER_TIMEOUT_SECONDS": _float("PROVIDER_TIMEOUT_SECONDS", 120.0),
        "PROVIDER_MAX_RETRIES": _int("PROVIDER_MAX_RETRIES", 2),
        "MAX_OUTPUT_TOKENS": _int("MAX_OUTPUT_TOKENS", 4096),
        "MAX_REPLIES_IN_FLIGHT": _int("MAX_REPLIES_IN_FLIGHT", 500),
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "MODEL_CATALOG_TTL_SECONDS": _float("MODEL_CATALOG_TTL_SECONDS", 3600.0),
        "MODEL_LIST_WAIT_SECONDS": _float("MODEL_LIST_WAIT_SECONDS", 2.0),
        "CONTEXT_BUDGET_TOKENS": _int("CONTEXT_BUDGET_TOKENS", 100_000),
        "SEARCH_LANGUAGE": os.environ.get("SEARCH_LANGUAGE") or "english",
        "AUTO_TITLES": _bool("AUTO_TITLES", True),
        **_title_models(),
        "PRICES_FILE": os.environ.get("PRICES_FILE") or None,  # None: app/data/prices.toml
        "SSE_HEARTBEAT_SECONDS": _float("SSE_HEARTBEAT_SECONDS", 15.0),
        "REPLY_STALE_SECONDS": _float("REPLY_STALE_SECONDS", 60.0),
        "REPLY_HEARTBEAT_SECONDS": _float("REPLY_HEARTBEAT_SECONDS", 5.0),
        "REPLY_SAVE_SECONDS": _float("REPLY_SAVE_SECONDS", 1.0),
        "REPLY_TICK_SECONDS": _float("REPLY_TICK_SECONDS", 0.5),
        "SHUTDOWN_GRACE_SECONDS": _float("SHUTDOWN_GRACE_SECONDS", 20.0),
        # Rate limits (Flask-Limiter): counts live in memory per process unless a shared store is set.
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or "memory://",
        "RATELIMIT_LOGIN_PER_IP": os.environ.get("RATELIMIT_LOGIN_PER_IP") or "20 per 15 minutes",
        "RATELIMIT_LOGIN_PER_ACCOUNT": os.environ.get("RATELIMIT_LOGIN_PER_ACCOUNT") or "5 per 15 minutes",
        "RATELIMIT_REGISTER_PER_IP": os.environ.get("RATELIMIT_REGISTER_PER_IP") or "10 per hour",
        "RATELIMIT_MESSAGES_PER_USER": os.environ.get("RATELIMIT_MESSAGES_PER_USER") or "20 per minute",
        "RATELIMIT_API_PER_TOKEN": os.environ.get("RATELIMIT_API_PER_TOKEN") or "300 per minute",
        **_provider_env(),
    }
