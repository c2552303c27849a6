"""The thread header refreshed once an automatic title lands, without a reload."""
from __future__ import annotations

import time

from flask import current_app
from flask_login import current_user

from ..extensions import db
from ..htmx import render_blocks
from ..limits import DEFAULT_THREAD_TITLE
from ..services import workspace
from .routes import bp
from .threads import header_context

TITLE_WAIT_SECONDS = 15.0  # a title takes one short provider request; past this the default stays
TITLE_POLL_SECONDS = 0.5


@bp.get("/threads/<int:thread_id>/title")
def thread_title(thread_id: int):
    """The thread's header once its title is no longer the default (204 if it stays so for a while)."""
    thread = workspace.owned_thread_or_404(current_user, thread_id)
    deadline = time.monotonic() + current_app.config.get("TITLE_WAIT_SECONDS", TITLE_WAIT_SECONDS)
    while thread.title == DEFAULT_THREAD_TITLE:
        db.session.close()  # no connection held while waiting
        if time.monotonic() >= deadline:
            return "", 204
        time.sleep(TITLE_POLL_SECONDS)
        thread = workspace.owned_thread_or_404(current_user, thread_id)
    return render_blocks("pages/thread.html", "thread_header", **header_context(thread))
