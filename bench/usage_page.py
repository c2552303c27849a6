"""How long the usage page takes for a person with 100,000 replies: `python -m bench.usage_page [DATABASE_URL]`.

Seeds one account with that many replies over the last two months, each counted in the usage totals
by the writer's own statement, then times GET /usage and GET /api/usage in-process (no network).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import insert

from app import create_app
from app.extensions import db
from app.models import Message, utcnow
from app.services import accounts, budgets, usage_store, workspace
from app.services.replies_store import Ending

REPLIES, DAYS, RUNS = 100_000, 60, 30
PROVIDERS = (("anthropic", "claude-sonnet-5-5"), ("google", "gemini-3.8-flash"), ("deepseek", "deepseek-flash"))


def seed(app) -> None:
    """One account, five projects, and REPLIES replies with their usage totals."""
    with app.app_context():
        user = accounts.create_user("bench@example.com", "a long password")
        projects = [workspace.create_project(user, f"Project {n}", "") for n in range(5)]
        threads = [workspace.create_thread(p, "Bench", provider) for p in projects for provider, _ in PROVIDERS]
        now = utcnow()
        for start in range(0, REPLIES, 5000):
            rows, counted = [], []
            for n in range(start, start + 5000):
                thread, (provider, model) = threads[n % len(threads)], PROVIDERS[n % 3]
                when = now - timedelta(days=n % DAYS, seconds=n)
                rows.append({"thread_id": thread.id, "role": "assistant", "content": "Reply.", "status": "complete",
                             "provider": provider, "model": model, "input_tokens": 900, "output_tokens": 300,
                             "cost_micros": 4800, "created_at": when})
                counted.append((when, usage_store.Spender(user.id, thread.project_id, provider, model),
                                Ending(0, 1, "", "complete", input_tokens=900, output_tokens=300, cost_micros=4800)))
            db.session.execute(insert(Message), rows)
            db.session.commit()
            with db.engine.begin() as conn:
                for when, spender, ending in counted:
                    usage_store.add(conn, [(spender, ending)], when)


def timed(client, path: str) -> float:
    """The p50 of RUNS requests, in milliseconds."""
    client.get(path)
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main(url: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{Path(folder) / 'usage.sqlite3'}",
                          "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})
        with app.app_context():
            upgrade()
        seed(app)
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": "a long password"})
        for path in ("/usage", "/api/usage?group_by=day", "/api/usage?group_by=project"):
            print(f"{path}: p50 {timed(client, path):.1f} ms over {RUNS} requests, {REPLIES:,} replies")
        with app.app_context():
            user_id = accounts.user_by_email("bench@example.com").id
            samples = []
            for _ in range(200):
                started = time.perf_counter()
                budgets.check(user_id)
                samples.append((time.perf_counter() - started) * 1000)
            print(f"budget check before a post: p50 {statistics.median(samples):.3f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
