"""Full-text search over thread titles and message texts, with the rows already stored indexed.

PostgreSQL: a generated tsvector column on messages and threads, each with a GIN index. SQLite: FTS5
tables over messages and threads (external content: the text lives once, in its own table), kept in
step by triggers. A reply still being written (status 'pending') is not indexed, so the partial saves
made every second while it streams cost nothing here; it is indexed once, when it ends. The text-search
language is SEARCH_LANGUAGE as the migration runs.

A later SQLite batch_alter_table on messages or threads rebuilds the table and so drops its triggers:
such a migration must create SQLITE_TRIGGERS (below) again.

Revision ID: 0006_search
Revises: 0004_models_and_thinking
Create Date: 2026-12-03 15:10:00

"""
import re

from alembic import op
from flask import current_app


# revision identifiers, used by Alembic.
revision = '0006_search'
down_revision = '0005_message_tree'
branch_labels = None
depends_on = None


def _language() -> str:
    language = current_app.config.get("SEARCH_LANGUAGE", "english")
    if not re.fullmatch(r"[a-z_]+", language):  # it is written into the DDL below
        raise RuntimeError(f"SEARCH_LANGUAGE must be a text search configuration name, not {language!r}.")
    return language


def _vector(language: str, text: str) -> str:
    return f"to_tsvector('{language}'::regconfig, {text})"


def _sqlite_tokenizer(language: str) -> str:
    stemmer = "porter " if language == "english" else ""
    return f"{stemmer}unicode61 remove_diacritics 2"


SQLITE_TRIGGERS = [
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.status != 'pending' BEGIN
         INSERT INTO messages_fts (rowid, content, thinking) VALUES (new.id, new.content, new.thinking);
       END""",
    # The index must be told the old text it holds, so a row leaves it only if it was in it.
    """CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, thinking, status ON messages
       WHEN old.status != 'pending' OR new.status != 'pending' BEGIN
         INSERT INTO messages_fts (messages_fts, rowid, content, thinking)
           SELECT 'delete', old.id, old.content, old.thinking WHERE old.status != 'pending';
         INSERT INTO messages_fts (rowid, content, thinking)
           SELECT new.id, new.content, new.thinking WHERE new.status != 'pending';
       END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.status != 'pending' BEGIN
         INSERT INTO messages_fts (messages_fts, rowid, content, thinking)
           VALUES ('delete', old.id, old.content, old.thinking);
       END""",
    """CREATE TRIGGER threads_fts_insert AFTER INSERT ON threads BEGIN
         INSERT INTO threads_fts (rowid, title) VALUES (new.id, new.title);
       END""",
    """CREATE TRIGGER threads_fts_update AFTER UPDATE OF title ON threads BEGIN
         INSERT INTO threads_fts (threads_fts, rowid, title) VALUES ('delete', old.id, old.title);
         INSERT INTO threads_fts (rowid, title) VALUES (new.id, new.title);
       END""",
    """CREATE TRIGGER threads_fts_delete AFTER DELETE ON threads BEGIN
         INSERT INTO threads_fts (threads_fts, rowid, title) VALUES ('delete', old.id, old.title);
       END""",
]


def _upgrade_sqlite(language: str) -> None:
    tokenizer = _sqlite_tokenizer(language)
    op.execute(f"CREATE VIRTUAL TABLE messages_fts USING fts5(content, thinking, content='messages', "
               f"content_rowid='id', tokenize='{tokenizer}')")
    op.execute(f"CREATE VIRTUAL TABLE threads_fts USING fts5(title, content='threads', content_rowid='id', "
               f"tokenize='{tokenizer}')")
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute("INSERT INTO messages_fts (rowid, content, thinking) "
               "SELECT id, content, thinking FROM messages WHERE status != 'pending'")
    op.execute("INSERT INTO threads_fts (rowid, title) SELECT id, title FROM threads")


def _upgrade_postgresql(language: str) -> None:
    # Generated columns: every write path (ORM, Core, cascades, imports) keeps them right by itself.
    message_text = "coalesce(content, '') || ' ' || coalesce(thinking, '')"
    op.execute("ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
               f"(CASE WHEN status = 'pending' THEN NULL ELSE {_vector(language, message_text)} END) STORED")
    op.execute("CREATE INDEX ix_messages_search_vector ON messages USING gin (search_vector)")
    op.execute("ALTER TABLE threads ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
               f"({_vector(language, 'title')}) STORED")
    op.execute("CREATE INDEX ix_threads_search_vector ON threads USING gin (search_vector)")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql(_language())
    else:
        _upgrade_sqlite(_language())


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_threads_search_vector")
        op.execute("ALTER TABLE threads DROP COLUMN search_vector")
        op.execute("DROP INDEX ix_messages_search_vector")
        op.execute("ALTER TABLE messages DROP COLUMN search_vector")
        return
    for name in ("messages_fts_insert", "messages_fts_update", "messages_fts_delete",
                 "threads_fts_insert", "threads_fts_update", "threads_fts_delete"):
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE threads_fts")
    op.execute("DROP TABLE messages_fts")
