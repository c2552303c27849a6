"""Search through the JSON API."""
from __future__ import annotations

from flask import abort, current_app, g, request

from ..pagination import parse_limit
from ..services import search
from ..services.search_query import SearchQueryError, parse
from .routes import bp


def hit_json(hit: search.Hit) -> dict:
    """One search result as JSON; the snippet is escaped text with <mark> around matched words."""
    return {"thread_id": hit.thread_id, "message_id": hit.message_id, "title": hit.title,
            "snippet": str(hit.snippet), "role": hit.role, "created_at": hit.created_at.isoformat(),
            "model_provider": hit.model_provider}


@bp.get("/search")
def search_messages():
    """The caller's thread titles and messages that match `q`, titles first, newest first."""
    limit = parse_limit(request.args.get("limit"))
    try:
        query, filters = parse(request.args.get("q")), search.filters_from(request.args)
        page = search.search(g.user.id, query, filters, limit, request.args.get("cursor"), current_app.config)
    except SearchQueryError as exc:
        abort(400, description=str(exc))
    return {"results": [hit_json(hit) for hit in page.items], "next_cursor": page.next_cursor}
