"""Each thread is answered by its own provider through the real SDK, against the wire-level fake."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Message
from tests.helpers import sent_conversation, wait_until_done


@pytest.fixture
def api(auth):
    auth.create_user()
    return auth.token()


def thread_for(client, api, provider=None, instructions="Answer in French."):
    project = client.post("/api/projects", json={"name": "P", "instructions": instructions}, headers=api).json
    body = {"model_provider": provider} if provider else {}
    return client.post(f"/api/projects/{project['id']}/threads", json=body, headers=api).json["id"]


def say(client, api, thread_id, content):
    return client.post(f"/api/threads/{thread_id}/messages", json={"content": content}, headers=api)


@pytest.mark.parametrize("provider", ["anthropic", "google", "deepseek"])
def test_each_thread_is_answered_by_its_provider_and_no_other(client, api, wired, provider):
    thread_id = thread_for(client, api, provider)
    reply = say(client, api, thread_id, "Bonjour").json["assistant_message"]
    assert reply["content"].startswith(f"Hello from fake {provider}.")
    assert reply["provider"] == provider and reply["status"] == "complete"
    assert reply["input_tokens"] and reply["output_tokens"] == 8
    assert [r.provider for r in wired.requests] == [provider]


def test_history_and_instructions_arrive_in_anthropics_format(client, api, wired):
    thread_id = thread_for(client, api, "anthropic")
    say(client, api, thread_id, "One")
    say(client, api, thread_id, "Two")
    body = wired.last("anthropic").body
    assert body["system"] == "Answer in French." and body["stream"] is True
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "One"), ("assistant", "Hello from fake anthropic. w5 w6 w7"), ("user", "Two")]
    assert body["model"] == "claude-sonnet-5-5" and body["max_tokens"] == 4096


def test_history_and_instructions_arrive_in_geminis_format(client, api, wired):
    thread_id = thread_for(client, api, "google")
    say(client, api, thread_id, "One")
    say(client, api, thread_id, "Two")
    request = wired.last("google")
    assert request.body["systemInstruction"]["parts"] == [{"text": "Answer in French."}]
    assert [(c["role"], c["parts"][0]["text"]) for c in request.body["contents"]] == [
        ("user", "One"), ("model", "Hello from fake google. w5 w6 w7"), ("user", "Two")]
    assert "gemini-flash-latest" in request.path and "streamGenerateContent" in request.path


def test_history_and_instructions_arrive_in_deepseeks_format(client, api, wired):
    thread_id = thread_for(client, api, "deepseek")
    say(client, api, thread_id, "One")
    say(client, api, thread_id, "Two")
    body = wired.last("deepseek").body
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "Answer in French."), ("user", "One"), ("assistant", "Hello from fake deepseek. w5 w6 w7"),
        ("user", "Two")]
    assert body["model"] == "deepseek-flash" and body["stream_options"] == {"include_usage": True}


def test_a_thread_from_before_the_provider_column_talks_to_anthropic(app, client, api, wired):
    thread_id = thread_for(client, api)
    with app.app_context():
        db.session.execute(db.text("UPDATE threads SET model_provider = NULL"))
        db.session.commit()
    reply = say(client, api, thread_id, "Hi").json["assistant_message"]
    assert reply["provider"] == "anthropic" and [r.provider for r in wired.requests] == ["anthropic"]


@pytest.mark.parametrize("provider", ["anthropic", "google", "deepseek"])
@pytest.mark.parametrize("marker, status, words", [
    ("[[fail:401]]", 502, "API key"),
    ("[[fail:429]]", 502, "rate limiting"),
    ("[[fail:500]]", 502, "(500)"),
    ("[[fail:503]]", 502, "overloaded"),
    ("[[fail:529]]", 502, "overloaded"),
    ("[[stall]]", 504, "timed out"),
    ("[[cut:2]]", 502, "midway"),
    ("[[midstream-error:2]]", 502, "midway"),
])
def test_every_provider_failure_keeps_the_message_and_stores_a_readable_error(
        app, client, api, wired, provider, marker, status, words):
    thread_id = thread_for(client, api, provider)
    response = say(client, api, thread_id, f"Hi {marker}")
    assert response.status_code == status
    error = response.json["error"]
    assert words.lower() in error.lower() and "sk-test" not in error
    with app.app_context():
        rows = db.session.execute(select(Message.role, Message.status, Message.error)).all()
    assert rows[0][:2] == ("user", "complete") and rows[1][:2] == ("assistant", "error") and rows[1][2] == error


def test_connection_refused_names_the_provider(app, client, api, wired):
    app.config["DEEPSEEK_BASE_URL"] = "http://127.0.0.1:9"
    thread_id = thread_for(client, api, "deepseek")
    response = say(client, api, thread_id, "Hi")
    assert response.status_code == 502 and "DeepSeek" in response.json["error"]


@pytest.mark.parametrize("provider", ["anthropic", "google", "deepseek"])
def test_the_error_shows_on_the_page_and_retry_answers(app, client, auth, wired, provider):
    auth.signup_and_login()
    thread_id = thread_for(client, {}, provider)
    reply = say(client, {}, thread_id, "Hi [[fail:503:1]]").json["assistant_message"]
    page = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert reply["error"] in page and f"/messages/{reply['id']}/retry" in page
    retried = client.post(f"/api/messages/{reply['id']}/retry").json["assistant_message"]
    assert retried["status"] == "complete" and retried["content"].startswith(f"Hello from fake {provider}.")
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Message)) == 2


def test_automatic_retries_happen_before_the_first_token(app, client, api, wired):
    app.config["PROVIDER_MAX_RETRIES"] = 1
    thread_id = thread_for(client, api, "anthropic")
    reply = say(client, api, thread_id, "Hi [[fail:429:1]]").json["assistant_message"]
    assert reply["status"] == "complete" and len(wired.requests) == 2


def test_a_missing_key_keeps_the_message_and_says_which_variable_to_set(app, client, api, wired):
    app.config["ANTHROPIC_API_KEY"] = None
    thread_id = thread_for(client, api, "anthropic")
    response = say(client, api, thread_id, "Hi")
    assert response.status_code == 503 and "ANTHROPIC_API_KEY" in response.json["error"]
    assert wired.requests == []
    providers = {p["name"]: p["configured"] for p in client.get("/api/providers", headers=api).json["providers"]}
    assert providers == {"anthropic": False, "google": True, "deepseek": True}


# --- branches: only the current path is sent ---------------------------------------------------

def turns_sent(fake, provider):
    return [text for _, text in sent_conversation(fake.last(provider))[1]]


@pytest.mark.parametrize("provider", ["anthropic", "google", "deepseek"])
def test_after_an_edit_and_a_switch_only_the_current_path_is_sent(client, api, wired, provider):
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


def test_a_fork_sends_the_copied_replies_as_plain_assistant_turns(app, client, api, wired):
    thread_id = thread_for(client, api, "google", instructions="")
    first = say(client, api, thread_id, "One").json
    second = say(client, api, thread_id, "Two").json
    fork = client.post(f"/api/messages/{second['user_message']['id']}/fork", json={"model_provider": "deepseek"},
                       headers=api).json
    wait_until_done(app)
    assert turns_sent(wired, "deepseek") == ["One", first["assistant_message"]["content"], "Two"]
    reply = client.get(f"/api/threads/{fork['id']}/messages", headers=api).json["messages"][-1]
    assert reply["provider"] == "deepseek" and reply["content"].startswith("Hello from fake deepseek.")
