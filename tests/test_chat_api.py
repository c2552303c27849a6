"""Chat through the JSON API with a scripted adapter: the life of a reply, errors and conflicts."""
import json
import time

import pytest

from app.extensions import db
from app.providers.base import ProviderError, StreamEnd
from tests.helpers import read_events, stored_messages


@pytest.fixture
def api(auth):
    auth.create_user()
    return auth.token()


@pytest.fixture
def thread_id(client, api):
    project = client.post("/api/projects", json={"name": "P", "instructions": "Be brief."}, headers=api).json
    return client.post(f"/api/projects/{project['id']}/threads", json={"model_provider": "google"},
                       headers=api).json["id"]


def test_post_answers_once_the_reply_ends(app, client, api, thread_id, scripted):
    scripted.queue("Hel", "lo!", StreamEnd(10, 2, "end_turn", "gemini-test"))
    response = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api)
    assert response.status_code == 201
    reply = response.json["assistant_message"]
    assert reply["content"] == "Hello!" and reply["status"] == "complete"
    assert reply["provider"] == "google" and reply["model"] == "gemini-test"
    assert (reply["input_tokens"], reply["output_tokens"], reply["stop_reason"]) == (10, 2, "end_turn")
    assert response.json["user_message"]["content"] == "Hi"
    assert stored_messages(app) == [("user", "Hi", "complete"), ("assistant", "Hello!", "complete")]


def test_the_provider_gets_the_history_and_instructions(app, client, api, thread_id, scripted):
    client.post(f"/api/threads/{thread_id}/messages", json={"content": "First"}, headers=api)
    client.post(f"/api/threads/{thread_id}/messages", json={"content": "Second"}, headers=api)
    request = scripted.requests[-1]
    assert request.system == "Be brief."
    assert [(t.role, t.text) for t in request.turns] == [
        ("user", "First"), ("assistant", "Hello there."), ("user", "Second")]


def test_failed_replies_are_not_sent_back(app, client, api, thread_id, scripted):
    scripted.queue(ProviderError("Google Gemini is overloaded (503)."))
    client.post(f"/api/threads/{thread_id}/messages", json={"content": "First"}, headers=api)
    client.post(f"/api/threads/{thread_id}/messages", json={"content": "Second"}, headers=api)
    assert [(t.role, t.text) for t in scripted.requests[-1].turns] == [("user", "First\n\nSecond")]


def test_streaming_post_sends_start_deltas_then_done(app, client, api, thread_id, scripted):
    scripted.queue("a", "b", "c", StreamEnd(1, 3, "end_turn"))
    response = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"},
                           headers={**api, "Accept": "text/event-stream"})
    assert response.mimetype == "text/event-stream"
    assert response.headers["X-Accel-Buffering"] == "no" and response.headers["Cache-Control"] == "no-cache"
    events = read_events(response)
    assert events[0][0] == "start"
    start = json.loads(events[0][2])
    assert start["assistant_message"]["status"] == "pending" and start["user_message"]["content"] == "Hi"
    deltas = [(e[1], json.loads(e[2])["text"]) for e in events if e[0] == "delta"]
    assert "".join(text for _, text in deltas) == "abc"
    assert deltas[-1][0] == "3"
    assert events[-1][0] == "done" and json.loads(events[-1][2])["content"] == "abc"


def test_provider_error_keeps_the_user_message_and_answers_502(app, client, api, thread_id, scripted):
    scripted.queue("partial ", ProviderError("Google Gemini is overloaded (503)."))
    response = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api)
    assert response.status_code == 502
    assert response.json["error"] == "Google Gemini is overloaded (503)."
    assert response.json["assistant_message"]["status"] == "error"
    assert response.json["assistant_message"]["content"] == "partial "
    assert stored_messages(app) == [("user", "Hi", "complete"), ("assistant", "partial ", "error")]


def test_timeout_answers_504(client, api, thread_id, scripted):
    scripted.queue(ProviderError("Google Gemini timed out after 1 s.", status=504))
    response = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api)
    assert response.status_code == 504 and "timed out" in response.json["error"]


@pytest.mark.parametrize("app", [{"GEMINI_API_KEY": None}], indirect=True)
def test_missing_key_is_503_naming_the_variable(app, client, api, thread_id, scripted):
    response = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api)
    assert response.status_code == 503
    assert "GEMINI_API_KEY" in response.json["error"]
    assert stored_messages(app)[0] == ("user", "Hi", "complete")
    assert scripted.requests == []


def test_streaming_error_event(client, api, thread_id, scripted):
    scripted.queue("x", ProviderError("Google Gemini is rate limiting requests (429)."))
    response = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"},
                           headers={**api, "Accept": "text/event-stream"})
    name, _, data = read_events(response)[-1]
    assert name == "error"
    assert json.loads(data)["assistant_message"]["status"] == "error"
    assert "429" in json.loads(data)["error"]


def test_second_post_while_pending_is_409(app, client, api, thread_id, scripted):
    scripted.queue(("sleep", 0.5), "late", StreamEnd(1, 1, "end_turn"))
    first = client.post(f"/api/threads/{thread_id}/messages", json={"content": "One"},
                        headers={**api, "Accept": "text/event-stream"}, buffered=False)
    second = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Two"}, headers=api)
    assert second.status_code == 409 and "still writing" in second.json["error"]
    first.get_data()
    assert [m[1] for m in stored_messages(app)] == ["One", "late"]


def test_retry_runs_the_same_reply_again(app, client, api, thread_id, scripted):
    scripted.queue(ProviderError("Google Gemini is overloaded (503)."))
    failed = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api)
    reply_id = failed.json["assistant_message"]["id"]
    scripted.queue("Fine now.", StreamEnd(1, 2, "end_turn"))
    response = client.post(f"/api/messages/{reply_id}/retry", headers=api)
    assert response.status_code == 200
    assert response.json["assistant_message"]["id"] == reply_id
    assert response.json["assistant_message"]["attempt"] == 2
    assert stored_messages(app) == [("user", "Hi", "complete"), ("assistant", "Fine now.", "complete")]
    assert [(t.role, t.text) for t in scripted.requests[-1].turns] == [("user", "Hi")]


def test_retry_of_a_complete_or_user_message_is_409(client, api, thread_id, scripted):
    done = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api).json
    for message_id in (done["assistant_message"]["id"], done["user_message"]["id"]):
        assert client.post(f"/api/messages/{message_id}/retry", headers=api).status_code == 409


def test_stop_keeps_the_partial_text(app, client, api, thread_id, scripted):
    scripted.queue("partial", ("sleep", 0.3), " more", ("sleep", 0.3), " never", StreamEnd(1, 1, "end_turn"))
    stream = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Go"},
                         headers={**api, "Accept": "text/event-stream"}, buffered=False)
    chunks = stream.response
    reply_id = None
    for chunk in chunks:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        if text.startswith("event: start"):
            reply_id = json.loads(text.split("data: ", 1)[1])["assistant_message"]["id"]
        if text.startswith("event: delta"):
            break
    stopped = client.post(f"/api/messages/{reply_id}/stop", headers=api)
    assert stopped.status_code == 200
    assert stopped.json["status"] == "stopped"
    assert stopped.json["content"].startswith("partial") and "never" not in stopped.json["content"]
    stream.close()
    assert scripted.closed == 1


def test_stop_of_an_ended_reply_returns_it_unchanged(client, api, thread_id, scripted):
    done = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api).json
    response = client.post(f"/api/messages/{done['assistant_message']['id']}/stop", headers=api)
    assert response.status_code == 200 and response.json["status"] == "complete"


def test_watching_an_ended_reply_gives_snapshot_then_done(client, api, thread_id, scripted):
    done = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api).json
    events = read_events(client.get(f"/api/messages/{done['assistant_message']['id']}/stream", headers=api))
    assert [e[0] for e in events] == ["snapshot", "done"]
    assert json.loads(events[0][2]) == {"text": "Hello there.", "thinking": None, "status": "complete"}


def test_watcher_mid_reply_gets_text_so_far_then_the_rest(client, api, thread_id, scripted):
    scripted.queue("one ", ("sleep", 0.4), "two ", ("sleep", 0.2), "three", StreamEnd(1, 3, "end_turn"))
    poster = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Count"},
                         headers={**api, "Accept": "text/event-stream"}, buffered=False)
    first = next(iter(poster.response))
    reply_id = json.loads(first.decode().split("data: ", 1)[1])["assistant_message"]["id"]
    time.sleep(0.2)
    poster.close()  # the first watcher leaves; the reply goes on
    events = read_events(client.get(f"/api/messages/{reply_id}/stream", headers=api))
    snapshot = json.loads(events[0][2])
    assert events[0][0] == "snapshot" and snapshot["text"] == "one " and snapshot["status"] == "pending"
    rest = "".join(json.loads(e[2])["text"] for e in events if e[0] == "delta")
    assert snapshot["text"] + rest == "one two three"
    assert events[-1][0] == "done"


def test_reconnect_with_last_event_id_repeats_nothing(client, api, thread_id, scripted):
    done = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api).json
    reply_id = done["assistant_message"]["id"]
    events = read_events(client.get(f"/api/messages/{reply_id}/stream", headers={**api, "Last-Event-ID": "5"}))
    assert [(e[0], e[1]) for e in events] == [("delta", "12"), ("done", None)]
    assert json.loads(events[0][2])["text"] == "Hello there."[5:]


@pytest.mark.parametrize("content", ["", "   \n ", "x" * 100_001])
def test_empty_or_huge_content_is_400_and_stores_nothing(app, client, api, thread_id, content, scripted):
    app.config["MAX_CONTENT_LENGTH"] = 10_000_000
    response = client.post(f"/api/threads/{thread_id}/messages", json={"content": content}, headers=api)
    assert response.status_code == 400
    assert stored_messages(app) == []


def test_the_longest_message_in_any_script_is_accepted(app, client, api, thread_id, scripted):
    longest = "\N{GRINNING FACE}" * 100_000
    body = json.dumps({"content": longest})  # ASCII-only JSON: a surrogate pair, 12 bytes, a character
    response = client.post(f"/api/threads/{thread_id}/messages", data=body, content_type="application/json",
                           headers=api)
    assert response.status_code == 201
    assert stored_messages(app) == [("user", longest, "complete"), ("assistant", "Hello there.", "complete")]


def test_messages_list_pages_backwards(client, api, thread_id, scripted):
    for i in range(3):
        client.post(f"/api/threads/{thread_id}/messages", json={"content": f"m{i}"}, headers=api)
    page = client.get(f"/api/threads/{thread_id}/messages?limit=4", headers=api).json
    assert [m["content"] for m in page["messages"]] == ["m1", "Hello there.", "m2", "Hello there."]
    older = client.get(f"/api/threads/{thread_id}/messages?limit=4&cursor={page['next_cursor']}", headers=api).json
    assert [m["content"] for m in older["messages"]] == ["m0", "Hello there."]
    assert older["next_cursor"] is None
    assert set(page["messages"][0]) >= {"id", "thread_id", "role", "content", "status", "provider", "model",
                                        "input_tokens", "output_tokens", "created_at", "error"}


def test_another_users_messages_are_404(client, auth, api, thread_id, scripted):
    done = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api).json
    auth.create_user("eve@example.com")
    eve = auth.token("eve@example.com")
    reply_id = done["assistant_message"]["id"]
    for method, url, body in [("post", f"/api/threads/{thread_id}/messages", {"content": "x"}),
                              ("get", f"/api/threads/{thread_id}/messages", None),
                              ("get", f"/api/messages/{reply_id}/stream", None),
                              ("post", f"/api/messages/{reply_id}/stop", None),
                              ("post", f"/api/messages/{reply_id}/retry", None)]:
        response = getattr(client, method)(url, json=body, headers=eve)
        assert response.status_code == 404, url


def test_null_provider_thread_is_answered_by_anthropic(app, client, api, scripted):
    project = client.post("/api/projects", json={"name": "P"}, headers=api).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={}, headers=api).json
    with app.app_context():
        db.session.execute(db.text("UPDATE threads SET model_provider = NULL"))
        db.session.commit()
    reply = client.post(f"/api/threads/{thread['id']}/messages", json={"content": "Hi"}, headers=api).json
    assert reply["assistant_message"]["provider"] == "anthropic"


def test_a_finished_reply_is_stored_even_when_the_database_first_refuses(app, client, api, thread_id, scripted,
                                                                        monkeypatch):
    from sqlalchemy.exc import OperationalError

    from app.services import replies_store

    real_finish, calls = replies_store.store_endings, []

    def busy_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE messages", {}, Exception("database is locked"))
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(replies_store, "store_endings", busy_once)
    response = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=api)
    assert response.status_code == 201 and response.json["assistant_message"]["status"] == "complete"
    assert len(calls) == 2
    assert stored_messages(app)[-1] == ("assistant", "Hello there.", "complete")
