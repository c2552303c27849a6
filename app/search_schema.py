"""The search index's own schema objects, made by migration 0006 outside the models."""
from __future__ import annotations

FTS_TABLES = ("messages_fts", "threads_fts")  # SQLite FTS5 tables, each with its shadow tables
SEARCH_COLUMN = "search_vector"  # PostgreSQL's generated tsvector, on messages and threads


def include_object(obj, name: str | None, type_: str, reflected: bool, compare_to) -> bool:
    """Leave the search index out of autogenerate's comparison of models and database."""
    if type_ == "table" and name and name.startswith(FTS_TABLES):
        return False
    if type_ == "column" and name == SEARCH_COLUMN:
        return False
    return not (type_ == "index" and name and name.endswith(f"_{SEARCH_COLUMN}"))
