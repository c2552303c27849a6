"""Server-sent events: the wire format and a response that streams them unbuffered."""
from __future__ import annotations

from typing import Iterable

from flask import Response, stream_with_context

HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx and friends must pass each event on at once
}


def event(data: str, name: str | None = None, id: int | str | None = None) -> str:
    """One event; multi-line data becomes several `data:` lines."""
    head = (f"event: {name}\n" if name else "") + (f"id: {id}\n" if id is not None else "")
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


def comment(text: str = "keep-alive") -> str:
    """A comment line: ignored by clients, but it keeps proxies from closing a quiet stream."""
    return f": {text}\n\n"


def response(events: Iterable[str]) -> Response:
    """A text/event-stream response; headers are all set before the body starts."""
    return Response(stream_with_context(events), mimetype="text/event-stream", headers=HEADERS)


def last_event_id(request, fallback: int = 0) -> int:
    """Where a reconnecting client left off: Last-Event-ID, else `after`, else `fallback`."""
    for raw in (request.headers.get("Last-Event-ID"), request.args.get("after")):
        value = (raw or "").strip()
        if value.isascii() and value.isdigit() and len(value) <= 18:  # isdigit() alone takes "²", int() doesn't
            return int(value)
    return fallback
