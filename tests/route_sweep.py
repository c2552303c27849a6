"""What the route-table sweeps (CSRF, ownership) share: an owner's world of ids, and every route's URL."""
from flask import url_for
from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken
from app.providers.base import ProviderError
from tests.conftest import UNSAFE


def make_world(client, auth, scripted):
    """Ada (the first account, so an admin), signed in on `client`: a project, a thread whose latest reply
    failed, and an API token."""
    auth.signup_and_login()
    bearer = auth.token()
    project = client.post("/api/projects", json={"name": "Ada's"}, headers=bearer).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={"title": "Ada's thread"}, headers=bearer).json
    scripted.queue(ProviderError("The provider is overloaded.", status=502))
    failed = client.post(f"/api/threads/{thread['id']}/messages", json={"content": "Hi"}, headers=bearer).json
    with client.application.app_context():
        token_id, user_id = db.session.execute(select(ApiToken.id, ApiToken.user_id)).one()
    return bearer, {"project_id": project["id"], "thread_id": thread["id"],
                    "message_id": failed["assistant_message"]["id"], "token_id": token_id,
                    "user_message_id": failed["user_message"]["id"], "user_id": user_id}


# Routes for a message of the user's own (an edit), not a reply: they take the world's user message.
USER_MESSAGE_ENDPOINTS = {"pages.edit_message_form", "pages.edit_message", "api.edit_message"}


def url(app, endpoint: str, ids: dict) -> str:
    """The path of `endpoint` with the world's ids filled in."""
    rule = next(app.url_map.iter_rules(endpoint))
    if endpoint in USER_MESSAGE_ENDPOINTS:
        ids = {**ids, "message_id": ids["user_message_id"]}
    with app.test_request_context():
        return url_for(endpoint, **{name: ids[name] for name in rule.arguments})


def write_method(app, endpoint: str) -> str:
    """The one state-changing method `endpoint` answers."""
    (method,) = next(app.url_map.iter_rules(endpoint)).methods & UNSAFE
    return method
