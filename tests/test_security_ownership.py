"""Ownership: a second user reaches nothing of the first, on any route that takes an id."""
from tests.conftest import PASSWORD
from tests.helpers import snapshot
from tests.route_sweep import make_world, url


def test_a_second_user_gets_404_on_every_id_bearing_route_and_changes_nothing(app, client, auth, scripted):
    owner_bearer, ids = make_world(client, auth, scripted)
    intruder = app.test_client()
    auth.create_user("eve@example.com")
    intruder.post("/login", data={"email": "eve@example.com", "password": PASSWORD})
    eve_bearer = auth.token("eve@example.com")
    intruder.get("/api/projects", headers=eve_bearer)  # its first use is recorded now, not mid-attack
    before = snapshot(app)
    body = {"name": "Eve's", "title": "Eve's", "content": "Eve's", "instructions": "", "model_provider": "google"}

    tried = set()
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint == "static":
            continue
        target = url(app, rule.endpoint, ids)  # an argument without an id here fails the test: add it
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if target.startswith("/api/"):
                attempts = [{"headers": eve_bearer, "json": body if method != "GET" else None},
                            {"json": body if method != "GET" else None}]  # with her session cookie
            else:
                attempts = [{"data": body}, {"data": body, "headers": {"HX-Request": "true"}}]
            for attempt in attempts:
                response = intruder.open(target, method=method, **attempt)
                assert response.status_code == 404, (method, target, response.status_code)
            tried.add(rule.endpoint)
    assert snapshot(app) == before
    assert {"pages.thread", "pages.earlier_messages", "pages.message_stream", "pages.stop_message",
            "pages.retry_message", "pages.change_thread_model", "auth.revoke_token", "api.watch_message", "api.stop_message",
            "api.retry_message", "api.delete_project", "pages.edit_message", "pages.regenerate_message",
            "pages.switch_branch", "pages.delete_message", "pages.fork_message", "api.edit_message",
            "api.regenerate_message", "api.switch_branch", "api.delete_message", "api.fork_message", "pages.open_message"} <= tried

    # The ids were the owner's real ones: she reaches every page and API read with them.
    for rule in app.url_map.iter_rules():
        if rule.arguments and "GET" in rule.methods and rule.endpoint != "static":
            headers = owner_bearer if rule.rule.startswith("/api/") else None
            # (A search hit's link, pages.open_message, redirects to the thread page.)
            response = client.get(url(app, rule.endpoint, ids), headers=headers, follow_redirects=True)
            assert response.status_code == 200, rule.endpoint
