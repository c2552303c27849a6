"""Validate JSON bodies and serialize objects; limits come from app.limits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, request

from .. import providers
from ..limits import (
    DEFAULT_THREAD_TITLE, MESSAGE_CONTENT_MAX, PROJECT_INSTRUCTIONS_MAX, PROJECT_NAME_MAX, THREAD_TITLE_MAX,
)
from ..models import Project, Thread


@dataclass(frozen=True)
class Text:
    """A string field: trimmed, with a length range; `required` means it must be present."""

    max: int
    min: int = 0
    required: bool = False
    nullable: bool = False

    def clean(self, name: str, value: Any) -> str | None:
        if value is None and self.nullable:
            return None
        if not isinstance(value, str):
            abort(400, description=f"{name} must be a string.")
        if "\x00" in value:  # JSON can carry it; PostgreSQL can't store it
            abort(400, description=f"{name} must not contain NUL characters.")
        try:
            value.encode()
        except UnicodeEncodeError:  # an unpaired surrogate from a \ud800-style escape
            abort(400, description=f"{name} must be valid Unicode text.")
        value = value.strip()
        if len(value) < self.min:
            abort(400, description=f"{name} must not be empty." if self.min == 1
                  else f"{name} must be at least {self.min} characters.")
        if len(value) > self.max:
            abort(400, description=f"{name} must be at most {self.max} characters.")
        return value


@dataclass(frozen=True)
class ProviderName:
    """A registered provider name; null or missing means the default."""

    required: bool = False

    def clean(self, name: str, value: Any) -> str:
        if value is None:
            return providers.DEFAULT_PROVIDER
        if not isinstance(value, str) or value not in providers.PROVIDERS:
            abort(400, description=providers.unknown_provider_message(value))
        return value


PROJECT_CREATE = {
    "name": Text(max=PROJECT_NAME_MAX, min=1, required=True),
    "instructions": Text(max=PROJECT_INSTRUCTIONS_MAX, nullable=True),
}
PROJECT_UPDATE = {
    "name": Text(max=PROJECT_NAME_MAX, min=1),
    "instructions": Text(max=PROJECT_INSTRUCTIONS_MAX, nullable=True),
}
THREAD_CREATE = {
    "title": Text(max=THREAD_TITLE_MAX, nullable=True),
    "model_provider": ProviderName(),
}
THREAD_UPDATE = {
    "title": Text(max=THREAD_TITLE_MAX, min=1),
    "model_provider": ProviderName(),
}
MESSAGE_CREATE = {
    "content": Text(max=MESSAGE_CONTENT_MAX, min=1, required=True),
}


def json_body() -> dict:
    """The request's JSON object; 415 when not JSON, 400 when malformed or not an object."""
    if not request.is_json:
        abort(415)
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nesting deep enough to exhaust the parser; silent only covers ValueError
        body = None
    if body is None:
        abort(400, description="The body is not valid JSON.")
    if not isinstance(body, dict):
        abort(400, description="The body must be a JSON object.")
    return body


def validate(schema: dict) -> dict:
    """The request body checked against a schema: only known fields, each cleaned."""
    body = json_body()
    unknown = sorted(set(body) - set(schema))
    if unknown:
        abort(400, description=f"Unknown field(s): {', '.join(unknown)}; allowed: {', '.join(schema)}.")
    missing = [name for name, field in schema.items() if getattr(field, "required", False) and name not in body]
    if missing:
        abort(400, description=f"Missing required field(s): {', '.join(missing)}.")
    return {name: schema[name].clean(name, value) for name, value in body.items()}


def _time(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def project_json(project: Project, thread_count: int) -> dict:
    """A project as the API shows it."""
    return {
        "id": project.id,
        "name": project.name,
        "instructions": project.instructions or "",
        "thread_count": thread_count,
        "created_at": _time(project.created_at),
        "updated_at": _time(project.updated_at),
    }


def thread_json(thread: Thread) -> dict:
    """A thread as the API shows it; the provider is never null."""
    return {
        "id": thread.id,
        "project_id": thread.project_id,
        "title": thread.title or DEFAULT_THREAD_TITLE,
        "model_provider": thread.provider,
        "created_at": _time(thread.created_at),
        "updated_at": _time(thread.updated_at),
    }


def message_json(message) -> dict:
    """A message (ORM or MessageView) as the API shows it."""
    return {
        "id": message.id,
        "thread_id": message.thread_id,
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "provider": message.provider,
        "model": message.model,
        "input_tokens": message.input_tokens,
        "output_tokens": message.output_tokens,
        "cached_input_tokens": message.cached_input_tokens,
        "cache_write_tokens": message.cache_write_tokens,
        "cost_micros": message.cost_micros,  # micro-dollars; null: unknown (no price, or no usage reported)
        "stop_reason": message.stop_reason,
        "error": message.error,
        "attempt": message.attempt,
        "created_at": _time(message.created_at),
    }


def provider_json(spec: providers.ProviderSpec, config) -> dict:
    """A provider as the API shows it: whether it has a key, never the key."""
    return {
        "name": spec.name,
        "label": spec.label,
        "default_model": spec.model(config),
        "configured": spec.api_key(config) is not None,
    }
