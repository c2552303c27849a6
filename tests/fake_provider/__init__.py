"""A wire-accurate fake of the Anthropic, Gemini and DeepSeek (OpenAI-style) HTTP APIs.

The real SDKs run unmodified against it: HTTP/1.1 with keep-alive, JSON replies, and
SSE streams in chunked encoding (so a cut stream is detectable, as with the real APIs).
Stdlib only, one asyncio loop, so several hundred concurrent streams are cheap.

Routes: `POST …/v1/messages` (anthropic), `POST /{version}/models/{model}:generateContent`
and `:streamGenerateContent?alt=sse` (google), `POST /chat/completions` and
`/v1/chat/completions` (deepseek), and each provider's model listing: `GET /v1/models` (anthropic,
told apart by its `anthropic-version` header; limit/after_id, has_more/first_id/last_id),
`GET /{version}/models` (google; pageSize/pageToken/nextPageToken, non-chat models included) and
`GET /models` (deepseek, one list). Page sizes are small by default, so paging is exercised. A
request without an API key gets the provider's own answer to that (Gemini: 403 PERMISSION_DENIED,
the others 401); a chat request for a model the provider does not offer gets its real error
(Anthropic 404 not_found_error, Gemini 404 NOT_FOUND, DeepSeek 400 "Model Not Exist").

The models offered are today's (models.py); change them at run time with `fake.models(provider,
[...])` and `fake.retire(provider, model_id)`, and make a listing slow, failing or garbage with
`fake.listing_fault(provider, delay=…, status=…, garbage=True)`; `fake.listings` records listing
requests apart from `fake.requests`. `fake.reset()` restores all of it.

Each provider's dialect is one wire module (anthropic.py, google.py, deepseek.py: a `Wire`
subclass and the routes it answers), listed once in server.WIRES. The default reply and the
markers that steer a request ([[fail:429]], [[cut:3]], [[chunks:A|B]] …) are documented in
markers.py.

In pytest: `fake = FakeProvider().start()`, then `fake.base_url`, `fake.requests`,
`fake.last("google")`, `fake.reset()`, `fake.stop()`. Standalone, until SIGTERM or SIGINT:
`python -m tests.fake_provider --port 0 --first-token-delay 0.2 --tokens 50 --token-delay 0.036`
(`--thinking-tokens N`: models that think send N thought tokens first)
"""
from tests.fake_provider.markers import CANNED, Plan, default_tokens, words
from tests.fake_provider.server import WIRES, FakeProvider, RecordedRequest
from tests.fake_provider.wire import Reply, Wire

__all__ = ["CANNED", "WIRES", "FakeProvider", "Plan", "RecordedRequest", "Reply", "Wire", "default_tokens", "words"]
