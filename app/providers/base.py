"""The adapter interface every provider implements, and the events and errors it yields."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Protocol

import httpx2


@dataclass(frozen=True)
class Turn:
    """One message of the conversation as a provider sees it."""

    role: str  # "user" or "assistant"
    text: str


@dataclass(frozen=True)
class ReplyRequest:
    """Everything an adapter needs for one reply, as plain data."""

    turns: tuple[Turn, ...]
    system: str | None
    model: str
    max_output_tokens: int
    thinking: bool = True  # think before answering where the model can; False asks it not to
    # Whether the model accepts being asked not to think (the catalogue knows); None: not known, so a
    # thread with thinking off only hides the thoughts, never sends a parameter the API may refuse.
    thinking_optional: bool | None = None


@dataclass(frozen=True)
class ModelInfo:
    """One model a provider lists as able to chat, and how it thinks."""

    id: str
    label: str
    thinks: bool = False  # thinks before answering (by default, or when asked)
    thinking_optional: bool = True  # can be asked not to think; else thoughts can only be hidden


@dataclass(frozen=True)
class TextDelta:
    """A piece of reply text, in arrival order."""

    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    """A piece of the model's thoughts, streamed before (or between) the answer's text."""

    text: str


@dataclass(frozen=True)
class StreamEnd:
    """The provider stream's last event: token usage, why the model stopped, the model that answered."""

    input_tokens: int | None
    output_tokens: int | None
    stop_reason: str | None
    model: str | None = None
    reasoning_tokens: int | None = None  # thought tokens, where the provider counts them apart
    cached_input_tokens: int | None = None  # input read from the provider's prompt cache
    cache_write_tokens: int | None = None  # input written to the prompt cache (Anthropic bills these apart)


Event = TextDelta | ThinkingDelta | StreamEnd


@dataclass(frozen=True)
class ProviderSettings:
    """How to reach one provider; hashable so one client serves each configuration."""

    api_key: str | None
    base_url: str
    timeout: float
    max_retries: int


# A listing is a short call of its own, not retried: it runs in the background, a failed one is
# simply tried again later, and a page never waits for it longer than MODEL_LIST_WAIT_SECONDS.
LIST_OPTIONS = {"timeout": 10.0, "max_retries": 0}

# Why a provider refused, where the app acts on it: a bad key, or a model it does not offer (any more).
KEY_REJECTED, MODEL_MISSING = "key_rejected", "model_missing"


class ProviderError(Exception):
    """A provider failure with a message a user can act on.

    `status` is the HTTP status the API answers with (502 by default, 504 for a
    timeout, 503 when the provider is not configured); `reason` is KEY_REJECTED,
    MODEL_MISSING or None.
    """

    def __init__(self, message: str, *, status: int = 502, retryable: bool = False, reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.reason = reason
        self.end: StreamEnd | None = None  # the usage reported before a stream failed midway, if any


def status_message(label: str, status: int | None, *, key_rejected: bool = False) -> str:
    """What a user reads when a provider answers with an error status (None: no status given)."""
    if status is None:
        return f"{label} returned an error."
    if status == 401 or key_rejected:
        return f"{label} rejected the API key ({status})."
    if status == 402:
        return f"{label} says the account has no credit left ({status})."
    if status == 403:
        return f"{label} refused access for this API key ({status})."
    if status == 429:
        return f"{label} is rate limiting requests ({status}); try again shortly."
    if status in (503, 529):
        return f"{label} is overloaded ({status})."
    if status in (408, 504):
        return f"{label} timed out on its side ({status})."
    if status >= 500:
        return f"{label} had a server error ({status})."
    return f"{label} rejected the request ({status})."


def status_error(
    label: str, status: int | None, *, midway: bool = False, key_rejected: bool = False
) -> ProviderError:
    """The ProviderError for an error status, answered up front or reported inside the stream."""
    message = status_message(label, status, key_rejected=key_rejected)
    if midway:
        message += " The reply stopped midway."
    retryable = status is None or status in (408, 409, 429) or status >= 500
    reason = KEY_REJECTED if key_rejected or status in (401, 403) else None
    return ProviderError(message, status=504 if status in (408, 504) else 502, retryable=retryable, reason=reason)


def model_missing_error(label: str, model: str) -> ProviderError:
    """The ProviderError for a model the provider does not offer (any more): the user picks another."""
    return ProviderError(f"{label} no longer offers {model}. Choose another model for this thread, then Retry.",
                         reason=MODEL_MISSING)


def transport_error(
    label: str, settings: ProviderSettings, cause: BaseException | None, *, midway: bool
) -> ProviderError:
    """The ProviderError for a failed connection: `cause` is the httpx2 error behind it."""
    if isinstance(cause, httpx2.TimeoutException):
        return ProviderError(f"{label} timed out after {settings.timeout:g} s.", status=504, retryable=True)
    if isinstance(cause, httpx2.ConnectError):
        return ProviderError(f"Could not connect to {label} at {settings.base_url}.", retryable=True)
    if midway:
        return ProviderError(f"The {label} stream broke off midway.", retryable=True)
    return ProviderError(f"The connection to {label} failed before the reply began.", retryable=True)


class Adapter(Protocol):
    """One provider behind one SDK client; knows nothing of Flask or the database."""

    def __init__(self, settings: ProviderSettings) -> None: ...

    def stream(self, request: ReplyRequest) -> Iterator[Event]:
        """Yield TextDelta (and ThinkingDelta) events as they arrive, then one StreamEnd.

        Raises ProviderError for every provider failure. Closing the generator
        closes the provider's stream, so the provider stops generating.
        """
        ...

    def list_models(self) -> list[ModelInfo]:
        """The models this provider offers for chat now, every page read; raises ProviderError."""
        ...


@dataclass(frozen=True)
class ProviderSpec:
    """What the app knows about one provider."""

    name: str
    label: str
    default_model: str
    default_base_url: str
    key_vars: tuple[str, ...]  # environment variables holding the API key, first set wins
    base_url_var: str
    model_var: str
    adapter_class: Callable[[ProviderSettings], Adapter]
    # How the provider counts usage, for pricing: whether its input count includes the cache reads,
    # and whether its output count includes the thought tokens.
    input_counts_cached: bool = True
    output_counts_reasoning: bool = True

    @property
    def title_model_var(self) -> str:
        """The setting naming the model that titles threads: ANTHROPIC_MODEL → ANTHROPIC_TITLE_MODEL."""
        return self.model_var.removesuffix("_MODEL") + "_TITLE_MODEL"

    @property
    def env_vars(self) -> tuple[str, ...]:
        """Every configuration variable this provider reads."""
        return (*self.key_vars, self.base_url_var, self.model_var)

    def api_key(self, config: Mapping) -> str | None:
        """The configured API key, or None."""
        return next((config[var] for var in self.key_vars if config.get(var)), None)

    def model(self, config: Mapping) -> str:
        """The model replies use."""
        return config.get(self.model_var) or self.default_model

    def settings(self, config: Mapping) -> ProviderSettings:
        """The connection settings for this provider from the app's config."""
        return ProviderSettings(
            api_key=self.api_key(config),
            base_url=config.get(self.base_url_var) or self.default_base_url,
            timeout=float(config["PROVIDER_TIMEOUT_SECONDS"]),
            max_retries=int(config["PROVIDER_MAX_RETRIES"]),
        )

    def missing_key_message(self) -> str:
        """What a user reads when no key is configured."""
        return f"{self.label} is not configured: set {' or '.join(self.key_vars)} on the server."

    def missing_key_error(self) -> ProviderError:
        """The 503 error for a provider without an API key."""
        return ProviderError(self.missing_key_message(), status=503)
