"""Every input has a limit: oversized bodies, out-of-range ids, malformed cursors and text the database refuses."""
import base64
import json

import pytest

from tests.helpers import read_events, snapshot


def test_an_oversized_form_is_413_as_a_page_and_stores_nothing(app, client, auth):
    auth.signup_and_login()
    before = snapshot(app)
    too_large = "y" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/projects", data={"name": "x", "instructions": too_large})
    assert response.status_code == 413 and "too large" in response.get_data(as_text=True)
    assert "<html" in response.get_data(as_text=True)
    assert snapshot(app) == before


def cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/projects/9223372036854775808"),            # one past the largest database integer
    ("DELETE", "/api/threads/9223372036854775808"),          # (a route that merely refused it would say 405)
    ("PATCH", "/api/threads/" + "9" * 5000),                 # more digits than int() takes
    ("GET", "/api/messages/99999999999999999999999/stream"),
])
def test_ids_beyond_the_database_range_are_404(client, auth, method, path):
    auth.create_user()
    response = client.open(path, method=method, headers=auth.token(), json={})
    assert response.status_code == 404 and response.is_json


@pytest.mark.parametrize("query", [
    {"limit": "²"}, {"limit": "9" * 5000},
    {"cursor": cursor("2026-01-01T00:00:00+00:00", 10 ** 30)},   # an id no database holds
    {"cursor": cursor("2026-01-01T00:00:00+00:00", float("inf"))},
    {"cursor": cursor("2026-01-01T00:00:00", 1)},                # a time without its zone
    {"cursor": cursor("0001-01-01T00:00:00+23:59", 1)},          # before year 1 in UTC
    {"cursor": base64.urlsafe_b64encode(b"[" * 100_000).decode()},
])
def test_malformed_page_parameters_are_400(client, auth, query):
    auth.create_user()
    response = client.get("/api/projects", query_string=query, headers=auth.token())
    assert response.status_code == 400 and "error" in response.json


def test_malformed_message_cursors_and_resume_points_are_refused_or_ignored(client, auth, scripted):
    auth.create_user()
    bearer = auth.token()
    project = client.post("/api/projects", json={"name": "P"}, headers=bearer).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={}, headers=bearer).json
    reply = client.post(f"/api/threads/{thread['id']}/messages", json={"content": "Hi"}, headers=bearer).json
    listing = client.get(f"/api/threads/{thread['id']}/messages", query_string={"cursor": cursor(10 ** 30)},
                         headers=bearer)
    assert listing.status_code == 400
    stream = client.get(f"/api/messages/{reply['assistant_message']['id']}/stream",
                        headers={**bearer, "Last-Event-ID": "²"}, query_string={"after": "9" * 5000})
    assert stream.status_code == 200 and [e[0] for e in read_events(stream)][0] == "snapshot"


@pytest.mark.parametrize("body", [
    '{"name": "a\\u0000b"}',       # PostgreSQL stores no NUL character
    '{"name": "a\\ud800b"}',       # an unpaired surrogate is no UTF-8
    '{"name": ' + "[" * 100_000 + "}",  # nesting deep enough to exhaust the parser
])
def test_json_the_database_cannot_store_is_400_and_stores_nothing(app, client, auth, body):
    auth.create_user()
    bearer = auth.token()
    before = snapshot(app)
    response = client.post("/api/projects", data=body, content_type="application/json", headers=bearer)
    assert response.status_code == 400 and response.is_json
    assert snapshot(app) == before


def test_form_text_with_a_nul_character_is_400_and_stores_nothing(app, client, auth):
    auth.signup_and_login()
    before = snapshot(app)
    response = client.post("/projects", data={"name": "a\x00b"})
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    assert snapshot(app) == before
