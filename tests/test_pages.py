"""The pages: projects, the provider dropdown, threads, rename and delete, htmx fragments."""
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Project, Thread


@pytest.fixture
def signed_in(auth):
    return auth.signup_and_login()


def create_project(client, name="Research", instructions=""):
    response = client.post("/projects", data={"name": name, "instructions": instructions})
    assert response.status_code == 303
    return int(response.headers["Location"].rsplit("/", 1)[1])


def create_thread(client, project_id, provider="anthropic", title="Chat"):
    response = client.post(f"/projects/{project_id}/threads", data={"title": title, "model_provider": provider})
    assert response.status_code == 303, response.data
    return int(response.headers["Location"].rsplit("/", 1)[1])


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_index_lists_projects_with_thread_count(client, signed_in):
    project_id = create_project(client, "Alpha")
    create_thread(client, project_id)
    page = client.get("/").get_data(as_text=True)
    assert "Alpha" in page and "1 thread" in page and "last activity" in page
    assert "Vary" in client.get("/").headers and "HX-Request" in client.get("/").headers["Vary"]


def test_invalid_project_rerenders_form_with_error_and_stores_nothing(app, client, signed_in, hx):
    response = client.post("/projects", data={"name": "  "}, headers=hx)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="project-form"' in html
    assert "This field is required" in html
    assert count(app, Project) == 0


def test_new_thread_form_offers_the_registry_providers_anthropic_selected(client, signed_in, wired):
    project_id = create_project(client)
    html = client.get(f"/projects/{project_id}").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="model_provider".*?</select>', html, re.S).group(0)
    options = re.findall(r'<option([^>]*)value="([^"]+)"[^>]*>([^<]+)</option>', select_html)
    assert [(value, label) for _, value, label in options] == [
        ("anthropic", "Anthropic Claude"), ("google", "Google Gemini"), ("deepseek", "DeepSeek")]
    selected = [value for attrs, value, _ in options if "selected" in attrs] or [
        value for value in re.findall(r'<option selected value="([^"]+)"', select_html)]
    assert selected == ["anthropic"]


@pytest.mark.parametrize("provider, label", [
    ("anthropic", "Anthropic Claude"), ("google", "Google Gemini"), ("deepseek", "DeepSeek")])
def test_thread_is_created_with_the_chosen_provider_and_shows_its_badge(app, client, signed_in, provider, label):
    project_id = create_project(client)
    thread_id = create_thread(client, project_id, provider)
    with app.app_context():
        assert db.session.get(Thread, thread_id).model_provider == provider
    thread_page = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert f'badge badge-{provider}' in thread_page and label in thread_page
    project_page = client.get(f"/projects/{project_id}").get_data(as_text=True)
    assert f'badge badge-{provider}' in project_page


def test_unknown_provider_in_form_is_400_with_error_beside_field(app, client, signed_in, hx):
    project_id = create_project(client)
    response = client.post(f"/projects/{project_id}/threads", data={"title": "x", "model_provider": "openai"},
                           headers=hx)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert 'id="model_provider-error"' in html and "openai" in html and "anthropic, google, deepseek" in html
    assert count(app, Thread) == 0


def test_too_long_title_is_400_full_page_without_htmx(app, client, signed_in):
    project_id = create_project(client)
    response = client.post(f"/projects/{project_id}/threads", data={"title": "x" * 201, "model_provider": "google"})
    assert response.status_code == 400
    assert "<html" in response.get_data(as_text=True)
    assert count(app, Thread) == 0


def test_empty_title_gets_the_default(app, client, signed_in):
    project_id = create_project(client)
    thread_id = create_thread(client, project_id, title="")
    with app.app_context():
        assert db.session.get(Thread, thread_id).title == "New thread"


def test_rename_thread_with_htmx_returns_the_header_fragment(app, client, signed_in, hx):
    thread_id = create_thread(client, create_project(client))
    response = client.post(f"/threads/{thread_id}/rename", data={"title": "Renamed"}, headers=hx)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="thread-header"' in html and "Renamed" in html
    assert "HX-Request" in response.headers["Vary"]


def test_rename_thread_plain_post_redirects(client, signed_in):
    thread_id = create_thread(client, create_project(client))
    response = client.post(f"/threads/{thread_id}/rename", data={"title": "Plain"})
    assert response.status_code == 303
    assert "Plain" in client.get(f"/threads/{thread_id}").get_data(as_text=True)


def test_rename_thread_with_empty_title_is_400(client, signed_in, hx):
    thread_id = create_thread(client, create_project(client))
    response = client.post(f"/threads/{thread_id}/rename", data={"title": ""}, headers=hx)
    assert response.status_code == 400 and "This field is required" in response.get_data(as_text=True)


def test_edit_project(client, signed_in, hx):
    project_id = create_project(client, "Old")
    response = client.post(f"/projects/{project_id}/edit", data={"name": "New", "instructions": "Be terse."},
                           headers=hx)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "New" in html and "Be terse." in html


def test_delete_thread_asks_first_then_deletes(app, client, signed_in, hx):
    project_id = create_project(client)
    thread_id = create_thread(client, project_id)
    confirm = client.get(f"/threads/{thread_id}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.get_data(as_text=True)
    response = client.post(f"/threads/{thread_id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == f"/projects/{project_id}"
    assert count(app, Thread) == 0


def test_delete_thread_with_htmx_removes_the_row(app, client, signed_in, hx):
    thread_id = create_thread(client, create_project(client))
    project_html = client.get("/").get_data(as_text=True)
    assert "Research" in project_html
    response = client.post(f"/threads/{thread_id}/delete", headers=hx)
    assert response.status_code == 200 and response.get_data(as_text=True) == ""
    assert count(app, Thread) == 0


def test_thread_rows_ask_for_confirmation_with_htmx(client, signed_in):
    project_id = create_project(client)
    create_thread(client, project_id)
    html = client.get(f"/projects/{project_id}").get_data(as_text=True)
    assert "data-hx-confirm=" in html


def test_delete_project_deletes_threads(app, client, signed_in):
    project_id = create_project(client)
    create_thread(client, project_id)
    response = client.post(f"/projects/{project_id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert count(app, Project) == 0 and count(app, Thread) == 0


def test_project_page_pages_its_threads(client, signed_in, hx):
    project_id = create_project(client)
    for i in range(3):
        create_thread(client, project_id, title=f"Thread number {i}")
    first = client.get(f"/projects/{project_id}?limit=2").get_data(as_text=True)
    assert "Thread number 2" in first and "Thread number 1" in first and "Thread number 0" not in first
    cursor = re.search(r'data-hx-get="[^"]*cursor=([^"&]+)', first).group(1)
    more = client.get(f"/projects/{project_id}?limit=2&cursor={cursor}", headers=hx).get_data(as_text=True)
    assert "<html" not in more and "Thread number 0" in more


def test_foreign_and_unknown_ids_get_a_friendly_404(client, auth):
    auth.create_user("owner@example.com")
    client.post("/login", data={"email": "owner@example.com", "password": "correct horse battery"})
    project_id = create_project(client)
    thread_id = create_thread(client, project_id)
    auth.logout()
    auth.create_user("eve@example.com")
    client.post("/login", data={"email": "eve@example.com", "password": "correct horse battery"})
    for method, url in [("get", f"/projects/{project_id}"), ("get", f"/threads/{thread_id}"),
                        ("post", f"/projects/{project_id}/threads"), ("post", f"/projects/{project_id}/edit"),
                        ("get", f"/projects/{project_id}/delete"), ("post", f"/projects/{project_id}/delete"),
                        ("post", f"/threads/{thread_id}/rename"), ("get", f"/threads/{thread_id}/delete"),
                        ("post", f"/threads/{thread_id}/delete"), ("get", "/projects/99999")]:
        response = getattr(client, method)(url, data={"name": "x", "title": "x"})
        assert response.status_code == 404, (method, url)
        assert "Not found" in response.get_data(as_text=True) and "<html" in response.get_data(as_text=True)
    assert client.get("/").get_data(as_text=True).count("Research") == 0


def test_forms_without_csrf_token_are_refused(app, client, signed_in):
    response = client.post("/projects", data={"name": "x"}, csrf=False)
    assert response.status_code == 400
    assert count(app, Project) == 0


def test_every_page_is_html_with_csrf_header_on_body(client, signed_in):
    html = client.get("/").get_data(as_text=True)
    assert 'data-hx-headers-inherited=\'{"X-CSRFToken": "' in html
    assert "<script>" not in html  # every script is a static file


def test_settings_creates_a_token_shown_once_and_revokes_it(client, signed_in):
    response = client.post("/settings", data={"name": "laptop"})
    html = response.get_data(as_text=True)
    secret = re.search(r'id="new-token">([^<]+)<', html).group(1)
    assert client.get("/api/projects", headers={"Authorization": f"Bearer {secret}"}, csrf=False).status_code == 200
    listing = client.get("/settings").get_data(as_text=True)
    assert "laptop" in listing and secret not in listing
    token_id = re.search(r'/settings/tokens/(\d+)/revoke', listing).group(1)
    assert client.post(f"/settings/tokens/{token_id}/revoke").status_code == 303
    assert client.get("/api/projects", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "revoked" in client.get("/settings").get_data(as_text=True)


def test_another_users_token_cannot_be_revoked(client, auth):
    auth.create_user("owner@example.com")
    auth.token("owner@example.com")
    auth.signup_and_login("eve@example.com")
    assert client.post("/settings/tokens/1/revoke").status_code == 404


def test_htmx_creates_answer_with_hx_redirect_not_a_page_to_swap(client, signed_in, hx):
    response = client.post("/projects", data={"name": "Via htmx"}, headers=hx)
    assert response.status_code == 204
    project_url = response.headers["HX-Redirect"]
    assert project_url.startswith("/projects/")
    response = client.post(f"{project_url}/threads", data={"model_provider": "google"}, headers=hx)
    assert response.status_code == 204 and response.headers["HX-Redirect"].startswith("/threads/")


def test_the_dropdown_says_which_providers_are_not_configured(app, client, signed_in):
    app.config["DEEPSEEK_API_KEY"] = None
    project_id = create_project(client)
    html = client.get(f"/projects/{project_id}").get_data(as_text=True)
    assert "DeepSeek (no key)</option>" in html and "Google Gemini (unreachable)</option>" in html
