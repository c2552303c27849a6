"""The application factory."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import config, db_pool, providers, rate_limits, security, static_files
from .extensions import csrf, db, login, migrate
from .markdown import render_markdown

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: config → extensions → blueprints → error handlers → CLI."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(config.INSTANCE_DIR),
    )
    app.config.update(config.load())
    app.config.update(overrides or {})
    _refuse_unsafe_production(app)
    from .services import pricing
    pricing.table_for(app.config)  # a malformed prices file stops the start, naming the file and line
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    db_pool.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login.init_app(app)
    rate_limits.init_app(app)
    security.init_app(app)
    static_files.init_app(app)

    from . import auth, health, htmx, pages
    from .api import bp as api_bp

    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api_bp)
    htmx.init_app(app)
    app.jinja_env.globals["provider_spec"] = providers.get
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["cost"] = pricing.format_cost

    from . import cli, errors
    from .services import catalog, chat, titles

    errors.init_app(app)
    cli.init_app(app)
    catalog.init_app(app)
    chat.init_app(app)  # its runner refreshes the catalogue
    titles.init_app(app)
    return app


def _refuse_unsafe_production(app: Flask) -> None:
    if app.config["APP_ENV"] == "production" and app.config["SECRET_KEY"] == config.DEV_SECRET_KEY:
        raise RuntimeError("APP_ENV=production needs a real SECRET_KEY; set it in the environment.")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers run beside a writer; the busy timeout waits for a lock instead of failing.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
