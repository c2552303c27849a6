"""Conversations as trees through the JSON API: edit, regenerate, switch, delete and fork."""
import json

import pytest

from app.providers.base import ProviderError, StreamEnd
from tests.helpers import read_events, snapshot, stored_messages


@pytest.fixture
def api(auth):
    auth.create_user()
    return auth.token()


@pytest.fixture
def thread_id(client, api):
    project = client.post("/api/projects", json={"name": "P"}, headers=api).json
    return client.post(f"/api/projects/{project['id']}/threads", json={"model_provider": "google"},
                       headers=api).json["id"]


def post(client, api, thread_id, content):
    return client.post(f"/api/threads/{thread_id}/messages", json={"content": content}, headers=api).json


def path(client, api, thread_id, **params):
    return client.get(f"/api/threads/{thread_id}/messages", query_string=params, headers=api).json


def contents(client, api, thread_id):
    return [m["content"] for m in path(client, api, thread_id)["messages"]]


def test_posts_make_a_chain_under_the_head(client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    second = post(client, api, thread_id, "Two")
    assert first["user_message"]["parent_id"] is None
    assert first["assistant_message"]["parent_id"] == first["user_message"]["id"]
    assert second["user_message"]["parent_id"] == first["assistant_message"]["id"]
    thread = client.get(f"/api/threads/{thread_id}", headers=api).json
    assert thread["head_id"] == second["assistant_message"]["id"] and thread["forked_from_message_id"] is None
    listed = path(client, api, thread_id)["messages"]
    assert [(m["sibling_ids"], m["sibling_index"]) for m in listed] == [([m["id"]], 0) for m in listed]


def test_editing_a_message_adds_a_sibling_branch_and_keeps_the_old_one(app, client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    post(client, api, thread_id, "Two")
    scripted.queue("Edited answer", StreamEnd(1, 1, "end_turn"))
    response = client.post(f"/api/messages/{first['user_message']['id']}/edit", json={"content": "Uno"},
                           headers=api)
    assert response.status_code == 201
    user, reply = response.json["user_message"], response.json["assistant_message"]
    assert user["parent_id"] is None and reply["parent_id"] == user["id"] and reply["content"] == "Edited answer"
    assert contents(client, api, thread_id) == ["Uno", "Edited answer"]
    listed = path(client, api, thread_id)["messages"]
    assert listed[0]["sibling_ids"] == [first["user_message"]["id"], user["id"]] and listed[0]["sibling_index"] == 1
    assert len(stored_messages(app)) == 6  # the old branch is untouched
    assert [(t.role, t.text) for t in scripted.requests[-1].turns] == [("user", "Uno")]


def test_regenerating_a_reply_adds_a_sibling_reply(client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    scripted.queue("Another take", StreamEnd(1, 1, "end_turn"))
    response = client.post(f"/api/messages/{first['assistant_message']['id']}/regenerate", headers=api)
    assert response.status_code == 201 and response.json["user_message"] is None
    reply = response.json["assistant_message"]
    assert reply["parent_id"] == first["user_message"]["id"] and reply["content"] == "Another take"
    listed = path(client, api, thread_id)["messages"]
    assert [m["content"] for m in listed] == ["One", "Another take"]
    assert listed[1]["sibling_ids"] == [first["assistant_message"]["id"], reply["id"]]
    assert [(t.role, t.text) for t in scripted.requests[-1].turns] == [("user", "One")]


def test_an_edit_streams_like_a_post(client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    scripted.queue("a", "b", StreamEnd(1, 2, "end_turn"))
    response = client.post(f"/api/messages/{first['user_message']['id']}/edit", json={"content": "Uno"},
                           headers={**api, "Accept": "text/event-stream"})
    events = read_events(response)
    assert events[0][0] == "start" and '"content":"Uno"' in events[0][2]
    assert "".join(json.loads(data)["text"] for name, _, data in events if name == "delta") == "ab"
    assert events[-1][0] == "done" and json.loads(events[-1][2])["content"] == "ab"


def test_switching_moves_the_head_to_the_latest_leaf_and_the_provider_sees_only_that_path(
        client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    post(client, api, thread_id, "Two")
    client.post(f"/api/messages/{first['user_message']['id']}/edit", json={"content": "Uno"}, headers=api)
    response = client.put(f"/api/threads/{thread_id}/head", json={"message_id": first["user_message"]["id"]},
                          headers=api)
    assert response.status_code == 200
    assert contents(client, api, thread_id) == ["One", "Hello there.", "Two", "Hello there."]
    post(client, api, thread_id, "Three")
    assert [t.text for t in scripted.requests[-1].turns] == ["One", "Hello there.", "Two", "Hello there.", "Three"]


def test_a_head_from_another_thread_is_400_and_changes_nothing(app, client, api, thread_id, scripted):
    other = client.post("/api/projects/" + str(client.get(f"/api/threads/{thread_id}", headers=api)
                        .json["project_id"]) + "/threads", json={}, headers=api).json["id"]
    foreign = post(client, api, other, "Elsewhere")["user_message"]["id"]
    post(client, api, thread_id, "Here")
    before = snapshot(app)
    for body in ({"message_id": foreign}, {"message_id": 0}, {"message_id": "1"}, {}):
        response = client.put(f"/api/threads/{thread_id}/head", json=body, headers=api)
        assert response.status_code == 400, body
    assert "not a message of this thread" in client.put(
        f"/api/threads/{thread_id}/head", json={"message_id": foreign}, headers=api).json["error"]
    assert snapshot(app) == before


def test_deleting_a_branch_moves_the_head_to_a_surviving_sibling(app, client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    post(client, api, thread_id, "Two")
    edited = client.post(f"/api/messages/{first['user_message']['id']}/edit", json={"content": "Uno"},
                         headers=api).json
    assert client.delete(f"/api/messages/{edited['user_message']['id']}", headers=api).status_code == 204
    assert contents(client, api, thread_id) == ["One", "Hello there.", "Two", "Hello there."]
    assert client.delete(f"/api/messages/{first['assistant_message']['id']}", headers=api).status_code == 204
    assert contents(client, api, thread_id) == ["One"]
    assert stored_messages(app) == [("user", "One", "complete")]


def test_deleting_the_only_first_message_empties_the_thread(app, client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    assert client.delete(f"/api/messages/{first['user_message']['id']}", headers=api).status_code == 204
    assert path(client, api, thread_id)["messages"] == []
    assert client.get(f"/api/threads/{thread_id}", headers=api).json["head_id"] is None


def test_a_branch_with_a_pending_reply_cannot_be_deleted(app, client, api, thread_id, scripted):
    scripted.queue(("sleep", 1.0), "late", StreamEnd(1, 1, "end_turn"))
    response = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"},
                           headers={**api, "Accept": "text/event-stream"})
    events = response.iter_encoded()
    start = next(events).decode()
    user_id = json.loads(start.split("data: ", 1)[1].split("\n", 1)[0])["user_message"]["id"]
    refused = client.delete(f"/api/messages/{user_id}", headers=api)
    assert refused.status_code == 409 and "still being written" in refused.json["error"]
    list(events)
    assert client.delete(f"/api/messages/{user_id}", headers=api).status_code == 204


def test_bad_edits_and_regenerations_are_400_and_store_nothing(app, client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    user, reply = first["user_message"]["id"], first["assistant_message"]["id"]
    before = snapshot(app)
    for message_id, action, body, expected in [
        (user, "edit", {"content": ""}, "must not be empty"),
        (user, "edit", {"content": "   "}, "must not be empty"),
        (user, "edit", {"content": "x" * 100_001}, "at most"),
        (reply, "edit", {"content": "Hi"}, "Only your own messages can be edited"),
        (user, "regenerate", None, "Only a reply can be regenerated"),
    ]:
        response = client.post(f"/api/messages/{message_id}/{action}", json=body, headers=api)
        assert response.status_code == 400 and expected in response.json["error"], (action, response.json)
    assert snapshot(app) == before


def test_a_provider_failure_during_an_edit_keeps_the_message_and_stores_the_error(app, client, api, thread_id,
                                                                                  scripted):
    first = post(client, api, thread_id, "One")
    scripted.queue(ProviderError("Google Gemini is overloaded (503).", status=503))
    response = client.post(f"/api/messages/{first['user_message']['id']}/edit", json={"content": "Uno"},
                           headers=api)
    assert response.status_code == 503 and response.json["user_message"]["content"] == "Uno"
    assert stored_messages(app)[-2:] == [("user", "Uno", "complete"),
                                         ("assistant", "", "error")]
    head = path(client, api, thread_id)["messages"][-1]
    retried = client.post(f"/api/messages/{head['id']}/retry", headers=api)
    assert retried.status_code == 200 and retried.json["assistant_message"]["status"] == "complete"


def test_retry_is_only_for_the_head(client, api, thread_id, scripted):
    scripted.queue(ProviderError("Overloaded.", status=502))
    failed = post(client, api, thread_id, "One")["assistant_message"]["id"]
    client.post(f"/api/messages/{failed}/regenerate", headers=api)
    response = client.post(f"/api/messages/{failed}/retry", headers=api)
    assert response.status_code == 409


def test_one_reply_in_flight_per_thread_holds_for_edits(client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    scripted.queue(("sleep", 0.5), "late", StreamEnd(1, 1, "end_turn"))
    stream = client.post(f"/api/threads/{thread_id}/messages", json={"content": "Two"},
                         headers={**api, "Accept": "text/event-stream"})
    events = stream.iter_encoded()
    next(events)
    edit = client.post(f"/api/messages/{first['user_message']['id']}/edit", json={"content": "Uno"}, headers=api)
    regenerate = client.post(f"/api/messages/{first['assistant_message']['id']}/regenerate", headers=api)
    assert edit.status_code == regenerate.status_code == 409
    list(events)


def test_a_fork_copies_the_path_to_another_provider(app, client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    post(client, api, thread_id, "Two")
    project = client.post("/api/projects", json={"name": "Elsewhere"}, headers=api).json
    response = client.post(f"/api/messages/{first['assistant_message']['id']}/fork",
                           json={"model_provider": "deepseek", "project_id": project["id"]}, headers=api)
    assert response.status_code == 201
    fork = response.json
    assert fork["model_provider"] == "deepseek" and fork["project_id"] == project["id"]
    assert fork["title"] == "New thread (fork)" and fork["forked_from_message_id"] == first["assistant_message"]["id"]
    copied = path(client, api, fork["id"])["messages"]
    assert [(m["role"], m["content"], m["provider"]) for m in copied] == [
        ("user", "One", None), ("assistant", "Hello there.", "google")]
    assert copied[1]["parent_id"] == copied[0]["id"] and fork["head_id"] == copied[1]["id"]
    assert contents(client, api, thread_id) == ["One", "Hello there.", "Two", "Hello there."]  # untouched


def test_forking_at_a_user_message_answers_it_with_the_new_provider(app, client, api, thread_id, scripted):
    first = post(client, api, thread_id, "One")
    second = post(client, api, thread_id, "Two")
    fork = client.post(f"/api/messages/{second['user_message']['id']}/fork",
                       json={"model_provider": "anthropic", "title": "Ask Claude"}, headers=api).json
    assert fork["title"] == "Ask Claude"
    from tests.helpers import wait_until_done
    wait_until_done(app)
    copied = path(client, api, fork["id"])["messages"]
    assert [(m["content"], m["provider"]) for m in copied] == [
        ("One", None), ("Hello there.", "google"), ("Two", None), ("Hello there.", "anthropic")]
    request = scripted.requests[-1]
    assert [(t.role, t.text) for t in request.turns] == [
        ("user", "One"), ("assistant", "Hello there."), ("user", "Two")]
    assert first["user_message"]["id"] not in {m["id"] for m in copied}


def test_bad_forks_are_400_or_404_and_store_nothing(app, client, api, auth, thread_id, scripted):
    message = post(client, api, thread_id, "One")["assistant_message"]["id"]
    auth.create_user("eve@example.com")
    eve = auth.token("eve@example.com")
    eves = client.post("/api/projects", json={"name": "Eve's"}, headers=eve).json["id"]
    before = snapshot(app)
    unknown = client.post(f"/api/messages/{message}/fork", json={"model_provider": "openai"}, headers=api)
    assert unknown.status_code == 400 and "openai" in unknown.json["error"]
    missing = client.post(f"/api/messages/{message}/fork", json={}, headers=api)
    assert missing.status_code == 400
    foreign = client.post(f"/api/messages/{message}/fork", json={"model_provider": "google", "project_id": eves},
                          headers=api)
    assert foreign.status_code == 404
    model = client.post(f"/api/messages/{message}/fork", json={"model_provider": "google", "model": "gpt-4o"},
                        headers=api)
    assert model.status_code == 400 and "Unknown model 'gpt-4o'" in model.json["error"]
    assert snapshot(app) == before
