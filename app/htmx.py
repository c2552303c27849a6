"""htmx support: one template answers both a full page and its fragments."""
from __future__ import annotations

from flask import Flask, Response, current_app, redirect, render_template, request


def is_htmx() -> bool:
    """Whether htmx sent this request (and so wants a fragment)."""
    return request.headers.get("HX-Request") == "true"


def render_blocks(template_name: str, *blocks: str, **context) -> str:
    """Render only the named blocks of a template, in order."""
    app = current_app._get_current_object()
    template = app.jinja_env.get_template(template_name)
    app.update_template_context(context)
    ctx = template.new_context(context)
    return "".join("".join(template.blocks[name](ctx)) for name in blocks)


def render_page(template_name: str, *blocks: str, **context) -> str:
    """The whole page for a normal request, only `blocks` for an htmx one."""
    if blocks and is_htmx():
        return render_blocks(template_name, *blocks, **context)
    return render_template(template_name, **context)


def redirect_to(location: str) -> Response:
    """See Other for a plain post; for htmx an HX-Redirect, since fetch would follow a 303 and swap the page in."""
    if is_htmx():
        return Response(status=204, headers={"HX-Redirect": location})
    return redirect(location, code=303)


def _vary_on_htmx(response: Response) -> Response:
    # The same URL answers with a page or a fragment, so caches must key on the header.
    response.vary.add("HX-Request")
    return response


def init_app(app: Flask) -> None:
    """Register the Vary header on every response."""
    app.after_request(_vary_on_htmx)
