"""The migration history adds threads.model_provider to a database that already holds data."""
import uuid
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from app import create_app
from tests.conftest import dispose_engines
from tests.helpers import seed_at_first_revision
from app.extensions import db
from app.search_schema import include_object

FIRST = "0001_initial"


@pytest.fixture
def own_database_url(database_url, tmp_path):
    """A database of this test's own: a throwaway SQLite file, or a PostgreSQL database made and dropped."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"migrations_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield database_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def migration_app(own_database_url):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": own_database_url, "SECRET_KEY": "t"})
    yield app
    dispose_engines(app)


def _thread_rows():
    return db.session.execute(text("SELECT id, title, model_provider FROM threads ORDER BY id")).all()


def test_model_provider_is_added_to_existing_rows_as_null_and_read_as_anthropic(migration_app):
    with migration_app.app_context():
        upgrade(revision=FIRST)
        assert "model_provider" not in {c["name"] for c in inspect(db.engine).get_columns("threads")}
        seed_at_first_revision()
        upgrade()
        assert _thread_rows() == [(1, "Old one", None), (2, "Old two", None)]
        from app.services import accounts
        from app.models import User

        _, secret = accounts.create_token(db.session.get(User, 1), "t")
    client = migration_app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    for thread_id in (1, 2):
        assert client.get(f"/api/threads/{thread_id}", headers=headers).json["model_provider"] == "anthropic"
    listing = client.get("/api/projects/1/threads", headers=headers).json["threads"]
    assert {t["model_provider"] for t in listing} == {"anthropic"}
    with client.session_transaction() as session:
        session["_user_id"] = "1"
        session["_fresh"] = True
    page = client.get("/threads/1").get_data(as_text=True)
    assert "badge badge-anthropic" in page and "Old one" in page


def test_downgrade_and_upgrade_again_keep_every_row(migration_app):
    with migration_app.app_context():
        upgrade(revision=FIRST)
        seed_at_first_revision()
        upgrade()
        db.session.execute(text("UPDATE threads SET model_provider = 'google' WHERE id = 2"))
        db.session.commit()
        downgrade(revision=FIRST)
        assert "model_provider" not in {c["name"] for c in inspect(db.engine).get_columns("threads")}
        assert db.session.execute(text("SELECT count(*) FROM threads")).scalar() == 2
        assert db.session.execute(text("SELECT count(*) FROM messages")).scalar() == 1
        db.session.rollback()  # end the read transaction, or PostgreSQL's ALTER waits for it
        upgrade()
        assert [row[:2] for row in _thread_rows()] == [(1, "Old one"), (2, "Old two")]
        assert db.session.execute(text("SELECT content FROM messages")).scalar() == "hi"


def test_models_match_the_migrations(migration_app):
    with migration_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"include_object": include_object}),
                                     db.metadata)
        assert diffs == []
    result = migration_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_the_provider_column_is_nullable_varchar_20(migration_app):
    with migration_app.app_context():
        upgrade()
        column = {c["name"]: c for c in inspect(db.engine).get_columns("threads")}["model_provider"]
        assert column["nullable"] is True
        assert getattr(column["type"], "length", None) == 20


THIRD = "0003_reply_state"


def _seed_at_third_revision() -> None:
    now = datetime(2026, 11, 30, 8, 0, 0, tzinfo=timezone.utc)
    seed_at_first_revision()
    db.session.execute(text("UPDATE threads SET model_provider = 'google' WHERE id = 2"))
    db.session.execute(text(
        "INSERT INTO messages (id, thread_id, role, content, created_at, status, provider, model, input_tokens, "
        "output_tokens, attempt) VALUES (2, 1, 'assistant', 'hello back', :now, 'complete', 'anthropic', "
        "'claude-old', 3, 2, 1)"), {"now": now})
    db.session.commit()


def test_model_and_thinking_columns_are_added_to_existing_rows(migration_app):
    with migration_app.app_context():
        upgrade(revision=THIRD)
        _seed_at_third_revision()
        upgrade()
        threads = db.session.execute(text("SELECT id, model_provider, model, thinking FROM threads ORDER BY id")).all()
        assert [(t.id, t.model_provider, t.model, bool(t.thinking)) for t in threads] == [
            (1, None, None, True), (2, "google", None, True)]
        messages = db.session.execute(text(
            "SELECT id, content, model, output_tokens, thinking, reasoning_tokens, thinking_ms FROM messages "
            "ORDER BY id")).all()
        assert [tuple(m) for m in messages] == [
            (1, "hi", None, None, None, None, None), (2, "hello back", "claude-old", 2, None, None, None)]


def test_downgrade_from_models_and_thinking_keeps_every_row(migration_app):
    with migration_app.app_context():
        upgrade(revision=THIRD)
        _seed_at_third_revision()
        upgrade()
        db.session.execute(text("UPDATE threads SET model = 'gemini-flash-latest', thinking = :off WHERE id = 2"),
                           {"off": False})
        db.session.execute(text("UPDATE messages SET thinking = 'hmm', reasoning_tokens = 4 WHERE id = 2"))
        db.session.commit()
        downgrade(revision=THIRD)
        assert "model" not in {c["name"] for c in inspect(db.engine).get_columns("threads")}
        assert "thinking" not in {c["name"] for c in inspect(db.engine).get_columns("messages")}
        assert db.session.execute(text("SELECT content FROM messages ORDER BY id")).scalars().all() == [
            "hi", "hello back"]
        db.session.rollback()  # end the read transaction, or PostgreSQL's ALTER waits for it
        upgrade()
        assert db.session.execute(text("SELECT count(*) FROM threads WHERE model IS NULL")).scalar() == 2


FOURTH = "0004_models_and_thinking"


def _seed_at_fourth_revision() -> None:
    """Two linear threads (one of three messages, one of one) and an empty one."""
    now = datetime(2026, 12, 1, 9, 0, 0, tzinfo=timezone.utc)
    _seed_at_third_revision()
    db.session.execute(text("INSERT INTO threads (id, project_id, title, created_at, updated_at) "
                            "VALUES (3, 1, 'Empty', :now, :now)"), {"now": now})
    db.session.execute(text("INSERT INTO messages (id, thread_id, role, content, created_at) "
                            "VALUES (3, 2, 'user', 'other thread', :now)"), {"now": now})
    db.session.execute(text("INSERT INTO messages (id, thread_id, role, content, created_at) "
                            "VALUES (4, 1, 'user', 'and then?', :now)"), {"now": now})
    db.session.commit()


def _tree_rows():
    messages = db.session.execute(text("SELECT id, parent_id FROM messages ORDER BY id")).all()
    threads = db.session.execute(text("SELECT id, head_id, forked_from_message_id FROM threads ORDER BY id")).all()
    return [tuple(m) for m in messages], [tuple(t) for t in threads]


def test_linear_threads_become_chains_and_the_downgrade_keeps_the_current_path(migration_app):
    with migration_app.app_context():
        upgrade(revision=FOURTH)
        _seed_at_fourth_revision()
        upgrade()
        assert _tree_rows() == ([(1, None), (2, 1), (3, None), (4, 2)], [(1, 4, None), (2, 3, None), (3, None, None)])
        from app.models import Thread
        from app.services import tree

        path = tree.path_page(db.session.get(Thread, 1), 50, None).items
        assert [m.content for m in path] == ["hi", "hello back", "and then?"]
        # A second version of the first message, with a reply, made current: the old branch is off the path.
        db.session.execute(text("INSERT INTO messages (id, thread_id, parent_id, role, content, created_at) "
                                "VALUES (5, 1, NULL, 'user', 'hello', :now), (6, 1, 5, 'assistant', 'hey', :now)"),
                           {"now": datetime(2026, 12, 2, tzinfo=timezone.utc)})
        db.session.execute(text("UPDATE threads SET head_id = 6 WHERE id = 1"))
        db.session.commit()
        downgrade(revision=FOURTH)
        assert "parent_id" not in {c["name"] for c in inspect(db.engine).get_columns("messages")}
        assert "head_id" not in {c["name"] for c in inspect(db.engine).get_columns("threads")}
        assert db.session.execute(text("SELECT id, content FROM messages ORDER BY id")).all() == [
            (3, "other thread"), (5, "hello"), (6, "hey")]
        db.session.rollback()  # end the read transaction, or PostgreSQL's ALTER waits for it
        upgrade()
        assert _tree_rows() == ([(3, None), (5, None), (6, 5)], [(1, 6, None), (2, 3, None), (3, None, None)])


SEARCH = "0006_search"


def _seed_for_search() -> None:
    now = datetime(2026, 12, 1, 8, 0, 0, tzinfo=timezone.utc)
    _seed_at_third_revision()
    db.session.execute(text(
        "INSERT INTO messages (id, thread_id, role, content, created_at, status, attempt, thinking) VALUES "
        "(3, 2, 'user', 'tell me about penguins', :now, 'complete', 0, NULL), "
        "(4, 2, 'assistant', 'penguins half written', :now, 'pending', 1, NULL), "
        "(5, 1, 'assistant', 'done', :now, 'complete', 1, 'pondering penguins')"), {"now": now})
    db.session.commit()


def _search_as_old_user(app, q: str) -> list[tuple[int, int | None]]:
    from app.models import User
    from app.services import accounts

    with app.app_context():
        _, secret = accounts.create_token(db.session.get(User, 1), "search")
    body = app.test_client().get("/api/search", query_string={"q": q},
                                 headers={"Authorization": f"Bearer {secret}"}).json
    return [(r["thread_id"], r["message_id"]) for r in body["results"]]


def test_search_indexes_the_rows_already_stored_but_no_pending_reply(migration_app):
    with migration_app.app_context():
        upgrade(revision=FOURTH)
        _seed_for_search()
        upgrade()
    assert _search_as_old_user(migration_app, "penguin") == [(1, 5), (2, 3)]
    assert _search_as_old_user(migration_app, "old") == [(2, None), (1, None)]
    assert _search_as_old_user(migration_app, "hello") == [(1, 2)]


def test_downgrade_from_search_and_upgrade_again_index_every_row_once(migration_app):
    with migration_app.app_context():
        upgrade(revision=FOURTH)
        _seed_for_search()
        upgrade()
        downgrade(revision=FOURTH)
        tables = set(inspect(db.engine).get_table_names())
        assert not {t for t in tables if "fts" in t}
        assert "search_vector" not in {c["name"] for c in inspect(db.engine).get_columns("messages")}
        db.session.execute(text("UPDATE messages SET content = 'penguins, finished', status = 'complete' "
                                "WHERE id = 4"))
        db.session.execute(text("UPDATE threads SET title = 'Penguin facts' WHERE id = 1"))
        db.session.commit()
        assert db.session.execute(text("SELECT count(*) FROM messages")).scalar() == 5
        db.session.rollback()
        upgrade()
    assert _search_as_old_user(migration_app, "penguin") == [(1, None), (1, 5), (2, 4), (2, 3)]
