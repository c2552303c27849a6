"""The search pages: the header's box, the results page, its fragments, and opening a hit."""
from __future__ import annotations

import pytest

from app.services import workspace
from tests.test_search import thread_with


@pytest.fixture
def project_id(app, client, auth):
    auth.signup_and_login()
    with app.app_context():
        from app.services import accounts
        return workspace.create_project(accounts.user_by_email("ada@example.com"), "Work").id


def test_every_page_has_a_search_box_that_works_without_javascript(client, project_id):
    page = client.get(f"/projects/{project_id}").get_data(as_text=True)
    assert 'role="search"' in page and 'action="/search"' in page and 'name="q"' in page


def test_results_link_each_hit_to_its_message_with_the_snippet_marked(app, client, project_id):
    t = thread_with(app, project_id, "Chat", "where is the <b>parser</b>?")
    page = client.get("/search?q=parser").get_data(as_text=True)
    assert f'href="/messages/{t["message_ids"][0]}"' in page
    assert "<mark>parser</mark>" in page and "<b>" not in page  # escaped (SQLite) or left out (PostgreSQL)


def test_typing_in_the_results_box_gets_only_the_results(app, client, project_id, hx):
    thread_with(app, project_id, "Chat", "the parser")
    fragment = client.get("/search?q=parser", headers={**hx, "HX-Target": "div#search-results"})
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and 'id="search-q"' not in html and "<mark>parser</mark>" in html
    assert "HX-Request" in fragment.headers["Vary"]


def test_typing_in_the_header_box_gets_the_whole_results_area(app, client, project_id, hx):
    thread_with(app, project_id, "Chat", "the parser")
    html = client.get("/search?q=parser", headers={**hx, "HX-Target": "main#main"}).get_data(as_text=True)
    assert "<html" not in html and 'id="search-q"' in html and "<mark>parser</mark>" in html


def test_a_bad_query_is_400_with_the_reason_on_the_page(client, project_id):
    response = client.get("/search?q=-only")
    assert response.status_code == 400 and "at least one word" in response.get_data(as_text=True)


def test_an_empty_search_page_is_just_the_form(client, project_id):
    response = client.get("/search")
    assert response.status_code == 200 and 'id="search-q"' in response.get_data(as_text=True)


def test_more_results_come_as_rows(app, client, project_id, hx):
    thread_with(app, project_id, "Chat", *[f"lychee {n}" for n in range(4)])
    page = client.get("/search?q=lychee&limit=2").get_data(as_text=True)
    assert page.count('class="row search-hit"') == 2 and "More results" in page
    more = page.split('id="more-results-')[1].split('href="')[1].split('"')[0].replace("&amp;", "&")
    rows = client.get(more, headers=hx).get_data(as_text=True)
    assert rows.count('class="row search-hit"') == 2 and "<ol" not in rows


def test_opening_a_hit_shows_its_thread_at_the_message(app, client, project_id):
    t = thread_with(app, project_id, "Chat", "first", "second")
    response = client.get(f"/messages/{t['message_ids'][0]}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/threads/{t['id']}#message-{t['message_ids'][0]}"


def test_opening_an_old_hit_shows_the_page_that_holds_it(app, client, project_id):
    t = thread_with(app, project_id, "Chat", "needle", *[f"filler {n}" for n in range(60)])
    location = client.get(f"/messages/{t['message_ids'][0]}").headers["Location"]
    assert location.endswith(f"#message-{t['message_ids'][0]}")
    page = client.get(location.split("#")[0]).get_data(as_text=True)
    assert f'id="message-{t["message_ids"][0]}"' in page and f'id="message-{t["message_ids"][5]}"' in page
    assert f'id="message-{t["message_ids"][6]}"' not in page
