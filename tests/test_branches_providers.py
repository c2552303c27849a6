"""Through the real SDKs against the wire-level fake: a provider is sent only the current path."""
import pytest

from tests.helpers import wait_until_done
from tests.test_adapters import sent_conversation
from tests.test_chat_providers import api, say, thread_for, wired  # noqa: F401  (fixtures)


def turns_sent(fake, provider):
    return [text for _, text in sent_conversation(fake.last(provider))[1]]


@pytest.mark.parametrize("provider", ["anthropic", "google", "deepseek"])
def test_after_an_edit_and_a_switch_only_the_current_path_is_sent(client, api, wired, provider):  # noqa: F811
    thread_id = thread_for(client, api, provider, instructions="")
    first = say(client, api, thread_id, "One").json
    say(client, api, thread_id, "Two")
    answer = first["assistant_message"]["content"]
    edited = client.post(f"/api/messages/{first['user_message']['id']}/edit", json={"content": "Uno"},
                         headers=api)
    assert edited.status_code == 201
    assert turns_sent(wired, provider) == ["Uno"]
    say(client, api, thread_id, "Dos")
    assert turns_sent(wired, provider) == ["Uno", edited.json["assistant_message"]["content"], "Dos"]
    switched = client.put(f"/api/threads/{thread_id}/head", json={"message_id": first["user_message"]["id"]},
                          headers=api)
    assert switched.status_code == 200
    say(client, api, thread_id, "Three")
    sent = turns_sent(wired, provider)
    assert sent[:3] == ["One", answer, "Two"] and sent[-1] == "Three" and "Uno" not in sent and "Dos" not in sent


def test_a_fork_sends_the_copied_replies_as_plain_assistant_turns(app, client, api, wired):  # noqa: F811
    thread_id = thread_for(client, api, "google", instructions="")
    first = say(client, api, thread_id, "One").json
    second = say(client, api, thread_id, "Two").json
    fork = client.post(f"/api/messages/{second['user_message']['id']}/fork", json={"model_provider": "deepseek"},
                       headers=api).json
    wait_until_done(app)
    assert turns_sent(wired, "deepseek") == ["One", first["assistant_message"]["content"], "Two"]
    reply = client.get(f"/api/threads/{fork['id']}/messages", headers=api).json["messages"][-1]
    assert reply["provider"] == "deepseek" and reply["content"].startswith("Hello from fake deepseek.")
