"""Branches through the JSON API: edit a message, regenerate a reply, switch, delete and fork."""
from __future__ import annotations

from flask import abort, current_app, g

from .. import rate_limits
from ..services import catalog, chat, forks, tree, workspace
from . import schemas
from .messages import answer, started_or_abort
from .routes import bp


@bp.post("/messages/<int:message_id>/edit")
@rate_limits.new_messages_per_user
def edit_message(message_id: int):
    """A new version of a user's message beside the old one; the provider answers it like a post."""
    message = workspace.owned_message_or_404(g.user, message_id)
    data = schemas.validate(schemas.MESSAGE_CREATE)
    return answer(started_or_abort(lambda: chat.edit_message(message, data["content"], current_app.config)), 201)


@bp.post("/messages/<int:message_id>/regenerate")
@rate_limits.new_messages_per_user
def regenerate_message(message_id: int):
    """A new reply beside this one, to the same message."""
    message = workspace.owned_message_or_404(g.user, message_id)
    return answer(started_or_abort(lambda: chat.regenerate_reply(message, current_app.config)), 201)


@bp.put("/threads/<int:thread_id>/head")
def switch_branch(thread_id: int):
    """Make the branch holding a message current: the head moves to its most recent leaf."""
    thread = workspace.owned_thread_or_404(g.user, thread_id)
    data = schemas.validate(schemas.HEAD_UPDATE)
    tree.switch_to(thread, tree.message_in_thread_or_400(thread, data["message_id"]))
    return schemas.thread_json(thread)


@bp.delete("/messages/<int:message_id>")
def delete_message(message_id: int):
    """Delete a message and everything under it."""
    message = workspace.owned_message_or_404(g.user, message_id)
    try:
        tree.delete_branch(message.thread, message)
    except tree.BranchBusy as exc:
        abort(409, description=str(exc))
    return "", 204


@bp.post("/messages/<int:message_id>/fork")
@rate_limits.new_messages_per_user
def fork_message(message_id: int):
    """A new thread, bound to the chosen provider, starting with the path up to this message."""
    message = workspace.owned_message_or_404(g.user, message_id)
    data = schemas.validate(schemas.FORK_CREATE)
    project = (workspace.owned_project_or_404(g.user, data["project_id"]) if data.get("project_id")
               else message.thread.project)
    if data.get("model"):
        error = catalog.current().check(data["model_provider"], data["model"])
        if error:
            abort(400, description=error)
    try:
        thread = forks.fork(message, project, data["model_provider"], data.get("model"), data.get("title"))
    except forks.ForkConflict as exc:
        abort(409, description=str(exc))
    if message.role == "user":
        chat.answer(thread, thread.head_id, current_app.config)
    return schemas.thread_json(thread), 201
