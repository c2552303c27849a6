"""Security headers and the content security policy, the session cookie, and templates the policy can serve."""
import re
from pathlib import Path

import pytest

from app import config
from app.security import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


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


def test_a_wrong_method_on_a_page_is_405_with_allow(client):
    response = client.get("/logout")
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    assert "<html" in response.get_data(as_text=True)
