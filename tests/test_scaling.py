"""Pages and API calls cost the same number of queries however many threads or messages there are."""
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, insert

from app.extensions import db
from app.models import Message, Project, Thread, User, utcnow


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
        db.session.commit()
        return project.id, thread_id


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
    assert counts[1] <= 6


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
    # indexed read of usage_totals), both messages in one INSERT, touch thread and project, history
    assert counts[0] == counts[1] and counts[0] <= 7, counts
