"""The search page, and the link each hit opens: a message shown inside its thread."""
from __future__ import annotations

from flask import current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import providers
from ..extensions import db
from ..htmx import is_htmx, render_blocks, render_page
from ..limits import PAGE_SIZE_DEFAULT, SEARCH_QUERY_MAX
from ..models import Project
from ..pagination import encode_cursor, parse_limit
from ..services import search, tree, workspace
from ..services.search_query import SearchQueryError, parse
from .routes import bp

# Messages shown after the one a hit opens, when it is older than the thread's latest page.
CONTEXT_AFTER = 5


@bp.app_context_processor
def search_box_limits() -> dict:
    """The header's search box is on every page."""
    return {"search_query_max": SEARCH_QUERY_MAX}


def _blocks() -> tuple[str, ...]:
    # The results page's own box refreshes its results; the header's box refreshes the whole main area.
    if not is_htmx():
        return ()
    return ("search_results",) if request.headers.get("HX-Target", "").endswith("#search-results") else ("content",)


@bp.get("/search")
def search_page():
    """Search the user's titles and messages; htmx gets the results as they are typed."""
    context = {"q": request.args.get("q", ""), "args": request.args, "page": None, "error": None,
               "projects": db.session.scalars(select(Project).where(Project.user_id == current_user.id)
                                              .order_by(Project.name)).all(),
               "providers": providers.PROVIDERS.values()}
    status = 200
    if context["q"].strip():
        try:
            context["page"] = search.search(current_user.id, parse(context["q"]), search.filters_from(request.args),
                                            parse_limit(request.args.get("limit")), request.args.get("cursor"),
                                            current_app.config)
        except SearchQueryError as exc:
            context["error"], status = str(exc), 400
    if is_htmx() and request.args.get("cursor"):
        return render_blocks("pages/search.html", "result_rows", **context), status
    return render_page("pages/search.html", *_blocks(), **context), status


@bp.get("/messages/<int:message_id>")
def open_message(message_id: int):
    """A message inside its thread, scrolled to and highlighted: the page of the thread that holds it."""
    message = workspace.owned_message_or_404(current_user, message_id)
    anchor = f"message-{message.id}"
    path = tree.current_path_ids(message.thread)  # from the head up
    if message.id not in path:  # on another branch: the page that ends with it, its own branch above it
        return redirect(url_for("pages.thread", thread_id=message.thread_id, cursor=encode_cursor(message.id),
                                _anchor=anchor), code=303)
    below = path.index(message.id)
    if below < PAGE_SIZE_DEFAULT:  # on the thread's latest page
        return redirect(url_for("pages.thread", thread_id=message.thread_id, _anchor=anchor), code=303)
    last_shown = path[below - CONTEXT_AFTER]
    return redirect(url_for("pages.thread", thread_id=message.thread_id, cursor=encode_cursor(last_shown),
                            _anchor=anchor), code=303)
