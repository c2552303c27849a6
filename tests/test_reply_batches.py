"""The ticker and the writer store many replies in one statement, only a runner's own attempt, and stop when idle."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import Message
from app.services import replies_store
from app.services.live import REPLIES, LiveReply
from app.services.replies_store import Ending


@pytest.fixture
def api(auth):
    auth.create_user()
    return auth.token()


@contextmanager
def statements(engine):
    """The SQL statements sent on `engine` inside the block (BEGIN and COMMIT are not statements)."""
    sent = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def replies(app, client, api, *states: tuple[str, int]) -> list[int]:
    """One assistant message per (status, attempt), each in a thread of its own, text "old"; their ids."""
    project = client.post("/api/projects", json={"name": "P"}, headers=api).json
    ids = []
    with app.app_context():
        for status, attempt in states:
            thread = client.post(f"/api/projects/{project['id']}/threads", json={"model_provider": "google"},
                                 headers=api).json["id"]
            message = Message(thread_id=thread, role="assistant", content="old", status=status, attempt=attempt,
                              model="gemini-test")
            db.session.add(message)
            db.session.commit()
            ids.append(message.id)
    return ids


def rows(app, ids) -> list[tuple]:
    """(content, status, model, output tokens, whether it has a heartbeat) of each message."""
    with app.app_context():
        found = {m.id: (m.content, m.status, m.model, m.output_tokens, m.heartbeat_at is not None)
                 for m in db.session.scalars(select(Message).where(Message.id.in_(ids)))}
    return [found[i] for i in ids]


def test_partial_texts_and_heartbeats_of_many_replies_are_one_statement(app, client, api):
    ids = replies(app, client, api, *[("pending", 1)] * 5)
    with app.app_context(), statements(db.engine) as sent:
        replies_store.save_partials(db.engine, [(i, 1, f"so far {n}", None) for n, i in enumerate(ids[:4])]
                                    + [(ids[4], 1, None, None)])
    assert len(sent) == 1
    assert rows(app, ids) == [(f"so far {n}", "pending", "gemini-test", None, True) for n in range(4)] + [
        ("old", "pending", "gemini-test", None, True)]


def test_a_partial_save_leaves_a_retried_or_ended_reply_alone(app, client, api):
    own, retried, stopped = replies(app, client, api, ("pending", 1), ("pending", 2), ("stopped", 1))
    with app.app_context():
        replies_store.save_partials(db.engine, [(own, 1, "new", None), (retried, 1, "late", None), (stopped, 1, "late", None)])
        replies_store.save_partials(db.engine, [(retried, 1, None, None), (stopped, 1, None, None)])  # a heartbeat alone
    assert rows(app, [own, retried, stopped]) == [
        ("new", "pending", "gemini-test", None, True), ("old", "pending", "gemini-test", None, False),
        ("old", "stopped", "gemini-test", None, False)]


def test_many_endings_are_one_statement_and_null_columns_keep_their_types(app, client, api):
    ids = replies(app, client, api, *[("pending", 1)] * 4)
    endings = [Ending(i, 1, f"Reply {n}.", "complete") for n, i in enumerate(ids)]  # no model, no usage
    with app.app_context(), statements(db.engine) as sent:
        assert replies_store.store_endings(db.engine, endings) is True
    assert len(sent) == 1
    assert rows(app, ids) == [(f"Reply {n}.", "complete", "gemini-test", None, True) for n in range(4)]


def test_an_ending_of_a_late_attempt_changes_nothing_and_the_batch_says_so(app, client, api):
    own, retried = replies(app, client, api, ("pending", 1), ("pending", 2))
    with app.app_context():
        stored = replies_store.store_endings(db.engine, [
            Ending(own, 1, "Mine.", "complete", model="gemini-2", output_tokens=7),
            Ending(retried, 1, "Late.", "complete", output_tokens=9)])
    assert stored is False
    assert rows(app, [own, retried]) == [("Mine.", "complete", "gemini-2", 7, True),
                                         ("old", "pending", "gemini-test", None, False)]


def test_a_tick_saves_and_beats_every_running_reply_in_one_write(app, client, api):
    ids = replies(app, client, api, *[("pending", 1)] * 3)
    lives = [LiveReply(i, 1) for i in ids]
    lives[0].add("Hello")
    lives[1].add("Hi")  # the third has no new text: only its heartbeat moves
    runner = app.extensions["reply_runner"]
    for live in lives:
        REPLIES.add(live)
    try:
        with statements(runner.engine) as sent:
            runner.tick(save=True, beat=True)
    finally:
        for live in lives:
            REPLIES.remove(live)
    writes = [s for s in sent if s.lstrip().upper().startswith(("UPDATE", "WITH"))]
    assert len(writes) == 1 and len(sent) == 2  # the write, and the read of stop requests
    assert rows(app, ids) == [(text, "pending", "gemini-test", None, True) for text in ("Hello", "Hi", "old")]
    assert [live.saved_length for live in lives] == [5, 2, 0]


def test_a_post_moves_its_thread_and_its_project_to_the_top(client, api, scripted):
    # Both marks of activity are one statement on PostgreSQL; the lists must still move.
    projects = [client.post("/api/projects", json={"name": name}, headers=api).json["id"] for name in "AB"]
    threads = [client.post(f"/api/projects/{projects[0]}/threads", json={"model_provider": "google"},
                           headers=api).json["id"] for _ in range(2)]
    assert client.post(f"/api/threads/{threads[0]}/messages", json={"content": "Hi"}, headers=api).status_code == 201
    assert [p["id"] for p in client.get("/api/projects", headers=api).json["projects"]] == projects
    listing = client.get(f"/api/projects/{projects[0]}/threads", headers=api).json["threads"]
    assert [t["id"] for t in listing] == threads


def test_the_ticker_and_the_writer_end_with_the_last_reply(client, api, scripted):
    # An idle server must not wake: nothing of the replies' machinery outlives the last reply for long.
    project = client.post("/api/projects", json={"name": "P"}, headers=api).json["id"]
    thread = client.post(f"/api/projects/{project}/threads", json={"model_provider": "google"}, headers=api).json
    assert client.post(f"/api/threads/{thread['id']}/messages", json={"content": "Hi"}, headers=api).status_code == 201
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(t.name.startswith("reply-") for t in threading.enumerate()):
        time.sleep(0.02)
    assert [t.name for t in threading.enumerate() if t.name.startswith("reply-")] == []
