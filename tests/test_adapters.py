"""Contract tests every registered provider passes: its real SDK against the wire-level fake.

Parametrized over the registry, so a new provider inherits them; it only has to teach the fake
its wire format, and this module its roles, stop reasons and `sent_conversation`.
"""
from __future__ import annotations

import socket

import pytest

from app.providers import PROVIDERS
from app.providers.base import ProviderError, ProviderSettings, StreamEnd, ReplyRequest, TextDelta, Turn
from tests.fake_provider import default_tokens, words
from tests.helpers import sent_conversation

# Nothing here touches the database, so one run (on SQLite) is enough.
pytestmark = pytest.mark.once

KEY = "sk-test-SECRET-KEY-do-not-leak"
SYSTEM = "You are a terse assistant."
HISTORY = (Turn("user", "What is 2+2?"), Turn("assistant", "4."))
ASSISTANT_ROLE = {"anthropic": "assistant", "google": "model", "deepseek": "assistant"}
STOP_REASON = {"anthropic": "end_turn", "google": "stop", "deepseek": "stop"}
LENGTH_REASON = {"anthropic": "max_tokens", "google": "max_tokens", "deepseek": "length"}
STATUS_WORDING = {
    400: "rejected the request (400)", 401: "rejected the API key", 403: "refused access",
    429: "rate limiting requests (429); try again shortly", 500: "server error (500)",
    503: "overloaded (503)", 529: "overloaded (529)",
}


@pytest.fixture(params=list(PROVIDERS))
def spec(request):
    """Each registered provider in turn."""
    return PROVIDERS[request.param]


def model_for(spec) -> str:
    """A model the fake offers (it refuses others, as the providers do) and no SDK warns about."""
    return spec.default_model


MADE = []


@pytest.fixture(autouse=True)
def close_made_adapters():
    """Close the adapters a test made: collected later, their pooled sockets warn in another test."""
    yield
    while MADE:
        MADE.pop()._client.close()


def make_adapter(spec, fake, *, timeout=5.0, max_retries=0, base_url=None, api_key=KEY):
    """A fresh adapter for the provider, pointed at the fake."""
    MADE.append(spec.adapter_class(ProviderSettings(api_key, base_url or fake.base_url, timeout, max_retries)))
    return MADE[-1]


def ask(spec, text, *, history=HISTORY, system=SYSTEM, max_output_tokens=256) -> ReplyRequest:
    """A request whose last user message is `text`."""
    return ReplyRequest((*history, Turn("user", text)), system, model_for(spec), max_output_tokens)


def collect(adapter, request) -> tuple[list[str], StreamEnd]:
    """The text deltas and the one StreamEnd of a reply, checking that StreamEnd comes last."""
    events = list(adapter.stream(request))
    assert all(isinstance(event, TextDelta) for event in events[:-1])
    assert isinstance(events[-1], StreamEnd)
    return [event.text for event in events[:-1]], events[-1]


def failure(adapter, request) -> tuple[list[str], ProviderError]:
    """The text that arrived before the reply failed, and the ProviderError it failed with."""
    texts = []
    with pytest.raises(ProviderError) as info:
        for event in adapter.stream(request):
            assert isinstance(event, TextDelta), "no StreamEnd after a failure"
            texts.append(event.text)
    return texts, info.value


def assert_user_facing(error: ProviderError, spec) -> None:
    """The message names the provider and never carries the API key."""
    assert spec.label in error.message
    assert KEY not in error.message and KEY not in str(error)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_deltas_arrive_in_order_and_join_to_the_reply(spec, fake_provider):
    texts, _ = collect(make_adapter(spec, fake_provider), ask(spec, "Say hello."))
    assert texts == default_tokens(spec.name, fake_provider.tokens)
    assert "".join(texts).startswith(f"Hello from fake {spec.name}.")


def test_reply_end_records_usage_stop_reason_and_model(spec, fake_provider):
    _, end = collect(make_adapter(spec, fake_provider), ask(spec, "Say hello. [[tokens:6]]"))
    sent_words = words(" ".join([SYSTEM, *(turn.text for turn in HISTORY), "Say hello. [[tokens:6]]"]))
    assert end == StreamEnd(sent_words, 6, STOP_REASON[spec.name], model_for(spec), **UNCACHED[spec.name])


# What each provider reports of its prompt cache when nothing came from it (issue #21): Anthropic and DeepSeek
# send zeros; Gemini leaves cachedContentTokenCount out.
UNCACHED = {"anthropic": {"cached_input_tokens": 0, "cache_write_tokens": 0},
            "google": {}, "deepseek": {"cached_input_tokens": 0}}


def test_cache_reads_and_writes_arrive_as_each_provider_reports_them(spec, fake_provider):
    _, end = collect(make_adapter(spec, fake_provider), ask(spec, "Again. [[cached:4]] [[cache-write:2]]"))
    assert end.cached_input_tokens == 4
    assert end.cache_write_tokens == (2 if spec.name == "anthropic" else None)


def test_max_output_tokens_cuts_the_reply_with_the_length_reason(spec, fake_provider):
    texts, end = collect(make_adapter(spec, fake_provider), ask(spec, "Ramble.", max_output_tokens=3))
    assert len(texts) == 3
    assert end.stop_reason == LENGTH_REASON[spec.name]


def test_markup_split_across_chunks_arrives_verbatim(spec, fake_provider):
    text = "[[chunks:<scr|ipt>alert(\"x\")</script>|<img src=x onerror='y'>|a\\|b\\]\\]]]"
    texts, _ = collect(make_adapter(spec, fake_provider), ask(spec, text))
    assert texts == ["<scr", "ipt>alert(\"x\")</script>", "<img src=x onerror='y'>", "a|b]]"]


def test_system_prompt_and_history_arrive_in_the_providers_own_shape(spec, fake_provider):
    collect(make_adapter(spec, fake_provider), ask(spec, "And 3+3?"))
    system, turns = sent_conversation(fake_provider.last(spec.name))
    assert system == SYSTEM
    assert turns == [("user", "What is 2+2?"), (ASSISTANT_ROLE[spec.name], "4."), ("user", "And 3+3?")]


def test_no_system_prompt_sends_none(spec, fake_provider):
    collect(make_adapter(spec, fake_provider), ask(spec, "Hi.", history=(), system=None))
    assert sent_conversation(fake_provider.last(spec.name)) == (None, [("user", "Hi.")])


def test_model_and_key_are_sent(spec, fake_provider):
    collect(make_adapter(spec, fake_provider), ask(spec, "Hi."))
    record = fake_provider.last(spec.name)
    assert record.model == model_for(spec)
    assert KEY in " ".join(record.headers.values())


def test_stream_is_requested(spec, fake_provider):
    collect(make_adapter(spec, fake_provider), ask(spec, "Hi."))
    assert fake_provider.last(spec.name).stream


@pytest.mark.parametrize("status", sorted(STATUS_WORDING))
def test_error_status_becomes_a_provider_error_naming_the_provider(spec, fake_provider, status):
    texts, error = failure(make_adapter(spec, fake_provider), ask(spec, f"Hi. [[fail:{status}]]"))
    assert texts == []
    assert_user_facing(error, spec)
    assert STATUS_WORDING[status] in error.message
    assert error.status == 502


def test_a_stalled_provider_times_out_with_504(spec, fake_provider):
    _, error = failure(make_adapter(spec, fake_provider, timeout=0.3), ask(spec, "Hi. [[stall]]"))
    assert_user_facing(error, spec)
    assert error.status == 504
    assert error.message == f"{spec.label} timed out after 0.3 s."


def test_silence_after_some_text_times_out_with_504(spec, fake_provider):
    adapter = make_adapter(spec, fake_provider, timeout=0.3)
    texts, error = failure(adapter, ask(spec, "Hi. [[stall-after:2]]"))
    assert texts == ["Hello", " from"]
    assert error.status == 504
    assert_user_facing(error, spec)


def test_an_unreachable_provider_says_where_it_tried(spec, fake_provider):
    base_url = f"http://127.0.0.1:{closed_port()}"
    _, error = failure(make_adapter(spec, fake_provider, base_url=base_url), ask(spec, "Hi."))
    assert error.message == f"Could not connect to {spec.label} at {base_url}."
    assert error.status == 502


def test_a_stream_cut_off_midway_keeps_the_text_so_far(spec, fake_provider):
    texts, error = failure(make_adapter(spec, fake_provider), ask(spec, "Hi. [[cut:2]]"))
    assert texts == ["Hello", " from"]
    assert error.message == f"The {spec.label} stream broke off midway."
    assert fake_provider.last(spec.name).cut


def test_an_error_inside_the_stream_becomes_a_provider_error(spec, fake_provider):
    texts, error = failure(make_adapter(spec, fake_provider), ask(spec, "Hi. [[midstream-error:3]]"))
    assert texts == ["Hello", " from", " fake"]
    assert_user_facing(error, spec)
    assert error.message.endswith("The reply stopped midway.")


def test_missing_key_is_a_503_that_says_what_to_set(spec, fake_provider):
    with pytest.raises(ProviderError) as info:
        make_adapter(spec, fake_provider, api_key=None)
    assert info.value.status == 503
    assert info.value.message == spec.missing_key_message()


def test_a_failed_attempt_is_retried_up_to_max_retries(spec, fake_provider):
    adapter = make_adapter(spec, fake_provider, max_retries=1)
    texts, _ = collect(adapter, ask(spec, "Hi. [[fail:500:1]]"))
    assert "".join(texts).startswith("Hello")
    assert [r.status for r in fake_provider.requests] == [500, 200]


def test_retries_stop_after_max_retries(spec, fake_provider):
    adapter = make_adapter(spec, fake_provider, max_retries=2)
    _, error = failure(adapter, ask(spec, "Hi. [[fail:500]]"))
    assert "server error (500)" in error.message
    assert len(fake_provider.requests) == 3


def test_a_rejected_key_is_not_retried(spec, fake_provider):
    failure(make_adapter(spec, fake_provider, max_retries=2), ask(spec, "Hi. [[fail:401]]"))
    assert len(fake_provider.requests) == 1


def test_a_stream_that_broke_after_text_started_is_not_retried(spec, fake_provider):
    failure(make_adapter(spec, fake_provider, max_retries=2), ask(spec, "Hi. [[cut:1]]"))
    assert len(fake_provider.requests) == 1


def test_closing_the_generator_closes_the_providers_stream(spec, fake_provider):
    stream = make_adapter(spec, fake_provider).stream(ask(spec, "Hi. [[tokens:200]] [[token-delay:0.05]]"))
    assert next(stream) == TextDelta("Hello")
    stream.close()
    record = fake_provider.last(spec.name)
    assert record.wait_done(2), "the provider's stream is still open"
    assert record.disconnected and record.tokens_sent < 200


def test_sequential_replies_reuse_one_connection(spec, fake_provider):
    # Against the real API each new connection is a TLS handshake before the first token.
    adapter = make_adapter(spec, fake_provider)
    for _ in range(5):
        texts, _ = collect(adapter, ask(spec, "Hi."))
        assert "".join(texts).startswith("Hello")
    assert fake_provider.connections == 1


JUNK_ENV = {
    "ANTHROPIC_API_KEY": "junk-anthropic-key", "ANTHROPIC_AUTH_TOKEN": "junk-token",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "ANTHROPIC_CUSTOM_HEADERS": "X-Junk: anthropic",
    "ANTHROPIC_PROFILE": "junk",
    "OPENAI_API_KEY": "junk-openai-key", "OPENAI_BASE_URL": "http://127.0.0.1:9",
    "OPENAI_ORG_ID": "junk-org", "OPENAI_PROJECT_ID": "junk-project", "OPENAI_CUSTOM_HEADERS": "X-Junk: openai",
    "GOOGLE_API_KEY": "junk-google-key", "GEMINI_API_KEY": "junk-gemini-key",
    "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9", "GOOGLE_GENAI_API_VERSION": "v0junk",
    "GOOGLE_GENAI_USE_VERTEXAI": "true", "GOOGLE_GENAI_USE_ENTERPRISE": "true",
    "GOOGLE_CLOUD_PROJECT": "junk-project", "GOOGLE_CLOUD_LOCATION": "junk-location",
    "GOOGLE_GENAI_CLIENT_MODE": "replay", "GOOGLE_GENAI_REPLAYS_DIRECTORY": "/nonexistent",
}


def test_provider_environment_variables_are_ignored(spec, fake_provider, monkeypatch):
    for name, value in JUNK_ENV.items():
        monkeypatch.setenv(name, value)
    texts, _ = collect(make_adapter(spec, fake_provider), ask(spec, "Hi."))
    assert "".join(texts).startswith("Hello")
    record = fake_provider.last(spec.name)
    sent = " ".join(f"{name}: {value}" for name, value in record.headers.items())
    assert KEY in sent
    assert "junk" not in sent.lower() and "openai-organization" not in sent
    assert "junk" not in record.path
