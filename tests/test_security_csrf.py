"""CSRF: every state-changing route refuses a request without the token and succeeds with it."""
import pytest

from tests.conftest import PASSWORD, UNSAFE
from tests.helpers import snapshot
from tests.route_sweep import make_world, url, write_method

# How a signed-in owner makes each state-changing request succeed: body, and the statuses that mean it did.
WRITES = {
    "auth.login_page": ({"email": "ada@example.com", "password": PASSWORD}, {303}),
    "auth.register": ({"email": "bob@example.com", "password": PASSWORD, "confirm": PASSWORD}, {303}),
    "auth.logout": ({}, {303}),
    "auth.settings": ({"name": "laptop"}, {200}),
    "auth.revoke_token": ({}, {303}),
    "pages.create_project": ({"name": "Another"}, {303}),
    "pages.edit_project": ({"name": "Renamed", "instructions": ""}, {303}),
    "pages.delete_project": ({}, {303}),
    "pages.create_thread": ({"title": "Another", "model_provider": "google"}, {303}),
    "pages.rename_thread": ({"title": "Renamed"}, {303}),
    "pages.change_thread_model": ({"model": "", "thinking": "y"}, {303}),
    "pages.delete_thread": ({}, {303}),
    "pages.post_message": ({"content": "Hi"}, {303}),
    "pages.retry_message": ({}, {303}),
    "pages.stop_message": ({}, {303}),
    "pages.edit_message": ({"content": "Hi again"}, {303}),
    "pages.regenerate_message": ({}, {303}),
    "pages.switch_branch": ({"message_id": "MESSAGE_ID"}, {303}),
    "pages.delete_message": ({}, {303}),
    "pages.fork_message": ({"model_provider": "google", "project_id": "PROJECT_ID", "title": "Fork"}, {303}),
    "api.create_project": ({"name": "Another"}, {201}),
    "api.update_project": ({"name": "Renamed"}, {200}),
    "api.delete_project": (None, {204}),
    "api.create_thread": ({}, {201}),
    "api.update_thread": ({"title": "Renamed"}, {200}),
    "api.delete_thread": (None, {204}),
    "api.post_message": ({"content": "Hi"}, {201}),
    "api.retry_message": (None, {200}),
    "api.stop_message": (None, {200}),
    "api.edit_message": ({"content": "Hi again"}, {201}),
    "api.regenerate_message": (None, {201}),
    "api.switch_branch": ({"message_id": "MESSAGE_ID"}, {200}),
    "api.delete_message": (None, {204}),
    "api.fork_message": ({"model_provider": "google"}, {201}),
    "pages.admin_change_account": ({"change_kind": "budget", "monthly_budget": "10"}, {303}),
    "pages.admin_change_settings": ({"registration": "open", "default_budget": ""}, {303}),
    "api.admin_update_user": ({"monthly_budget": 10}, {200}),
    "api.admin_update_settings": ({"default_budget": 3}, {200}),
}
SIGNED_OUT = {"auth.login_page", "auth.register"}


def _with_ids(body, ids):
    """The body with the world's ids put in for their placeholders (MESSAGE_ID, PROJECT_ID)."""
    if body is None:
        return None
    return {name: ids[value.lower()] if value in ("MESSAGE_ID", "PROJECT_ID") else value
            for name, value in body.items()}


def test_every_state_changing_route_is_in_the_csrf_table(app):
    writes = {rule.endpoint for rule in app.url_map.iter_rules() if rule.methods & UNSAFE}
    assert writes == set(WRITES)


@pytest.mark.parametrize("endpoint", sorted(WRITES))
def test_writes_without_the_csrf_token_are_refused_and_succeed_with_it(app, client, auth, scripted, hx, endpoint):
    _, ids = make_world(client, auth, scripted)
    if endpoint in SIGNED_OUT:
        auth.logout()
        app.config["REGISTRATION_OPEN"] = True
    target, method, (body, accepted) = url(app, endpoint, ids), write_method(app, endpoint), WRITES[endpoint]
    body = _with_ids(body, ids)
    api = target.startswith("/api/")
    send = {"json": body} if api else {"data": body}
    before = snapshot(app)

    refused = [client.open(target, method=method, csrf=False, **send),
               client.open(target, method=method, csrf=False, headers={"X-CSRFToken": "forged"}, **send)]
    if not api:  # what htmx sends when the page's header is missing
        refused.append(client.open(target, method=method, csrf=False, headers=hx, **send))
    for response in refused:
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        assert "CSRF" in response.get_data(as_text=True)
    assert snapshot(app) == before

    if api:  # the pages' script sends the header
        accepted_response = client.open(target, method=method, json=body)
    else:  # a plain form carries the field
        accepted_response = client.open(target, method=method, csrf=False,
                                        data={**body, "csrf_token": client.csrf_token()})
    assert accepted_response.status_code in accepted, accepted_response.get_data(as_text=True)[:300]
