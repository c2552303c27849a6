"""Rate limits at their documented defaults: failed logins, registrations, new messages, API calls."""
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from app import config, create_app
from tests.live_server import LiveServer, server_env

PASSWORD = "correct horse battery"
LIMITED = pytest.mark.parametrize("app", [{"RATELIMIT_ENABLED": True}], indirect=True)


def fail_login(client, email="ada@example.com"):
    return client.post("/login", data={"email": email, "password": "wrong password"})


def retry_after(response) -> int:
    return int(response.headers["Retry-After"])


def assert_over_the_limit_page(response, message):
    html = response.get_data(as_text=True)
    assert response.status_code == 429 and "<html" in html
    assert re.search(re.escape(message) + r" Try again in \d+ (seconds|minutes)\.", html)


@LIMITED
def test_five_failed_logins_lock_the_account_for_15_minutes_even_for_the_right_password(client, auth):
    auth.create_user()
    for _ in range(5):
        assert fail_login(client).status_code == 400
    response = auth.login()
    assert_over_the_limit_page(response, "Too many failed logins for this account.")
    assert "Try again in 15 minutes." in response.get_data(as_text=True)
    assert 890 <= retry_after(response) <= 900
    assert client.get("/").status_code == 302  # not signed in


@LIMITED
def test_the_account_limit_leaves_other_accounts_alone(client, auth):
    auth.create_user()
    auth.create_user("bob@example.com")
    for _ in range(5):
        fail_login(client)
    assert auth.login().status_code == 429
    assert auth.login("bob@example.com").status_code == 303


def fail_login_from(client, address):
    return client.post("/login", data={"email": "nobody@example.com", "password": "wrong password"},
                       headers={"X-Forwarded-For": address})


@pytest.mark.parametrize("app", [{"RATELIMIT_ENABLED": True, "RATELIMIT_LOGIN_PER_IP": "2 per minute",
                                  "PROXY_COUNT": 1}], indirect=True)
def test_behind_a_proxy_each_client_address_has_its_own_limit(client):
    assert [fail_login_from(client, "203.0.113.7").status_code for _ in range(3)] == [400, 400, 429]
    assert fail_login_from(client, "198.51.100.9").status_code == 400


@pytest.mark.parametrize("app", [{"RATELIMIT_ENABLED": True, "RATELIMIT_LOGIN_PER_IP": "2 per minute"}],
                         indirect=True)
def test_without_a_proxy_a_forged_forwarded_address_does_not_escape_the_limit(client):
    statuses = [fail_login_from(client, address).status_code for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3")]
    assert statuses == [400, 400, 429]


@LIMITED
def test_twenty_failed_logins_from_one_address_lock_it_out(app, client, auth):
    auth.create_user()
    for i in range(20):
        assert fail_login(client, f"nobody{i}@example.com").status_code == 400
    response = auth.login()
    assert_over_the_limit_page(response, "Too many failed logins from your network.")
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert elsewhere.post("/login", data={"email": "ada@example.com", "password": PASSWORD}).status_code == 303


@LIMITED
def test_successful_logins_do_not_count(client, auth):
    auth.create_user()
    for _ in range(8):
        assert auth.login().status_code == 303
        auth.logout()


@pytest.mark.parametrize("app", [{"RATELIMIT_ENABLED": True, "RATELIMIT_LOGIN_PER_ACCOUNT": "2 per 1 second"}],
                         indirect=True)
def test_the_limit_resets_when_its_window_ends(client, auth):
    auth.create_user()
    fail_login(client)
    fail_login(client)
    locked = auth.login()
    assert locked.status_code == 429 and retry_after(locked) == 1
    time.sleep(1.1)
    assert auth.login().status_code == 303


@LIMITED
def test_ten_registrations_an_hour_from_one_address(app, client, auth):
    auth.create_user()
    app.config["REGISTRATION_OPEN"] = True
    for i in range(10):
        response = client.post("/register", data={"email": f"new{i}@example.com", "password": PASSWORD,
                                                  "confirm": PASSWORD})
        assert response.status_code == 303
    response = client.post("/register", data={"email": "one-more@example.com", "password": PASSWORD,
                                              "confirm": PASSWORD})
    assert_over_the_limit_page(response, "Too many attempts to create an account from your network.")
    assert 3500 <= retry_after(response) <= 3600


@pytest.fixture
def api_thread(client, auth):
    """Ada signed in, her bearer headers and a thread of hers."""
    auth.signup_and_login()
    headers = auth.token()
    project = client.post("/api/projects", json={"name": "P"}, headers=headers).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={}, headers=headers).json
    return headers, thread["id"]


def wait_until_no_reply_pends(client, headers, thread_id):
    deadline = time.monotonic() + 5
    while any(m["status"] == "pending" for m in
              client.get(f"/api/threads/{thread_id}/messages", headers=headers).json["messages"]):
        assert time.monotonic() < deadline
        time.sleep(0.02)


@LIMITED
def test_twenty_new_messages_a_minute_per_user_across_the_pages_and_the_api(client, auth, api_thread, hx,
                                                                            scripted):
    headers, thread_id = api_thread
    for _ in range(19):
        assert client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"},
                           headers=headers).status_code == 201
    assert client.post(f"/threads/{thread_id}/messages", data={"content": "Hi"}).status_code == 303
    wait_until_no_reply_pends(client, headers, thread_id)

    over = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=headers)
    assert over.status_code == 429 and 1 <= retry_after(over) <= 60
    assert re.fullmatch(r"You are sending messages too quickly\. Try again in \d+ seconds\.", over.json["error"])
    page = client.post(f"/threads/{thread_id}/messages", data={"content": "Hi"}, headers=hx)
    html = page.get_data(as_text=True)
    assert page.status_code == 429 and "You are sending messages too quickly." in html
    assert "<html" not in html and "<script" not in html  # htmx swaps it in as it is
    assert retry_after(page) >= 1


@LIMITED
def test_only_messages_that_start_a_reply_count(client, api_thread, scripted):
    headers, thread_id = api_thread
    for _ in range(25):
        assert client.post(f"/api/threads/{thread_id}/messages", json={"content": " "},
                           headers=headers).status_code == 400
    assert client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"},
                       headers=headers).status_code == 201


@LIMITED
def test_the_message_limit_is_per_user(app, client, auth, api_thread, scripted):
    headers, thread_id = api_thread
    for _ in range(20):
        client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=headers)
    assert client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"},
                       headers=headers).status_code == 429
    auth.create_user("bob@example.com")
    bob = auth.token("bob@example.com")
    project = client.post("/api/projects", json={"name": "Bob's"}, headers=bob).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={}, headers=bob).json
    assert client.post(f"/api/threads/{thread['id']}/messages", json={"content": "Hi"},
                       headers=bob).status_code == 201


@LIMITED
def test_three_hundred_api_calls_a_minute_per_token(client, auth):
    auth.signup_and_login()
    first, second = auth.token(name="one"), auth.token(name="two")
    for _ in range(300):
        assert client.get("/api/providers", headers=first).status_code == 200
    over = client.get("/api/providers", headers=first)
    assert over.status_code == 429 and over.is_json and 1 <= retry_after(over) <= 60
    assert over.json["error"].startswith("Too many API calls with this token. Try again in ")
    assert client.get("/api/providers", headers=second).status_code == 200
    assert client.get("/api/providers").status_code == 200  # the pages' own session is not a token


def test_limits_are_off_when_disabled(client, auth):
    assert client.application.config["RATELIMIT_ENABLED"] is False  # the suite's default
    auth.create_user()
    for _ in range(10):
        fail_login(client)
    assert auth.login().status_code == 303


def test_limits_and_their_switch_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://cache.internal:6379/2")
    monkeypatch.setenv("RATELIMIT_LOGIN_PER_ACCOUNT", "3 per hour")
    settings = config.load()
    assert settings["RATELIMIT_ENABLED"] is False
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/2"
    assert settings["RATELIMIT_LOGIN_PER_ACCOUNT"] == "3 per hour"
    monkeypatch.delenv("RATELIMIT_ENABLED")
    monkeypatch.delenv("RATELIMIT_STORAGE_URI")
    assert config.load()["RATELIMIT_ENABLED"] is True
    assert config.load()["RATELIMIT_STORAGE_URI"] == "memory://"


def test_a_limit_that_does_not_parse_stops_the_app_from_starting(migrated_database):
    with pytest.raises(RuntimeError, match="RATELIMIT_MESSAGES_PER_USER='lots' is not a rate limit"):
        create_app({"SQLALCHEMY_DATABASE_URI": migrated_database, "RATELIMIT_MESSAGES_PER_USER": "lots"})


def redis_url() -> str:
    """The Redis the suite may use, or a skip (a failure under CI, which starts one)."""
    url = "redis://127.0.0.1:6379/15"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {url}; CI starts it.")
        pytest.skip(f"Redis is not reachable at {url}")
    return url


@pytest.mark.server
@pytest.mark.once
def test_servers_sharing_a_redis_store_count_failed_logins_together(auth, migrated_database, fake_provider_server):
    store = redis_url()
    email = f"{uuid.uuid4().hex}@example.com"  # Redis outlives the run: a fresh account, a fresh count
    auth.create_user(email)
    env = server_env(migrated_database, fake_provider_server.base_url, RATELIMIT_ENABLED="true",
                     RATELIMIT_STORAGE_URI=store, RATELIMIT_LOGIN_PER_ACCOUNT="4 per 15 minutes")
    with ThreadPoolExecutor() as pool:  # they start side by side
        servers = list(pool.map(LiveServer, [env, env]))
    try:
        statuses = []
        for attempt in range(5):
            with httpx2.Client(base_url=servers[attempt % 2].url) as browser:
                token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                                  browser.get("/login").text).group(1)
                statuses.append(browser.post("/login", data={"email": email, "password": "wrong password",
                                                             "csrf_token": token}).status_code)
        assert statuses == [400, 400, 400, 400, 429]  # two from one server, two from the other, then locked
    finally:
        with ThreadPoolExecutor() as pool:
            list(pool.map(LiveServer.terminate, servers))
