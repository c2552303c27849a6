"""The search index follows every write: posts, replies as they end, retries, renames and deletes."""
from __future__ import annotations

import time

import pytest

from app.providers.base import ProviderError, StreamEnd
from tests.helpers import wait_until_done


@pytest.fixture
def world(app, client, auth, scripted):
    """Ada with a token, a project and a thread."""
    auth.signup_and_login()
    bearer = auth.token()
    project = client.post("/api/projects", json={"name": "Work"}, headers=bearer).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={"title": "Alpha plans"}, headers=bearer).json
    return {"headers": bearer, "project": project, "thread": thread, "scripted": scripted}


def hits(client, world, q: str) -> list[tuple[int, int | None]]:
    body = client.get("/api/search", query_string={"q": q}, headers=world["headers"]).json
    return [(r["thread_id"], r["message_id"]) for r in body["results"]]


def post(client, world, content: str) -> dict:
    return client.post(f"/api/threads/{world['thread']['id']}/messages", json={"content": content},
                       headers=world["headers"]).json


def test_a_post_and_its_finished_reply_are_found(client, world):
    world["scripted"].queue("Bananas are ", "yellow.", StreamEnd(3, 2, "end_turn"))
    exchange = post(client, world, "What colour are bananas?")
    tid = world["thread"]["id"]
    assert hits(client, world, "bananas") == [(tid, exchange["assistant_message"]["id"]),
                                              (tid, exchange["user_message"]["id"])]
    assert hits(client, world, "yellow") == [(tid, exchange["assistant_message"]["id"])]


def test_a_reply_is_indexed_when_it_ends_not_while_it_streams(app, client, world):
    world["scripted"].queue("Mangoes ", ("sleep", 1.5), "ripen.", StreamEnd(3, 2, "end_turn"))
    response = client.post(f"/api/threads/{world['thread']['id']}/messages", json={"content": "fruit?"},
                           headers={**world["headers"], "Accept": "text/event-stream"})
    time.sleep(1.2)  # the partial text "Mangoes " has been saved by now
    assert hits(client, world, "mangoes") == []
    response.get_data()
    wait_until_done(app)
    assert len(hits(client, world, "mangoes")) == 1


def test_a_retried_reply_is_found_by_its_new_text_only(client, world):
    world["scripted"].queue("Plums ", ProviderError("Overloaded.", status=502))
    failed = post(client, world, "question")["assistant_message"]
    assert [m for _, m in hits(client, world, "plums")] == [failed["id"]]
    world["scripted"].queue("Cherries.", StreamEnd(3, 2, "end_turn"))
    client.post(f"/api/messages/{failed['id']}/retry", headers=world["headers"])
    assert hits(client, world, "plums") == []
    assert [m for _, m in hits(client, world, "cherries")] == [failed["id"]]


def test_a_renamed_thread_is_found_by_its_new_title_only(client, world):
    tid = world["thread"]["id"]
    assert hits(client, world, "alpha") == [(tid, None)]
    client.patch(f"/api/threads/{tid}", json={"title": "Beta plans"}, headers=world["headers"])
    assert hits(client, world, "alpha") == []
    assert hits(client, world, "beta") == [(tid, None)]


def test_a_page_rename_is_indexed_too(client, world):
    client.post(f"/threads/{world['thread']['id']}/rename", data={"title": "Gamma"})
    assert hits(client, world, "gamma") == [(world["thread"]["id"], None)]


def test_deleting_a_thread_or_a_project_takes_its_text_out(client, world):
    post(client, world, "kumquat one")
    other = client.post(f"/api/projects/{world['project']['id']}/threads", json={"title": "Kumquat"},
                        headers=world["headers"]).json
    client.delete(f"/api/threads/{world['thread']['id']}", headers=world["headers"])
    assert hits(client, world, "kumquat") == [(other["id"], None)]
    client.delete(f"/api/projects/{world['project']['id']}", headers=world["headers"])
    assert hits(client, world, "kumquat") == []
