"""Branches on the thread page: edit a message, regenerate a reply, switch versions, delete and fork."""
from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from .. import rate_limits
from ..htmx import is_htmx, redirect_to, render_blocks, render_page
from ..services import chat, forks, tree, workspace
from .chat import conflict_in_composer
from .forms import BranchForm, ChatForm, ForkForm
from .routes import bp
from .threads import thread_context


def _conversation(thread):
    """The conversation again: its block for htmx, a redirect to the thread for a plain post."""
    if is_htmx():
        return render_blocks("pages/thread.html", "conversation", **thread_context(thread))
    return redirect(url_for("pages.thread", thread_id=thread.id), code=303)


def _started(thread, start):
    try:
        start()
    except (chat.ReplyConflict, chat.RepliesBusy) as exc:
        return conflict_in_composer(thread, str(exc), exc.status)
    except chat.NotEditable as exc:
        abort(400, description=str(exc))
    return _conversation(thread)


def _edit_form(message, form, status=200):
    if is_htmx():
        html = Markup(render_template("pages/_edit_item.html", message=message, form=form))
        return render_template("pages/_replace.html", target=f"message-{message.id}", html=html), status
    return render_template("pages/edit_message.html", message=message, form=form), status


@bp.route("/messages/<int:message_id>/edit", methods=["GET", "POST"])
@rate_limits.new_messages_per_user
def edit_message(message_id: int):
    """Edit a message of yours: a new version beside it, answered at once; the old one stays."""
    message = workspace.owned_message_or_404(current_user, message_id)
    if message.role != "user":
        abort(400, description="Only your own messages can be edited; regenerate a reply instead.")
    form = ChatForm() if not _is_get() else ChatForm(formdata=None, content=message.content)
    if _is_get():
        return _edit_form(message, form)
    if not form.validate_on_submit():
        return _edit_form(message, form, 400)
    thread = message.thread
    return _started(thread, lambda: chat.edit_message(message, form.content.data, current_app.config))


@bp.post("/messages/<int:message_id>/regenerate")
@rate_limits.new_messages_per_user
def regenerate_message(message_id: int):
    """A new reply beside this one, to the same message."""
    message = workspace.owned_message_or_404(current_user, message_id)
    return _started(message.thread, lambda: chat.regenerate_reply(message, current_app.config))


@bp.post("/threads/<int:thread_id>/head")
def switch_branch(thread_id: int):
    """Show another version: the conversation continues from its most recent reply."""
    thread = workspace.owned_thread_or_404(current_user, thread_id)
    form = BranchForm()
    if not form.validate_on_submit():
        abort(400, description="Choose a version to show.")
    tree.switch_to(thread, tree.message_in_thread_or_400(thread, form.message_id.data))
    return _conversation(thread)


@bp.route("/messages/<int:message_id>/delete", methods=["GET", "POST"])
def delete_message(message_id: int):
    """Ask, then delete a message and everything under it."""
    message = workspace.owned_message_or_404(current_user, message_id)
    thread = message.thread
    if _is_get():
        return render_page("pages/confirm_delete.html", what="message", name=_snippet(message.content),
                           action=url_for("pages.delete_message", message_id=message.id),
                           back=url_for("pages.thread", thread_id=thread.id))
    try:
        tree.delete_branch(thread, message)
    except tree.BranchBusy as exc:
        return conflict_in_composer(thread, str(exc), exc.status)
    return _conversation(thread)


@bp.route("/messages/<int:message_id>/fork", methods=["GET", "POST"])
def fork_message(message_id: int):
    """A new thread, with the provider of your choice, that starts with the conversation up to here."""
    message = workspace.owned_message_or_404(current_user, message_id)
    thread = message.thread
    form = ForkForm() if not _is_get() else ForkForm(formdata=None, project_id=thread.project_id,
                                                     title=forks.fork_title(thread))
    form.project_id.choices = [(p.id, p.name) for p in workspace.all_projects(current_user)]
    if _is_get() or not form.validate_on_submit():
        return render_template("pages/fork.html", message=message, thread=thread, form=form), 200 if _is_get() else 400
    project = workspace.owned_project_or_404(current_user, form.project_id.data)
    try:
        fork = forks.fork(message, project, form.model_provider.data, form.model.data, form.title.data)
    except forks.ForkConflict as exc:
        abort(409, description=str(exc))
    if message.role == "user":
        chat.answer(fork, fork.head_id, current_app.config)
    return redirect_to(url_for("pages.thread", thread_id=fork.id))


def _is_get() -> bool:
    return request.method == "GET"


def _snippet(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"
