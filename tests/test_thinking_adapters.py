"""Thinking through each real SDK against the wire-level fake: what is asked for, what streams back,
what the real APIs refuse."""
from __future__ import annotations

import json

import httpx2
import pytest

from app.providers import PROVIDERS
from app.providers.base import (
    ProviderError, ProviderSettings, ReplyRequest, StreamEnd, TextDelta, ThinkingDelta, Turn,
)
from tests.fake_provider import default_tokens
from tests.fake_provider.models import FakeModel

# Nothing here touches the database, so one run (on SQLite) is enough.
pytestmark = pytest.mark.once

THINKING_MODEL = {"anthropic": "claude-sonnet-5-5", "google": "gemini-3.8-flash", "deepseek": "deepseek-flash"}
ASKED = {"anthropic": {"type": "adaptive", "display": "summarized"}, "google": {"include_thoughts": True},
         "deepseek": {"type": "enabled"}}
# Off, where the model can be asked not to think. No Gemini model of today is documented to take a zero
# budget (3.x refuse it), so the test lists one of its own.
OFF_MODEL = {"anthropic": "claude-sonnet-5-5", "google": "gemini-budget-flash", "deepseek": "deepseek-flash"}
ASKED_OFF = {"anthropic": {"type": "disabled"}, "google": {"thinking_budget": 0}, "deepseek": {"type": "disabled"}}
THOUGHTS = ["Let", " me", " think", "."]
AUTH = {"authorization": "Bearer k", "x-api-key": "k", "x-goog-api-key": "k"}


@pytest.fixture(params=list(PROVIDERS))
def spec(request):
    """Each registered provider in turn."""
    return PROVIDERS[request.param]


@pytest.fixture
def adapter(spec, fake_provider):
    """The provider's adapter pointed at the fake; closed afterwards, so no pooled socket outlives the test."""
    made = spec.adapter_class(ProviderSettings("sk-test", fake_provider.base_url, 5.0, 0))
    yield made
    made._client.close()


def ask(text, model, *, thinking=True, thinking_optional=None, max_output_tokens=256) -> ReplyRequest:
    return ReplyRequest((Turn("user", text),), None, model, max_output_tokens, thinking=thinking,
                        thinking_optional=thinking_optional)


def split(events) -> tuple[list[str], list[str], StreamEnd]:
    """(thoughts, texts, StreamEnd) of a reply; thoughts must all come before the text."""
    *deltas, end = events
    assert isinstance(end, StreamEnd)
    kinds = [type(event) for event in deltas]
    assert kinds == sorted(kinds, key=lambda kind: kind is TextDelta), "thoughts come before the answer"
    return ([e.text for e in deltas if isinstance(e, ThinkingDelta)],
            [e.text for e in deltas if isinstance(e, TextDelta)], end)


def test_thoughts_stream_before_the_answer_and_their_tokens_are_counted(spec, adapter, fake_provider):
    thoughts, texts, end = split(adapter.stream(ask("Hi [[think:4]]", THINKING_MODEL[spec.name])))
    assert thoughts == THOUGHTS and texts == default_tokens(spec.name, 8)
    assert end.reasoning_tokens == 4
    assert fake_provider.last(spec.name).thinking == ASKED[spec.name]


def test_thinking_off_asks_the_model_not_to_think_where_it_can(spec, adapter, fake_provider):
    listed = fake_provider.models(spec.name)
    fake_provider.models(spec.name, [*listed, FakeModel(OFF_MODEL[spec.name])] if spec.name == "google" else listed)
    request = ask("Hi [[think:4]]", OFF_MODEL[spec.name], thinking=False, thinking_optional=True)
    thoughts, texts, end = split(adapter.stream(request))
    assert thoughts == [] and texts == default_tokens(spec.name, 8) and end.reasoning_tokens is None
    assert fake_provider.last(spec.name).thinking == ASKED_OFF[spec.name]


def test_thinking_off_sends_no_switch_a_model_may_refuse_and_the_thoughts_stay_hidden(spec, adapter, fake_provider):
    # Unknown to the catalogue: only DeepSeek's documented switch goes out; Claude 5 and Gemini 3 think
    # anyway, billed but not sent.
    thoughts, texts, end = split(adapter.stream(ask("Hi [[think:3]]", THINKING_MODEL[spec.name], thinking=False)))
    assert thoughts == [] and texts == default_tokens(spec.name, 8)
    expected = {"deepseek": ({"type": "disabled"}, None)}.get(spec.name, (None, 3))
    assert (fake_provider.last(spec.name).thinking, end.reasoning_tokens) == expected


def test_a_thinking_stream_cut_midway_keeps_the_thoughts_so_far(spec, adapter, fake_provider):
    thoughts = []
    with pytest.raises(ProviderError) as info:
        for event in adapter.stream(ask("Hi [[think:4]] [[cut:2]]", THINKING_MODEL[spec.name])):
            assert isinstance(event, ThinkingDelta)
            thoughts.append(event.text)
    assert thoughts == ["Let", " me"]
    assert info.value.message == f"The {spec.label} stream broke off midway."


def test_thoughts_count_toward_the_output_limit(spec, adapter, fake_provider):
    thoughts, texts, end = split(adapter.stream(ask("Hi [[think:4]]", THINKING_MODEL[spec.name],
                                                    max_output_tokens=6)))
    assert thoughts == THOUGHTS and texts == ["Hello", " from"]
    assert end.stop_reason in ("max_tokens", "length")


def test_a_thinking_model_without_thoughts_asked_of_the_fake_answers_as_before(spec, adapter, fake_provider):
    thoughts, texts, end = split(adapter.stream(ask("Hi", THINKING_MODEL[spec.name])))
    assert thoughts == [] and texts == default_tokens(spec.name, 8) and end.output_tokens == 8
    assert end.reasoning_tokens is None


# --- the fake refuses what the real APIs refuse -------------------------------------------------

def post(fake, path, body):
    return httpx2.post(fake.base_url + path, json=body, headers=AUTH, timeout=5)


def claude(model, thinking, max_tokens=4096):
    return {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": "Hi"}],
            "thinking": thinking}


@pytest.mark.parametrize("model, thinking, max_tokens, says", [
    ("claude-sonnet-5-5", {"type": "enabled", "budget_tokens": 2048}, 4096, "not supported for this model"),
    ("claude-opus-4-8", {"type": "enabled", "budget_tokens": 2048}, 4096, "not supported for this model"),
    ("claude-haiku-4-5", {"type": "enabled", "budget_tokens": 4096}, 4096, "must be greater than"),
    ("claude-haiku-4-5", {"type": "enabled", "budget_tokens": 512}, 4096, "greater than or equal to 1024"),
    ("claude-fable-5-2", {"type": "disabled"}, 4096, '"thinking.type.disabled" is not supported'),
    ("claude-sonnet-5-5", {"type": "sometimes"}, 4096, "thinking.type"),
])
def test_the_fake_refuses_thinking_anthropic_refuses(fake_provider, model, thinking, max_tokens, says):
    response = post(fake_provider, "/v1/messages", claude(model, thinking, max_tokens))
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error" and says in response.json()["error"]["message"]


def test_the_fake_takes_a_budget_where_anthropic_still_does(fake_provider):
    body = claude("claude-haiku-4-5", {"type": "enabled", "budget_tokens": 2048, "display": "summarized"})
    body["messages"][0]["content"] = "Hi [[think:2]]"
    response = post(fake_provider, "/v1/messages", body)
    assert response.status_code == 200
    block = response.json()["content"][0]
    assert (block["type"], block["thinking"]) == ("thinking", "Let me") and block["signature"]


@pytest.mark.parametrize("model, config, says", [
    ("gemini-3.8-flash", {"thinkingBudget": 0}, "only works in thinking mode"),
    ("gemini-3.8-flash", {"thinkingBudget": 1024, "thinkingLevel": "LOW"}, "only set one of"),
])
def test_the_fake_refuses_thinking_gemini_refuses(fake_provider, model, config, says):
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "generationConfig": {"thinkingConfig": config}}
    response = post(fake_provider, f"/v1/models/{model}:generateContent", body)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT" and says in response.json()["error"]["message"]


def test_the_fake_refuses_a_thinking_type_deepseek_does_not_know(fake_provider):
    body = {"model": "deepseek-flash", "messages": [{"role": "user", "content": "Hi"}], "thinking": {"type": "auto"}}
    response = post(fake_provider, "/chat/completions", body)
    assert response.status_code == 400 and "thinking.type" in response.json()["error"]["message"]


# --- each provider's real stream format ----------------------------------------------------------

def sse_events(response) -> list[dict]:
    """The JSON data of each event of an SSE response."""
    return [json.loads(line[6:]) for line in response.text.splitlines()
            if line.startswith("data: ") and line != "data: [DONE]"]


def test_claude_5_thinks_by_default_in_an_empty_thinking_block_with_a_signature(fake_provider):
    body = {**claude("claude-sonnet-5-5", None), "stream": True}
    del body["thinking"]
    body["messages"][0]["content"] = "Hi [[think:3]]"
    events = sse_events(post(fake_provider, "/v1/messages", body))
    assert events[1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    deltas = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta" and e["index"] == 0]
    assert deltas == ["signature_delta"]
    text_start = next(e for e in events if e["type"] == "content_block_start" and e["index"] == 1)
    assert text_start["content_block"]["type"] == "text"
    usage = events[-2]["usage"]
    assert usage == {"output_tokens": 11, "output_tokens_details": {"thinking_tokens": 3}}


def test_gemini_sends_thought_parts_only_with_include_thoughts_but_always_counts_them(fake_provider):
    def stream(config):
        body = {"contents": [{"role": "user", "parts": [{"text": "Hi [[think:2]]"}]}]}
        if config is not None:
            body["generationConfig"] = {"thinkingConfig": config}
        return sse_events(post(fake_provider, "/v1/models/gemini-3.8-flash:streamGenerateContent?alt=sse", body))

    shown = stream({"includeThoughts": True})
    assert [p for e in shown for p in e["candidates"][0]["content"]["parts"] if p.get("thought")] == [
        {"text": "Let", "thought": True}, {"text": " me", "thought": True}]
    hidden = stream(None)
    assert not any(p.get("thought") for e in hidden for p in e["candidates"][0]["content"]["parts"])
    assert hidden[-1]["usageMetadata"]["thoughtsTokenCount"] == 2 == shown[-1]["usageMetadata"]["thoughtsTokenCount"]


def test_deepseek_v4_reasons_by_default_unless_disabled(fake_provider):
    def stream(**extra):
        body = {"model": "deepseek-flash", "messages": [{"role": "user", "content": "Hi [[think:2]]"}], "stream": True,
                "stream_options": {"include_usage": True}, **extra}
        return sse_events(post(fake_provider, "/chat/completions", body))

    default = stream()
    assert [c["choices"][0]["delta"].get("reasoning_content") for c in default[1:3]] == ["Let", " me"]
    assert default[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 2}
    off = stream(thinking={"type": "disabled"})
    assert not any(c["choices"] and "reasoning_content" in c["choices"][0]["delta"] for c in off)
    assert "completion_tokens_details" not in off[-1]["usage"]
