"""Chat through the JSON API: post, list, watch, stop and retry replies."""
from __future__ import annotations

import json

from flask import abort, current_app, g, request

from ..models import ERROR
from ..pagination import parse_limit
from ..services import chat, tree, workspace
from ..services.live import Delta, Ended, Thinking
from .. import rate_limits, sse
from . import schemas
from .routes import bp

STOP_WAIT_SECONDS = 5.0


def _wants_stream() -> bool:
    return request.accept_mimetypes.best == "text/event-stream"


# One encoder for every event: json.dumps with options builds a new one per call, once per delta.
_json = json.JSONEncoder(separators=(",", ":")).encode


def started_or_abort(start):
    """Start a reply; a conflict is a 409, the wrong kind of message a 400."""
    try:
        return start()
    except (chat.ReplyConflict, chat.NotEditable) as exc:
        abort(exc.status, description=str(exc))


@bp.get("/threads/<int:thread_id>/messages")
def list_messages(thread_id: int):
    """The current path's messages, oldest first within a page; next_cursor goes back in time."""
    thread = workspace.owned_thread_or_404(g.user, thread_id)
    chat.sweep_stale_replies()
    page = tree.path_page(thread, parse_limit(request.args.get("limit")), request.args.get("cursor"))
    siblings = tree.siblings(thread.id, page.items)
    return {"messages": [schemas.path_message_json(m, siblings) for m in page.items], "next_cursor": page.next_cursor}


@bp.post("/threads/<int:thread_id>/messages")
@rate_limits.new_messages_per_user
def post_message(thread_id: int):
    """Send a message; the thread's provider answers (JSON once done, or SSE as it streams)."""
    thread = workspace.owned_thread_or_404(g.user, thread_id)
    data = schemas.validate(schemas.MESSAGE_CREATE)
    started = started_or_abort(lambda: chat.start_reply(thread, data["content"], current_app.config))
    return answer(started, 201)


@bp.post("/messages/<int:message_id>/retry")
@rate_limits.new_messages_per_user
def retry_message(message_id: int):
    """Run the thread's latest failed, stopped or interrupted reply again."""
    message = workspace.owned_message_or_404(g.user, message_id)
    started = started_or_abort(lambda: chat.retry_reply(message, current_app.config))
    return answer(started, 200)


@bp.post("/messages/<int:message_id>/stop")
def stop_message(message_id: int):
    """Stop a pending reply, keeping its partial text; answers once it has stopped."""
    message = workspace.owned_message_or_404(g.user, message_id)
    chat.stop_reply(message)
    return schemas.message_json(chat.wait_until_stored(message_id, STOP_WAIT_SECONDS).view)


@bp.get("/messages/<int:message_id>/stream")
def watch_message(message_id: int):
    """A reply as it streams: snapshot, then thoughts and deltas, then done or error."""
    chat.sweep_stale_replies()
    message = workspace.owned_message_or_404(g.user, message_id)
    after, snapshot = sse.last_event_id(request, fallback=-1), None
    # Thoughts come before the text: a client that saw text (or the snapshot) has seen those so far.
    thinking = chat.thinking_so_far(message)
    if after < 0:  # a first connection gets what has arrived so far
        text = chat.text_so_far(message)
        snapshot = sse.event(_json({"text": text, "thinking": thinking or None, "status": message.status}),
                             "snapshot", len(text))
        after = len(text)
    watched = chat.watch(message_id, after, thinking_after=len(thinking))

    def events():
        if snapshot is not None:
            yield snapshot
        yield from _watch_events(watched)

    return sse.response(events())


def answer(started: chat.Started, status: int):
    """The reply once stored, as JSON, or its events as it streams."""
    if _wants_stream():
        return sse.response(_started_events(started, chat.watch(started.reply.id, started=started)))
    ended = chat.wait_until_stored(started.reply.id, started=started)
    reply = ended.view
    body = {"user_message": schemas.message_json(started.user_message) if started.user_message else None,
            "assistant_message": schemas.message_json(reply)}
    if reply.status == ERROR:
        return {"error": reply.error, **body}, ended.http_status or 502
    return body, status


def _started_events(started: chat.Started, watched):
    yield sse.event(_json({
        "user_message": schemas.message_json(started.user_message) if started.user_message else None,
        "assistant_message": schemas.message_json(started.reply),
    }), "start")
    yield from _watch_events(watched)


def _watch_events(watched):
    for item in watched:
        if isinstance(item, Delta):
            yield sse.event(_json({"text": item.text}), "delta", item.offset)
        elif isinstance(item, Thinking):  # no id: ids count the answer's text, where a reconnect resumes
            yield sse.event(_json({"text": item.text}), "thinking")
        elif isinstance(item, Ended):
            reply = item.view
            if reply.status == ERROR:
                yield sse.event(_json({"error": reply.error, "assistant_message": schemas.message_json(reply)}),
                                "error")
            else:
                yield sse.event(_json(schemas.message_json(reply)), "done")
            return
        else:
            yield sse.comment()
