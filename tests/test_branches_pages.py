"""Versions on the thread page: edit, regenerate, switch, delete and fork, with and without htmx."""
import re

import pytest

from app.providers.base import StreamEnd
from tests.helpers import snapshot, stored_messages, wait_until_done


@pytest.fixture
def thread_id(client, auth):
    auth.signup_and_login()
    project = client.post("/projects", data={"name": "P"}).headers["Location"].rsplit("/", 1)[1]
    response = client.post(f"/projects/{project}/threads", data={"model_provider": "google"})
    return int(response.headers["Location"].rsplit("/", 1)[1])


def message_ids(html):
    return [int(i) for i in re.findall(r'<li class="message [^"]*" id="message-(\d+)"', html)]


def converse(app, client, thread_id, *contents):
    for content in contents:
        assert client.post(f"/threads/{thread_id}/messages", data={"content": content}).status_code == 303
        wait_until_done(app)
    return message_ids(client.get(f"/threads/{thread_id}").get_data(as_text=True))


def test_messages_offer_their_actions_by_keyboard_and_labelled(app, client, thread_id, scripted):
    user, reply = converse(app, client, thread_id, "One")
    html = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert f'href="/messages/{user}/edit"' in html and 'aria-label="Edit your message"' in html
    assert f'action="/messages/{reply}/regenerate"' in html and 'aria-label="Regenerate this reply"' in html
    assert f'href="/messages/{reply}/fork"' in html and f'href="/messages/{user}/delete"' in html
    assert 'data-hx-confirm="Delete your message and everything that follows it?"' in html
    assert "switcher" not in html  # no versions yet


def test_a_plain_edit_adds_a_version_and_the_switcher_goes_back(app, client, thread_id, scripted):
    user, reply = converse(app, client, thread_id, "One")
    page = client.get(f"/messages/{user}/edit").get_data(as_text=True)
    assert "<html" in page and "One</textarea>" in page and 'class="edit-message">' in page  # a plain form
    scripted.queue("Second answer", StreamEnd(1, 1, "end_turn"))
    response = client.post(f"/messages/{user}/edit", data={"content": "Uno"})
    assert response.status_code == 303 and response.headers["Location"] == f"/threads/{thread_id}"
    wait_until_done(app)
    html = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert "Uno" in html and "Second answer" in html and ">One<" not in html
    assert 'aria-label="Version 2 of 2"' in html and '<span class="switcher-position">2 / 2</span>' in html
    assert f'name="message_id" value="{user}"' in html
    back = client.post(f"/threads/{thread_id}/head", data={"message_id": user})
    assert back.status_code == 303
    html = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert ">One<" in html and "Uno" not in html and "1 / 2" in html


def test_htmx_edit_box_and_edit_swap_the_conversation(app, client, thread_id, hx, scripted):
    user, _ = converse(app, client, thread_id, "One")
    box = client.get(f"/messages/{user}/edit", headers=hx)
    text = box.get_data(as_text=True)
    assert "<html" not in text and f'data-hx-target="#message-{user}"' in text and "HX-Request" in box.headers["Vary"]
    assert 'data-hx-target="#conversation"' in text
    response = client.post(f"/messages/{user}/edit", data={"content": "Uno"}, headers=hx)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="conversation"' in html and "Uno" in html
    wait_until_done(app)


def test_an_empty_edit_shows_the_error_and_stores_nothing(app, client, thread_id, hx, scripted):
    user, _ = converse(app, client, thread_id, "One")
    before = snapshot(app)
    plain = client.post(f"/messages/{user}/edit", data={"content": "  "})
    assert plain.status_code == 400 and "Type a message first." in plain.get_data(as_text=True)
    fragment = client.post(f"/messages/{user}/edit", data={"content": "  "}, headers=hx)
    assert fragment.status_code == 400 and 'aria-invalid="true"' in fragment.get_data(as_text=True)
    too_long = client.post(f"/messages/{user}/edit", data={"content": "x" * 100_001})
    assert too_long.status_code == 400
    assert snapshot(app) == before


def test_a_reply_cannot_be_edited_nor_a_message_regenerated(app, client, thread_id, scripted):
    user, reply = converse(app, client, thread_id, "One")
    before = snapshot(app)
    assert client.get(f"/messages/{reply}/edit").status_code == 400
    assert client.post(f"/messages/{reply}/edit", data={"content": "Hi"}).status_code == 400
    assert client.post(f"/messages/{user}/regenerate").status_code == 400
    assert snapshot(app) == before


def test_regenerate_adds_a_version_of_the_reply(app, client, thread_id, hx, scripted):
    _, reply = converse(app, client, thread_id, "One")
    scripted.queue("Take two", StreamEnd(1, 1, "end_turn"))
    html = client.post(f"/messages/{reply}/regenerate", headers=hx).get_data(as_text=True)
    assert 'id="conversation"' in html and "<html" not in html
    wait_until_done(app)
    page = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert "Take two" in page and "2 / 2" in page and "Hello there." not in page


def test_delete_asks_first_then_removes_the_branch(app, client, thread_id, hx, scripted):
    user, reply = converse(app, client, thread_id, "One", "Two")[:2]
    confirm = client.get(f"/messages/{reply}/delete").get_data(as_text=True)
    assert "Delete this message?" in confirm and "every reply and message that follows it" in confirm
    html = client.post(f"/messages/{reply}/delete", headers=hx).get_data(as_text=True)
    assert 'id="conversation"' in html and "Two" not in html
    assert stored_messages(app) == [("user", "One", "complete")]
    assert client.post(f"/messages/{user}/delete").status_code == 303
    assert stored_messages(app) == []


def test_fork_form_makes_a_thread_with_another_provider_and_links_back(app, client, thread_id, scripted):
    user, reply = converse(app, client, thread_id, "One")
    form = client.get(f"/messages/{user}/fork").get_data(as_text=True)
    assert 'value="New thread (fork)"' in form
    project_id = int(re.search(r'<option selected value="(\d+)">P</option>', form).group(1))
    response = client.post(f"/messages/{user}/fork", data={"model_provider": "deepseek", "model": "",
                                                            "project_id": project_id, "title": "Ask DeepSeek"})
    assert response.status_code == 303
    fork = response.headers["Location"]
    wait_until_done(app)
    html = client.get(fork).get_data(as_text=True)
    assert "Ask DeepSeek" in html and "Forked from <a" in html and f"#message-{user}" in html
    assert "badge-deepseek" in html and html.count('class="message message-') == 2  # answered at once
    assert len(stored_messages(app)) == 4


def test_bad_forks_are_400_and_store_nothing(app, client, auth, thread_id, scripted):
    user, _ = converse(app, client, thread_id, "One")
    before = snapshot(app)
    form = client.get(f"/messages/{user}/fork").get_data(as_text=True)
    project_id = int(re.search(r'<option selected value="(\d+)">P</option>', form).group(1))
    unknown = client.post(f"/messages/{user}/fork", data={"model_provider": "openai", "project_id": project_id})
    assert unknown.status_code == 400 and "openai" in unknown.get_data(as_text=True)
    elsewhere = client.post(f"/messages/{user}/fork", data={"model_provider": "google", "project_id": 999999})
    assert elsewhere.status_code == 400 and "Choose one of your projects." in elsewhere.get_data(as_text=True)
    assert snapshot(app) == before
