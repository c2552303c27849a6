"""Full-text search at scale, and what its index costs the post path.

    .venv/bin/python -m bench.search --database sqlite        # or postgresql, or both (the default)

1. Seeds MESSAGES messages over THREADS threads of one user in bulk (COPY on PostgreSQL, executemany on
   SQLite; the index is built as the rows go in, by the migration's triggers or generated columns), with
   words drawn from a Zipf-like vocabulary and lengths like a chat's (short questions, longer replies).
2. Times app.services.search.search (the page of 20 the API answers, snippets included) for one-word,
   two-word and phrase queries, and reports each kind's median and p95.
3. Measures the CPU of the post path's writes (the user message and pending reply inserted, the ending
   stored) with the index and, on a database migrated only to 0004, without it, taking turns; the
   difference is the index's cost per reply. `--writes-only` runs this part alone.
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, insert, text

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
VOCABULARY = 20_000
QUERIES = 200  # per kind
WRITE_REPLIES = 1000


def _words(rng: random.Random) -> list[str]:
    """A vocabulary of pronounceable words, the first ones the most frequent."""
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "ri", "gu", "fa", "zo", "be", "ch"]
    words = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words, key=lambda w: rng.random())


class Text:
    """Message bodies with Zipf-distributed words."""

    def __init__(self, rng: random.Random):
        self.rng, self.words = rng, _words(rng)
        self.cum_weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(VOCABULARY)))

    def body(self, role: str) -> str:
        length = self.rng.randint(5, 30) if role == "user" else self.rng.randint(30, 120)
        return " ".join(self.rng.choices(self.words, cum_weights=self.cum_weights, k=length))

    def mid_frequency(self) -> str:
        """A word among the 100th to 2,000th most frequent: found often, but not in every message."""
        return self.words[self.rng.randint(100, 2000)]


def _app(url: str):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})


def _migrate(app, revision: str = "head") -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(revision=revision)


def _rows(text_source: Text, threads: int, messages: int):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    per_thread = messages // threads
    for t in range(threads):
        for n in range(per_thread):
            role = "user" if n % 2 == 0 else "assistant"
            moment = start + timedelta(seconds=t * per_thread + n)
            yield t + 1, role, text_source.body(role), moment


def seed(url: str, threads: int, messages: int, rng: random.Random) -> tuple[int, Text]:
    """One user, one project, `threads` threads and `messages` messages; the user's id and the text source."""
    app = _app(url)
    _migrate(app)
    source = Text(rng)
    now = datetime.now(timezone.utc)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, password_hash, created_at) VALUES (1, 'b@example.com', 'x', :n)"),
                     {"n": now})
        conn.execute(text("INSERT INTO projects (id, user_id, name, instructions, created_at, updated_at) "
                          "VALUES (1, 1, 'Bench', '', :n, :n)"), {"n": now})
        conn.execute(text("INSERT INTO threads (id, project_id, title, model_provider, created_at, updated_at, thinking) "
                          "VALUES (:id, 1, :title, 'anthropic', :n, :n, true)"),
                     [{"id": t + 1, "title": " ".join(rng.choices(source.words[:3000], k=4)), "n": now}
                      for t in range(threads)])
    started = time.monotonic()
    if engine.dialect.name == "postgresql":
        _copy_postgres(engine, _rows(source, threads, messages))
    else:
        _insert_sqlite(engine, _rows(source, threads, messages))
    print(f"  seeded {messages:,} messages in {time.monotonic() - started:.0f} s")
    engine.dispose()
    with app.app_context():
        from app.extensions import db
        db.engine.dispose()
    return 1, source


def _copy_postgres(engine, rows) -> None:
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            with cursor.copy("COPY messages (thread_id, role, content, created_at, status, attempt) FROM STDIN") as copy:
                for thread_id, role, body, moment in rows:
                    copy.write_row((thread_id, role, body, moment, "complete", 0))
        raw.commit()
        with raw.cursor() as cursor:
            cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _insert_sqlite(engine, rows, batch: int = 20_000) -> None:
    from app.models import Message

    chunk = []
    with engine.begin() as conn:
        for thread_id, role, body, moment in rows:
            chunk.append({"thread_id": thread_id, "role": role, "content": body, "created_at": moment,
                          "status": "complete", "attempt": 0})
            if len(chunk) == batch:
                conn.execute(insert(Message.__table__), chunk)
                chunk = []
        if chunk:
            conn.execute(insert(Message.__table__), chunk)
        conn.exec_driver_sql("ANALYZE")


def _queries(source: Text, url: str, rng: random.Random) -> dict[str, list[str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        bodies = conn.execute(text("SELECT content FROM messages WHERE id % 997 = 0 LIMIT :n"),
                              {"n": QUERIES}).scalars().all()
    engine.dispose()
    phrases = []
    for body in bodies:
        words = body.split()
        i = rng.randrange(len(words) - 1)
        phrases.append(f'"{words[i]} {words[i + 1]}"')
    return {"one word": [source.mid_frequency() for _ in range(QUERIES)],
            "two words": [f"{source.mid_frequency()} {source.mid_frequency()}" for _ in range(QUERIES)],
            "phrase": phrases}


def time_queries(url: str, user_id: int, queries: dict[str, list[str]]) -> dict[str, tuple[float, float]]:
    """Median and p95, in ms, of one page of search results per kind of query."""
    from app.services import search
    from app.services.search_query import parse

    app = _app(url)
    figures = {}
    with app.test_request_context():
        for kind, texts in queries.items():
            search.search(user_id, parse(texts[0]), search.Filters(), 20, None, app.config)  # warm the cache
            times = []
            for q in texts:
                started = time.perf_counter()
                search.search(user_id, parse(q), search.Filters(), 20, None, app.config)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            figures[kind] = (statistics.median(times), times[int(len(times) * 0.95) - 1])
        from app.extensions import db
        db.session.remove()
        db.engine.dispose()
    return figures


def _writes_database(url: str, revision: str):
    """A fresh database at `revision` with one thread; its engine."""
    app = _app(url)
    _migrate(app, revision)
    with app.app_context():
        from app.extensions import db
        db.engine.dispose()
    engine = create_engine(url)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, password_hash, created_at) VALUES (1, 'b@example.com', 'x', :n)"),
                     {"n": now})
        conn.execute(text("INSERT INTO projects (id, user_id, name, instructions, created_at, updated_at) "
                          "VALUES (1, 1, 'Bench', '', :n, :n)"), {"n": now})
        conn.execute(text("INSERT INTO threads (id, project_id, title, created_at, updated_at, thinking) "
                          "VALUES (1, 1, 'Bench', :n, :n, true)"), {"n": now})
    return engine


def _one_reply(engine, question: str, answer: str) -> None:
    """The post path's writes for one reply: both messages inserted, then the ending stored."""
    from app.models import COMPLETE, PENDING
    from app.services import replies_store

    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        rows = conn.execute(insert(replies_store.messages).returning(replies_store.messages.c.id), [
            {"thread_id": 1, "role": "user", "content": question, "status": COMPLETE, "attempt": 0, "created_at": now},
            {"thread_id": 1, "role": "assistant", "content": "", "status": PENDING, "attempt": 1,
             "created_at": now, "heartbeat_at": now}]).scalars().all()
    replies_store.store_endings(engine, [replies_store.Ending(max(rows), 1, answer, COMPLETE, "m", "end_turn")])


def _server_cpu(engine) -> float:
    """CPU seconds spent so far by the PostgreSQL backend behind the engine's one connection (same machine)."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_writes(indexed_url: str, plain_url: str, source: Text) -> tuple[float, float]:
    """CPU per reply, in ms, of the post path's writes with the index and without (at 0004).

    The two databases take turns, so both see the same load from the rest of the machine. The CPU is
    this process's, plus on PostgreSQL that of the server's backend process (the engines hold one
    connection each, so one backend does all of an engine's work).
    """
    engines = {"indexed": _writes_database(indexed_url, "head"),
               "plain": _writes_database(plain_url, "0004_models_and_thinking")}
    for name, engine in engines.items():
        engine.dispose()
        engines[name] = create_engine(engine.url, pool_size=1, max_overflow=0)
    spent = {name: -_server_cpu(engine) for name, engine in engines.items()}
    for _ in range(WRITE_REPLIES // 50):
        bodies = [(source.body("user"), source.body("assistant")) for _ in range(50)]
        for name, engine in engines.items():
            started = time.process_time()
            for question, answer in bodies:
                _one_reply(engine, question, answer)
            spent[name] += time.process_time() - started
    for name, engine in engines.items():
        spent[name] += _server_cpu(engine)
        engine.dispose()
    return spent["indexed"] * 1000 / WRITE_REPLIES, spent["plain"] * 1000 / WRITE_REPLIES


class Database:
    """A throwaway database of the bench's own: a SQLite file, or a PostgreSQL database made and dropped."""

    def __init__(self, kind: str):
        self.kind = kind

    def __enter__(self) -> str:
        if self.kind == "sqlite":
            self.tmp = tempfile.TemporaryDirectory()
            return f"sqlite:///{self.tmp.name}/search.sqlite3"
        self.name = f"bench_search_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(f"{POSTGRES_URL}/postgres", isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return f"{POSTGRES_URL}/{self.name}"

    def __exit__(self, *exc) -> None:
        if self.kind == "sqlite":
            self.tmp.cleanup()
            return
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def run(kind: str, threads: int, messages: int) -> None:
    """Seed, time the queries and the writes on one kind of database, and print the figures."""
    rng = random.Random(20)
    print(f"{kind}: {messages:,} messages over {threads:,} threads")
    with Database(kind) as url:
        user_id, source = seed(url, threads, messages, rng)
        for query_kind, (median, p95) in time_queries(url, user_id, _queries(source, url, rng)).items():
            print(f"  {query_kind:10} median {median:6.1f} ms   p95 {p95:6.1f} ms")
    writes(kind, source)


def writes(kind: str, source: Text) -> None:
    """Time the post path's writes with and without the index, and print the figures."""
    with Database(kind) as indexed, Database(kind) as plain:
        with_index, without = time_writes(indexed, plain, source)
    what = "CPU" if kind == "sqlite" else "CPU, app and server"
    print(f"  post path writes per reply ({what}): {with_index:.2f} ms with the index, {without:.2f} ms without "
          f"(+{with_index - without:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--threads", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--writes-only", action="store_true", help="only the post path's writes (part 3)")
    args = parser.parse_args()
    for kind in (["sqlite", "postgresql"] if args.database == "both" else [args.database]):
        if args.writes_only:
            writes(kind, Text(random.Random(20)))
        else:
            run(kind, args.threads, args.messages)


if __name__ == "__main__":
    main()
