"""Automatic titles: the first complete reply names its thread, unless the user already has."""
from __future__ import annotations

import logging
import time

import pytest

from app.limits import DEFAULT_THREAD_TITLE
from app.providers.base import ProviderError, StreamEnd
from app.services.titles import clean

ON = {"AUTO_TITLES": True}


@pytest.fixture
def world(app, client, auth, scripted):
    auth.signup_and_login()
    bearer = auth.token()
    project = client.post("/api/projects", json={"name": "Work"}, headers=bearer).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={}, headers=bearer).json
    return {"headers": bearer, "thread": thread, "scripted": scripted}


def post(client, world, content="What colour are bananas?"):
    return client.post(f"/api/threads/{world['thread']['id']}/messages", json={"content": content},
                       headers=world["headers"])


def title(client, world) -> str:
    return client.get(f"/api/threads/{world['thread']['id']}", headers=world["headers"]).json["title"]


def settled_title(client, world, timeout=3.0) -> str:
    """The thread's title once a title request has had time to land."""
    deadline = time.monotonic() + timeout
    while title(client, world) == DEFAULT_THREAD_TITLE and time.monotonic() < deadline:
        time.sleep(0.05)
    return title(client, world)


@pytest.mark.parametrize("app", [ON], indirect=True)
def test_the_first_reply_names_the_thread_with_a_small_request(client, world, caplog):
    world["scripted"].queue("Yellow.", StreamEnd(5, 1, "end_turn"))
    world["scripted"].queue('"Banana colours', ' explained."', StreamEnd(40, 4, "end_turn"))
    post(client, world)
    assert settled_title(client, world) == "Banana colours explained"
    ask = world["scripted"].requests[1]
    assert ask.max_output_tokens <= 24 and ask.thinking is False and ask.model == "claude-sonnet-5-5"
    assert "What colour are bananas?" in ask.turns[0].text and "Yellow." in ask.turns[0].text
    assert "40 input, 4 output tokens" in caplog.text


@pytest.mark.parametrize("app", [{**ON, "ANTHROPIC_TITLE_MODEL": "claude-haiku-4-5"}], indirect=True)
def test_a_title_model_setting_picks_the_model(client, world):
    world["scripted"].queue("Yellow.", StreamEnd(5, 1, "end_turn"))
    world["scripted"].queue("Bananas", StreamEnd(40, 1, "end_turn"))
    post(client, world)
    assert settled_title(client, world) == "Bananas"
    assert world["scripted"].requests[1].model == "claude-haiku-4-5"


@pytest.mark.parametrize("app", [ON], indirect=True)
def test_a_title_the_user_sets_meanwhile_is_never_overwritten(app, client, world):
    world["scripted"].queue("Yellow.", StreamEnd(5, 1, "end_turn"))
    world["scripted"].queue(("sleep", 0.5), "Generated", StreamEnd(40, 1, "end_turn"))
    post(client, world)
    client.patch(f"/api/threads/{world['thread']['id']}", json={"title": "Mine"}, headers=world["headers"])
    time.sleep(1.0)
    assert title(client, world) == "Mine"


@pytest.mark.parametrize("app", [ON], indirect=True)
def test_a_thread_with_a_title_is_not_renamed(client, world):
    client.patch(f"/api/threads/{world['thread']['id']}", json={"title": "Mine"}, headers=world["headers"])
    world["scripted"].queue("Yellow.", StreamEnd(5, 1, "end_turn"))
    post(client, world)
    time.sleep(0.3)
    assert title(client, world) == "Mine" and len(world["scripted"].requests) == 1


@pytest.mark.parametrize("app", [ON], indirect=True)
def test_a_failed_title_request_keeps_the_default_and_logs_one_line(client, world, caplog):
    world["scripted"].queue("Yellow.", StreamEnd(5, 1, "end_turn"))
    world["scripted"].queue(ProviderError("Anthropic Claude is overloaded (529)."))
    post(client, world)
    time.sleep(0.5)
    assert title(client, world) == DEFAULT_THREAD_TITLE
    lines = [r for r in caplog.records if r.name == "app.services.titles"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING and "overloaded" in lines[0].getMessage()


@pytest.mark.parametrize("app", [ON], indirect=True)
def test_a_failed_reply_names_nothing_and_its_successful_retry_does(client, world):
    world["scripted"].queue(ProviderError("Overloaded.", status=502))
    failed = post(client, world).json["assistant_message"]
    time.sleep(0.2)
    assert len(world["scripted"].requests) == 1
    world["scripted"].queue("Yellow.", StreamEnd(5, 1, "end_turn"))
    world["scripted"].queue("Banana colours", StreamEnd(40, 2, "end_turn"))
    client.post(f"/api/messages/{failed['id']}/retry", headers=world["headers"])
    assert settled_title(client, world) == "Banana colours"


@pytest.mark.parametrize("app", [ON], indirect=True)
def test_later_replies_ask_for_no_title(client, world):
    world["scripted"].queue("Yellow.", StreamEnd(5, 1, "end_turn"))
    world["scripted"].queue(ProviderError("No title today."))
    post(client, world)
    time.sleep(0.3)
    world["scripted"].queue("Green when unripe.", StreamEnd(5, 1, "end_turn"))
    post(client, world, "And unripe?")
    time.sleep(0.3)
    assert len(world["scripted"].requests) == 3  # reply, title, reply


def test_with_auto_titles_off_no_title_is_asked_for(client, world):
    world["scripted"].queue("Yellow.", StreamEnd(5, 1, "end_turn"))
    post(client, world)
    time.sleep(0.3)
    assert len(world["scripted"].requests) == 1 and title(client, world) == DEFAULT_THREAD_TITLE


@pytest.mark.parametrize("raw, expected", [
    ('"Banana colours."', "Banana colours"), ("Title: Parsing CSV files\nmore", "Parsing CSV files"),
    ("  “Quoted”  ", "Quoted"), ("word " * 30, ("word " * 12).strip()), ("...", None), ("", None),
])
def test_titles_are_cleaned(raw, expected):
    cleaned = clean(raw)
    assert cleaned == expected and (cleaned is None or len(cleaned) <= 60)


@pytest.mark.parametrize("app", [{**ON, "TITLE_WAIT_SECONDS": 0.3}], indirect=True)
def test_the_open_page_gets_the_new_header_after_the_reply(client, world, hx):
    world["scripted"].queue("Yellow.", StreamEnd(5, 1, "end_turn"))
    world["scripted"].queue("Banana colours", StreamEnd(40, 2, "end_turn"))
    stream = client.post(f"/threads/{world['thread']['id']}/messages", data={"content": "Colour?"}, headers=hx)
    body = stream.get_data(as_text=True)
    assert f'data-hx-get="/threads/{world["thread"]["id"]}/title"' in body
    header = client.get(f"/threads/{world['thread']['id']}/title", headers=hx)
    assert header.status_code == 200 and "<h1>Banana colours</h1>" in header.get_data(as_text=True)


@pytest.mark.parametrize("app", [{**ON, "TITLE_WAIT_SECONDS": 0.3}], indirect=True)
def test_the_header_request_gives_up_quietly_when_no_title_comes(client, world, hx):
    assert client.get(f"/threads/{world['thread']['id']}/title", headers=hx).status_code == 204
