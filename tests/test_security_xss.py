"""XSS: text from people and from models stays text, in pages, fragments and streams."""
import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from sqlalchemy import select

from app import providers
from app.extensions import db
from app.models import Message
from app.security import CONTENT_SECURITY_POLICY
from tests.helpers import read_events


# --- what a browser would act on --------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "xlink:href", "background", "srcdoc"}
FORBIDDEN_TAGS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "style", "svg", "math"}


def _own_trigger(tag: str, attributes: dict) -> bool:
    """The app's own triggers: search as you type, and the header's one request for an automatic title."""
    trigger = attributes.get("data-hx-trigger")
    if tag == "form" and attributes.get("data-hx-get") == "/search":
        return trigger in ("input changed delay:300ms, submit", "input changed delay:300ms, change, submit")
    return (tag == "span" and attributes.get("id") == "title-watch" and trigger == "load"
            and re.fullmatch(r"/threads/\d+/title", attributes.get("data-hx-get", "")) is not None)


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
            if name.endswith("hx-trigger") and _own_trigger(tag, attributes):
                continue
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


# --- text that enters through forms and replies ----------------------------------------------

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
