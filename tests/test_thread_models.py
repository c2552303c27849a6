"""A model per thread: chosen at creation, changed later within its provider, and a model retired mid-life."""
from __future__ import annotations

import re

import pytest

from tests.conftest import FAKE_KEY
from tests.helpers import snapshot


@pytest.fixture
def api(auth):
    auth.create_user()
    return auth.token()


@pytest.fixture
def project_id(client, api):
    return client.post("/api/projects", json={"name": "P"}, headers=api).json["id"]


def new_thread(client, api, project_id, **body):
    return client.post(f"/api/projects/{project_id}/threads", json=body, headers=api)


def say(client, api, thread_id, content="Hi"):
    return client.post(f"/api/threads/{thread_id}/messages", json={"content": content}, headers=api)


# --- the JSON API -------------------------------------------------------------------------------

def test_providers_list_their_chat_models_default_and_status(client, api, wired):
    providers = {p["name"]: p for p in client.get("/api/providers", headers=api).json["providers"]}
    google = providers["google"]
    assert {"id": "gemini-3.8-flash", "label": "Gemini 3.8 Flash"} in google["models"]
    assert not any("tts" in m["id"] or "embedding" in m["id"] for m in google["models"])
    assert google["default_model"] == "gemini-flash-latest" and google["models_live"] is True
    assert [p["status"] for p in providers.values()] == ["ready"] * 3 and google["configured"] is True
    assert providers["deepseek"]["default_model"] == "deepseek-flash"


def test_providers_say_why_they_are_not_ready(app, client, api, wired):
    app.config["DEEPSEEK_API_KEY"] = None
    app.config["GOOGLE_GEMINI_BASE_URL"] = "http://127.0.0.1:9"
    wired.listing_fault("anthropic", status=401)
    providers = {p["name"]: p for p in client.get("/api/providers", headers=api).json["providers"]}
    anthropic = providers["anthropic"]
    assert anthropic["status"] == "key_rejected" and "ANTHROPIC_API_KEY" in anthropic["status_message"]
    assert providers["google"]["status"] == "unreachable" and "127.0.0.1:9" in providers["google"]["status_message"]
    assert providers["google"]["models"] == [] and providers["google"]["models_live"] is False
    assert providers["deepseek"]["status"] == "no_key" and "DEEPSEEK_API_KEY" in providers["deepseek"]["status_message"]
    assert FAKE_KEY not in client.get("/api/providers", headers=api).get_data(as_text=True)


def test_a_thread_is_created_with_a_listed_model_and_thinking(client, api, project_id, wired):
    thread = new_thread(client, api, project_id, model_provider="google", model="gemini-3.7-flash", thinking=False)
    assert thread.status_code == 201
    assert thread.json["model"] == "gemini-3.7-flash" and thread.json["thinking"] is False
    assert client.get(f"/api/threads/{thread.json['id']}", headers=api).json["model"] == "gemini-3.7-flash"


def test_a_thread_without_a_model_follows_the_default(client, api, project_id, wired):
    thread = new_thread(client, api, project_id, model_provider="deepseek").json
    assert thread["model"] is None and thread["thinking"] is True


def test_an_unlisted_model_is_400_naming_it_and_the_valid_ones_and_stores_nothing(app, client, api, project_id, wired):
    before = snapshot(app)
    response = new_thread(client, api, project_id, model_provider="deepseek", model="deepseek-chat")
    assert response.status_code == 400
    assert "'deepseek-chat'" in response.json["error"] and "deepseek-flash, deepseek-v4-pro" in response.json["error"]
    assert snapshot(app) == before


def test_a_model_of_another_provider_is_400(client, api, project_id, wired):
    response = new_thread(client, api, project_id, model_provider="anthropic", model="gemini-3.8-flash")
    assert response.status_code == 400 and "Anthropic Claude" in response.json["error"]


def test_with_no_list_only_the_configured_default_is_accepted(client, api, project_id):
    # Every provider is a closed port here: no list can be had.
    assert new_thread(client, api, project_id, model_provider="anthropic", model="claude-haiku-5-5").status_code == 400
    assert new_thread(client, api, project_id, model_provider="anthropic", model="claude-sonnet-5-5").status_code == 201


def test_patch_changes_model_and_thinking_within_the_provider(client, api, project_id, wired):
    thread_id = new_thread(client, api, project_id, model_provider="anthropic").json["id"]
    response = client.patch(f"/api/threads/{thread_id}", json={"model": "claude-haiku-5-5", "thinking": False},
                            headers=api)
    assert response.status_code == 200 and response.json["model"] == "claude-haiku-5-5"
    assert response.json["thinking"] is False
    back = client.patch(f"/api/threads/{thread_id}", json={"model": None}, headers=api).json
    assert back["model"] is None and back["thinking"] is False


def test_patch_with_an_unknown_model_is_400_and_stores_nothing(app, client, api, project_id, wired):
    thread_id = new_thread(client, api, project_id, model_provider="anthropic").json["id"]
    before = snapshot(app)
    response = client.patch(f"/api/threads/{thread_id}", json={"model": "claude-2", "title": "New"}, headers=api)
    assert response.status_code == 400 and "claude-2" in response.json["error"]
    assert snapshot(app) == before
    assert client.patch(f"/api/threads/{thread_id}", json={"thinking": "yes"}, headers=api).status_code == 400


def test_a_reply_asks_for_the_threads_model_and_keeps_the_one_that_answered(client, api, project_id, wired):
    thread_id = new_thread(client, api, project_id, model_provider="google", model="gemini-3.6-flash").json["id"]
    reply = say(client, api, thread_id).json["assistant_message"]
    assert wired.last("google").model == "gemini-3.6-flash" and reply["model"] == "gemini-3.6-flash"


def test_a_thread_on_the_default_asks_for_the_configured_model(app, client, api, project_id, wired):
    app.config["DEEPSEEK_MODEL"] = "deepseek-v4-pro"
    thread_id = new_thread(client, api, project_id, model_provider="deepseek").json["id"]
    say(client, api, thread_id)
    assert wired.last("deepseek").model == "deepseek-v4-pro"


@pytest.mark.parametrize("provider", ["anthropic", "google", "deepseek"])
def test_a_fresh_install_answers_on_every_provider(client, api, project_id, wired, provider):
    thread_id = new_thread(client, api, project_id, model_provider=provider).json["id"]
    reply = say(client, api, thread_id).json["assistant_message"]
    assert reply["status"] == "complete" and reply["content"].startswith(f"Hello from fake {provider}.")


# --- a model retired while the app runs -----------------------------------------------------------

RETIRED = {"anthropic": ("claude-opus-4-8", "claude-opus-5-5"), "google": ("gemini-3.6-flash", "gemini-3.8-flash"),
           "deepseek": ("deepseek-v4-pro", "deepseek-flash")}


@pytest.mark.parametrize("provider", list(RETIRED))
def test_a_retired_model_fails_clearly_then_retry_answers_with_the_new_one(app, client, api, project_id, wired,
                                                                           provider):
    old, new = RETIRED[provider]
    thread_id = new_thread(client, api, project_id, model_provider=provider, model=old).json["id"]
    assert say(client, api, thread_id, "First").status_code == 201
    wired.retire(provider, old)
    failed = say(client, api, thread_id, "Second")
    assert failed.status_code == 502
    reply = failed.json["assistant_message"]
    assert reply["status"] == "error" and f"no longer offers {old}" in reply["error"]
    assert "Choose another model for this thread, then Retry." in reply["error"]
    assert failed.json["user_message"]["content"] == "Second"
    # The catalogue was refreshed: the model is gone from the list, and choosing it again is refused.
    models = {p["name"]: p for p in client.get("/api/providers", headers=api).json["providers"]}[provider]["models"]
    assert old not in [m["id"] for m in models]
    assert client.patch(f"/api/threads/{thread_id}", json={"model": old}, headers=api).status_code == 400
    assert client.patch(f"/api/threads/{thread_id}", json={"model": new}, headers=api).status_code == 200
    retried = client.post(f"/api/messages/{reply['id']}/retry", headers=api)
    assert retried.status_code == 200 and retried.json["assistant_message"]["status"] == "complete"
    assert wired.last(provider).model == new and retried.json["assistant_message"]["model"] == new


def test_the_thread_page_offers_the_model_switch_at_the_error(client, auth, api, project_id, wired, hx):
    auth.login()
    thread_id = new_thread(client, api, project_id, model_provider="google", model="gemini-3.6-flash").json["id"]
    wired.retire("google", "gemini-3.6-flash")
    reply_id = say(client, api, thread_id).json["assistant_message"]["id"]
    html = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    actions = html[html.index('id="reply-actions"'):]
    assert "Google Gemini no longer offers gemini-3.6-flash" in actions and 'id="gone-model-form"' in actions
    assert 'value="gemini-3.6-flash"' not in actions and 'value="gemini-3.8-flash"' in actions
    switched = client.post(f"/threads/{thread_id}/model", data={"model": "gemini-3.8-flash", "thinking": "y"},
                           headers=hx)
    text = switched.get_data(as_text=True)
    assert switched.status_code == 200 and "<html" not in text and "HX-Request" in switched.headers["Vary"]
    assert 'data-hx-target="#thread-header"' in text and "Gemini 3.8 Flash</span>" in text
    assert "gone-model-form" not in text and 'id="retry-form"' in text
    assert client.post(f"/messages/{reply_id}/retry").status_code == 303
    from tests.helpers import wait_until_done
    wait_until_done(client.application)
    assert wired.last("google").model == "gemini-3.8-flash"


# --- the pages ------------------------------------------------------------------------------------

@pytest.fixture
def signed_in(auth):
    return auth.signup_and_login()


def page_project(client) -> int:
    response = client.post("/projects", data={"name": "Research"})
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_form_offers_every_providers_models_in_optgroups_without_javascript(client, signed_in, wired):
    html = client.get(f"/projects/{page_project(client)}").get_data(as_text=True)
    select = re.search(r'<select id="model" name="model">.*?</select>', html, re.S).group(0)
    assert re.findall(r'<optgroup label="([^"]+)">', select) == ["Anthropic Claude", "Google Gemini", "DeepSeek"]
    assert '<option value="">The provider\'s default</option>' in select
    assert '<option value="claude-sonnet-5-5">Claude Sonnet 5.5</option>' in select
    assert 'name="thinking"' in html and "Think before answering" in html
    assert 'data-hx-get="/model-options"' in html


def test_htmx_swaps_in_one_providers_models(client, signed_in, wired, hx):
    response = client.get("/model-options?model_provider=deepseek", headers=hx)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="model-field"' in html
    assert "<optgroup" not in html and '<option value="">Default (DeepSeek Flash)</option>' in html
    assert '<option value="deepseek-v4-pro">DeepSeek V4 Pro</option>' in html and "claude" not in html


def test_the_form_creates_a_thread_with_its_model_and_thinking(app, client, signed_in, wired):
    project_id = page_project(client)
    response = client.post(f"/projects/{project_id}/threads",
                           data={"title": "T", "model_provider": "deepseek", "model": "deepseek-v4-pro"})
    assert response.status_code == 303
    thread = client.get(f"/api/threads/{response.headers['Location'].rsplit('/', 1)[1]}").json
    assert thread["model"] == "deepseek-v4-pro" and thread["thinking"] is False  # the box was not ticked


def test_the_form_refuses_a_model_of_another_provider_beside_the_field(app, client, signed_in, wired, hx):
    project_id = page_project(client)
    before = snapshot(app)
    response = client.post(f"/projects/{project_id}/threads",
                           data={"model_provider": "deepseek", "model": "claude-sonnet-5-5", "thinking": "y"},
                           headers=hx)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="model-error"' in html
    assert "Unknown model &#39;claude-sonnet-5-5&#39; for DeepSeek" in html
    assert snapshot(app) == before


def test_the_dropdown_says_which_key_is_rejected(client, signed_in, wired):
    wired.listing_fault("google", status=401)
    html = client.get(f"/projects/{page_project(client)}").get_data(as_text=True)
    assert "Google Gemini (key rejected)</option>" in html and "Anthropic Claude</option>" in html


def test_the_thread_page_shows_the_default_model_and_lets_the_owner_change_it(client, signed_in, wired):
    project_id = page_project(client)
    location = client.post(f"/projects/{project_id}/threads", data={"model_provider": "anthropic"}).headers["Location"]
    html = client.get(location).get_data(as_text=True)
    assert '<span class="thread-model" id="thread-model-name">Claude Sonnet 5.5 (default)</span>' in html
    thread_id = location.rsplit("/", 1)[1]
    assert client.post(f"/threads/{thread_id}/model", data={"model": "claude-haiku-5-5"}).status_code == 303
    html = client.get(location).get_data(as_text=True)
    assert 'id="thread-model-name">Claude Haiku 5.5</span>' in html
    refused = client.post(f"/threads/{thread_id}/model", data={"model": "gemini-3.8-flash"})
    assert refused.status_code == 400 and "gemini-3.8-flash" in refused.get_data(as_text=True)


def test_settings_show_each_providers_key_status(app, client, signed_in, wired):
    app.config["GEMINI_API_KEY"] = None
    wired.listing_fault("deepseek", status=401)
    html = client.get("/settings").get_data(as_text=True)
    card = html[html.index('id="providers"'):html.index("API tokens")]
    assert "Anthropic Claude</strong>: <span class=\"status-word\">ready" in card
    assert "no key" in card and "GEMINI_API_KEY or GOOGLE_API_KEY" in card
    assert "key rejected" in card and "DEEPSEEK_API_KEY" in card


def test_the_first_run_card_shows_until_one_provider_is_ready(app, client, signed_in, wired):
    for var in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY"):
        app.config[var] = None
    html = client.get("/").get_data(as_text=True)
    assert 'id="first-run"' in html
    assert all(var in html for var in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY"))
    app.config["DEEPSEEK_API_KEY"] = FAKE_KEY
    assert 'id="first-run"' not in client.get("/").get_data(as_text=True)
