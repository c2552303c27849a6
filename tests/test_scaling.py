"""Pages and API calls cost the same number of queries however many threads or messages there are."""
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, text

from app.extensions import db
from app.models import Message, Project, Thread, User, utcnow
from bench.seed import tree_shape
from tests.helpers import link_as_chain


@contextmanager
def counted(app):
    """Count the SQL statements the request runs inside the block (not those of reply runners)."""
    statements = []
    with app.app_context():
        engine = db.engine
    request_thread = threading.get_ident()

    def record(conn, cursor, statement, *args):
        if threading.get_ident() == request_thread:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def seed(app, threads: int, messages: int) -> tuple[int, int]:
    """A project with `threads` threads, the first of which holds `messages` messages."""
    now = utcnow()
    with app.app_context():
        user_id = db.session.query(User.id).scalar()
        project = Project(user_id=user_id, name="Big", instructions="")
        db.session.add(project)
        db.session.flush()
        db.session.execute(insert(Thread), [
            {"project_id": project.id, "title": f"t{i}", "model_provider": "google",
             "created_at": now, "updated_at": now + timedelta(seconds=i)} for i in range(threads)])
        thread_id = db.session.query(Thread.id).filter_by(project_id=project.id).order_by(Thread.id).first()[0]
        db.session.execute(insert(Message), [
            {"thread_id": thread_id, "role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}",
             "status": "complete", "created_at": now} for i in range(messages)])
        link_as_chain(db.session, [thread_id])
        db.session.commit()
        return project.id, thread_id


def seed_tree(app, messages: int, branches: int) -> int:
    """A thread of `messages` messages over `branches` branches (the bench's shape), its head the newest."""
    now = utcnow()
    with app.app_context():
        project = Project(user_id=db.session.query(User.id).scalar(), name="Tree", instructions="")
        thread = Thread(project=project, title="Tree", model_provider="google")
        db.session.add_all([project, thread])
        db.session.flush()
        first = (db.session.query(db.func.max(Message.id)).scalar() or 0) + 1
        db.session.execute(insert(Message), [
            {"id": first + i, "thread_id": thread.id, "parent_id": None if parent is None else first + parent,
             "role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}", "status": "complete",
             "created_at": now} for i, parent in enumerate(tree_shape(messages, branches))])
        thread.head_id = first + messages - 1
        if db.engine.dialect.name == "postgresql":  # the ids were given: the sequence must pass them
            db.session.execute(text("SELECT setval(pg_get_serial_sequence('messages', 'id'), "
                                    "(SELECT max(id) FROM messages))"))
        db.session.commit()
        return thread.id


def requests_of(project_id, thread_id):
    return [f"/", f"/projects/{project_id}", f"/threads/{thread_id}", "/api/projects",
            f"/api/projects/{project_id}/threads", f"/api/threads/{thread_id}/messages"]


@pytest.mark.parametrize("path_index", range(6))
def test_query_count_does_not_grow_with_threads_or_messages(app, client, auth, path_index):
    auth.signup_and_login()
    headers = auth.token()
    counts = []
    for threads, messages in [(3, 4), (120, 300)]:
        project_id, thread_id = seed(app, threads, messages)
        path = requests_of(project_id, thread_id)[path_index]
        client.get(path, headers=headers if path.startswith("/api") else {})  # warm up per-process work
        with counted(app) as statements:
            response = client.get(path, headers=headers if path.startswith("/api") else {})
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    # The thread page adds the tree's two (path, siblings) and issue #21's three: the month's spending
    # against the budget, the thread's usage totals and the context estimate of its current path.
    assert counts[1] <= (7 if path_index == 2 else 6), counts


def test_the_thread_page_shows_the_latest_messages_only(app, client, auth):
    auth.signup_and_login()
    _, thread_id = seed(app, 1, 500)
    html = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert html.count('class="message ') == 50
    assert ">m499<" in html and ">m449<" not in html and "Load earlier messages" in html


def test_posting_a_message_runs_a_few_statements_before_the_provider_is_called(app, client, auth, scripted):
    auth.signup_and_login()
    headers = auth.token()
    counts = []
    for messages in (4, 150):
        _, thread_id = seed(app, 1, messages)
        client.post(f"/api/threads/{thread_id}/messages", json={"content": "Warm up"}, headers=headers)
        with counted(app) as statements:
            response = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=headers)
        assert response.status_code == 201 and response.json["assistant_message"]["status"] == "complete"
        counts.append(len(statements))
    # token with its user, thread with its project, the month's spending against the budget (issue #21: one
    # indexed read of usage_totals), the user's message, the reply (its parent is the user's message), touch
    # thread (and move its head) and project (one statement on PostgreSQL, where each is a round trip), history
    most = 7 if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else 8
    assert counts[0] == counts[1] and counts[0] <= most, counts


@pytest.mark.parametrize("path", ["/threads/{id}", "/api/threads/{id}/messages"])
def test_a_branched_thread_costs_the_same_queries_whatever_its_size(app, client, auth, path):
    auth.signup_and_login()
    headers = auth.token() if path.startswith("/api") else {}
    counts = []
    for messages, branches in [(40, 4), (10_000, 1_000)]:
        target = path.format(id=seed_tree(app, messages, branches))
        client.get(target, headers=headers)  # warm up per-process work
        with counted(app) as statements:
            response = client.get(target, headers=headers)
        assert response.status_code == 200
        assert path.startswith("/api") or 'class="switcher"' in response.get_data(as_text=True)
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 7


def test_posting_into_a_branched_thread_costs_what_posting_into_a_linear_one_does(app, client, auth, scripted):
    auth.signup_and_login()
    headers = auth.token()
    _, linear = seed(app, 1, 40)
    branched = seed_tree(app, 40, 4)
    counts = []
    for thread_id in (linear, branched):
        client.post(f"/api/threads/{thread_id}/messages", json={"content": "Warm up"}, headers=headers)
        with counted(app) as statements:
            response = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=headers)
        assert response.status_code == 201
        assert response.json["user_message"]["parent_id"] != response.json["assistant_message"]["parent_id"]
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
