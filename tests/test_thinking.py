"""Thoughts through the app: streamed apart from the answer (page and API), stored, in a reconnect's
snapshot, shown after reload, hidden when the thread's setting is off, never sent back as history."""
import json
import random
import threading
import time

import pytest
import redis
from sqlalchemy import select, update

from app.extensions import db
from app.models import Message, Thread
from app.providers.base import ProviderError, StreamEnd, ThinkingDelta
from app.services.live import REPLIES, Delta, Ended, Heartbeat, Thinking
from app.services.relay import RedisRelay
from app.services.watch import _follow_stored
from tests.helpers import read_events, wait_until_done

THOUGHTS = (ThinkingDelta("Let me <b>see</b>: "), ThinkingDelta("two and two."))
PROVIDER_VARS = {
    "anthropic": ("ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "claude-sonnet-5-5"),
    "google": ("GOOGLE_GEMINI_BASE_URL", "GEMINI_MODEL", "gemini-3.8-flash"),
    "deepseek": ("DEEPSEEK_BASE_URL", "DEEPSEEK_MODEL", "deepseek-flash"),
}


@pytest.fixture
def api(auth):
    auth.create_user()
    return auth.token()


@pytest.fixture
def thread_id(client, api):
    project = client.post("/api/projects", json={"name": "P"}, headers=api).json
    return client.post(f"/api/projects/{project['id']}/threads", json={"model_provider": "google"},
                       headers=api).json["id"]


def post(client, api, thread_id, content="Hi", stream=False):
    headers = {**api, "Accept": "text/event-stream"} if stream else api
    return client.post(f"/api/threads/{thread_id}/messages", json={"content": content}, headers=headers)


def stored_reply(app) -> Message:
    with app.app_context():
        message = db.session.scalars(select(Message).where(Message.role == "assistant")
                                     .order_by(Message.id.desc())).first()
        db.session.expunge(message)
        return message


def test_the_api_streams_thoughts_before_the_answer_and_stores_them_apart(app, client, api, thread_id, scripted):
    scripted.queue(*THOUGHTS, "Four.", StreamEnd(3, 9, "end_turn", reasoning_tokens=5))
    events = read_events(post(client, api, thread_id, stream=True))
    names = [name for name, *_ in events]
    assert names[0] == "start" and names[-1] == "done"
    assert names.index("thinking") < names.index("delta")
    thinking = "".join(json.loads(data)["text"] for name, event_id, data in events if name == "thinking")
    assert thinking == "Let me <b>see</b>: two and two."
    assert all(event_id is None for name, event_id, _ in events if name == "thinking")
    done = json.loads(events[-1][2])
    assert done["content"] == "Four." and done["thinking"] == thinking
    assert done["reasoning_tokens"] == 5 and isinstance(done["thinking_ms"], int)
    reply = stored_reply(app)
    assert (reply.content, reply.thinking, reply.reasoning_tokens) == ("Four.", thinking, 5)
    assert reply.thinking_ms == done["thinking_ms"]


def test_a_reply_without_thoughts_has_null_thinking(app, client, api, thread_id, scripted):
    reply = post(client, api, thread_id).json["assistant_message"]
    assert (reply["thinking"], reply["reasoning_tokens"], reply["thinking_ms"]) == (None, None, None)


def test_the_page_streams_thoughts_into_a_disclosure_and_shows_them_after_reload(app, client, auth, hx, scripted):
    auth.signup_and_login()
    project = client.post("/projects", data={"name": "P"}).headers["Location"].rsplit("/", 1)[1]
    thread = int(client.post(f"/projects/{project}/threads", data={"model_provider": "deepseek", "thinking": "y"})
                 .headers["Location"].rsplit("/", 1)[1])
    scripted.queue(*THOUGHTS, "Four.", StreamEnd(3, 9, "end_turn", reasoning_tokens=5))
    events = read_events(client.post(f"/threads/{thread}/messages", data={"content": "2+2?"}, headers=hx))
    reply_id = stored_reply(app).id
    first, *rest = [data for name, _, data in events[1:] if f"#reply-{reply_id}-th" in data]
    assert f'data-hx-target="#reply-{reply_id}-thinking" data-hx-swap="innerHTML"' in first
    assert '<details class="thoughts">' in first and "<summary>Thinking</summary>" in first
    streamed = first + "".join(rest)
    assert "Let me &lt;b&gt;see&lt;/b&gt;: " in streamed and "two and two." in streamed and "<b>" not in streamed
    assert all(f'data-hx-target="#reply-{reply_id}-thoughts" data-hx-swap="beforeend"' in r for r in rest)
    final = events[-1][2]
    assert '<details class="thoughts">' in final and "Thought for" in final and "<b>" not in final
    page = client.get(f"/threads/{thread}").get_data(as_text=True)
    start = page.index('<details class="thoughts">')
    end = page.index("</details>", start)
    disclosure = page[start:end]
    assert "Thought for" in disclosure and "two and two." in disclosure and "&lt;b&gt;see&lt;/b&gt;" in disclosure
    assert end < page.index("Four.")  # above the answer


def test_a_reply_without_thoughts_shows_no_disclosure(app, client, auth, hx, scripted):
    auth.signup_and_login()
    project = client.post("/projects", data={"name": "P"}).headers["Location"].rsplit("/", 1)[1]
    thread = client.post(f"/projects/{project}/threads", data={"model_provider": "google", "thinking": "y"}).headers["Location"]
    events = read_events(client.post(f"{thread}/messages", data={"content": "Hi"}, headers=hx))
    assert not any("thoughts" in data for _, _, data in events)
    assert "class=\"thoughts\"" not in client.get(thread).get_data(as_text=True)


def test_with_the_threads_thinking_off_thoughts_are_neither_shown_nor_stored(app, client, api, thread_id, scripted):
    with app.app_context():
        db.session.execute(update(Thread).where(Thread.id == thread_id).values(thinking=False))
        db.session.commit()
    scripted.queue(*THOUGHTS, "Four.", StreamEnd(3, 9, "end_turn", reasoning_tokens=5))
    events = read_events(post(client, api, thread_id, stream=True))
    assert scripted.requests[-1].thinking is False
    assert "thinking" not in [name for name, *_ in events]
    done = json.loads(events[-1][2])
    assert (done["thinking"], done["thinking_ms"], done["reasoning_tokens"]) == (None, None, 5)


def test_a_stream_cut_while_thinking_ends_error_with_the_partial_thoughts_and_answer(app, client, api, thread_id,
                                                                                     scripted):
    scripted.queue(ThinkingDelta("Half a "), "Par", ProviderError("The Google Gemini stream broke off midway."))
    response = post(client, api, thread_id)
    assert response.status_code == 502
    reply = response.json["assistant_message"]
    assert (reply["status"], reply["content"], reply["thinking"]) == ("error", "Par", "Half a ")
    scripted.queue(ThinkingDelta("Only thoughts"), ProviderError("The Google Gemini stream broke off midway."))
    client.post(f"/api/messages/{reply['id']}/retry", headers=api)
    assert (stored_reply(app).status, stored_reply(app).content, stored_reply(app).thinking) == (
        "error", "", "Only thoughts")


def test_a_retry_starts_without_the_failed_attempts_thoughts(app, client, api, thread_id, scripted):
    scripted.queue(ThinkingDelta("Wrong path"), ProviderError("Google Gemini had a server error (500)."))
    reply = post(client, api, thread_id).json["assistant_message"]
    retried = client.post(f"/api/messages/{reply['id']}/retry", headers=api).json["assistant_message"]
    assert (retried["content"], retried["thinking"], retried["thinking_ms"]) == ("Hello there.", None, None)


def test_thoughts_are_never_sent_back_as_history(app, client, api, thread_id, scripted):
    scripted.queue(*THOUGHTS, "Four.", StreamEnd(3, 9, "end_turn", reasoning_tokens=5))
    post(client, api, thread_id, "2+2?")
    post(client, api, thread_id, "And 3+3?")
    turns = [(t.role, t.text) for t in scripted.requests[-1].turns]
    assert turns == [("user", "2+2?"), ("assistant", "Four."), ("user", "And 3+3?")]


def _pending_reply(app, client, api, thread_id):
    """Post a message whose reply thinks, then waits; (open response, reply id) once the thought arrived."""
    response = post(client, api, thread_id, stream=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        reply = stored_reply(app)
        if reply is not None:
            live = REPLIES.get(reply.id)
            if live is not None and live.thinking():
                return response, reply.id
        time.sleep(0.02)
    raise AssertionError("the reply never started thinking")


def test_a_reconnect_gets_the_thoughts_so_far_in_its_snapshot(app, client, api, thread_id, scripted):
    scripted.queue(ThinkingDelta("Hmm, "), ("sleep", 0.4), ThinkingDelta("yes."), "Done.", StreamEnd(1, 2, "end_turn"))
    response, reply_id = _pending_reply(app, client, api, thread_id)
    watched = read_events(client.get(f"/api/messages/{reply_id}/stream", headers=api))
    snapshot = json.loads(watched[0][2])
    assert watched[0][0] == "snapshot" and snapshot["thinking"] == "Hmm, " and snapshot["text"] == ""
    later = "".join(json.loads(data)["text"] for name, _, data in watched if name == "thinking")
    assert later == "yes." and json.loads(watched[-1][2])["thinking"] == "Hmm, yes."
    read_events(response)


def test_the_pages_reconnect_replaces_the_disclosure_with_the_thoughts_so_far(app, client, auth, hx, scripted):
    auth.signup_and_login()
    api = auth.token()
    project = client.post("/projects", data={"name": "P"}).headers["Location"].rsplit("/", 1)[1]
    thread = client.post(f"/projects/{project}/threads", data={"model_provider": "google", "thinking": "y"}).headers["Location"]
    scripted.queue(ThinkingDelta("Hmm, "), ("sleep", 0.4), ThinkingDelta("yes."), "Done.", StreamEnd(1, 2, "end_turn"))
    response, reply_id = _pending_reply(app, client, api, int(thread.rsplit("/", 1)[1]))
    events = read_events(client.get(f"/messages/{reply_id}/stream?after=0", headers=hx))
    assert f'data-hx-target="#reply-{reply_id}-thinking" data-hx-swap="innerHTML"' in events[0][2]
    assert "Hmm, " in events[0][2] and "yes." not in events[0][2]
    assert 'data-hx-swap="beforeend">yes.</hx-partial>' in events[1][2]
    read_events(response)


def test_partial_saves_keep_the_thoughts_so_far_and_polling_watchers_get_them(app, client, api, thread_id,
                                                                             scripted):
    scripted.queue(ThinkingDelta("Hmm, "), ("sleep", 0.4), "Done.", StreamEnd(1, 2, "end_turn"))
    response, reply_id = _pending_reply(app, client, api, thread_id)
    app.extensions["reply_runner"].tick(save=True, beat=False)
    saved = stored_reply(app)
    assert (saved.status, saved.thinking) == ("pending", "Hmm, ")
    with app.app_context():
        events = list(_follow_stored(db.engine, reply_id, 0, 0, 5.0, 0.05))
    assert events[0].text == "Hmm, " and events[0].whole
    assert events[-1].view.thinking == "Hmm, " and events[-1].view.content == "Done."
    read_events(response)


@pytest.mark.parametrize("provider", list(PROVIDER_VARS))
def test_real_sdks_stream_and_store_each_providers_thoughts(app, client, api, fake_provider, provider):
    base_url_var, model_var, model = PROVIDER_VARS[provider]
    app.config.update({base_url_var: fake_provider.base_url, model_var: model, "PROVIDER_MAX_RETRIES": 0})
    project = client.post("/api/projects", json={"name": "P"}, headers=api).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={"model_provider": provider},
                         headers=api).json["id"]
    events = read_events(post(client, api, thread, "Think first [[think:5]]", stream=True))
    thinking = "".join(json.loads(data)["text"] for name, _, data in events if name == "thinking")
    assert thinking == "Let me think. t4"
    done = json.loads(events[-1][2])
    assert done["thinking"] == thinking and done["reasoning_tokens"] == 5
    assert done["content"].startswith(f"Hello from fake {provider}.")
    wait_until_done(app)


def test_the_redis_relay_carries_thoughts_apart_from_the_text():
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    relay, message_id = RedisRelay(url), random.randrange(10**9, 2 * 10**9)
    relay.begin(message_id, 1)
    relay.thinking(message_id, 1, "Hmm, ", 5)
    relay.thinking(message_id, 1, "yes.", 9)
    relay.delta(message_id, 1, "Hi", 2)
    followed = relay.follow(message_id, 1, 0, 5.0, lambda: True, thinking_after=5)
    assert next(followed) == Thinking("yes.", 9) and next(followed) == Delta("Hi", 2)

    def finish():
        time.sleep(0.2)
        relay.thinking(message_id, 1, " And", 13)
        relay.delta(message_id, 1, " there.", 9)
        relay.announce(message_id, 1, "complete")

    threading.Thread(target=finish).start()
    rest = [event for event in followed if not isinstance(event, Heartbeat)]
    assert rest == [Thinking(" And", 13), Delta(" there.", 9), Ended("complete")]
