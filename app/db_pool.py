"""Pooled database connections: check a connection that sat idle before handing it out again.

SQLAlchemy's pool_pre_ping checks every checkout, which on PostgreSQL is one more round trip
for every request and every write of a reply. A connection handed back moments ago has just
shown it works; one that sat idle may have been dropped (a database restart, a proxy timeout).
"""
from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

from .extensions import db

PING_AFTER_IDLE_SECONDS = 5.0


def ping_when_idle(engine: Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Ping a pooled connection at checkout when it has been idle `idle_seconds`; replace it if dead.

    A connection found dead makes the pool open a fresh one, so the caller never sees it. The
    database going away while connections are in steady use still fails the statements sent
    then, as it would with any ping; SQLAlchemy then replaces the whole pool.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def remember_checkin(dbapi_connection, record) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, proxy) -> None:
        checked_in_at = record.info.get("checked_in_at")  # None: opened just now
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("A pooled connection was dead; opening a new one.") from exc


def init_app(app: Flask) -> None:
    """Check the app's idle connections (its pool is the request pool of this process)."""
    with app.app_context():
        ping_when_idle(db.engine)
