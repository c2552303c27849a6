"""Export through the JSON API (and the pages' links, with the session cookie)."""
from __future__ import annotations

import json
import re

from flask import Response, abort, g, request

from ..services import export, workspace
from .routes import bp

FORMATS = ("json", "markdown")


def _filename(title: str, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-.")[:60] or "thread"
    return f"{stem}.{extension}"


@bp.get("/threads/<int:thread_id>/export")
def export_thread(thread_id: int):
    """A thread as Markdown or as the JSON export document, as a download."""
    thread = workspace.owned_thread_or_404(g.user, thread_id)
    kind = request.args.get("format", "json")
    if kind not in FORMATS:
        abort(400, description=f"format must be one of {', '.join(FORMATS)}.")
    if kind == "markdown":
        body, mimetype, extension = export.thread_markdown(thread), "text/markdown", "md"
    else:
        body, mimetype, extension = json.dumps(export.thread_document(thread), ensure_ascii=False, indent=1), \
            "application/json", "json"
    disposition = f'attachment; filename="{_filename(thread.title, extension)}"'
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})
