"""The thread page: its latest messages, older pages of them, and the chat form."""
from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

from ..htmx import render_blocks, render_page
from ..pagination import parse_limit
from ..services import budgets, chat, usage, workspace
from .forms import ChatForm, RenameThreadForm
from .routes import bp


def thread_context(thread, chat_form=None, conflict=None) -> dict:
    """What the thread page and its blocks render from."""
    chat.sweep_stale_replies()  # a reply whose runner died shows as interrupted, with Retry
    page = workspace.messages_page(thread, parse_limit(request.args.get("limit")), request.args.get("cursor"))
    return {
        "thread": thread, "page": page, "watch": True,
        "latest_id": page.items[-1].id if page.items else None,
        "pending": any(m.pending for m in page.items),
        "chat_form": chat_form or ChatForm(formdata=None), "conflict": conflict,
        "rename_form": RenameThreadForm(obj=thread, formdata=None),
        "budget": budgets.standing(current_user.id),
    }


@bp.get("/threads/<int:thread_id>")
def thread(thread_id: int):
    """A thread: its latest messages and the chat form."""
    thread = workspace.owned_thread_or_404(current_user, thread_id)
    return render_page("pages/thread.html", **thread_context(thread), usage=usage.thread_totals(thread.id),
                       estimate=usage.context_estimate(thread, current_app.config))


@bp.get("/threads/<int:thread_id>/earlier")
def earlier_messages(thread_id: int):
    """An older page of messages, for "Load earlier"."""
    thread = workspace.owned_thread_or_404(current_user, thread_id)
    context = thread_context(thread)
    context["latest_id"] = None  # the retry button belongs to the newest page only
    return render_blocks("pages/thread.html", "messages", **context)
