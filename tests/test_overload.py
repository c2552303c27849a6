"""Under overload the app says "busy, try again" at once, stores nothing half-made, and loses no reply."""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import DataError, OperationalError

from app.extensions import db
from app.models import Message
from app.providers.base import StreamEnd
from app.services import replies_store
from tests.helpers import read_events, stored_messages, wait_until_done

ONE_REPLY_PER_PROCESS = [{"MAX_REPLIES_IN_FLIGHT": 1}]


def new_thread(client, api):
    project = client.post("/api/projects", json={"name": "P"}, headers=api).json
    return client.post(f"/api/projects/{project['id']}/threads", json={"model_provider": "google"},
                       headers=api).json["id"]


def post_at_once(app, api, threads):
    """Post "Hi" to each thread at the same time, each from its own client; the replies."""
    def post(thread_id):
        return app.test_client().post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"},
                                      headers=api).json["assistant_message"]

    with ThreadPoolExecutor(len(threads)) as pool:
        return list(pool.map(post, threads))


@pytest.fixture
def api(auth):
    auth.create_user()
    return auth.token()


@pytest.mark.parametrize("app", ONE_REPLY_PER_PROCESS, indirect=True)
def test_a_worker_at_its_reply_limit_answers_503_with_retry_after_and_stores_nothing(app, client, api, scripted):
    scripted.queue(("sleep", 0.5), "late", StreamEnd(1, 1, "end_turn"))
    busy_thread, other_thread = new_thread(client, api), new_thread(client, api)
    first = client.post(f"/api/threads/{busy_thread}/messages", json={"content": "One"},
                        headers={**api, "Accept": "text/event-stream"}, buffered=False)
    second = client.post(f"/api/threads/{other_thread}/messages", json={"content": "Two"}, headers=api)
    assert second.status_code == 503 and second.headers["Retry-After"] == "5"
    assert "Try again in a few seconds" in second.json["error"]
    assert read_events(first)[-1][0] == "done"
    assert [content for _, content, _ in stored_messages(app)] == ["One", "late"]
    # Once the reply has ended there is room again.
    third = client.post(f"/api/threads/{other_thread}/messages", json={"content": "Three"}, headers=api)
    assert third.status_code == 201


@pytest.mark.parametrize("app", ONE_REPLY_PER_PROCESS, indirect=True)
def test_the_thread_page_keeps_the_typed_message_when_the_worker_is_busy(app, client, auth, hx, scripted):
    auth.signup_and_login()
    scripted.queue(("sleep", 0.5), "late", StreamEnd(1, 1, "end_turn"))
    threads = []
    for name in ("A", "B"):
        project = client.post("/projects", data={"name": name}).headers["Location"].rsplit("/", 1)[1]
        created = client.post(f"/projects/{project}/threads", data={"model_provider": "deepseek"})
        threads.append(int(created.headers["Location"].rsplit("/", 1)[1]))
    client.post(f"/threads/{threads[0]}/messages", data={"content": "first"})
    response = client.post(f"/threads/{threads[1]}/messages", data={"content": "my long question"}, headers=hx)
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and "Try again in a few seconds" in html and "my long question" in html
    assert response.headers["Retry-After"] == "5"
    wait_until_done(app)
    assert [content for _, content, _ in stored_messages(app)] == ["first", "late"]


@pytest.mark.parametrize("app", [{"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0,
                                                                 "pool_timeout": 0.1}}], indirect=True)
def test_no_free_database_connection_is_a_503_not_a_crash(app, client, api):
    with app.app_context():
        held = db.engine.connect()  # the pool's only connection
        try:
            response = client.get("/api/projects", headers=api)
        finally:
            held.close()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.json["error"] == "The server is busy right now. Try again in a few seconds."
    assert client.get("/api/projects", headers=api).status_code == 200


def test_replies_finishing_at_once_are_all_stored_through_the_writer(app, client, api, scripted, monkeypatch):
    stored_ids = []
    real_finish = replies_store.store_endings

    def recording_finish(engine, endings):
        stored_ids.extend(e.message_id for e in endings)
        return real_finish(engine, endings)

    monkeypatch.setattr(replies_store, "store_endings", recording_finish)
    threads = [new_thread(client, api) for _ in range(3)]
    for _ in threads:
        scripted.queue(("sleep", 0.2), "Done.", StreamEnd(1, 1, "end_turn"))
    replies = post_at_once(app, api, threads)
    assert [(r["content"], r["status"], r["output_tokens"]) for r in replies] == [("Done.", "complete", 1)] * 3
    assert sorted(stored_ids) == sorted(r["id"] for r in replies)
    assert [m for m in stored_messages(app) if m[0] == "assistant"] == [("assistant", "Done.", "complete")] * 3


def test_several_endings_are_stored_in_one_call_and_a_late_one_changes_nothing(app, client, api):
    threads = [new_thread(client, api) for _ in range(3)]
    with app.app_context():
        replies = [Message(thread_id=t, role="assistant", content="", status=status, attempt=1, model="gemini-test")
                   for t, status in zip(threads, ["pending", "pending", "error"])]
        db.session.add_all(replies)
        db.session.commit()
        first, second, ended = (r.id for r in replies)
        both = [replies_store.Ending(first, 1, "One.", "complete", model="gemini-2"),
                replies_store.Ending(second, 1, "Two.", "stopped", stop_reason="user_stopped")]
        assert replies_store.store_endings(db.engine, both) is True
        late = replies_store.Ending(ended, 1, "Late.", "complete")
        assert replies_store.store_endings(db.engine, [late]) is False
    assert [m for m in stored_messages(app)] == [
        ("assistant", "One.", "complete"), ("assistant", "Two.", "stopped"), ("assistant", "", "error")]
    with app.app_context():
        assert [db.session.get(Message, i).model for i in (first, second)] == ["gemini-2", "gemini-test"]


def pending_replies(app, client, api, count):
    """`count` pending replies, each in a thread of its own, as the writer's QueuedEnding items (complete)."""
    from app.services.writer import QueuedEnding
    from app.services.live import REPLIES, LiveReply

    threads = [new_thread(client, api) for _ in range(count)]
    items = []
    with app.app_context():
        for thread in threads:
            message = Message(thread_id=thread, role="assistant", content="", status="pending", attempt=1)
            db.session.add(message)
            db.session.commit()
            view = replies_store.load(db.engine, message.id)
            live = LiveReply(view.id, view.attempt)
            REPLIES.add(live)
            ending = replies_store.Ending(view.id, 1, f"Reply {view.id}.", "complete")
            items.append(QueuedEnding(view, live, ending, None))
    return items


@pytest.mark.parametrize("error, calls_at_once", [
    (DataError("UPDATE messages", {}, Exception("value too long")), "each alone"),
    (OperationalError("UPDATE messages", {}, Exception("database is locked")), "batch only"),
])
def test_an_ending_the_database_refuses_is_retried_and_holds_back_nothing_else(
        app, client, api, monkeypatch, error, calls_at_once):
    first, second = pending_replies(app, client, api, 2)
    real_finish, calls = replies_store.store_endings, []

    def refuse_the_second_twice(engine, endings):
        ids = [e.message_id for e in endings]
        calls.append(ids)
        if second.live.message_id in ids and sum(second.live.message_id in c for c in calls) <= 2:
            raise error
        return real_finish(engine, endings)

    monkeypatch.setattr(replies_store, "store_endings", refuse_the_second_twice)
    runner = app.extensions["reply_runner"]
    runner.writer._store([first, second])
    if calls_at_once == "each alone":  # the refused row must not hold back the other one
        assert calls == [[first.live.message_id, second.live.message_id], [first.live.message_id],
                         [second.live.message_id]]
        assert first.live.ended is not None and first.live.ended.view.content == first.ending.content
    else:  # the whole database is busy: no point trying row by row now
        assert calls == [[first.live.message_id, second.live.message_id]]
        assert first.live.ended is None
    assert second.live.ended is None  # still live, so nothing sweeps it meanwhile
    deadline = time.monotonic() + 5
    while (first.live.ended is None or second.live.ended is None) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert second.live.ended.status == "complete" and second.live.ended.view.content == second.ending.content
    assert [m for m in stored_messages(app) if m[0] == "assistant"] == [
        ("assistant", first.ending.content, "complete"), ("assistant", second.ending.content, "complete")]


def test_shutdown_stores_an_ending_that_waits_for_a_retry_as_it_ended(app, client, api, monkeypatch):
    waiting, streaming = pending_replies(app, client, api, 2)
    streaming.live.add("Half a rep")  # its provider has not finished
    real_finish, calls = replies_store.store_endings, []

    def refuse_the_first_write(engine, endings):
        calls.append([e.message_id for e in endings])
        if len(calls) == 1:
            raise OperationalError("UPDATE messages", {}, Exception("database is locked"))
        return real_finish(engine, endings)

    monkeypatch.setattr(replies_store, "store_endings", refuse_the_first_write)
    runner = app.extensions["reply_runner"]
    runner.writer.queue(waiting)
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:  # the writer tried once and will retry in a second
        time.sleep(0.01)
    runner.shutdown(0)
    assert waiting.live.ended.status == "complete" and streaming.live.ended.status == "interrupted"
    assert [m for m in stored_messages(app) if m[0] == "assistant"] == [
        ("assistant", waiting.ending.content, "complete"), ("assistant", "Half a rep", "interrupted")]


def test_a_place_among_the_running_replies_is_held_from_the_check_until_the_reply_runs():
    from app.services.live import LiveReply, Registry

    registry = Registry()
    assert registry.reserve(2) is True
    registry.add(LiveReply(1, 1), reserved=True)  # the place turns from starting into running: counted once
    assert registry.reserve(2) is True
    assert registry.reserve(2) is False  # one running, one starting
    registry.unreserve()  # the second post failed before its reply started
    assert registry.reserve(2) is True


@pytest.mark.parametrize("app", [{"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0,
                                                                 "pool_timeout": 0.1}}], indirect=True)
def test_a_page_answers_503_when_no_database_connection_is_free(app, client, auth):
    auth.signup_and_login()
    with app.app_context():
        held = db.engine.connect()
        try:
            response = client.get("/")
        finally:
            held.close()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "The server is busy right now" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200


def test_a_stream_that_fell_behind_catches_up_in_one_event():
    from app.services.watch import follow
    from app.services.live import Delta, Ended, LiveReply

    live = LiveReply(message_id=1, attempt=1)
    live.add("Hel")
    events = follow(None, 1, 0, heartbeat_seconds=5, live=live)
    assert next(events) == Delta("Hel", 3)  # what had arrived before the stream began
    for text in ("lo", ", ", "world"):  # arrive while the stream is busy elsewhere
        live.add(text)
    live.announce(Ended("complete"))
    assert list(events) == [Delta("lo, world", 12), Ended("complete")]
