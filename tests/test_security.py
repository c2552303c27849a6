"""Security: headers and CSP, the session cookie, CSRF and ownership on every route, XSS, input limits, key leaks."""
import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import url_for
from playwright.sync_api import expect
from sqlalchemy import select

from app import config, providers
from app.extensions import db
from app.models import ApiToken, Message
from app.providers.base import ProviderError
from app.security import CONTENT_SECURITY_POLICY
from tests.browser import browser, page  # noqa: F401  (fixtures)
from tests.conftest import FAKE_KEY, KeyLeakGuard
from tests.live_server import LiveServer, server_env
from tests.test_chat_api import read_events

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PASSWORD = "correct horse battery"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


# --- what a browser would act on --------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "xlink:href", "background", "srcdoc"}
FORBIDDEN_TAGS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "style", "svg", "math"}


class LiveMarkup(HTMLParser):
    """Everything in some HTML that could run script or restyle the page, as a list of problems."""

    def __init__(self, fragment: bool):
        super().__init__()
        self.fragment, self.problems = fragment, []

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "script" and (self.fragment or not attributes.get("src", "").startswith("/static/")):
            self.problems.append(f"<script {attributes}>")  # htmx runs every script a fragment carries
        if tag == "meta" and "url=" in attributes.get("content", "").lower():
            self.problems.append(f"<meta {attributes}>")
        for name, value in attributes.items():
            scheme = re.sub(r"[\x00-\x20]", "", value).lower().partition(":")[0]
            if name.startswith("on") or name == "style" or "hx-on" in name or name.endswith("hx-trigger"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            elif name in URL_ATTRIBUTES and scheme in ("javascript", "vbscript", "data"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            elif "hx-" in name and value.strip().lower().startswith(("js:", "javascript:")):
                self.problems.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def live_markup(html: str, fragment: bool = False) -> list[str]:
    parser = LiveMarkup(fragment)
    parser.feed(html)
    parser.close()
    return parser.problems


def assert_inert(html: str, payload: str, fragment: bool = False):
    assert live_markup(html, fragment) == []
    if "<" in payload:
        assert payload not in html


# --- headers and the session cookie -------------------------------------------------------------

def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def test_the_policy_allows_no_inline_script_style_eval_or_framing():
    policy = directives(CONTENT_SECURITY_POLICY)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', 'unsafe-eval', nonce or hash
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


def test_every_kind_of_response_carries_the_security_headers(client, auth, hx):
    auth.signup_and_login()
    responses = [
        client.get("/"), client.get("/", headers=hx), client.get("/settings"), client.get("/projects/404"),
        client.get("/api/providers"), client.get("/api/projects/404"), client.get("/api/openapi.json"),
        client.get("/static/js/app.js"), client.get("/healthz"), client.post("/projects", data={"name": ""}),
    ]
    for response in responses:
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, response.request.path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("app, secure", [({}, False), ({"SESSION_COOKIE_SECURE": True}, True)], indirect=["app"])
def test_the_session_cookie_is_http_only_lax_and_secure_when_configured(client, auth, secure):
    auth.create_user()
    cookie = next(value for value in auth.login().headers.getlist("Set-Cookie") if value.startswith("session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert "httponly" in attributes and "samesite=lax" in cookie.lower()
    assert ("secure" in attributes) is secure


def test_session_cookie_secure_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    assert config.load()["SESSION_COOKIE_SECURE"] is True
    monkeypatch.delenv("SESSION_COOKIE_SECURE")
    assert config.load()["SESSION_COOKIE_SECURE"] is False


# --- templates --------------------------------------------------------------------------------

TEMPLATE_FILES = sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_hold_no_inline_script_style_handler_or_htmx_expression(path):
    source = path.read_text()
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", source), "inline <script>"
    assert not re.search(r"<style\b", source) and not re.search(r"\sstyle\s*=", source), "inline style"
    assert not re.search(r"\son[a-z]+\s*=", source, re.I), "inline event handler"
    assert "hx-on" not in source, "hx-on runs code through eval"
    assert not re.search(r"""=\s*["']\s*(js|javascript):""", source), "js: values run code through eval"
    if path.name != "base.html":
        assert "<script" not in source, "fragments and pages add no scripts; base.html loads them all"


# --- CSRF on every state-changing route ----------------------------------------------------------

def make_world(client, auth, scripted):
    """Ada, signed in on `client`: a project, a thread whose latest reply failed, and an API token."""
    auth.signup_and_login()
    bearer = auth.token()
    project = client.post("/api/projects", json={"name": "Ada's"}, headers=bearer).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={}, headers=bearer).json
    scripted.queue(ProviderError("The provider is overloaded.", status=502))
    failed = client.post(f"/api/threads/{thread['id']}/messages", json={"content": "Hi"}, headers=bearer).json
    with client.application.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    return bearer, {"project_id": project["id"], "thread_id": thread["id"],
                    "message_id": failed["assistant_message"]["id"], "token_id": token_id}


def snapshot(app) -> dict:
    """Every row of every table (but when a token was last used), to show a request changed nothing."""
    with app.app_context():
        return {table.name: db.session.execute(
                    select(*[c for c in table.columns if c.name != "last_used_at"]).order_by(*table.primary_key)
                ).all() for table in db.metadata.sorted_tables}


def url(app, endpoint: str, ids: dict) -> str:
    rule = next(app.url_map.iter_rules(endpoint))
    with app.test_request_context():
        return url_for(endpoint, **{name: ids[name] for name in rule.arguments})


def write_method(app, endpoint: str) -> str:
    (method,) = next(app.url_map.iter_rules(endpoint)).methods & UNSAFE
    return method


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
    "pages.delete_thread": ({}, {303}),
    "pages.post_message": ({"content": "Hi"}, {303}),
    "pages.retry_message": ({}, {303}),
    "pages.stop_message": ({}, {303}),
    "api.create_project": ({"name": "Another"}, {201}),
    "api.update_project": ({"name": "Renamed"}, {200}),
    "api.delete_project": (None, {204}),
    "api.create_thread": ({}, {201}),
    "api.update_thread": ({"title": "Renamed"}, {200}),
    "api.delete_thread": (None, {204}),
    "api.post_message": ({"content": "Hi"}, {201}),
    "api.retry_message": (None, {200}),
    "api.stop_message": (None, {200}),
}
SIGNED_OUT = {"auth.login_page", "auth.register"}


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


# --- a second user reaches nothing of the first -------------------------------------------------

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
            "pages.retry_message", "auth.revoke_token", "api.watch_message", "api.stop_message",
            "api.retry_message", "api.delete_project"} <= tried

    # The ids were the owner's real ones: she reaches every page and API read with them.
    for rule in app.url_map.iter_rules():
        if rule.arguments and "GET" in rule.methods and rule.endpoint != "static":
            headers = owner_bearer if rule.rule.startswith("/api/") else None
            assert client.get(url(app, rule.endpoint, ids), headers=headers).status_code == 200, rule.endpoint


# --- XSS: text from people and from models stays text ---------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    '" onmouseover="alert(1)" x="',
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "<iframe src=javascript:alert(1)></iframe>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "<details open ontoggle=alert(1)>",
    "<style>body{display:none}</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<base href=//evil.example/>",
    "<object data=javascript:alert(1)>",
    '<div data-hx-get="/logout" data-hx-trigger="load">x</div>',
    '<b data-hx-on-click="alert(1)" hx-on:click="alert(1)">x</b>',
    "js:alert(1)",  # htmx runs an attribute value that starts so (hx-confirm, hx-vals…) through eval
    "javascript:alert(1)",
]


def chunks_marker(text: str) -> str:
    """A fake-provider marker that streams `text` back in three pieces, cut inside its tags."""
    def escape(piece):
        return piece.replace("\\", "\\\\").replace("|", "\\|").replace("]", "\\]")

    third = max(1, len(text) // 3)
    pieces = [text[:third], text[third:2 * third], text[2 * third:]]
    return "[[chunks:" + "|".join(escape(piece) for piece in pieces) + "]]"


@pytest.mark.parametrize("index", range(len(PAYLOADS)), ids=lambda i: f"payload{i}")
def test_xss_payloads_stay_text_wherever_text_enters(app, client, auth, hx, fake_provider, index):
    payload, provider = PAYLOADS[index], providers.names()[index % len(providers.names())]
    for spec in providers.PROVIDERS.values():
        app.config[spec.base_url_var] = fake_provider.base_url
    auth.signup_and_login()
    project_id = client.post("/projects", data={"name": payload, "instructions": payload}
                             ).headers["Location"].rsplit("/", 1)[1]
    thread_id = client.post(f"/projects/{project_id}/threads", data={"title": payload, "model_provider": provider}
                            ).headers["Location"].rsplit("/", 1)[1]
    settings = client.post("/settings", data={"name": payload})
    assert settings.status_code == 200
    seen = [settings]

    # The model's answer is the payload itself, streamed in pieces cut inside its tags.
    stream = client.post(f"/threads/{thread_id}/messages", data={"content": chunks_marker(payload)}, headers=hx)
    events = read_events(stream)
    assert stream.status_code == 200 and [e for e in events if e[1]]  # deltas (the hub may join pieces)
    assert fake_provider.last().tokens_sent == 3
    for _, _, data in events:
        assert_inert(data, payload, fragment=True)
    with app.app_context():
        assert db.session.scalars(select(Message.content).where(Message.role == "assistant")).one() == payload

    for path in ["/", f"/projects/{project_id}", f"/projects/{project_id}/delete", f"/threads/{thread_id}",
                 f"/threads/{thread_id}/delete", "/settings"]:
        seen.append(client.get(path))
    fragments = [
        client.get(f"/threads/{thread_id}/earlier", headers=hx),
        client.post(f"/threads/{thread_id}/rename", data={"title": payload}, headers=hx),
        client.post(f"/projects/{project_id}/edit", data={"name": payload, "instructions": payload}, headers=hx),
        # Refused forms show what was typed again: inside value="…" and <textarea>.
        client.post("/projects", data={"name": payload, "instructions": "x" * 20_001}, headers=hx),
        client.post(f"/threads/{thread_id}/messages", data={"content": payload + "x" * 100_000}, headers=hx),
    ]
    signed_out = app.test_client()
    seen.append(signed_out.get(f"/login?next={quote(payload)}"))
    seen.append(signed_out.post(f"/login?next={quote(payload)}", data={"email": payload, "password": payload}))

    for response in seen + fragments:
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.mimetype == "text/html"
    for response in seen:
        assert_inert(response.get_data(as_text=True), payload)
    for response in fragments:
        assert_inert(response.get_data(as_text=True), payload, fragment=True)
    assert payload in client.get(f"/api/threads/{thread_id}", headers=auth.token()).json["title"]


def test_the_markup_check_sees_live_markup():
    assert live_markup('<img src="x" onerror="alert(1)">')
    assert live_markup('<a href=" JaVa&#x09;script:alert(1)">x</a>')
    assert live_markup("<script>alert(1)</script>")
    assert live_markup('<script src="/static/js/app.js"></script>', fragment=True)
    assert live_markup('<p style="color:red">x</p>')
    assert live_markup('<b hx-on:click="alert(1)">x</b>')
    assert not live_markup('<script src="/static/js/app.js"></script><p>&lt;script&gt;</p>')


# --- errors htmx swaps in -------------------------------------------------------------------------

def test_error_answers_to_htmx_are_fragments_without_scripts(client, auth, hx):
    auth.signup_and_login()
    for response in [client.get("/projects/12345", headers=hx),
                     client.post("/projects", data={"name": "x"}, headers=hx, csrf=False)]:
        html = response.get_data(as_text=True)
        assert response.status_code in (400, 404)
        assert "<html" not in html and "<script" not in html and 'class="card error-page"' in html


def test_a_wrong_method_on_a_page_is_405_with_allow(client):
    response = client.get("/logout")
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    assert "<html" in response.get_data(as_text=True)


# --- every input has a limit --------------------------------------------------------------------

def test_an_oversized_form_is_413_as_a_page_and_stores_nothing(app, client, auth):
    auth.signup_and_login()
    before = snapshot(app)
    too_large = "y" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/projects", data={"name": "x", "instructions": too_large})
    assert response.status_code == 413 and "too large" in response.get_data(as_text=True)
    assert "<html" in response.get_data(as_text=True)
    assert snapshot(app) == before


def cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/projects/9223372036854775808"),            # one past the largest database integer
    ("DELETE", "/api/threads/9223372036854775808"),          # (a route that merely refused it would say 405)
    ("PATCH", "/api/threads/" + "9" * 5000),                 # more digits than int() takes
    ("GET", "/api/messages/99999999999999999999999/stream"),
])
def test_ids_beyond_the_database_range_are_404(client, auth, method, path):
    auth.create_user()
    response = client.open(path, method=method, headers=auth.token(), json={})
    assert response.status_code == 404 and response.is_json


@pytest.mark.parametrize("query", [
    {"limit": "²"}, {"limit": "9" * 5000},
    {"cursor": cursor("2026-01-01T00:00:00+00:00", 10 ** 30)},   # an id no database holds
    {"cursor": cursor("2026-01-01T00:00:00+00:00", float("inf"))},
    {"cursor": cursor("2026-01-01T00:00:00", 1)},                # a time without its zone
    {"cursor": cursor("0001-01-01T00:00:00+23:59", 1)},          # before year 1 in UTC
    {"cursor": base64.urlsafe_b64encode(b"[" * 100_000).decode()},
])
def test_malformed_page_parameters_are_400(client, auth, query):
    auth.create_user()
    response = client.get("/api/projects", query_string=query, headers=auth.token())
    assert response.status_code == 400 and "error" in response.json


def test_malformed_message_cursors_and_resume_points_are_refused_or_ignored(client, auth, scripted):
    auth.create_user()
    bearer = auth.token()
    project = client.post("/api/projects", json={"name": "P"}, headers=bearer).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={}, headers=bearer).json
    reply = client.post(f"/api/threads/{thread['id']}/messages", json={"content": "Hi"}, headers=bearer).json
    listing = client.get(f"/api/threads/{thread['id']}/messages", query_string={"cursor": cursor(10 ** 30)},
                         headers=bearer)
    assert listing.status_code == 400
    stream = client.get(f"/api/messages/{reply['assistant_message']['id']}/stream",
                        headers={**bearer, "Last-Event-ID": "²"}, query_string={"after": "9" * 5000})
    assert stream.status_code == 200 and [e[0] for e in read_events(stream)][0] == "snapshot"


@pytest.mark.parametrize("body", [
    '{"name": "a\\u0000b"}',       # PostgreSQL stores no NUL character
    '{"name": "a\\ud800b"}',       # an unpaired surrogate is no UTF-8
    '{"name": ' + "[" * 100_000 + "}",  # nesting deep enough to exhaust the parser
])
def test_json_the_database_cannot_store_is_400_and_stores_nothing(app, client, auth, body):
    auth.create_user()
    bearer = auth.token()
    before = snapshot(app)
    response = client.post("/api/projects", data=body, content_type="application/json", headers=bearer)
    assert response.status_code == 400 and response.is_json
    assert snapshot(app) == before


def test_form_text_with_a_nul_character_is_400_and_stores_nothing(app, client, auth):
    auth.signup_and_login()
    before = snapshot(app)
    response = client.post("/projects", data={"name": "a\x00b"})
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    assert snapshot(app) == before


# --- provider keys never leave the server ---------------------------------------------------------

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


# --- the policy in a real browser -------------------------------------------------------------------

@pytest.fixture
def live(migrated_database, fake_provider_server):
    server = LiveServer(server_env(migrated_database, fake_provider_server.base_url))
    yield server
    server.terminate()


@pytest.mark.browser
@pytest.mark.once
def test_in_chromium_the_policy_blocks_nothing_the_app_does_and_blocks_an_injected_script(app, page, live):
    violations = []
    page.expose_function("reportViolation", lambda text: violations.append(text))
    # Init scripts come through the DevTools protocol, which the page's policy does not govern.
    page.add_init_script("document.addEventListener('securitypolicyviolation', "
                         "e => reportViolation(e.violatedDirective + ' ' + e.blockedURI))")
    page.goto(live.url + "/register")
    page.fill("#email", "ada@example.com")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button[type=submit]")
    page.fill("#name", "Research")
    page.click("#project-form button[type=submit]")
    page.select_option("#model_provider", "google")
    page.click("#thread-form button[type=submit]")
    page.fill("#composer textarea", "Show me [[canned:markdown]]")
    page.press("#composer textarea", "Enter")
    expect(page.locator(".message-assistant.status-complete .code-block")).to_be_visible(timeout=15_000)
    page.fill("#composer textarea", "A long one [[tokens:400]] [[token-delay:0.05]]")
    page.press("#composer textarea", "Enter")
    page.locator(".status-pending").get_by_role("button", name="Stop").click()
    expect(page.locator(".message-assistant").last).to_have_class(re.compile(r"\bstatus-stopped\b"), timeout=15_000)
    page.locator(".message-assistant").last.get_by_role("button", name="Retry").click()
    expect(page.locator(".message-assistant").last).to_have_class(re.compile(r"\bstatus-pending\b"))
    page.reload()  # the pending reply reconnects to its stream
    page.locator(".status-pending").get_by_role("button", name="Stop").click()
    expect(page.locator(".message-assistant").last).to_have_class(re.compile(r"\bstatus-stopped\b"), timeout=15_000)
    assert violations == []

    ran = page.evaluate("""() => new Promise(resolve => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.append(script);
        setTimeout(() => resolve(window.injected === true), 100);
    })""")
    assert ran is False
    assert violations == ["script-src-elem inline"]
