"""Security headers on every response, ids and form text kept to what the database holds, trusted proxies."""
from __future__ import annotations

from flask import Flask, Response, abort, request
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from .limits import ID_MAX

# Every script and stylesheet is a file under /static, so nothing inline may run, nor be styled
# inline; htmx needs no eval for what we use (no hx-on, no js: values, no trigger filters).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class IdConverter(IntegerConverter):
    """`<int:…>` in a route: a number beyond any row's id is a 404 at once, not a database overflow."""

    def to_python(self, value: str) -> int:
        # Checked by length first: int() refuses numbers of thousands of digits.
        if len(value) > len(str(ID_MAX)) or int(value) > ID_MAX:
            raise NotFound()
        return super().to_python(value)


def _refuse_nul_in_forms() -> None:
    # PostgreSQL can't store a NUL character; the JSON API checks its own fields.
    if any("\x00" in value for _, value in request.form.items(multi=True)):
        abort(400, description="Form fields must not contain NUL characters.")


def _add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Bound route ids (before any route is added), check form text, send the headers on every response."""
    proxies = int(app.config["PROXY_COUNT"])
    if proxies:
        # Trust exactly that many X-Forwarded-* hops, so a client cannot pick its own address (per-IP limits).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.url_map.converters["int"] = IdConverter
    app.before_request(_refuse_nul_in_forms)
    app.after_request(_add_headers)
