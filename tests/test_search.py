"""Full-text search: what it finds, how it ranks and pages, and what it never shows."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import Message
from app.services import workspace
from tests.helpers import link_as_chain


@pytest.fixture
def ada(app, client, auth):
    """Ada signed in, with a bearer token and one project."""
    auth.signup_and_login()
    bearer = auth.token()
    project = client.post("/api/projects", json={"name": "Work"}, headers=bearer).json
    return {"headers": bearer, "project_id": project["id"]}


def thread_with(app, project_id: int, title: str, *texts: str, provider: str = "anthropic", thinking=None) -> dict:
    """A thread with alternating user and assistant messages, stored directly."""
    with app.app_context():
        project = db.session.get(workspace.Project, project_id)
        thread = workspace.create_thread(project, title, provider)
        ids = []
        for n, body in enumerate(texts):
            message = Message(thread=thread, role="user" if n % 2 == 0 else "assistant", content=body,
                              thinking=thinking if n % 2 else None)
            db.session.add(message)
            db.session.flush()
            ids.append(message.id)
        link_as_chain(db.session, [thread.id])
        db.session.commit()
        return {"id": thread.id, "message_ids": ids}


def find(client, ada, q: str, **params):
    response = client.get("/api/search", query_string={"q": q, **params}, headers=ada["headers"])
    assert response.status_code == 200, response.json
    return response.json


def message_ids(body) -> list:
    return [r["message_id"] for r in body["results"]]


def test_a_word_finds_its_other_forms_and_marks_them(app, client, ada):
    t = thread_with(app, ada["project_id"], "Chat", "Are the tests running?", "The suite runs daily.")
    body = find(client, ada, "run")
    assert message_ids(body) == t["message_ids"][::-1]
    snippets = [r["snippet"] for r in body["results"]]
    assert "suite <mark>runs</mark> daily" in snippets[0] and "tests <mark>running</mark>" in snippets[1]
    assert body["results"][0] == {**body["results"][0], "thread_id": t["id"], "title": "Chat", "role": "assistant",
                                  "model_provider": "anthropic"}


def db_is_postgres(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def test_phrases_negation_and_or(app, client, ada):
    t = thread_with(app, ada["project_id"], "Chat", "the quick brown fox", "brown quick dogs", "a slow brown cat")
    first, second, third = t["message_ids"]
    assert message_ids(find(client, ada, '"quick brown"')) == [first]
    assert message_ids(find(client, ada, "brown -cat")) == [second, first]
    assert message_ids(find(client, ada, "fox or cat")) == [third, first]
    assert message_ids(find(client, ada, "brown quick")) == [second, first]


def test_titles_come_before_messages_and_have_no_message_id(app, client, ada):
    older = thread_with(app, ada["project_id"], "Parser notes", "nothing here")
    newer = thread_with(app, ada["project_id"], "Other", "the parser again")
    body = find(client, ada, "parser")
    assert [(r["thread_id"], r["message_id"]) for r in body["results"]] == [
        (older["id"], None), (newer["id"], newer["message_ids"][0])]
    assert body["results"][0]["snippet"] == "<mark>Parser</mark> notes"


def test_thinking_is_searchable(app, client, ada):
    t = thread_with(app, ada["project_id"], "Chat", "question", "answer", thinking="pondering zebras deeply")
    assert message_ids(find(client, ada, "zebras")) == [t["message_ids"][1]]


def test_hostile_text_comes_out_escaped_with_only_our_marks(app, client, ada):
    hostile = '<script>alert(1)</script> parser <mark>x</mark> MARKSTART0000X \ue000 &amp; <img src=x onerror=alert(1)>'
    thread_with(app, ada["project_id"], "<b>bold</b> parser", hostile)
    results = find(client, ada, "parser")["results"]
    title, message = results[0]["snippet"], results[1]["snippet"]
    assert title == "&lt;b&gt;bold&lt;/b&gt; <mark>parser</mark>"
    # PostgreSQL's headline leaves tags out, SQLite's keeps them escaped: either way none is markup.
    unmarked = message.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in unmarked and ">" not in unmarked
    assert message.count("<mark>") == message.count("</mark>") == 1
    assert "&amp;amp;" in message and "MARKSTART0000X" in message


def test_paging_with_a_cursor_walks_every_hit_once(app, client, ada):
    thread_with(app, ada["project_id"], "apple title", *[f"apple number {n}" for n in range(5)])
    seen, cursor = [], None
    while True:
        body = find(client, ada, "apple", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [(r["thread_id"], r["message_id"]) for r in body["results"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 6 and len(set(seen)) == 6 and seen[0][1] is None


def test_filters_by_project_provider_and_date(app, client, ada):
    other = client.post("/api/projects", json={"name": "Home"}, headers=ada["headers"]).json
    a = thread_with(app, ada["project_id"], "A", "kiwi one", provider="google")
    b = thread_with(app, other["id"], "B", "kiwi two")
    with app.app_context():
        db.session.execute(text("UPDATE messages SET created_at = :t WHERE id = :id"),
                           {"t": "2025-01-15 10:00:00.000000" if not db_is_postgres(app) else "2025-01-15T10:00:00Z",
                            "id": a["message_ids"][0]})
        db.session.commit()
    assert message_ids(find(client, ada, "kiwi", project_id=other["id"])) == b["message_ids"]
    assert message_ids(find(client, ada, "kiwi", provider="google")) == a["message_ids"]
    assert message_ids(find(client, ada, "kiwi", to="2025-01-15")) == a["message_ids"]
    assert message_ids(find(client, ada, "kiwi", **{"from": "2025-01-16"})) == b["message_ids"]


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "   "}, {"q": "x" * 201}, {"q": "-only"}, {"q": "!!!"},
                                    {"q": "a", "provider": "openai"}, {"q": "a", "from": "yesterday"},
                                    {"q": "a", "project_id": "x"}, {"q": "a", "cursor": "bogus"}])
def test_bad_queries_are_400_with_a_message(client, ada, params):
    response = client.get("/api/search", query_string=params, headers=ada["headers"])
    assert response.status_code == 400 and response.json["error"]


@pytest.mark.parametrize("q", ['"unclosed', 'a AND', 'NEAR(a b)', 'a*', '(', ')', 'title:x', '^a', 'a -"b', '"" or ""  x'])
def test_fts_syntax_in_the_query_is_only_text(client, ada, q):
    assert client.get("/api/search", query_string={"q": q}, headers=ada["headers"]).status_code in (200, 400)
    assert client.get("/api/search", query_string={"q": q + " word"}, headers=ada["headers"]).status_code == 200


def test_another_users_data_is_never_found(app, client, ada, auth):
    thread_with(app, ada["project_id"], "secret plans", "the secret is here")
    auth.create_user("eve@example.com")
    eve = auth.token("eve@example.com")
    body = client.get("/api/search", query_string={"q": "secret"}, headers=eve).json
    assert body == {"results": [], "next_cursor": None}
