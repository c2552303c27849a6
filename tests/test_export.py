"""Export of a thread: Markdown for people, the JSON document for programs; the owner's only."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Message
from tests.test_search import thread_with


@pytest.fixture
def ada(app, client, auth):
    auth.signup_and_login()
    bearer = auth.token()
    project = client.post("/api/projects", json={"name": "Work", "instructions": "Be brief."}, headers=bearer).json
    return {"headers": bearer, "project_id": project["id"]}


def test_a_thread_exports_as_the_json_document_with_every_field(app, client, ada):
    t = thread_with(app, ada["project_id"], "Bananas", "What colour?", "Yellow.", provider="google",
                    thinking="Most are yellow")
    with app.app_context():
        reply = db.session.get(Message, t["message_ids"][1])
        reply.provider, reply.model, reply.input_tokens, reply.output_tokens = "google", "gemini-2.5-flash", 3, 1
        db.session.commit()
    response = client.get(f"/api/threads/{t['id']}/export?format=json", headers=ada["headers"])
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert 'attachment; filename="Bananas.json"' == response.headers["Content-Disposition"]
    body = response.json
    assert (body["format"], body["version"]) == ("chat-export", 1)
    (project,) = body["projects"]
    assert (project["name"], project["instructions"]) == ("Work", "Be brief.")
    (thread,) = project["threads"]
    assert (thread["title"], thread["model_provider"]) == ("Bananas", "google")
    question, answer = thread["messages"]
    assert question["role"] == "user" and question["content"] == "What colour?"
    assert {k: answer[k] for k in ("role", "content", "status", "provider", "model", "input_tokens",
                                   "output_tokens", "thinking")} == {
        "role": "assistant", "content": "Yellow.", "status": "complete", "provider": "google",
        "model": "gemini-2.5-flash", "input_tokens": 3, "output_tokens": 1, "thinking": "Most are yellow"}


def test_a_thread_exports_as_markdown(app, client, ada):
    t = thread_with(app, ada["project_id"], "Bananas", "What colour?", "**Yellow**.")
    response = client.get(f"/api/threads/{t['id']}/export?format=markdown", headers=ada["headers"])
    text = response.get_data(as_text=True)
    assert response.mimetype == "text/markdown" and text.startswith("# Bananas\n")
    assert "## You\n\nWhat colour?" in text and "**Yellow**." in text


def test_an_unknown_format_is_400(app, client, ada):
    t = thread_with(app, ada["project_id"], "Bananas", "hi")
    assert client.get(f"/api/threads/{t['id']}/export?format=pdf", headers=ada["headers"]).status_code == 400


def test_the_thread_page_links_to_its_exports(app, client, ada):
    t = thread_with(app, ada["project_id"], "Bananas", "hi")
    page = client.get(f"/threads/{t['id']}").get_data(as_text=True)
    assert f"/api/threads/{t['id']}/export?format=markdown" in page
    assert client.get(f"/api/threads/{t['id']}/export?format=markdown").status_code == 200  # with the session
