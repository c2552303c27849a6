"""Provider keys never leave the server: not in answers, pages or logs, whatever the provider does."""
import pytest

from app import providers
from tests.conftest import FAKE_KEY, KeyLeakGuard


@pytest.mark.parametrize("marker", ["[[fail:401]]", "[[fail:403]]", "[[fail:500]]", "[[midstream-error:2]]",
                                    "[[cut:2]]"])
def test_provider_failures_never_show_the_key(app, client, auth, fake_provider, caplog, marker):
    caplog.set_level("DEBUG")  # even the SDKs' debug logging
    app.config["PROVIDER_MAX_RETRIES"] = 0
    for spec in providers.PROVIDERS.values():
        app.config[spec.base_url_var] = fake_provider.base_url
    auth.signup_and_login()
    bearer = auth.token()
    project = client.post("/api/projects", json={"name": "P"}, headers=bearer).json
    texts = []
    for name in providers.names():
        thread = client.post(f"/api/projects/{project['id']}/threads", json={"model_provider": name},
                             headers=bearer).json
        answer = client.post(f"/api/threads/{thread['id']}/messages", json={"content": f"Hi {marker}"},
                             headers=bearer)
        assert answer.status_code in (201, 502, 504) and answer.json["assistant_message"]["status"] != "pending"
        texts += [answer.get_data(as_text=True), client.get(f"/threads/{thread['id']}").get_data(as_text=True)]
    texts += [client.get("/api/providers", headers=bearer).get_data(as_text=True),
              client.get("/settings").get_data(as_text=True)]
    assert all(FAKE_KEY not in text for text in texts)
    assert FAKE_KEY not in caplog.text
    assert all(FAKE_KEY in str(r.headers) for r in fake_provider.requests)  # it went where it belongs


def test_the_leak_guard_sees_a_key_in_headers_and_split_across_chunks():
    leaks = []

    def leaky_app(environ, start_response):
        start_response("200 OK", [("X-Key", FAKE_KEY)])
        return [FAKE_KEY[:5].encode(), FAKE_KEY[5:].encode()]

    body = b"".join(KeyLeakGuard(leaky_app, leaks)({"REQUEST_METHOD": "GET", "PATH_INFO": "/"},
                                                   lambda *args: None))
    assert body == FAKE_KEY.encode()
    assert leaks == ["the headers of GET /", "the body of GET /"]
