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


def _provider_env() -> dict[str, str | None]:
    # The registry says which variables each provider reads.
    return {var: os.environ.get(var) or None for spec in PROVIDERS.values() for var in spec.env_vars}


def load() -> dict:
    """The app's configuration as a dict, from the environment."""
    return {
        "APP_ENV": os.environ.get("APP_ENV", "development"),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or DEV_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or f"sqlite:///{INSTANCE_DIR / 'chat.sqlite3'}",
        "REGISTRATION_OPEN": _bool("REGISTRATION_OPEN", False),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1024 * 1024),
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "PROVIDER_TIMEOUT_SECONDS": _float("PROVIDER_TIMEOUT_SECONDS", 120.0),
        "PROVIDER_MAX_RETRIES": _int("PROVIDER_MAX_RETRIES", 2),
        "MAX_OUTPUT_TOKENS": _int("MAX_OUTPUT_TOKENS", 4096),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        **_provider_env(),
    }
