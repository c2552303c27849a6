"""The wire-level fake provider itself: routes, stream shapes, markers, recording and the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from tests.fake_provider import CANNED, Plan

# Nothing here touches the database, so one run (on SQLite) is enough.
pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"authorization": "Bearer k", "x-goog-api-key": "k"}


def anthropic_body(text: str, **extra) -> dict:
    """A Messages API request body."""
    return {"model": "claude-haiku-5-5", "max_tokens": 100, "messages": [{"role": "user", "content": text}], **extra}


def openai_body(text: str, **extra) -> dict:
    """A Chat Completions request body."""
    return {"model": "deepseek-flash", "messages": [{"role": "user", "content": text}], **extra}


def gemini_body(text: str) -> dict:
    """A generateContent request body."""
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def sse_data(response: httpx2.Response) -> list[tuple[str | None, str]]:
    """(event name, data) of each SSE event in a response."""
    events = []
    for block in response.text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields.get("event"), fields["data"]))
    return events


@pytest.fixture
def http(fake_provider):
    """An httpx2 client for the fake, with keys that every route accepts."""
    with httpx2.Client(base_url=fake_provider.base_url, headers=AUTH, timeout=5) as client:
        yield client


def test_anthropic_stream_sends_the_full_event_sequence(http):
    response = http.post("/v1/messages", json=anthropic_body("Hi [[tokens:2]]", stream=True))
    names = [name for name, _ in sse_data(response)]
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
                     "content_block_stop", "message_delta", "message_stop"]
    assert json.loads(sse_data(response)[6][1])["usage"] == {"output_tokens": 2}


def test_openai_stream_ends_with_finish_then_usage_then_done(http):
    body = openai_body("Hi [[tokens:2]]", stream=True, stream_options={"include_usage": True})
    events = [data for _, data in sse_data(http.post("/v1/chat/completions", json=body))]
    chunks = [json.loads(data) for data in events[:-1]]
    assert events[-1] == "[DONE]"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"]["content"] for c in chunks[1:3]] == ["Hello", " from"]
    assert chunks[3]["choices"][0]["finish_reason"] == "stop"
    assert chunks[4]["choices"] == [] and chunks[4]["usage"]["completion_tokens"] == 2


def test_gemini_stream_under_any_version_ends_with_finish_reason_and_usage(http):
    response = http.post("/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse", json=gemini_body("Hi [[tokens:2]]"))
    chunks = [json.loads(data) for _, data in sse_data(response)]
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks] == ["Hello", " from", ""]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 2


@pytest.mark.parametrize(("path", "body", "text_of"), [
    ("/v1/messages", anthropic_body("Hi"), lambda r: r["content"][0]["text"]),
    ("/v1/models/gemini-3.8-flash:generateContent", gemini_body("Hi"), lambda r: r["candidates"][0]["content"]["parts"][0]["text"]),
    ("/chat/completions", openai_body("Hi"), lambda r: r["choices"][0]["message"]["content"]),
])
def test_json_replies_name_the_provider(http, path, body, text_of):
    response = http.post(path, json=body)
    assert response.status_code == 200
    assert text_of(response.json()).startswith("Hello from fake ")


def test_error_bodies_have_each_providers_shape(http):
    anthropic = http.post("/v1/messages", json=anthropic_body("[[fail:529]]")).json()
    assert anthropic["type"] == "error" and anthropic["error"]["type"] == "overloaded_error"
    gemini = http.post("/v1/models/gemini-3.8-flash:generateContent", json=gemini_body("[[fail:429]]")).json()
    assert gemini["error"]["status"] == "RESOURCE_EXHAUSTED" and gemini["error"]["code"] == 429
    openai = http.post("/chat/completions", json=openai_body("[[fail:401]]")).json()
    assert set(openai["error"]) == {"message", "type", "param", "code"}


def test_fail_with_a_count_fails_that_often_for_the_same_text(http):
    statuses = [http.post("/chat/completions", json=openai_body("Hi [[fail:503:2]]")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_requests_without_a_key_are_refused(fake_provider):
    with httpx2.Client(base_url=fake_provider.base_url) as client:
        assert client.post("/v1/messages", json=anthropic_body("Hi")).status_code == 401
        assert client.post("/v1/models/gemini-3.8-flash:generateContent", json=gemini_body("Hi")).status_code == 403


def test_a_malformed_marker_is_a_400_that_quotes_it(http):
    response = http.post("/chat/completions", json=openai_body("[[tokens:many]]"))
    assert response.status_code == 400
    assert "[[tokens:many]]" in response.json()["error"]["message"]


def test_chunks_marker_escapes_bars_brackets_and_backslashes():
    plan = Plan.parse(r"[[chunks:a\|b|c\]\]d|<x y='1'>\\]]", delay=0, tokens=5, token_delay=0)
    assert plan.reply_tokens("anthropic") == ["a|b", "c]]d", "<x y='1'>\\"]


def test_canned_markdown_has_a_heading_code_and_a_table():
    text = "".join(Plan.parse("[[canned:markdown]]", delay=0, tokens=5, token_delay=0).reply_tokens("google"))
    assert text == CANNED["markdown"]
    assert text.startswith("## ") and "```python\n" in text and "|---|" in text


def test_requests_are_recorded_with_lower_case_headers_and_parsed_body(http, fake_provider):
    http.post("/v1/messages", json=anthropic_body("Hi there", system="Be kind."), headers={"X-Trace": "t1"})
    record = fake_provider.last("anthropic")
    assert record.headers["x-trace"] == "t1"
    assert record.body["system"] == "Be kind." and record.model == "claude-haiku-5-5"
    assert record.last_user_text == "Hi there" and record.status == 200 and not record.disconnected
    with pytest.raises(LookupError):
        fake_provider.last("google")


def test_a_client_that_leaves_a_stalled_request_is_recorded(http, fake_provider):
    with pytest.raises(httpx2.ReadTimeout):
        http.post("/v1/messages", json=anthropic_body("[[stall]]", stream=True), timeout=0.2)
    record = fake_provider.last()
    assert record.wait_done(2) and record.disconnected


def test_cli_prints_its_url_and_serves_until_terminated():
    command = [sys.executable, "-m", "tests.fake_provider", "--port", "0", "--tokens", "3"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        reply = httpx2.post(f"{url}/chat/completions", json=openai_body("Hi"), headers=AUTH, timeout=5).json()
        assert reply["choices"][0]["message"]["content"] == "Hello from fake"
    finally:
        process.terminate()
        assert process.wait(5) == 0
        process.stdout.close()
