"""Chat on the thread page with a scripted adapter: streams, errors, conflicts, no-JS fallback."""
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Message
from app.providers.base import ProviderError, StreamEnd
from tests.helpers import read_events, stored_messages, wait_until_done


@pytest.fixture
def thread_id(client, auth):
    auth.signup_and_login()
    project = client.post("/projects", data={"name": "P"}).headers["Location"].rsplit("/", 1)[1]
    response = client.post(f"/projects/{project}/threads", data={"model_provider": "deepseek"})
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_htmx_post_streams_the_new_messages_then_deltas_then_the_final_message(app, client, thread_id, hx,
                                                                               scripted):
    scripted.queue("**Bold**", " <script>alert(1)</script>", StreamEnd(2, 2, "end_turn"))
    response = client.post(f"/threads/{thread_id}/messages", data={"content": "Hi <img src=x onerror=alert(1)>"},
                           headers=hx)
    assert response.mimetype == "text/event-stream" and "HX-Request" in response.headers["Vary"]
    events = read_events(response)
    first = events[0][2]
    assert "<html" not in first and 'class="message message-user' in first
    assert "&lt;img src=x onerror=alert(1)&gt;" in first and "<img" not in first
    assert 'id="reply-' in first and "data-hx-sse-connect" not in first
    deltas = [e for e in events if e[1]]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in "".join(e[2] for e in deltas)
    final = events[-1][2]
    assert "<strong>Bold</strong>" in final and "<script>" not in final
    assert 'data-hx-target="#announcer"' in final and "Reply finished." in final
    assert stored_messages(app)[-1][2] == "complete"


def test_plain_post_redirects_and_the_page_refreshes_itself_while_pending(app, client, thread_id, scripted):
    scripted.queue(("sleep", 0.5), "Done.", StreamEnd(1, 1, "end_turn"))
    response = client.post(f"/threads/{thread_id}/messages", data={"content": "No JS here"})
    assert response.status_code == 303 and response.headers["Location"] == f"/threads/{thread_id}"
    pending = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in pending
    assert f'data-hx-sse-connect="/messages/' in pending
    wait_until_done(app)
    done = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert "refresh" not in done and "Done." in done and "data-hx-sse-connect" not in done


def test_empty_message_is_400_with_the_error_in_the_composer(app, client, thread_id, hx, scripted):
    response = client.post(f"/threads/{thread_id}/messages", data={"content": "   "}, headers=hx)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "<html" not in html
    assert 'data-hx-target="#composer"' in html and "Type a message first." in html
    assert stored_messages(app) == []


def test_the_longest_message_in_any_script_is_accepted_from_the_form(app, client, thread_id, scripted):
    longest = "\N{GRINNING FACE}" * 100_000  # 12 bytes a character once percent-encoded: 1.2 MB of form
    response = client.post(f"/threads/{thread_id}/messages", data={"content": longest})
    assert response.status_code == 303
    wait_until_done(app)
    assert stored_messages(app) == [("user", longest, "complete"), ("assistant", "Hello there.", "complete")]


def test_a_post_while_a_reply_is_pending_is_409_and_says_so(app, client, thread_id, hx, scripted):
    scripted.queue(("sleep", 0.5), "late", StreamEnd(1, 1, "end_turn"))
    client.post(f"/threads/{thread_id}/messages", data={"content": "first"})
    response = client.post(f"/threads/{thread_id}/messages", data={"content": "second"}, headers=hx)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "still writing a reply" in html and "second" in html
    wait_until_done(app)
    assert [content for _, content, _ in stored_messages(app)] == ["first", "late"]


def test_a_failed_reply_shows_its_error_and_a_retry_button_that_answers(app, client, thread_id, hx, scripted):
    scripted.queue("half ", ProviderError("DeepSeek is rate limiting requests (429); try again shortly."))
    client.post(f"/threads/{thread_id}/messages", data={"content": "Hi"})
    wait_until_done(app)
    page = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert "DeepSeek is rate limiting requests (429)" in page and 'class="message-error"' in page
    reply_id = int(re.search(r'/messages/(\d+)/retry', page).group(1))
    scripted.queue("Whole answer.", StreamEnd(1, 2, "end_turn"))
    events = read_events(client.post(f"/messages/{reply_id}/retry", headers=hx))
    assert f'id="message-{reply_id}"' in events[0][2] and "status-pending" in events[0][2]
    assert "Whole answer." in events[-1][2]
    assert stored_messages(app) == [("user", "Hi", "complete"), ("assistant", "Whole answer.", "complete")]


def test_retry_is_offered_only_on_the_latest_reply(app, client, thread_id, scripted):
    scripted.queue(ProviderError("DeepSeek is overloaded (503)."))
    client.post(f"/threads/{thread_id}/messages", data={"content": "one"})
    wait_until_done(app)
    client.post(f"/threads/{thread_id}/messages", data={"content": "two"})
    wait_until_done(app)
    page = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert "/retry" not in page


def test_stop_from_the_page(app, client, thread_id, hx, scripted):
    scripted.queue("start", ("sleep", 0.3), " more", ("sleep", 0.3), " end", StreamEnd(1, 1, "end_turn"))
    client.post(f"/threads/{thread_id}/messages", data={"content": "go"})
    reply_id = int(re.search(r'/messages/(\d+)/stop', client.get(f"/threads/{thread_id}").get_data(as_text=True))
                   .group(1))
    assert client.post(f"/messages/{reply_id}/stop", headers=hx).status_code == 204
    wait_until_done(app)
    assert stored_messages(app)[-1][2] == "stopped"
    assert client.post(f"/messages/{reply_id}/stop").status_code == 303


def test_load_earlier_messages(app, client, thread_id, hx, scripted):
    for i in range(3):
        client.post(f"/threads/{thread_id}/messages", data={"content": f"m{i}"})
        wait_until_done(app)
    page = client.get(f"/threads/{thread_id}?limit=2").get_data(as_text=True)
    assert "m2" in page and "m1" not in page
    url = re.search(r'data-hx-get="([^"]+)"', page.split('id="load-earlier"')[1]).group(1).replace("&amp;", "&")
    earlier = client.get(url + "&limit=2", headers=hx).get_data(as_text=True)
    assert "<html" not in earlier and "m1" in earlier


def test_the_stream_of_another_users_reply_is_404(app, client, auth, thread_id, scripted):
    client.post(f"/threads/{thread_id}/messages", data={"content": "mine"})
    wait_until_done(app)
    with app.app_context():
        reply_id = db.session.scalar(select(Message.id).where(Message.role == "assistant"))
    auth.logout()
    auth.signup_and_login("eve@example.com")
    for method, url in [("get", f"/messages/{reply_id}/stream"), ("post", f"/messages/{reply_id}/stop"),
                        ("post", f"/messages/{reply_id}/retry"), ("post", f"/threads/{thread_id}/messages"),
                        ("get", f"/threads/{thread_id}/earlier")]:
        assert getattr(client, method)(url, data={"content": "x"}).status_code == 404, url
