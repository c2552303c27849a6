"""The app factory: configuration, the production guard, SQLite settings and the error pages."""
import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db


def test_production_refuses_to_start_without_a_real_secret_key(database_url):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"APP_ENV": "production", "SECRET_KEY": "dev-only-not-secret",
                    "SQLALCHEMY_DATABASE_URI": database_url})
    app = create_app({"APP_ENV": "production", "SECRET_KEY": "a-real-long-random-secret",
                      "SQLALCHEMY_DATABASE_URI": database_url})
    assert app.config["APP_ENV"] == "production"


def test_sqlite_runs_with_wal_a_busy_timeout_and_foreign_keys(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()


@pytest.fixture
def failing(app):
    """A route that raises, to see the 500 handler."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("kaboom")

    @app.get("/boom")
    def boom_page():
        raise RuntimeError("kaboom")

    return app


def test_an_unexpected_error_is_a_json_500_under_api_and_a_page_elsewhere(failing, client, auth):
    response = client.get("/api/boom")
    assert response.status_code == 500 and response.json == {"error": "Something went wrong on our side."}
    page = client.get("/boom")
    assert page.status_code == 500 and "<html" in page.get_data(as_text=True)
    assert "kaboom" not in page.get_data(as_text=True)


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["database"] == "ok"


def test_every_environment_variable_is_in_the_readme_table():
    import re
    from pathlib import Path

    from app.providers import PROVIDERS

    root = Path(__file__).resolve().parent.parent
    read = set(re.findall(r'(?:_int|_float|_bool|os\.environ\.get)\("([A-Z_]+)"',
                          (root / "app" / "config.py").read_text()))
    read |= {var for spec in PROVIDERS.values() for var in spec.env_vars}
    read |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', (root / "gunicorn.conf.py").read_text()))
    table = {row.split("|")[1] for row in (root / "README.md").read_text().splitlines() if row.startswith("| `")}
    documented = set(re.findall(r"`([A-Z_]+)`", " ".join(table)))
    assert read and not read - documented, sorted(read - documented)
