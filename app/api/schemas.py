"""Validate JSON bodies and serialize objects; limits come from app.limits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, request

from .. import providers
from ..limits import (
    DEFAULT_THREAD_TITLE, ID_MAX, MESSAGE_CONTENT_MAX, MODEL_ID_MAX, PROJECT_INSTRUCTIONS_MAX, PROJECT_NAME_MAX,
    THREAD_TITLE_MAX,
)
from ..models import AuditEvent, Project, Thread
from ..services import admin, catalog


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


@dataclass(frozen=True)
class Flag:
    """A true/false field; `nullable` lets null mean "back to the default"."""

    nullable: bool = False

    def clean(self, name: str, value: Any) -> bool | None:
        if value is None and self.nullable:
            return None
        if not isinstance(value, bool):
            abort(400, description=f"{name} must be true or false" + (", or null." if self.nullable else "."))
        return value


@dataclass(frozen=True)
class Id:
    """The id of a row: a whole number a row could have."""

    required: bool = False
    nullable: bool = False

    def clean(self, name: str, value: Any) -> int | None:
        if value is None and self.nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= ID_MAX:
            abort(400, description=f"{name} must be the id of one of your {name.removesuffix('_id')}s.")
        return value


@dataclass(frozen=True)
class Dollars:
    """A sum of money given in dollars (a JSON number), cleaned to micro-dollars; null means none."""

    def clean(self, name: str, value: Any) -> int | None:
        if isinstance(value, str):  # JSON callers send numbers; text is the forms' way
            abort(400, description=f"{name} must be a number of dollars, or null.")
        try:
            return admin.dollars_to_micros(value, name)
        except admin.AdminError as exc:
            abort(400, description=str(exc))


PROJECT_CREATE = {
    "name": Text(max=PROJECT_NAME_MAX, min=1, required=True),
    "instructions": Text(max=PROJECT_INSTRUCTIONS_MAX, nullable=True),
}
PROJECT_UPDATE = {
    "name": Text(max=PROJECT_NAME_MAX, min=1),
    "instructions": Text(max=PROJECT_INSTRUCTIONS_MAX, nullable=True),
}
# A model is checked against its provider's list by the catalogue, once the provider is known.
THREAD_CREATE = {
    "title": Text(max=THREAD_TITLE_MAX, nullable=True),
    "model_provider": ProviderName(),
    "model": Text(max=MODEL_ID_MAX, min=1, nullable=True),
    "thinking": Flag(),
}
THREAD_UPDATE = {
    "title": Text(max=THREAD_TITLE_MAX, min=1),
    "model_provider": ProviderName(),
    "model": Text(max=MODEL_ID_MAX, min=1, nullable=True),
    "thinking": Flag(),
}
MESSAGE_CREATE = {
    "content": Text(max=MESSAGE_CONTENT_MAX, min=1, required=True),
}
HEAD_UPDATE = {
    "message_id": Id(required=True),
}
FORK_CREATE = {
    "model_provider": ProviderName(required=True),
    "model": Text(max=MODEL_ID_MAX, nullable=True),
    "project_id": Id(nullable=True),
    "title": Text(max=THREAD_TITLE_MAX, nullable=True),
}
ADMIN_USER_UPDATE = {"disabled": Flag(), "is_admin": Flag(), "monthly_budget": Dollars()}
ADMIN_SETTINGS_UPDATE = {"registration_open": Flag(nullable=True), "default_budget": Dollars()}


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
        "model": thread.model,
        "thinking": thread.thinking,
        "head_id": thread.head_id,
        "forked_from_message_id": thread.forked_from_message_id,
        "created_at": _time(thread.created_at),
        "updated_at": _time(thread.updated_at),
    }


def message_json(message) -> dict:
    """A message (ORM or MessageView) as the API shows it."""
    return {
        "id": message.id,
        "thread_id": message.thread_id,
        "parent_id": message.parent_id,
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
        "thinking": message.thinking,
        "reasoning_tokens": message.reasoning_tokens,
        "thinking_ms": message.thinking_ms,
    }


def path_message_json(message, siblings) -> dict:
    """A message of the current path, with the versions beside it (itself included, oldest first)."""
    return {**message_json(message), "sibling_ids": list(siblings.of(message)),
            "sibling_index": siblings.index(message)}


def provider_json(summary: catalog.ProviderModels, config) -> dict:
    """A provider as the API shows it: its models, whether its key works, never the key."""
    return {
        "name": summary.name,
        "label": summary.label,
        "models": [{"id": model.id, "label": model.label} for model in summary.models],
        "default_model": summary.default_model,
        "models_live": summary.live,
        "status": summary.status,
        "status_message": summary.message,
        "configured": providers.get(summary.name).api_key(config) is not None,
    }


def _dollars(micros: int | None) -> float | None:
    return None if micros is None else micros / 1_000_000


def account_json(account: admin.Account) -> dict:
    """An account as the admin API shows it, with this month's usage."""
    user = account.user
    return {
        "id": user.id, "email": user.email, "is_admin": user.is_admin, "disabled": user.disabled_at is not None,
        "created_at": _time(user.created_at),
        "last_active_at": _time(account.last_active) if account.last_active else None,
        "monthly_budget": _dollars(user.monthly_budget_micros),  # null: the team default
        "month_usage": account.month.as_json(),
    }


def settings_json(settings: dict) -> dict:
    """The team settings as the admin API shows them."""
    return {"registration_open": settings["registration_open"],
            "default_budget": _dollars(settings["default_budget_micros"])}


def audit_json(event: AuditEvent) -> dict:
    """One admin action."""
    return {"id": event.id, "action": event.action, "detail": event.detail, "created_at": _time(event.created_at),
            "actor": event.actor.email if event.actor else None,
            "target": event.target.email if event.target else None}
