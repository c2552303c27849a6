"""Full-text search over a user's thread titles and messages, ranked, filtered and paged.

Ranking is by kind, then time: titles that match come first, then messages (their text or their
thinking), newest first within each. That order is the index's own (rowid / id), so a page costs the
same on the first match as on the thousandth, and the cursor is simply where the last page stopped.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from markupsafe import Markup, escape
from sqlalchemy import Select, cast, column, func, literal_column, select, table
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.exc import OperationalError

from .. import providers
from ..extensions import db
from ..limits import ID_MAX
from ..models import Message, Project, Thread
from ..pagination import INVALID_CURSOR, Page, cursor_id, decode_cursor, encode_cursor
from .search_query import SearchQuery, SearchQueryError

messages, threads, projects = Message.__table__, Thread.__table__, Project.__table__
PROVIDER = func.coalesce(threads.c.model_provider, providers.DEFAULT_PROVIDER)
KINDS = ("thread", "message")  # the order results come in


@dataclass(frozen=True)
class Filters:
    """What narrows a search: a project, a provider, and a time range [since, until)."""

    project_id: int | None = None
    provider: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Hit:
    """One result: a thread whose title matched (message_id None) or one of its messages."""

    thread_id: int
    message_id: int | None
    title: str
    snippet: Markup
    role: str | None
    created_at: datetime
    model_provider: str


@dataclass(frozen=True)
class Marks:
    """Markers the database puts around matched words; random per search, so no stored text holds them."""

    start: str
    end: str

    @classmethod
    def new(cls) -> Marks:
        nonce = secrets.token_hex(8)
        return cls(f"MARKSTART{nonce}X", f"MARKEND{nonce}X")

    def markup(self, raw: str) -> Markup:
        """The snippet as escaped text in which only our own <mark> tags are markup."""
        escaped = str(escape(re.sub(r"\s+", " ", raw).strip()))
        return Markup(escaped.replace(self.start, "<mark>").replace(self.end, "</mark>"))


def _day(value: str, end: bool) -> datetime:
    # A date alone means the whole day, in UTC: `to` includes it.
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SearchQueryError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time.") from None
    if len(value) == 10:
        moment = datetime.combine(date.fromisoformat(value), time()) + (timedelta(days=1) if end else timedelta())
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def filters_from(args) -> Filters:
    """Filters from request arguments (project_id, provider, from, to); SearchQueryError names a bad one."""
    project_id = args.get("project_id") or None
    if project_id is not None and not (project_id.isascii() and project_id.isdigit() and len(project_id) <= 19
                                       and 0 < int(project_id) <= ID_MAX):
        raise SearchQueryError("project_id must be a project's id.")
    provider = args.get("provider") or None
    if provider is not None and provider not in providers.PROVIDERS:
        raise SearchQueryError(f"provider must be one of {', '.join(providers.PROVIDERS)}.")
    since, until = args.get("from") or None, args.get("to") or None
    return Filters(int(project_id) if project_id else None, provider,
                   _day(since, end=False) if since else None, _day(until, end=True) if until else None)


def _scoped(query: Select, user_id: int, filters: Filters, moment) -> Select:
    # A subquery, not a join: SQLite then keeps the index as the outer loop, in its own order, and
    # stops at the page's last row instead of sorting (and snippeting) every match.
    query = query.where(threads.c.project_id.in_(select(projects.c.id).where(projects.c.user_id == user_id)))
    if filters.project_id is not None:
        query = query.where(threads.c.project_id == filters.project_id)
    if filters.provider is not None:
        query = query.where(PROVIDER == filters.provider)
    if filters.since is not None:
        query = query.where(moment >= filters.since)
    if filters.until is not None:
        query = query.where(moment < filters.until)
    return query


class SQLiteIndex:
    """FTS5 tables messages_fts and threads_fts (migration 0006); snippets come from FTS5 itself."""

    def __init__(self, query: SearchQuery, marks: Marks, language: str):
        self.match, self.marks = query.fts5(), marks

    def title_hits(self, user_id: int, filters: Filters, before: int | None, limit: int) -> Select:
        fts = table("threads_fts", column("rowid"))
        snippet = func.highlight(literal_column("threads_fts"), 0, self.marks.start, self.marks.end)
        query = (select(threads.c.id, threads.c.title, threads.c.created_at, PROVIDER.label("provider"),
                        snippet.label("snippet"))
                 .select_from(fts.join(threads, threads.c.id == fts.c.rowid))
                 .where(literal_column("threads_fts").op("MATCH")(self.match)))
        if before is not None:
            query = query.where(fts.c.rowid < before)
        return _scoped(query, user_id, filters, threads.c.created_at).order_by(fts.c.rowid.desc()).limit(limit)

    def message_hits(self, user_id: int, filters: Filters, before: int | None, limit: int) -> Select:
        fts = table("messages_fts", column("rowid"))
        snippet = func.snippet(literal_column("messages_fts"), -1, self.marks.start, self.marks.end, "…", 24)
        query = (select(messages.c.id, messages.c.thread_id, messages.c.role, messages.c.created_at,
                        threads.c.title, PROVIDER.label("provider"), snippet.label("snippet"))
                 .select_from(fts.join(messages, messages.c.id == fts.c.rowid)
                              .join(threads, threads.c.id == messages.c.thread_id))
                 .where(literal_column("messages_fts").op("MATCH")(self.match)))
        if before is not None:
            query = query.where(fts.c.rowid < before)
        return _scoped(query, user_id, filters, messages.c.created_at).order_by(fts.c.rowid.desc()).limit(limit)


class PostgresIndex:
    """Generated tsvector columns with GIN indexes (migration 0006); snippets from ts_headline."""

    def __init__(self, query: SearchQuery, marks: Marks, language: str):
        self.language = cast(language, REGCONFIG)
        self.tsquery = func.websearch_to_tsquery(self.language, query.text)
        self.options = f"StartSel={marks.start}, StopSel={marks.end}"

    def _matches(self, source) -> object:
        return literal_column(f"{source.name}.search_vector").op("@@")(self.tsquery)

    def title_hits(self, user_id: int, filters: Filters, before: int | None, limit: int) -> Select:
        snippet = func.ts_headline(self.language, threads.c.title, self.tsquery, f"{self.options}, HighlightAll=true")
        query = (select(threads.c.id, threads.c.title, threads.c.created_at, PROVIDER.label("provider"),
                        snippet.label("snippet"))
                 .select_from(threads).where(self._matches(threads)))
        if before is not None:
            query = query.where(threads.c.id < before)
        return _scoped(query, user_id, filters, threads.c.created_at).order_by(threads.c.id.desc()).limit(limit)

    def message_hits(self, user_id: int, filters: Filters, before: int | None, limit: int) -> Select:
        # The page is chosen first; only its rows pay for a headline.
        page = (select(messages.c.id, messages.c.thread_id, messages.c.role, messages.c.created_at,
                       threads.c.title, PROVIDER.label("provider"))
                .select_from(messages.join(threads, threads.c.id == messages.c.thread_id))
                .where(self._matches(messages)))
        if before is not None:
            page = page.where(messages.c.id < before)
        page = _scoped(page, user_id, filters, messages.c.created_at).order_by(messages.c.id.desc()).limit(limit)
        page = page.subquery("page")
        body = messages.c.content + " " + func.coalesce(messages.c.thinking, "")
        options = f"{self.options}, MaxWords=30, MinWords=12, ShortWord=0"
        snippet = func.ts_headline(self.language, body, self.tsquery, options)
        return (select(*page.c, snippet.label("snippet")).join(messages, messages.c.id == page.c.id)
                .order_by(page.c.id.desc()))


def _index(query: SearchQuery, marks: Marks, config) -> SQLiteIndex | PostgresIndex:
    kind = PostgresIndex if db.engine.dialect.name == "postgresql" else SQLiteIndex
    return kind(query, marks, config["SEARCH_LANGUAGE"])


def _start(cursor: str | None) -> tuple[str, int | None]:
    if not cursor:
        return KINDS[0], None
    kind, before = decode_cursor(cursor, 2)
    if kind not in KINDS:
        raise SearchQueryError(INVALID_CURSOR)
    return kind, cursor_id(before)


def search(user_id: int, query: SearchQuery, filters: Filters, limit: int, cursor: str | None, config) -> Page[Hit]:
    """One page of the user's matching titles, then messages; SearchQueryError for a bad cursor."""
    kind, before = _start(cursor)
    marks = Marks.new()
    index = _index(query, marks, config)
    hits: list[Hit] = []
    try:
        if kind == "thread":
            rows = db.session.execute(index.title_hits(user_id, filters, before, limit + 1))
            hits += [Hit(r.id, None, r.title, marks.markup(r.snippet), None, r.created_at, r.provider) for r in rows]
            before = None
        if len(hits) <= limit:
            rows = db.session.execute(index.message_hits(user_id, filters, before, limit + 1 - len(hits)))
            hits += [Hit(r.thread_id, r.id, r.title, marks.markup(r.snippet or ""), r.role, r.created_at, r.provider)
                     for r in rows]
    except OperationalError as exc:  # the query is built from quoted strings only; this is a last guard
        db.session.rollback()
        raise SearchQueryError("The search could not be read; try other words.") from exc
    if len(hits) <= limit:
        return Page(hits, None)
    last = hits[limit - 1]
    position = ("message", last.message_id) if last.message_id else ("thread", last.thread_id)
    return Page(hits[:limit], encode_cursor(*position))
