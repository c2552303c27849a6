"""What follows DeepSeek's [DONE] is read briefly: a body that ends badly never spoils a finished reply."""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from app.providers.base import ProviderSettings, StreamEnd, ReplyRequest, TextDelta, Turn
from app.providers.deepseek import SPEC

pytestmark = pytest.mark.once

CHUNK = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "deepseek-flash",
         "choices": [{"index": 0, "delta": {"content": "Hi."}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += conn.recv(65536)


class TailServer:
    """One DeepSeek stream that, after [DONE], drops the connection or keeps sending comments."""

    def __init__(self, tail: str) -> None:
        self.tail = tail
        self.client_closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            _read_request(conn)
            conn.sendall(HEAD + _chunk(b"data: " + json.dumps(CHUNK).encode() + b"\n\n") + _chunk(b"data: [DONE]\n\n"))
            deadline = time.monotonic() + 10
            while self.tail == "comments" and time.monotonic() < deadline:
                try:
                    conn.sendall(_chunk(b": keep-alive\n\n"))
                except OSError:
                    self.client_closed.set()
                    return
                time.sleep(0.01)

    def close(self) -> None:
        self._listener.close()
        self._thread.join(12)


@pytest.fixture
def tail_server(request):
    server = TailServer(request.param)
    yield server
    server.close()


def _reply(base_url: str) -> list:
    adapter = SPEC.adapter_class(ProviderSettings("sk-test", base_url, 5.0, 0))
    return list(adapter.stream(ReplyRequest((Turn("user", "Hi"),), None, "deepseek-flash", 16)))


@pytest.mark.parametrize("tail_server", ["drop"], indirect=True)
def test_a_connection_dropped_after_done_still_completes_the_reply(tail_server):
    assert _reply(tail_server.base_url) == [TextDelta("Hi."), StreamEnd(3, 1, "stop", "deepseek-flash")]


@pytest.mark.parametrize("tail_server", ["comments"], indirect=True)
def test_a_body_that_goes_on_after_done_is_closed_and_the_reply_completes(tail_server):
    started = time.monotonic()
    assert _reply(tail_server.base_url)[-1] == StreamEnd(3, 1, "stop", "deepseek-flash")
    assert time.monotonic() - started < 2
    assert tail_server.client_closed.wait(2), "the stream was left open"
