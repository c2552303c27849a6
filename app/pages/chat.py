"""Chat on the thread page: post, watch, stop and retry replies as HTML streams."""
from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .. import rate_limits, sse
from ..errors import BUSY_RETRY_AFTER_SECONDS
from ..htmx import is_htmx, render_blocks
from ..services import chat, tree, workspace
from ..services.live import Delta, Ended, Thinking
from .forms import ChatForm
from .routes import bp
from .threads import gone_switch, thread_context

SENTINEL = "\x00text\x00"


@bp.post("/threads/<int:thread_id>/messages")
@rate_limits.new_messages_per_user
def post_message(thread_id: int):
    """Send a message; htmx gets the reply's stream, a plain post a redirect to the thread."""
    thread = workspace.owned_thread_or_404(current_user, thread_id)
    form = ChatForm()
    if not form.validate_on_submit():
        return _composer(thread, form, None, 400)
    try:
        started = chat.start_reply(thread, form.content.data, current_app.config)
    except (chat.ReplyConflict, chat.RepliesBusy, chat.BudgetExceeded) as exc:
        return _composer(thread, form, str(exc), exc.status)
    return _reply_stream(thread, started, with_user_message=True)


@bp.post("/messages/<int:message_id>/retry")
@rate_limits.new_messages_per_user
def retry_message(message_id: int):
    """Run the latest failed or stopped reply again and stream it."""
    message = workspace.owned_message_or_404(current_user, message_id)
    thread = message.thread
    try:
        started = chat.retry_reply(message, current_app.config)
    except (chat.ReplyConflict, chat.RepliesBusy, chat.BudgetExceeded) as exc:
        return conflict_in_composer(thread, str(exc), exc.status)
    return _reply_stream(thread, started, with_user_message=False)


@bp.post("/messages/<int:message_id>/stop")
def stop_message(message_id: int):
    """Stop a pending reply; its stream delivers the stopped message."""
    message = workspace.owned_message_or_404(current_user, message_id)
    thread_id = message.thread_id
    chat.stop_reply(message)
    if is_htmx():
        return "", 204
    return redirect(url_for("pages.thread", thread_id=thread_id), code=303)


@bp.get("/messages/<int:message_id>/stream")
def message_stream(message_id: int):
    """A pending reply's stream for a reloaded page or a second tab, from where it left off."""
    message = workspace.owned_message_or_404(current_user, message_id)
    after = sse.last_event_id(request, fallback=len(message.content))
    return _stream(message.thread, message.id, after, siblings=tree.siblings(message.thread_id, [message]))


def conflict_in_composer(thread, conflict: str, status: int):
    """Say in the composer why a reply could not start (409 or 503)."""
    return _composer(thread, ChatForm(formdata=None), conflict, status)


def _composer(thread, form, conflict, status):
    context = thread_context(thread, form, conflict)
    headers = {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)} if status == 503 else {}
    if not is_htmx():
        return render_template("pages/thread.html", **context), status, headers
    html = Markup(render_blocks("pages/thread.html", "composer", **context))
    return render_template("pages/_replace.html", target="composer", html=html), status, headers


def _reply_stream(thread, started: chat.Started, with_user_message: bool):
    if not is_htmx():
        return redirect(url_for("pages.thread", thread_id=thread.id), code=303)
    items = [started.user_message] if with_user_message else []
    first = "".join(render_template("pages/_message.html", message=m, watch=False, latest_id=None)
                    for m in [*items, started.reply])
    # A post's reply is its parent's only child (the head it answers is a leaf); a retried one may have siblings.
    siblings = None if with_user_message else tree.siblings(thread.id, [started.reply])
    return _stream(thread, started.reply.id, 0, first, started, siblings)


def _stream(thread, message_id: int, after: int, first: str | None = None, started: chat.Started | None = None,
            siblings: tree.Siblings | None = None):
    generate_csrf()  # cached on g now, so rendering the final message never touches the session
    # The delta wrapper is rendered once; each delta is only escaped into it.
    prefix, suffix = render_template("pages/_delta.html", message_id=message_id, text=SENTINEL).split(SENTINEL)
    # Read now: the thread is an ORM object, never touched once the stream runs.
    thread_id, thread_model, thinking = thread.id, thread.model, thread.thinking
    thought_wrapper: list[str] = []  # the same for thoughts, rendered at the first one
    # Thoughts are followed from the start: the first event holds all so far and replaces what the page shows.
    watched = chat.watch(message_id, after, started)

    def events():
        if first is not None:
            yield sse.event(first)
        for item in watched:
            if isinstance(item, Delta):
                yield sse.event(prefix + str(escape(item.text)) + suffix, id=item.offset)
            elif isinstance(item, Thinking):  # no id: ids count the answer's text, where a reconnect resumes
                yield sse.event(_thoughts_html(message_id, item, thought_wrapper))
            elif isinstance(item, Ended):
                switch = gone_switch(item.view, thread_id, thread_model, thinking)
                yield sse.event(render_template("pages/_final.html", message=item.view, watch=False,
                                                latest_id=item.view.id, gone_switch=switch, siblings=siblings))
                return
            else:
                yield sse.comment()

    return sse.response(events())


def _thoughts_html(message_id: int, thoughts: Thinking, wrapper: list[str]) -> str:
    """The partial for thoughts in a stream: the disclosure with all so far, or a piece appended to it."""
    if thoughts.whole:
        return render_template("pages/_thoughts.html", message_id=message_id, thoughts=thoughts.text, whole=True)
    if not wrapper:
        wrapper.extend(render_template("pages/_thoughts.html", message_id=message_id, thoughts=SENTINEL,
                                       whole=False).split(SENTINEL))
    return wrapper[0] + str(escape(thoughts.text)) + wrapper[1]
