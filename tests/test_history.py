"""The conversation sent to a provider: complete turns only, alternating roles, within the budget."""
import time

from sqlalchemy import insert

from app.extensions import db
from app.models import Message, Project, Thread, User, utcnow
from app.services import history
from tests.helpers import link_as_chain


def thread_with(app, rows) -> tuple[int, int]:
    """A thread holding (role, content, status) rows; returns its id and the id after the last row."""
    with app.app_context():
        user = User(email="h@example.com", password_hash="x")
        project = Project(user=user, name="P", instructions="")
        thread = Thread(project=project, title="T")
        db.session.add_all([user, project, thread])
        db.session.flush()
        now = utcnow()
        db.session.execute(insert(Message), [
            {"thread_id": thread.id, "role": role, "content": content, "status": status, "created_at": now}
            for role, content, status in rows])
        link_as_chain(db.session, [thread.id])
        db.session.commit()
        last = db.session.query(db.func.max(Message.id)).scalar()
        return thread.id, last + 1


def turns(app, thread_id, before, budget=10_000):
    """The turns of the path ending just before message `before`."""
    with app.app_context():
        return [(t.role, t.text) for t in history.conversation(db.session, before - 1, budget)]


def test_failed_interrupted_and_empty_replies_are_left_out(app):
    thread_id, end = thread_with(app, [
        ("user", "a", "complete"), ("assistant", "", "complete"), ("user", "b", "complete"),
        ("assistant", "half", "error"), ("user", "c", "complete"), ("assistant", "cut", "interrupted"),
        ("user", "d", "complete"), ("assistant", "seen", "stopped"), ("user", "e", "complete")])
    assert turns(app, thread_id, end) == [("user", "a\n\nb\n\nc\n\nd"), ("assistant", "seen"), ("user", "e")]


def test_the_oldest_turns_go_first_when_over_budget(app):
    rows = []
    for i in range(10):
        rows += [("user", f"question {i} " + "x" * 400, "complete"), ("assistant", f"answer {i} " + "y" * 400,
                                                                         "complete")]
    rows.append(("user", "latest", "complete"))
    thread_id, end = thread_with(app, rows)
    kept = turns(app, thread_id, end, budget=1000)
    assert kept[-1] == ("user", "latest")
    assert kept[0][0] == "user"  # it still starts with the user
    assert sum(history.estimate_tokens(text) for _, text in kept) <= 1000
    assert "question 9" in kept[-3][1] and all("question 0" not in text for _, text in kept)


def test_the_latest_message_is_kept_even_when_it_alone_is_over_budget(app):
    thread_id, end = thread_with(app, [("user", "old", "complete"), ("assistant", "reply", "complete"),
                                       ("user", "z" * 10_000, "complete")])
    assert turns(app, thread_id, end, budget=100) == [("user", "z" * 10_000)]


def test_a_ten_thousand_message_thread_costs_bounded_time(app):
    rows = [("user" if i % 2 == 0 else "assistant", f"message {i} " + "w" * 200, "complete") for i in range(10_000)]
    rows.append(("user", "and now?", "complete"))
    thread_id, end = thread_with(app, rows)
    started = time.perf_counter()
    kept = turns(app, thread_id, end, budget=4_000)
    assert time.perf_counter() - started < 1.0
    assert kept[-1] == ("user", "and now?") and len(kept) < 200
