"""Several servers running `flask db upgrade` at once on one PostgreSQL database: one migrates, the others wait."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db
from app.search_schema import include_object
from tests.conftest import dispose_engines
from tests.helpers import seed_at_first_revision

# It needs PostgreSQL whichever pass runs it, so it runs once, in the SQLite pass, against its own database.
pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent
PG_TEST_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SERVERS = 4
SCRIPTS = ScriptDirectory(str(ROOT / "migrations"))
HEAD = SCRIPTS.get_current_head()


@pytest.fixture
def pg_app():
    """An app on a fresh PostgreSQL database of this test's own, dropped afterwards."""
    admin = create_engine(PG_TEST_URL, isolation_level="AUTOCOMMIT")
    name = f"concurrent_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_TEST_URL} (set PG_TEST_URL): {exc}")
    url = PG_TEST_URL.rsplit("/", 1)[0] + f"/{name}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "t"})
    yield app
    dispose_engines(app)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _upgrade_from_several_servers(url: str) -> list[tuple[int, str]]:
    """Start SERVERS `flask --app wsgi db upgrade` processes together; their exit codes and output."""
    env = {**os.environ, "DATABASE_URL": url}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for _ in range(SERVERS)]
    outputs = [process.communicate(timeout=100)[0] for process in processes]
    return [(process.returncode, output) for process, output in zip(processes, outputs)]


def _assert_at_head(app) -> None:
    """One alembic_version row, at head, and the schema the models describe."""
    with app.app_context():
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn, opts={"include_object": include_object}), db.metadata) == []
        db.session.remove()


def _assert_each_revision_ran_once(results: list[tuple[int, str]], revisions: list[str]) -> None:
    """Every process exited 0, and exactly one of them ran each revision."""
    failed = [output for code, output in results if code != 0]
    assert not failed, f"{len(failed)} of {SERVERS} upgrades failed:\n" + "\n".join(failed)
    for revision in revisions:
        assert sum(f"-> {revision}," in output for _, output in results) == 1, revision


def _revisions_after(base: str | None) -> list[str]:
    return [script.revision for script in SCRIPTS.iterate_revisions(HEAD, base)]


def test_servers_upgrading_a_fresh_database_at_once_all_succeed(pg_app):
    results = _upgrade_from_several_servers(pg_app.config["SQLALCHEMY_DATABASE_URI"])
    _assert_each_revision_ran_once(results, _revisions_after(None))
    _assert_at_head(pg_app)


def test_servers_upgrading_a_database_one_revision_behind_keep_its_rows(pg_app):
    behind = SCRIPTS.get_revision(HEAD).down_revision
    with pg_app.app_context():
        upgrade(revision=behind)
        seed_at_first_revision()
        db.session.remove()
        db.engine.dispose()
    results = _upgrade_from_several_servers(pg_app.config["SQLALCHEMY_DATABASE_URI"])
    _assert_each_revision_ran_once(results, _revisions_after(behind))
    _assert_at_head(pg_app)
    with pg_app.app_context():
        threads = db.session.execute(text("SELECT id, title FROM threads ORDER BY id")).all()
        messages = db.session.execute(text("SELECT id, content, status FROM messages")).all()
    assert threads == [(1, "Old one"), (2, "Old two")]
    assert messages == [(1, "hi", "complete")]
