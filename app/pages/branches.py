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
    except (chat.ReplyConflict, chat.RepliesBusy, chat.BudgetExceeded) as exc:
        return conflict_in_composer(thread, str(exc), exc.status)
    except chat.NotEditable as exc:
        abort(400, description=str(exc))
    return _conversation(thread)


def _edit_form(message, form, status=200):
    if is_htmx():
        html = Markup(render_template("pages/_edit_item.html", message=message, form=form))
        return render_template("pages/_replace.html", target=f"message-{message.id}", html=html), status
    return render_template("pages/edit_message.html", message=message, form=form), status


@bp.get("/messages/<int:message_id>/edit")
def edit_message_form(message_id: int):
    """The edit box of a message of yours: inline for htmx, else a small page."""
    message = _own_user_message_or_400(message_id)
    return _edit_form(message, ChatForm(formdata=None, content=message.content))


@bp.post("/messages/<int:message_id>/edit")
@rate_limits.new_messages_per_user
def edit_message(message_id: int):
    """Edit a message of yours: a new version beside it, answered at once; the old one stays."""
    message = _own_user_message_or_400(message_id)
    form = ChatForm()
    if not form.validate_on_submit():
        return _edit_form(message, form, 400)
    return _started(message.thread, lambda: chat.edit_message(message, form.content.data, current_app.config))


def _own_user_message_or_400(message_id: int):
    message = workspace.owned_message_or_404(current_user, message_id)
    if message.role != "user":
        abort(400, description="Only your own messages can be edited; regenerate a reply instead.")
    return message


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
    if request.method == "GET":
        return render_page("pages/confirm_delete.html", what="message", name=_snippet(message.content),
                           action=url_for("pages.delete_message", message_id=message.id),
                           back=url_for("pages.thread", thread_id=thread.id))
    try:
        tree.delete_branch(thread, message)
    except tree.BranchBusy as exc:
        return conflict_in_composer(thread, str(exc), exc.status)
    return _conversation(thread)


@bp.get("/messages/<int:message_id>/fork")
def fork_form(message_id: int):
    """The fork form: provider, model, project and title of the new thread."""
    message = workspace.owned_message_or_404(current_user, message_id)
    thread = message.thread
    form = _with_projects(ForkForm(formdata=None, project_id=thread.project_id, title=forks.fork_title(thread)))
    return render_template("pages/fork.html", message=message, thread=thread, form=form)


@bp.post("/messages/<int:message_id>/fork")
@rate_limits.new_messages_per_user
def fork_message(message_id: int):
    """A new thread, with the provider of your choice, that starts with the conversation up to here."""
    message = workspace.owned_message_or_404(current_user, message_id)
    form = _with_projects(ForkForm())
    if not form.validate_on_submit():
        return render_template("pages/fork.html", message=message, thread=message.thread, form=form), 400
    project = workspace.owned_project_or_404(current_user, form.project_id.data)
    try:
        fork = forks.fork(message, project, form.model_provider.data, form.model.data, form.title.data)
    except forks.ForkConflict as exc:
        abort(409, description=str(exc))
    if message.role == "user":
        chat.answer(fork, fork.head_id, current_app.config)
    return redirect_to(url_for("pages.thread", thread_id=fork.id))


def _with_projects(form: ForkForm) -> ForkForm:
    form.project_id.choices = [(p.id, p.name) for p in workspace.all_projects(current_user)]
    return form


def _snippet(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"
