"""The thread page: its latest messages, older pages of them, the chat form and the model switch."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from ..htmx import is_htmx, render_blocks, render_page
from ..models import ERROR
from ..pagination import parse_limit
from ..services import budgets, catalog, chat, forks, tree, usage, workspace
from .forms import ChatForm, RenameThreadForm, ThreadModelForm
from .routes import bp


@dataclass(frozen=True)
class ModelSwitch:
    """What pages/_model_form.html renders: a thread's model choice within its provider."""

    thread_id: int
    summary: catalog.ProviderModels
    model: str | None
    thinking: bool
    id: str  # prefix of the element ids, unique on the page
    errors: tuple[str, ...] = ()


def gone_switch(message, thread_id: int, thread_model: str | None, thinking: bool) -> ModelSwitch | None:
    """The switch to show at a failed reply whose model its provider no longer lists, else None.

    Only while the thread still asks for that model: a thread on the default moves on by itself.
    """
    if message is None or message.status != ERROR or not message.model or message.model != thread_model:
        return None
    summary = catalog.current().summary(message.provider)
    if not summary.models or message.model in (model.id for model in summary.models):
        return None
    return ModelSwitch(thread_id, summary, None, thinking, "gone-model")


def header_context(thread, rename_form=None, model_form=None) -> dict:
    """What the thread header renders from: the title, the provider badge and the model switch."""
    summary = catalog.current().summary(thread.provider)
    errors = tuple(model_form.model.errors) if model_form is not None else ()
    return {
        "thread": thread, "models": summary,
        "rename_form": rename_form or RenameThreadForm(obj=thread, formdata=None),
        "header_switch": ModelSwitch(thread.id, summary, thread.model, thread.thinking, "thread-model", errors),
    }


def thread_context(thread, chat_form=None, conflict=None, model_form=None) -> dict:
    """What the thread page and its blocks render from."""
    chat.sweep_stale_replies()  # a reply whose runner died shows as interrupted, with Retry
    page = tree.path_page(thread, parse_limit(request.args.get("limit")), request.args.get("cursor"))
    latest = page.items[-1] if page.items else None
    return {
        **header_context(thread, model_form=model_form),
        "page": page, "watch": True, "siblings": tree.siblings(thread.id, page.items),
        "forked_from": forks.origin(thread),
        "latest_id": latest.id if latest else None,
        "pending": any(m.pending for m in page.items),
        "chat_form": chat_form or ChatForm(formdata=None), "conflict": conflict,
        "gone_switch": gone_switch(latest, thread.id, thread.model, thread.thinking),
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


@bp.post("/threads/<int:thread_id>/rename")
def rename_thread(thread_id: int):
    """Give a thread a new title."""
    thread = workspace.owned_thread_or_404(current_user, thread_id)
    form = RenameThreadForm()
    if not form.validate_on_submit():
        return render_blocks("pages/thread.html", "thread_header", **header_context(thread, rename_form=form)), 400
    workspace.rename_thread(thread, form.title.data)
    if is_htmx():
        return render_blocks("pages/thread.html", "thread_header", **header_context(thread))
    return redirect(url_for("pages.thread", thread_id=thread.id), code=303)


@bp.post("/threads/<int:thread_id>/model")
def change_thread_model(thread_id: int):
    """Change the model (within the thread's provider) and thinking its next reply uses."""
    thread = workspace.owned_thread_or_404(current_user, thread_id)
    form = ThreadModelForm(thread.provider)
    status = 200
    if form.validate_on_submit():
        workspace.set_thread_model(thread, form.model.data or None, form.thinking.data)
        if not is_htmx():
            return redirect(url_for("pages.thread", thread_id=thread.id), code=303)
        form = None
    else:
        status = 400
    context = thread_context(thread, model_form=form)
    if not is_htmx():
        return render_template("pages/thread.html", **context), status
    return render_template("pages/_thread_model.html",
                           header=Markup(render_blocks("pages/thread.html", "thread_header", **context)),
                           actions=Markup(render_blocks("pages/thread.html", "reply_actions", **context))), status
