"""HTTP/1.1 on asyncio streams: read a request; send JSON, a provider's error, or a reply as an SSE stream.

Streams go out in chunked encoding, so a cut stream is detectable, as with the real APIs.
"""
from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import TYPE_CHECKING

from tests.fake_provider.markers import Plan
from tests.fake_provider.wire import MESSAGES, Reply, Wire

if TYPE_CHECKING:
    from tests.fake_provider.server import RecordedRequest

END_OF_BODY = b"0\r\n\r\n"


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 status line and headers."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Overloaded" if status == 529 else "Error"
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(data: bytes) -> bytes:
    """`data` as one chunk of a chunked body (nothing for no data: an empty chunk ends the body)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


def _at_most(value: int | None, limit: int) -> int | None:
    """A marker's token position, clamped to the reply's length."""
    return None if value is None else min(value, limit)


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    """(method, target, lower-cased headers, body) of the next request, or None at a clean end."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length") or 0))
    return method, target, headers, body


async def forever() -> None:
    """Wait until cancelled: by the client leaving, or by shutdown."""
    await asyncio.Event().wait()


async def send_json(writer: asyncio.StreamWriter, status: int, payload: dict, extra=()) -> None:
    """Send a complete JSON response."""
    data = json.dumps(payload).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(data))), *extra]
    writer.write(_head(status, headers) + data)
    await writer.drain()


async def send_error(writer, wire: Wire, record: RecordedRequest, status: int, message: str) -> bool:
    """Send the provider's error body for `status` and record it; True to keep the connection."""
    record.status, payload = wire.error(status, message)
    await send_json(writer, record.status, payload, wire.headers(None))
    return True


async def send_reply(writer, wire: Wire, record: RecordedRequest, reply: Reply, plan: Plan) -> bool:
    """Answer a non-streamed request, after the time the stream would have taken."""
    if plan.cut is not None:
        record.cut = True
        return False
    if plan.stall_after is not None:
        await forever()
    if plan.midstream_error is not None:
        return await send_error(writer, wire, record, wire.overloaded, MESSAGES[wire.overloaded])
    await asyncio.sleep(plan.delay + plan.token_delay * max(len(reply.thoughts) + len(reply.tokens) - 1, 0))
    record.status = 200
    await send_json(writer, 200, wire.json_reply(reply), wire.headers(reply))
    record.tokens_sent = len(reply.tokens)
    return True


async def send_stream(writer, wire: Wire, record: RecordedRequest, reply: Reply, plan: Plan) -> bool:
    """Stream the reply as SSE in chunked encoding, honouring stall, cut and in-stream error markers."""
    record.status = 200
    headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache"),
               ("transfer-encoding", "chunked"), *wire.headers(reply)]
    writer.write(_head(200, headers) + _chunk(wire.stream_open(reply)))
    await writer.drain()
    if plan.delay:
        await asyncio.sleep(plan.delay)
    thoughts = len(reply.thoughts)
    count = thoughts + len(reply.tokens)  # thoughts first, then the answer; markers count both
    for index in range(count + 1):
        if index == _at_most(plan.stall_after, count):
            await forever()
        if index == _at_most(plan.cut, count):
            record.cut = True
            return False
        if index == _at_most(plan.midstream_error, count):
            writer.write(_chunk(wire.stream_error(reply)) + END_OF_BODY)
            await writer.drain()
            return True
        if index == thoughts:
            writer.write(_chunk(wire.stream_answer_start(reply)))
        if index == count:
            break
        if index and plan.token_delay:
            await asyncio.sleep(plan.token_delay)
        if index < thoughts:
            writer.write(_chunk(wire.stream_thought(reply, reply.thoughts[index])))
            record.thoughts_sent += 1
        else:
            writer.write(_chunk(wire.stream_token(reply, reply.tokens[index - thoughts])))
            record.tokens_sent += 1
        await writer.drain()
    writer.write(_chunk(wire.stream_close(reply)) + END_OF_BODY)
    await writer.drain()
    return True
