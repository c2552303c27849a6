"""The JSON API: shapes, validation, pagination, ownership and authentication."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Project, Thread


@pytest.fixture
def api(auth):
    """Bearer headers for a signed-up user."""
    auth.create_user()
    return auth.token()


@pytest.fixture
def other(auth):
    """Bearer headers for a second user."""
    auth.create_user("eve@example.com")
    return auth.token("eve@example.com")


def make_project(client, headers, name="Research", **extra):
    response = client.post("/api/projects", json={"name": name, **extra}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def make_thread(client, headers, project_id, **body):
    response = client.post(f"/api/projects/{project_id}/threads", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# --- projects ---------------------------------------------------------------

def test_create_project_returns_the_full_shape(client, api):
    project = make_project(client, api, name="  Research  ", instructions="Be brief.")
    assert project["name"] == "Research"
    assert project["instructions"] == "Be brief."
    assert project["thread_count"] == 0
    assert set(project) == {"id", "name", "instructions", "thread_count", "created_at", "updated_at"}
    assert project["created_at"].endswith("Z")


def test_get_update_delete_project(client, api):
    project = make_project(client, api)
    url = f"/api/projects/{project['id']}"
    read = client.get(url, headers=api).json
    assert read.pop("usage")["replies"] == 0 and read == project  # GET of one project adds its usage (issue #21)
    renamed = client.patch(url, json={"name": "Renamed"}, headers=api)
    assert renamed.status_code == 200 and renamed.json["name"] == "Renamed"
    assert renamed.json["instructions"] == ""
    assert client.delete(url, headers=api).status_code == 204
    assert client.get(url, headers=api).status_code == 404


def test_deleting_a_project_deletes_its_threads(app, client, api):
    project = make_project(client, api)
    make_thread(client, api, project["id"])
    client.delete(f"/api/projects/{project['id']}", headers=api)
    assert count(app, Thread) == 0


@pytest.mark.parametrize("body, message", [
    ({}, "Missing required field(s): name"),
    ({"name": ""}, "name must not be empty"),
    ({"name": "   "}, "name must not be empty"),
    ({"name": 42}, "name must be a string"),
    ({"name": "x" * 101}, "at most 100"),
    ({"name": "ok", "instructions": "x" * 20_001}, "at most 20000"),
    ({"name": "ok", "colour": "red"}, "Unknown field(s): colour"),
])
def test_invalid_project_is_400_and_stores_nothing(app, client, api, body, message):
    response = client.post("/api/projects", json=body, headers=api)
    assert response.status_code == 400
    assert message in response.json["error"]
    assert count(app, Project) == 0


def test_malformed_json_and_non_objects_are_400(app, client, api):
    response = client.post("/api/projects", data="{nope", content_type="application/json", headers=api)
    assert response.status_code == 400 and "not valid JSON" in response.json["error"]
    response = client.post("/api/projects", json=["a"], headers=api)
    assert response.status_code == 400 and "JSON object" in response.json["error"]
    assert count(app, Project) == 0


def test_non_json_body_is_415_json(client, api):
    response = client.post("/api/projects", data="name=x", headers=api)
    assert response.status_code == 415
    assert "application/json" in response.json["error"]


def test_oversized_body_is_413_json(app, client, api):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/api/projects", json={"name": "x", "instructions": "y" * 2000}, headers=api)
    assert response.status_code == 413
    assert "too large" in response.json["error"]
    assert count(app, Project) == 0


# --- threads ----------------------------------------------------------------

def test_thread_defaults_to_anthropic_and_new_thread_title(client, api):
    project = make_project(client, api)
    thread = make_thread(client, api, project["id"])
    assert thread["model_provider"] == "anthropic"
    assert thread["title"] == "New thread"
    assert set(thread) >= {"id", "project_id", "title", "model_provider", "created_at", "updated_at"}
    null = make_thread(client, api, project["id"], model_provider=None)
    assert null["model_provider"] == "anthropic"


@pytest.mark.parametrize("provider", ["anthropic", "google", "deepseek"])
def test_thread_keeps_the_chosen_provider(client, api, provider):
    project = make_project(client, api)
    thread = make_thread(client, api, project["id"], title="Chat", model_provider=provider)
    assert thread["model_provider"] == provider
    read = client.get(f"/api/threads/{thread['id']}", headers=api).json
    assert read.pop("usage")["replies"] == 0 and read == thread  # GET of one thread adds its usage (issue #21)


@pytest.mark.parametrize("bad", ["openai", "", "Anthropic ", 42, ["google"], {"name": "google"}, True])
def test_unknown_provider_is_400_names_the_value_and_stores_nothing(app, client, api, bad):
    project = make_project(client, api)
    response = client.post(f"/api/projects/{project['id']}/threads", json={"model_provider": bad}, headers=api)
    assert response.status_code == 400
    error = response.json["error"]
    assert repr(bad) in error
    assert "anthropic, google, deepseek" in error
    assert count(app, Thread) == 0


def test_thread_in_unknown_project_is_404(client, api):
    response = client.post("/api/projects/999/threads", json={}, headers=api)
    assert response.status_code == 404 and response.json["error"]


def test_rename_thread_and_provider_is_fixed(client, api):
    project = make_project(client, api)
    thread = make_thread(client, api, project["id"], model_provider="google")
    url = f"/api/threads/{thread['id']}"
    renamed = client.patch(url, json={"title": "Better"}, headers=api)
    assert renamed.status_code == 200
    assert renamed.json["title"] == "Better" and renamed.json["model_provider"] == "google"
    same = client.patch(url, json={"title": "Same", "model_provider": "google"}, headers=api)
    assert same.status_code == 200
    changed = client.patch(url, json={"model_provider": "deepseek"}, headers=api)
    assert changed.status_code == 400 and "fixed" in changed.json["error"]
    assert client.get(url, headers=api).json["model_provider"] == "google"


def test_rename_thread_rejects_empty_title(client, api):
    project = make_project(client, api)
    thread = make_thread(client, api, project["id"])
    response = client.patch(f"/api/threads/{thread['id']}", json={"title": " "}, headers=api)
    assert response.status_code == 400


def test_delete_thread(client, api):
    project = make_project(client, api)
    thread = make_thread(client, api, project["id"])
    assert client.delete(f"/api/threads/{thread['id']}", headers=api).status_code == 204
    assert client.get(f"/api/threads/{thread['id']}", headers=api).status_code == 404
    assert client.get(f"/api/projects/{project['id']}", headers=api).json["thread_count"] == 0


def test_threads_list_most_recent_activity_first(client, api):
    project = make_project(client, api)
    first = make_thread(client, api, project["id"], title="first")
    second = make_thread(client, api, project["id"], title="second")
    client.patch(f"/api/threads/{first['id']}", json={"title": "first again"}, headers=api)
    listing = client.get(f"/api/projects/{project['id']}/threads", headers=api).json
    assert [t["id"] for t in listing["threads"]] == [first["id"], second["id"]]
    assert listing["next_cursor"] is None


# --- pagination -------------------------------------------------------------

def test_lists_paginate_with_limit_and_cursor(client, api):
    ids = [make_project(client, api, name=f"p{i}")["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/projects", query_string=query, headers=api).json
        assert len(page["projects"]) <= 2
        seen += [p["id"] for p in page["projects"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_project_list_carries_thread_counts(client, api):
    project = make_project(client, api)
    make_thread(client, api, project["id"])
    make_thread(client, api, project["id"])
    listing = client.get("/api/projects", headers=api).json
    assert listing["projects"][0]["thread_count"] == 2


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 201}, {"limit": "x"}, {"limit": ""}, {"cursor": "garbage!"},
                                   {"cursor": "WzFd"}])
def test_bad_limit_or_cursor_is_400(client, api, query):
    response = client.get("/api/projects", query_string=query, headers=api)
    assert response.status_code == 400 and response.json["error"]


# --- providers --------------------------------------------------------------

def test_providers_say_which_are_configured_without_the_key(app, client, api):
    app.config["GEMINI_API_KEY"] = "sk-secret-gemini-key"
    app.config["ANTHROPIC_API_KEY"] = None
    app.config["DEEPSEEK_API_KEY"] = None
    response = client.get("/api/providers", headers=api)
    providers = {p["name"]: p for p in response.json["providers"]}
    assert list(providers) == ["anthropic", "google", "deepseek"]
    assert providers["google"]["configured"] is True
    assert providers["anthropic"]["configured"] is False
    assert providers["google"]["label"] == "Google Gemini"
    assert providers["deepseek"]["default_model"] == "deepseek-flash"
    assert b"sk-secret-gemini-key" not in response.data


# --- authentication and ownership -------------------------------------------

@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer nope", "Token x"])
def test_missing_malformed_or_unknown_token_is_401_json(client, api, header):
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/api/projects", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]


def test_revoked_token_is_401(app, client, auth):
    auth.create_user()
    headers = auth.token()
    from app.models import ApiToken
    from app.services import accounts

    with app.app_context():
        accounts.revoke_token(db.session.scalars(select(ApiToken)).one())
    assert client.get("/api/projects", headers=headers).status_code == 401


def test_token_records_last_use_at_most_once_a_minute(app, client, api):
    from app.models import ApiToken

    client.get("/api/projects", headers=api)
    with app.app_context():
        first = db.session.scalars(select(ApiToken)).one().last_used_at
    client.get("/api/projects", headers=api)
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).one().last_used_at == first
    assert first is not None


def test_another_users_ids_are_404_everywhere(app, client, api, other):
    project = make_project(client, api)
    thread = make_thread(client, api, project["id"])
    pid, tid = project["id"], thread["id"]
    attempts = [
        ("get", f"/api/projects/{pid}", None),
        ("patch", f"/api/projects/{pid}", {"name": "mine"}),
        ("delete", f"/api/projects/{pid}", None),
        ("get", f"/api/projects/{pid}/threads", None),
        ("post", f"/api/projects/{pid}/threads", {}),
        ("get", f"/api/threads/{tid}", None),
        ("patch", f"/api/threads/{tid}", {"title": "mine"}),
        ("delete", f"/api/threads/{tid}", None),
    ]
    for method, url, body in attempts:
        response = getattr(client, method)(url, json=body, headers=other)
        assert response.status_code == 404, (method, url)
        assert response.json["error"]
    assert client.get("/api/projects", headers=other).json["projects"] == []
    assert client.get(f"/api/threads/{tid}", headers=api).json["title"] == "New thread"
    assert count(app, Thread) == 1


def test_session_cookie_works_for_reads_and_needs_csrf_for_writes(client, auth):
    auth.signup_and_login()
    assert client.get("/api/projects").status_code == 200
    refused = client.post("/api/projects", json={"name": "x"}, csrf=False)
    assert refused.status_code == 400
    assert "CSRF" in refused.json["error"]
    assert client.post("/api/projects", json={"name": "x"}).status_code == 201


def test_bearer_calls_need_no_csrf_token(client, api):
    response = client.post("/api/projects", json={"name": "x"}, headers=api, csrf=False)
    assert response.status_code == 201


def test_unknown_api_route_and_wrong_method_are_json(client, api):
    missing = client.get("/api/nothing-here", headers=api)
    assert missing.status_code == 404 and missing.json["error"]
    wrong = client.put("/api/projects", json={}, headers=api)
    assert wrong.status_code == 405 and wrong.json["error"]
