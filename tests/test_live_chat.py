"""The life of a reply through gunicorn itself: streaming, heartbeats, watchers, stop, crashes, load."""
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from tests.helpers import read_sse
from tests.live_server import LiveServer, csrf_of, server_env

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def live(migrated_database, fake_provider_server):
    """One app server for the module, on the test database, talking to the fake provider."""
    server = LiveServer(server_env(migrated_database, fake_provider_server.base_url, DATABASE_POOL_SIZE=5,
                                   DATABASE_MAX_OVERFLOW=0))
    yield server
    server.terminate()


@pytest.fixture
def api(app, auth, live, fake_provider):
    """An HTTP client to the live server with a bearer token, and a thread per provider."""
    auth.create_user()
    client = httpx2.Client(base_url=live.url, headers=auth.token(), timeout=30)
    yield client
    client.close()


def new_thread(api, provider="google") -> int:
    project = api.post("/api/projects", json={"name": "Live", "instructions": "Be brief."}).json()
    return api.post(f"/api/projects/{project['id']}/threads", json={"model_provider": provider}).json()["id"]


def stream_post(api, thread_id, content):
    return api.stream("POST", f"/api/threads/{thread_id}/messages", json={"content": content},
                      headers={"Accept": "text/event-stream"})


def test_first_delta_arrives_long_before_the_reply_ends(api):
    thread_id = new_thread(api)
    times = {}
    with stream_post(api, thread_id, "Count [[tokens:10]] [[token-delay:0.15]]") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for name, _, data in read_sse(response):
            times.setdefault(name, time.monotonic())
    assert times["done"] - times["delta"] > 1.0


def test_heartbeats_flow_while_the_provider_is_silent(api):
    thread_id = new_thread(api, "anthropic")
    kinds = []
    with stream_post(api, thread_id, "Think first [[delay:2]] [[tokens:2]]") as response:
        for name, _, _ in read_sse(response):
            kinds.append(name)
    first_delta = kinds.index("delta")
    assert kinds[:first_delta].count("comment") >= 2
    assert kinds[-1] == "done"


def test_a_watcher_that_leaves_does_not_stop_the_reply(api):
    thread_id = new_thread(api, "deepseek")
    with stream_post(api, thread_id, "Go on [[tokens:8]] [[token-delay:0.1]]") as response:
        events = read_sse(response)
        start = json.loads(next(events)[2])
    reply_id = start["assistant_message"]["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = api.get(f"/api/threads/{thread_id}/messages").json()["messages"]
        if messages[-1]["status"] != "pending":
            break
        time.sleep(0.2)
    assert messages[-1]["id"] == reply_id and messages[-1]["status"] == "complete"
    assert messages[-1]["content"].startswith("Hello from fake deepseek.")


def test_a_new_watcher_gets_the_text_so_far_then_the_rest_without_repeats(api):
    thread_id = new_thread(api)
    with stream_post(api, thread_id, "Long one [[tokens:12]] [[token-delay:0.15]]") as response:
        events = read_sse(response)
        reply_id = json.loads(next(events)[2])["assistant_message"]["id"]
        next(e for e in events if e[0] == "delta")
        with api.stream("GET", f"/api/messages/{reply_id}/stream", headers={"Last-Event-ID": "5"}) as resumed, \
                api.stream("GET", f"/api/messages/{reply_id}/stream") as watcher:
            watched = list(read_sse(watcher))
            resumed_events = list(read_sse(resumed))
    snapshot = json.loads(watched[0][2])
    assert watched[0][0] == "snapshot" and snapshot["status"] == "pending" and snapshot["text"]
    rest = "".join(json.loads(data)["text"] for name, _, data in watched if name == "delta")
    final = json.loads(watched[-1][2])["content"]
    assert watched[-1][0] == "done" and snapshot["text"] + rest == final
    resumed_text = "".join(json.loads(data)["text"] for name, _, data in resumed_events if name == "delta")
    assert final[5:] == resumed_text


def _stream_until_text(api, thread_id, content, text):
    """Post a message and return (reply id, the open stream, its event iterator) once `text` has streamed.

    Deltas that queue up while the stream is busy arrive joined, so this counts text, not events.
    """
    stream = stream_post(api, thread_id, content)
    events = read_sse(stream.__enter__())
    reply_id = json.loads(next(events)[2])["assistant_message"]["id"]
    seen = ""
    for name, _, data in events:
        seen += json.loads(data)["text"] if name == "delta" else ""
        if seen == text:
            break
    return reply_id, stream, events


def test_stop_closes_the_provider_stream_and_keeps_the_partial_text(api, fake_provider):
    thread_id = new_thread(api, "deepseek")
    reply_id, response, events = _stream_until_text(api, thread_id, "Silence [[stall-after:3]]", "Hello from fake")
    started = time.monotonic()
    stopped = api.post(f"/api/messages/{reply_id}/stop")
    assert time.monotonic() - started < 2, stopped.text
    stopped = stopped.json()
    assert stopped["status"] == "stopped" and stopped["content"] == "Hello from fake"
    last = list(events)[-1]
    response.__exit__(None, None, None)
    assert last[0] == "done" and json.loads(last[2])["status"] == "stopped"
    request = fake_provider.last("deepseek")
    request.wait_done(2)
    assert request.disconnected


def test_stop_reaches_a_runner_in_another_app_server(api, app, migrated_database, fake_provider_server):
    other = LiveServer(server_env(migrated_database, fake_provider_server.base_url))
    try:
        thread_id = new_thread(api, "anthropic")
        reply_id, response, _ = _stream_until_text(api, thread_id, "Wait [[stall-after:2]]", "Hello from")
        stopped = httpx2.post(f"{other.url}/api/messages/{reply_id}/stop", headers=dict(api.headers), timeout=10)
        response.__exit__(None, None, None)
    finally:
        other.terminate()
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped" and stopped.json()["content"] == "Hello from"


def test_a_killed_runner_ends_interrupted_and_can_be_retried(api, migrated_database, fake_provider_server):
    doomed = LiveServer(server_env(migrated_database, fake_provider_server.base_url))
    thread_id = new_thread(api)
    token = dict(api.headers)
    with httpx2.stream("POST", f"{doomed.url}/api/threads/{thread_id}/messages", headers={
            **token, "Accept": "text/event-stream"}, json={"content": "Hang [[stall-after:2]]"}, timeout=10) as response:
        events = read_sse(response)
        reply_id = json.loads(next(events)[2])["assistant_message"]["id"]
        next(e for e in events if e[0] == "delta")
        time.sleep(1.2)  # long enough for the ticker to save the partial text
        doomed.kill()
    time.sleep(3.5)  # REPLY_STALE_SECONDS=3 on the survivors
    messages = api.get(f"/api/threads/{thread_id}/messages").json()["messages"]
    assert messages[-1]["status"] == "interrupted" and messages[-1]["content"].startswith("Hello")
    with api.stream("POST", f"/api/messages/{reply_id}/retry", headers={"Accept": "text/event-stream"}) as retried:
        start = json.loads(next(read_sse(retried))[2])["assistant_message"]
        assert (start["id"], start["status"], start["attempt"]) == (reply_id, "pending", 2)
        assert api.post(f"/api/messages/{reply_id}/stop").json()["status"] == "stopped"  # it stalls again


def test_html_stream_from_a_form_post(app, auth, live, fake_provider):
    auth.create_user()
    browser = httpx2.Client(base_url=live.url, timeout=30)
    login_page = browser.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    browser.post("/login", data={"csrf_token": token, "email": "ada@example.com",
                                 "password": "correct horse battery"})
    project = browser.post("/projects", data={"csrf_token": token, "name": "Live"}, follow_redirects=True)
    thread_page = browser.post(f"{project.url}/threads", data={"csrf_token": token, "model_provider": "google"},
                               follow_redirects=True)
    csrf = csrf_of(thread_page.text)
    url = f"{thread_page.url.path}/messages"
    with browser.stream("POST", url, data={"content": "Hi <b>there</b> [[tokens:8]] [[token-delay:0.15]]"},
                        headers={"HX-Request": "true", "X-CSRFToken": csrf}) as response:
        events = list(read_sse(response))
    first = events[0][2]
    assert "message-user" in first and "&lt;b&gt;there&lt;/b&gt;" in first and "<b>there" not in first
    assert "message-assistant" in first and "data-hx-sse-connect" not in first
    deltas = [e for e in events if e[1] is not None]
    assert len(deltas) >= 3
    assert all(e[2].startswith('<hx-partial data-hx-target="#reply-') and 'data-hx-swap="beforeend"' in e[2]
               for e in deltas)
    final = events[-1][2]
    assert 'data-hx-swap="outerHTML"' in final and "status-complete" in final
    assert "Hello from fake google" in final
    browser.close()


def test_many_concurrent_replies_on_a_five_connection_pool(api):
    threads = [new_thread(api, ("anthropic", "google", "deepseek")[i % 3]) for i in range(100)]

    def chat(thread_id):
        with stream_post(api, thread_id, "Together [[delay:0.5]] [[tokens:5]] [[token-delay:0.05]]") as response:
            return list(read_sse(response))[-1]

    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(chat, threads))
    assert [name for name, _, _ in results] == ["done"] * 100
    statuses = {api.get(f"/api/threads/{t}/messages").json()["messages"][-1]["status"] for t in threads}
    assert statuses == {"complete"}


def test_the_server_waits_cooperatively(live):
    health = httpx2.get(live.url + "/healthz").json()
    assert health["gevent"] is True
    assert health["psycopg_wait"] not in (None, "wait_c")


def test_graceful_shutdown_finishes_running_replies_or_marks_them_interrupted(
        api, migrated_database, fake_provider_server):
    server = LiveServer(server_env(migrated_database, fake_provider_server.base_url, SHUTDOWN_GRACE_SECONDS=2))
    token = dict(api.headers)
    short, stuck = new_thread(api), new_thread(api, "anthropic")
    outcomes = {}

    def post(thread_id, content):
        with httpx2.stream("POST", f"{server.url}/api/threads/{thread_id}/messages", json={"content": content},
                           headers={**token, "Accept": "text/event-stream"}, timeout=30) as response:
            outcomes[thread_id] = list(read_sse(response))

    workers = [threading.Thread(target=post, args=(short, "Soon [[delay:1]] [[tokens:3]]")),
               threading.Thread(target=post, args=(stuck, "Never [[stall]]"))]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    assert server.terminate() == 0
    for worker in workers:
        worker.join(10)
    last = {t: api.get(f"/api/threads/{t}/messages").json()["messages"][-1] for t in (short, stuck)}
    assert last[short]["status"] == "complete", last
    assert last[stuck]["status"] == "interrupted"


REDIS_URL = "redis://127.0.0.1:6379/15"


def require_redis():
    import os

    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running on 127.0.0.1:6379; .ci/run starts it.")
        pytest.skip("Redis is not running on 127.0.0.1:6379")


@pytest.mark.parametrize("redis_url", [None, REDIS_URL], ids=["polling", "redis"])
def test_a_watcher_on_another_app_server_follows_the_reply(api, migrated_database, fake_provider_server, redis_url):
    if redis_url:
        require_redis()
    extra = {"REDIS_URL": redis_url} if redis_url else {}
    writer = LiveServer(server_env(migrated_database, fake_provider_server.base_url, **extra))
    reader = LiveServer(server_env(migrated_database, fake_provider_server.base_url, **extra))
    headers = dict(api.headers)
    try:
        thread_id = new_thread(api)
        with httpx2.stream("POST", f"{writer.url}/api/threads/{thread_id}/messages",
                           json={"content": "Slowly [[tokens:20]] [[token-delay:0.1]]"},
                           headers={**headers, "Accept": "text/event-stream"}, timeout=30) as response:
            reply_id = json.loads(next(read_sse(response))[2])["assistant_message"]["id"]
            with httpx2.stream("GET", f"{reader.url}/api/messages/{reply_id}/stream", headers=headers,
                               timeout=30) as watcher:
                watched = list(read_sse(watcher))
    finally:
        writer.terminate()
        reader.terminate()
    snapshot = json.loads(watched[0][2])["text"]
    deltas = [json.loads(data)["text"] for name, _, data in watched if name == "delta"]
    final = json.loads(watched[-1][2])["content"]
    assert watched[-1][0] == "done" and final.endswith("w19")
    assert snapshot + "".join(deltas) == final
    if redis_url:
        assert len(deltas) >= 12  # token by token, as they arrive
    else:
        assert len(deltas) <= 4  # the text saved about once a second


def test_a_worker_gives_back_its_places_once_replies_end(app, auth, migrated_database, fake_provider_server):
    """Under gunicorn: with room for 2 replies, chat after chat is still accepted; 3 at once are not."""
    server = LiveServer(server_env(migrated_database, fake_provider_server.base_url, MAX_REPLIES_IN_FLIGHT=2,
                                   WEB_CONCURRENCY=1))
    auth.create_user()
    try:
        with httpx2.Client(base_url=server.url, headers=auth.token(), timeout=30) as api:
            for provider in ("google", "anthropic", "deepseek", "google", "anthropic"):
                reply = api.post(f"/api/threads/{new_thread(api, provider)}/messages", json={"content": "Hi"})
                assert reply.status_code == 201, reply.text
            threads = [new_thread(api) for _ in range(3)]
            with ThreadPoolExecutor(3) as pool:
                answers = list(pool.map(lambda t: api.post(f"/api/threads/{t}/messages",
                                                           json={"content": "Slow [[delay:1]]"}), threads))
    finally:
        server.terminate()
    assert sorted(a.status_code for a in answers) == [201, 201, 503]
