"""The marker language: what a request's last user message asks of the fake provider.

The default reply is "Hello", " from", " fake", " <provider>", "." and then " w5", " w6", …
up to the token count; the request's max-tokens limit cuts it short with the provider's
max-tokens stop reason. Usage: input = word count of the request's text, output = tokens sent.

Markers in the text of the request's LAST user message steer it, so an SDK retry of the
same request behaves the same way. Several may be combined:

    [[fail:STATUS]]          answer STATUS (400 401 403 404 429 500 503 529 …) with the
                             provider's error body, every time; for google, 401 answers as
                             Gemini does for a wrong key: 400 INVALID_ARGUMENT, API_KEY_INVALID
    [[fail:STATUS:N]]        fail only the first N requests of this provider with this same
                             last user text, then answer normally
    [[stall]]                send nothing at all; hold until the client goes away
    [[stall-after:N]]        stream N tokens, then go silent until the client goes away
    [[cut:N]]                stream N tokens, then drop the connection mid-body
    [[midstream-error:N]]    stream N tokens, then an in-stream error in the provider's format
    [[delay:SECONDS]]        wait before the first token (streams send their headers first)
    [[tokens:N]]             reply with N tokens
    [[token-delay:SECONDS]]  wait between tokens
    [[chunks:A|B|C]]         reply exactly "ABC", streamed as the pieces A, B and C
    [[canned:markdown]]      a reply with a heading, a fenced python block and a table
    [[think:N]]              think N thought tokens ("Let", " me", " think", ".", " t4", …) before
                             the answer, where the request lets the model think; [[think:0]] none.
                             Without it a model thinks the server's default (0 unless set)
    [[cached:N]]             report N of the input tokens as read from the prompt cache, in the
                             provider's own usage fields (anthropic counts them apart from input)
    [[cache-write:N]]        anthropic: report N input tokens as written to the prompt cache

Where a model thinks (each wire's `thinks`: asked to, or by default as Claude 5.x, Gemini 2.5/3
and DeepSeek V4 do unless turned off), its thought tokens count toward the max-tokens limit and
the usage, and are sent only where the request asks to see them (Anthropic `display:
"summarized"`, Gemini `includeThoughts`, DeepSeek always); Anthropic sends an empty thinking block
with a signature otherwise. Marker positions (stall-after, cut, midstream-error) count the thought
tokens sent first, then the answer's: [[think:3]][[cut:2]] cuts the thoughts midway. A thinking
parameter the real API refuses is refused with its 400 (see each wire's `thinking_error`).

Inside a marker a backslash takes the next character literally: write `|` as `\\|`, `]` as
`\\]` (so `]]` as `\\]\\]`) and a backslash as `\\\\`. Anything else, `<`, `>` and quotes
included, is taken as it is. Without a body to stream, cut drops the connection before
answering, stall-after stalls, and midstream-error answers the provider's overloaded status.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = re.compile(r"\[\[([a-z-]+)(?::((?:\\.|(?!\]\])[^\\])*))?\]\]", re.S)
CANNED = {
    "markdown": (
        "## A canned reply\n\nSome **bold** text, then code:\n\n```python\n"
        "def greet(name):\n    return f\"Hello, {name}!\"\n```\n\n"
        "| Provider | Tokens |\n|---|---|\n| fake | 42 |\n"
    ),
}


def default_tokens(provider: str, count: int) -> list[str]:
    """The default reply of `count` tokens, naming the provider."""
    opening = ["Hello", " from", " fake", f" {provider}", "."]
    return (opening + [f" w{i}" for i in range(len(opening), count)])[:count]


def thought_tokens(count: int) -> list[str]:
    """The default thoughts of `count` tokens."""
    opening = ["Let", " me", " think", "."]
    return (opening + [f" t{i}" for i in range(len(opening), count)])[:count]


def words(text: str) -> int:
    """A rough token count: whitespace-separated words."""
    return len(text.split())


def _split_chunks(arg: str) -> list[str]:
    """Split a chunks argument at every `|`; a backslash takes the next character literally."""
    chunks, current, chars = [], [], iter(arg)
    for char in chars:
        if char == "\\":
            current.append(next(chars, "\\"))
        elif char == "|":
            chunks.append("".join(current))
            current = []
        else:
            current.append(char)
    return [*chunks, "".join(current)]


@dataclass
class Plan:
    """What one request asked for through its markers, on top of the server's defaults."""

    delay: float
    tokens: int
    token_delay: float
    fail: int | None = None
    fail_times: int | None = None
    stall: bool = False
    stall_after: int | None = None
    cut: int | None = None
    midstream_error: int | None = None
    text_chunks: list[str] | None = None
    think: int | None = None
    cached: int = 0
    cache_write: int = 0

    @classmethod
    def parse(cls, text: str, *, delay: float, tokens: int, token_delay: float, think: int = 0) -> Plan:
        """The plan for a last user message; raises ValueError for a malformed marker."""
        plan = cls(delay, tokens, token_delay, think=think)
        for match in MARKER.finditer(text):
            name, arg = match.group(1), match.group(2) or ""
            try:
                plan._apply(name, arg)
            except (ValueError, KeyError, IndexError):
                raise ValueError(f"fake provider: bad marker {match.group(0)!r}") from None
        return plan

    def _apply(self, name: str, arg: str) -> None:
        """Apply one marker; raises ValueError, KeyError or IndexError when it is malformed."""
        args = arg.split(":")
        if name == "fail":
            self.fail = int(args[0])
            self.fail_times = int(args[1]) if len(args) > 1 else None
        elif name == "stall":
            self.stall = True
        elif name in ("stall-after", "cut", "midstream-error", "tokens", "think", "cached", "cache-write"):
            setattr(self, name.replace("-", "_"), int(args[0]))
        elif name in ("delay", "token-delay"):
            setattr(self, name.replace("-", "_"), float(args[0]))
        elif name == "chunks":
            self.text_chunks = _split_chunks(arg)
        elif name == "canned":
            self.text_chunks = re.findall(r"\S+\s*|\s+", CANNED[arg])
        else:
            raise KeyError(name)

    def reply_tokens(self, provider: str) -> list[str]:
        """The tokens of the full reply, before any max-tokens limit."""
        return self.text_chunks if self.text_chunks is not None else default_tokens(provider, self.tokens)
