"""A health check for load balancers: the database answers and the worker does cooperative I/O."""
from __future__ import annotations

import sys

from flask import Blueprint
from sqlalchemy import text

from .extensions import db

bp = Blueprint("health", __name__)


def _io_mode() -> dict:
    # psycopg picks a blocking C wait unless gevent patched select before psycopg was first
    # imported; importing it here is a no-op when the app already did.
    import psycopg.waiting

    monkey = sys.modules.get("gevent.monkey")
    return {
        "gevent": bool(monkey and monkey.is_module_patched("socket")),
        "psycopg_wait": psycopg.waiting.wait.__name__,
    }


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 otherwise; no authentication."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        return {"status": "unavailable", "database": "unreachable", **_io_mode()}, 503
    return {"status": "ok", "database": "ok", **_io_mode()}
