"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json without authentication.

Built from the same limits and provider registry the API checks against; tests/test_openapi.py
keeps it true to the app's routes.
"""
from __future__ import annotations

from .. import providers
from ..limits import (
    ID_MAX, MESSAGE_CONTENT_MAX, MODEL_ID_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, PROJECT_INSTRUCTIONS_MAX,
    PROJECT_NAME_MAX, SEARCH_QUERY_MAX, THREAD_TITLE_MAX,
)
from ..models import COMPLETE, ERROR, INTERRUPTED, PENDING, STOPPED
from ..services import catalog
from ..services.usage import GROUPS
from .routes import bp

ERRORS = {
    400: "The request is not valid: a bad field, parameter, cursor or JSON body.",
    401: "No valid bearer token: it is missing, malformed, unknown or revoked.",
    404: "No such resource among the caller's own (on /api/admin: the caller is not an admin).",
    409: "The thread already has a reply in flight, or this reply cannot be retried.",
    413: "The request body is larger than the server accepts (MAX_CONTENT_LENGTH).",
    415: "The body is not sent as application/json.",
    429: "Over a rate limit; Retry-After says how many seconds to wait.",
    503: "The server is busy (no database connection came free in time); Retry-After says when to try again.",
}
REPLY_ERRORS = {
    402: "This month's cost has reached the caller's budget: nothing was stored or sent; `error` says how much "
         "was used and when the budget resets.",
    502: "The provider failed or refused; the user message is kept and the reply stored as an error.",
    503: "The thread's provider has no API key configured on the server (the body carries both messages), or "
         "this server already writes as many replies as it may (MAX_REPLIES_IN_FLIGHT; only `error`, and "
         "Retry-After says when to try again).",
    504: "The provider timed out.",
}
NON_BLANK = r"\S"
PROJECT_REQUIRED = ["id", "name", "instructions", "thread_count", "created_at", "updated_at"]
THREAD_REQUIRED = ["id", "project_id", "title", "model_provider", "model", "thinking", "head_id",
                   "forked_from_message_id", "created_at", "updated_at"]
USAGE_COUNTS = ("replies", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
                "reasoning_tokens", "unpriced")  # the server trims text, so it must hold more than white space


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def _object(properties: dict, required=None, closed: bool = True) -> dict:
    schema = {"type": "object", "properties": properties,
              "required": list(properties) if required is None else required}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _text(max_length: int, *, min_length: int = 0) -> dict:
    schema = {"type": "string", "maxLength": max_length}
    if min_length:
        schema.update(minLength=min_length, pattern=NON_BLANK)
    return schema


def _example(schema: dict, example: dict) -> dict:
    return {**schema, "examples": [example]}


def _schemas() -> dict:
    provider = {"type": "string", "enum": providers.names()}
    time = {"type": "string", "format": "date-time"}
    integer, count = {"type": "integer"}, {"type": "integer", "minimum": 0}
    cursor = _nullable({"type": "string"})
    # One the provider lists (GET /api/providers); null: the provider's default at each reply.
    model = _nullable(_text(MODEL_ID_MAX, min_length=1))
    message = {
        "id": integer, "thread_id": integer, "parent_id": _nullable(integer),
        "role": {"type": "string", "enum": ["user", "assistant"]}, "content": {"type": "string"},
        "status": {"type": "string", "enum": [PENDING, COMPLETE, STOPPED, ERROR, INTERRUPTED]},
        "provider": _nullable(provider), "model": _nullable({"type": "string"}),
        "input_tokens": _nullable(count), "output_tokens": _nullable(count),
        "cached_input_tokens": _nullable(count), "cache_write_tokens": _nullable(count),
        "cost_micros": _nullable(count),
        "stop_reason": _nullable({"type": "string"}), "error": _nullable({"type": "string"}),
        "attempt": count, "created_at": time,
        # The model's thoughts (null: none shown, or the thread's thinking is off), apart from the answer.
        "thinking": _nullable({"type": "string"}), "reasoning_tokens": _nullable(count),
        "thinking_ms": _nullable(count),
    }
    row_id = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
    return {
        "Error": _object({"error": {"type": "string"}}, closed=False),
        "Provider": _object({
            "name": provider, "label": {"type": "string"},
            "models": {"type": "array", "items": _object({"id": {"type": "string"}, "label": {"type": "string"}})},
            "default_model": {"type": "string"}, "models_live": {"type": "boolean"},
            "status": {"type": "string", "enum": list(catalog.STATUSES)}, "status_message": {"type": "string"},
            "configured": {"type": "boolean"}}),
        "Project": _object({"id": integer, "name": {"type": "string"}, "instructions": {"type": "string"},
                            "thread_count": count, "created_at": time, "updated_at": time,
                            "usage": _ref("Usage")}, required=PROJECT_REQUIRED),
        "Thread": _object({"id": integer, "project_id": integer, "title": {"type": "string"},
                           "model_provider": provider, "model": _nullable({"type": "string"}),
                           "thinking": {"type": "boolean"}, "head_id": _nullable(integer),
                           "forked_from_message_id": _nullable(integer), "created_at": time, "updated_at": time,
                           "usage": _ref("Usage")}, required=THREAD_REQUIRED),
        # What a set of replies cost; `usage` is on a single project or thread (GET), not in lists.
        "Usage": _object({**{name: count for name in USAGE_COUNTS}, "cost_micros": _nullable(count),
                          "cost": {"type": "string"}}),
        "Message": _object(message),
        "PathMessage": _object({**message, "sibling_ids": {"type": "array", "items": integer, "minItems": 1},
                                "sibling_index": count}),
        "SearchHit": _object({
            "thread_id": integer, "message_id": _nullable(integer), "title": {"type": "string"},
            "snippet": {"type": "string", "description": "Escaped text; <mark> tags around the matched words."},
            "role": _nullable({"type": "string", "enum": ["user", "assistant"]}), "created_at": time,
            "model_provider": provider}),
        "SearchResults": _object({"results": {"type": "array", "items": _ref("SearchHit")}, "next_cursor": cursor}),
        "ProviderList": _object({"providers": {"type": "array", "items": _ref("Provider")}}),
        "ProjectList": _object({"projects": {"type": "array", "items": _ref("Project")}, "next_cursor": cursor}),
        "ThreadList": _object({"threads": {"type": "array", "items": _ref("Thread")}, "next_cursor": cursor}),
        "MessageList": _object({"messages": {"type": "array", "items": _ref("PathMessage")},
                                "next_cursor": cursor}),
        "Exchange": _object({"user_message": _nullable(_ref("Message")), "assistant_message": _ref("Message")}),
        "FailedExchange": _object({"error": {"type": "string"}, "user_message": _nullable(_ref("Message")),
                                   "assistant_message": _ref("Message")}),
        "ProjectCreate": _example(_object({"name": _text(PROJECT_NAME_MAX, min_length=1),
                                           "instructions": _nullable(_text(PROJECT_INSTRUCTIONS_MAX))},
                                          required=["name"]),
                                  {"name": "Research", "instructions": "Answer briefly."}),
        "ProjectUpdate": _example(_object({"name": _text(PROJECT_NAME_MAX, min_length=1),
                                           "instructions": _nullable(_text(PROJECT_INSTRUCTIONS_MAX))}, required=[]),
                                  {"name": "Research notes"}),
        "ThreadCreate": _example(_object({"title": _nullable(_text(THREAD_TITLE_MAX)),
                                          "model_provider": _nullable(provider), "model": model,
                                          "thinking": {"type": "boolean"}}, required=[]),
                                 {"title": "Sources", "model_provider": providers.DEFAULT_PROVIDER}),
        "ThreadUpdate": _example(_object({"title": _text(THREAD_TITLE_MAX, min_length=1),
                                          "model_provider": _nullable(provider), "model": model,
                                          "thinking": {"type": "boolean"}}, required=[]),
                                 {"title": "Primary sources"}),
        **_admin_schemas(count, time),
        "MessageCreate": _example(_object({"content": _text(MESSAGE_CONTENT_MAX, min_length=1)}),
                                  {"content": "Which sources should I read first?"}),
        "HeadUpdate": _example(_object({"message_id": row_id}), {"message_id": 1}),
        "ForkCreate": _example(_object({"model_provider": _nullable(provider),
                                        "model": _nullable(_text(MODEL_ID_MAX)),
                                        "project_id": _nullable(row_id),
                                        "title": _nullable(_text(THREAD_TITLE_MAX))}, required=["model_provider"]),
                               {"model_provider": "deepseek", "title": "Ask DeepSeek too"}),
    }


def _admin_schemas(count: dict, time: dict) -> dict:
    dollars = _nullable({"type": "number", "minimum": 0, "maximum": 1_000_000})
    email, nullable_text = {"type": "string"}, _nullable({"type": "string"})
    return {
        "UsageGroup": _object({"key": {"type": "string"}, **{name: count for name in USAGE_COUNTS},
                               "cost_micros": _nullable(count), "cost": {"type": "string"}}),
        "UsageReport": _object({"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
                                "group_by": {"type": "string", "enum": list(GROUPS)}, "total": _ref("Usage"),
                                "groups": {"type": "array", "items": _ref("UsageGroup")}}),
        "Account": _object({"id": {"type": "integer"}, "email": email, "is_admin": {"type": "boolean"},
                            "disabled": {"type": "boolean"}, "created_at": time, "last_active_at": _nullable(time),
                            "monthly_budget": dollars, "month_usage": _ref("Usage")}),
        "AccountList": _object({"users": {"type": "array", "items": _ref("Account")}}),
        "AccountUpdate": _example(_object({"disabled": {"type": "boolean"}, "is_admin": {"type": "boolean"},
                                           "monthly_budget": dollars}, required=[]), {"monthly_budget": 25}),
        "Settings": _object({"registration_open": {"type": "boolean"}, "default_budget": dollars}),
        "SettingsUpdate": _example(_object({"registration_open": _nullable({"type": "boolean"}),
                                            "default_budget": dollars}, required=[]), {"registration_open": False}),
        "AuditEvent": _object({"id": {"type": "integer"}, "action": {"type": "string"}, "detail": {"type": "string"},
                               "created_at": time, "actor": nullable_text, "target": nullable_text}),
        "AuditLog": _object({"events": {"type": "array", "items": _ref("AuditEvent")}}),
    }


USAGE_PARAMETERS = [
    {"name": "from", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
     "description": "The first day (YYYY-MM-DD, UTC); default the first of this month."},
    {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
     "description": "The last day, included; default the last of this month."},
    {"name": "group_by", "in": "query", "required": False,
     "schema": {"type": "string", "enum": list(GROUPS), "default": "day"},
     "description": "day, provider, project or model; `user` (everyone's usage) for admins only."},
]


def _admin_paths() -> dict:
    return {
        "/api/usage": {"get": _operation(
            "getUsage", "The caller's tokens and cost between two days, grouped (group_by=user: everyone's, "
            "admins only).", _answer(200, "The totals and the groups.", "UsageReport"), extra=USAGE_PARAMETERS)},
        "/api/admin/users": {"get": _operation(
            "adminListUsers", "Every account with its last activity and this month's usage (admins only).",
            _answer(200, "The accounts.", "AccountList"), admin=True)},
        "/api/admin/users/{user_id}": {"patch": _operation(
            "adminUpdateUser", "Disable or re-enable an account, promote or demote it (never the last admin), or "
            "set its monthly budget in dollars (null: the team default). Admins only.",
            _answer(200, "The account.", "Account"), path_id="user_id", body="AccountUpdate", admin=True)},
        "/api/admin/settings": {
            "get": _operation("adminGetSettings", "Registration and the team's default budget (admins only).",
                              _answer(200, "The settings.", "Settings"), admin=True),
            "patch": _operation("adminUpdateSettings", "Open or close registration (null: back to "
                                "REGISTRATION_OPEN) and set the default budget in dollars. Admins only.",
                                _answer(200, "The settings.", "Settings"), body="SettingsUpdate", admin=True),
        },
        "/api/admin/audit": {"get": _operation(
            "adminAuditLog", "The latest admin actions, newest first (admins only).",
            _answer(200, "The audit log.", "AuditLog"), admin=True)},
    }


def _json(schema: str) -> dict:
    return {"application/json": {"schema": _ref(schema)}}


def _error(status: int, description: str, schema: str = "Error") -> dict:
    response = {"description": description, "content": _json(schema)}
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
    return response


def _id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}


PAGE_PARAMETERS = [
    {"name": "limit", "in": "query", "required": False, "description": f"Page size (default {PAGE_SIZE_DEFAULT}).",
     "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX}},
    {"name": "cursor", "in": "query", "required": False, "description": "next_cursor of the previous page.",
     "schema": {"type": "string"}},
]


# Lenient on purpose, as EventSource clients expect: a value that is not a whole number is ignored.
RESUME_PARAMETERS = [
    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "The id of the last event seen, to resume after it; ignored unless a whole number."},
    {"name": "after", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "A text offset to resume after when Last-Event-ID is absent; ignored unless a whole number."},
]


def _links(parameter: str, expression: str, *op_ids: str) -> dict:
    """Links from an answer to the operations that take the id it carries."""
    return {op_id: {"operationId": op_id, "parameters": {parameter: expression}} for op_id in op_ids}


def _operation(op_id: str, summary: str, ok: tuple[int, str, dict | None], *, path_id: str | None = None,
               body: str | None = None, paged: bool = False, reply: bool = False, extra: list = (),
               links: dict | None = None, reply_errors: bool = True, bad_request: bool = False,
               admin: bool = False) -> dict:
    """One operation: its parameters, body and every answer it can give; `admin`: members get 404."""
    status, description, content = ok
    responses = {str(status): {"description": description, **({"content": content} if content else {}),
                               **({"links": links} if links else {})}}
    errors = [401, 429, 503]
    if path_id or admin:
        errors.append(404)
    if body or paged or bad_request or any(p["in"] == "query" for p in extra):
        errors.append(400)
    if body:
        errors += [413, 415]
    if reply:
        errors.append(409)
    for code in sorted(errors):
        responses[str(code)] = _error(code, ERRORS[code])
    if reply and reply_errors:
        for code, text in REPLY_ERRORS.items():
            # A busy server's 503 carries only `error`, so the wider schema.
            responses[str(code)] = _error(code, text, "Error" if code == 503 else "FailedExchange")
    operation = {"operationId": op_id, "summary": summary, "responses": responses}
    parameters = ([_id(path_id)] if path_id else []) + (PAGE_PARAMETERS if paged else []) + list(extra)
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = {"required": True, "content": _json(body)}
    return operation


def _answer(status: int, description: str, schema: str | None) -> tuple[int, str, dict | None]:
    return status, description, _json(schema) if schema else None


def _event_stream(*names: str) -> dict:
    """Server-sent events with these names; each one's data is JSON."""
    event = _object({"event": {"type": "string", "enum": list(names)}, "data": {"type": "string"},
                     "id": {"type": "string"}}, required=["event", "data"])
    return {"text/event-stream": {"schema": event}}


REPLY_ANSWER = {**_json("Exchange"), **_event_stream("start", "thinking", "delta", "done", "error")}
PROJECT_LINKS = _links("project_id", "$response.body#/id", "getProject", "updateProject", "deleteProject",
                       "listThreads", "createThread")
THREAD_LINKS = _links("thread_id", "$response.body#/id", "getThread", "updateThread", "deleteThread",
                      "listMessages", "postMessage")
REPLY_LINKS = _links("message_id", "$response.body#/assistant_message/id", "stopMessage", "retryMessage",
                     "watchMessage")


SEARCH_PARAMETERS = [
    {"name": "q", "in": "query", "required": True, "schema": _text(SEARCH_QUERY_MAX, min_length=1),
     "description": 'Words to find; "a phrase", -excluded, this or that.'},
    {"name": "project_id", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}},
    {"name": "provider", "in": "query", "required": False, "schema": {"type": "string", "enum": providers.names()}},
    {"name": "from", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "Only what was written at or after this date (YYYY-MM-DD, UTC) or ISO 8601 time."},
    {"name": "to", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "Only what was written before the end of this date, or before this ISO 8601 time."},
]


def _paths() -> dict:
    return {
        "/api/search": {"get": _operation(
            "search", "The caller's matching thread titles (message_id null), then messages; newest first in each.",
            _answer(200, "One page of results.", "SearchResults"), paged=True, extra=SEARCH_PARAMETERS)},
        "/api/openapi.json": {"get": {
            "operationId": "getOpenapi", "summary": "This document.", "security": [],
            "responses": {"200": {"description": "The OpenAPI document.",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }},
        "/api/providers": {"get": _operation(
            "listProviders", "The providers: their chat models, default model and whether each key works "
            "(never the key).",
            _answer(200, "The providers.", "ProviderList"))},
        "/api/projects": {
            "get": _operation("listProjects", "The caller's projects, latest activity first.",
                              _answer(200, "One page of projects.", "ProjectList"), paged=True),
            "post": _operation("createProject", "Create a project.",
                               _answer(201, "The new project.", "Project"), body="ProjectCreate",
                               links=PROJECT_LINKS),
        },
        "/api/projects/{project_id}": {
            "get": _operation("getProject", "One project.", _answer(200, "The project.", "Project"),
                              path_id="project_id"),
            "patch": _operation("updateProject", "Rename a project or change its instructions.",
                                _answer(200, "The project.", "Project"), path_id="project_id", body="ProjectUpdate"),
            "delete": _operation("deleteProject", "Delete a project with its threads and messages.",
                                 _answer(204, "Deleted.", None), path_id="project_id"),
        },
        "/api/projects/{project_id}/threads": {
            "get": _operation("listThreads", "A project's threads, latest activity first.",
                              _answer(200, "One page of threads.", "ThreadList"), path_id="project_id", paged=True),
            "post": _operation("createThread", "Create a thread, bound to its provider for good; `model` must be "
                               "one the provider lists (400 names the valid ones), null or absent for the default.",
                               _answer(201, "The new thread.", "Thread"), path_id="project_id", body="ThreadCreate",
                               links=THREAD_LINKS),
        },
        "/api/threads/{thread_id}": {
            "get": _operation("getThread", "One thread.", _answer(200, "The thread.", "Thread"), path_id="thread_id"),
            "patch": _operation("updateThread", "Rename a thread, or change its model (one its provider lists) and "
                                "thinking; its provider cannot change.",
                                _answer(200, "The thread.", "Thread"), path_id="thread_id", body="ThreadUpdate"),
            "delete": _operation("deleteThread", "Delete a thread and its messages.",
                                 _answer(204, "Deleted.", None), path_id="thread_id"),
        },
        "/api/threads/{thread_id}/messages": {
            "get": _operation("listMessages", "A thread's messages, oldest first; next_cursor goes back in time.",
                              _answer(200, "One page of messages.", "MessageList"), path_id="thread_id", paged=True),
            "post": _operation(
                "postMessage", "Send a message; the thread's provider answers. With Accept: text/event-stream "
                "the answer streams as events start, thinking… (the model's thoughts, {text}), delta…, "
                "then done or error.",
                (201, "The message and the finished reply.", REPLY_ANSWER),
                path_id="thread_id", body="MessageCreate", reply=True, links=REPLY_LINKS),
        },
        "/api/threads/{thread_id}/head": {"put": _operation(
            "switchBranch", "Make the branch holding a message current: the head moves to its most recent leaf "
            "(400 for a message of another thread).",
            _answer(200, "The thread, with its new head_id.", "Thread"), path_id="thread_id", body="HeadUpdate")},
        "/api/messages/{message_id}": {"delete": _operation(
            "deleteMessage", "Delete a message and everything under it (409 while a reply in it is pending).",
            _answer(204, "Deleted.", None), path_id="message_id", reply=True, reply_errors=False)},
        "/api/messages/{message_id}/edit": {"post": _operation(
            "editMessage", "A new version of a user's message beside it (same parent), answered like a post.",
            (201, "The new message and its finished reply.", REPLY_ANSWER), path_id="message_id",
            body="MessageCreate", reply=True, links=REPLY_LINKS)},
        "/api/messages/{message_id}/regenerate": {"post": _operation(
            "regenerateMessage", "A new reply beside this one, to the same user message (400 for a user message).",
            (201, "The finished reply (user_message is null).", REPLY_ANSWER), path_id="message_id", reply=True,
            bad_request=True, links=REPLY_LINKS)},
        "/api/messages/{message_id}/fork": {"post": _operation(
            "forkMessage", "A new thread, bound to the chosen provider, holding a copy of the path up to this "
            "message; a user message there is answered at once.",
            _answer(201, "The new thread.", "Thread"), path_id="message_id", body="ForkCreate", reply=True,
            reply_errors=False, links=THREAD_LINKS)},
        "/api/threads/{thread_id}/export": {"get": _operation(
            "exportThread", "The thread as Markdown, or as the JSON export document (format chat-export, version 1).",
            (200, "A download.", {"application/json": {"schema": {"type": "object"}},
                                  "text/markdown": {"schema": {"type": "string"}}}),
            path_id="thread_id", bad_request=True, extra=[
                {"name": "format", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["json", "markdown"]}}])},
        "/api/messages/{message_id}/retry": {"post": _operation(
            "retryMessage", "Run the thread's latest failed, stopped or interrupted reply again.",
            (200, "The finished reply (user_message is null).", REPLY_ANSWER), path_id="message_id", reply=True)},
        "/api/messages/{message_id}/stop": {"post": _operation(
            "stopMessage", "Stop a pending reply, keeping its partial text; answers once it has stopped.",
            _answer(200, "The reply as stored.", "Message"), path_id="message_id")},
        "/api/messages/{message_id}/stream": {"get": _operation(
            "watchMessage", "A reply as server-sent events: snapshot ({text, thinking, status}), thinking…, "
            "delta…, then done or error.",
            (200, "The event stream.", _event_stream("snapshot", "thinking", "delta", "done", "error")),
            path_id="message_id", extra=RESUME_PARAMETERS)},
        **_admin_paths(),
    }


def document() -> dict:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Chat API", "version": "1",
            "description": "Projects, provider-bound threads and their chat. Send `Authorization: Bearer <token>` "
                           "(tokens come from the Settings page or `flask tokens create`). The pages' own session "
                           "cookie works too, and then every write needs the X-CSRFToken header. Every error is "
                           "`{\"error\": \"…\"}`.",
        },
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An API token of the account."}},
            "headers": {"Retry-After": {"description": "Seconds to wait before trying again.",
                                        "schema": {"type": "integer", "minimum": 1}}},
            "schemas": _schemas(),
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI document of this API; no authentication needed."""
    return document()
