"""JSON endpoints beside the pages; authenticated by bearer token or the session cookie."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, g, request
from flask_login import current_user

from .. import providers, rate_limits
from ..extensions import csrf
from ..pagination import parse_limit
from ..services import accounts, catalog, usage, workspace
from . import schemas

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)  # bearer calls need no CSRF token; cookie calls are checked in authenticate()
rate_limits.api_calls_per_token(bp)

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC_ENDPOINTS = {"api.openapi_document"}


@bp.before_request
def authenticate():
    """Find the caller: a bearer token, else the session (whose writes need CSRF); public endpoints need neither."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization")
    if header is not None:
        g.user = accounts.user_for_bearer(header)
        if g.user is None:
            abort(401, description="The API token is missing, malformed, unknown or revoked.")
    elif current_user.is_authenticated:
        if request.method in UNSAFE_METHODS:
            csrf.protect()
        g.user = current_user._get_current_object()
    else:
        abort(401, description="Send Authorization: Bearer <token>, or sign in.")


def _page_args() -> tuple[int, str | None]:
    return parse_limit(request.args.get("limit")), request.args.get("cursor") or None


@bp.get("/providers")
def list_providers():
    """The registered providers: their models, default model and key status."""
    return {"providers": [schemas.provider_json(summary, current_app.config)
                          for summary in catalog.current().summaries()]}


@bp.get("/projects")
def list_projects():
    """The caller's projects, latest activity first, one page at a time."""
    page = workspace.projects_page(g.user, *_page_args())
    return {"projects": [schemas.project_json(p, n) for p, n in page.items], "next_cursor": page.next_cursor}


@bp.post("/projects")
def create_project():
    """Create a project."""
    data = schemas.validate(schemas.PROJECT_CREATE)
    project = workspace.create_project(g.user, data["name"], data.get("instructions") or "")
    return schemas.project_json(project, 0), 201


@bp.get("/projects/<int:project_id>")
def get_project(project_id: int):
    """One project."""
    project = workspace.owned_project_or_404(g.user, project_id)
    return {**schemas.project_json(project, workspace.thread_count(project)),
            "usage": usage.project_totals(project.id).as_json()}


@bp.patch("/projects/<int:project_id>")
def update_project(project_id: int):
    """Rename a project or change its instructions."""
    project = workspace.owned_project_or_404(g.user, project_id)
    data = schemas.validate(schemas.PROJECT_UPDATE)
    workspace.update_project(project, **data)
    return schemas.project_json(project, workspace.thread_count(project))


@bp.delete("/projects/<int:project_id>")
def delete_project(project_id: int):
    """Delete a project with its threads and messages."""
    workspace.delete_project(workspace.owned_project_or_404(g.user, project_id))
    return "", 204


@bp.get("/projects/<int:project_id>/threads")
def list_threads(project_id: int):
    """A project's threads, latest activity first, one page at a time."""
    project = workspace.owned_project_or_404(g.user, project_id)
    page = workspace.threads_page(project, *_page_args())
    return {"threads": [schemas.thread_json(t) for t in page.items], "next_cursor": page.next_cursor}


@bp.post("/projects/<int:project_id>/threads")
def create_thread(project_id: int):
    """Create a thread bound to a provider for good, with a model of that provider's (or its default)."""
    project = workspace.owned_project_or_404(g.user, project_id)
    data = schemas.validate(schemas.THREAD_CREATE)
    provider = data.get("model_provider", providers.DEFAULT_PROVIDER)
    _check_model(provider, data.get("model"))
    thread = workspace.create_thread(project, data.get("title"), provider, model=data.get("model"),
                                     thinking=data.get("thinking", True))
    return schemas.thread_json(thread), 201


@bp.get("/threads/<int:thread_id>")
def get_thread(thread_id: int):
    """One thread, with what its replies cost."""
    thread = workspace.owned_thread_or_404(g.user, thread_id)
    return {**schemas.thread_json(thread), "usage": usage.thread_totals(thread.id).as_json()}


@bp.patch("/threads/<int:thread_id>")
def update_thread(thread_id: int):
    """Rename a thread or change its model (within its provider) and thinking; its provider cannot change."""
    thread = workspace.owned_thread_or_404(g.user, thread_id)
    data = schemas.validate(schemas.THREAD_UPDATE)
    if "model_provider" in data and data["model_provider"] != thread.provider:
        abort(400, description=f"model_provider is fixed when a thread is created; this thread stays {thread.provider!r}.")
    if "model" in data:
        _check_model(thread.provider, data["model"])
    if "title" in data:
        workspace.rename_thread(thread, data["title"])
    if "model" in data or "thinking" in data:
        workspace.set_thread_model(thread, data.get("model", thread.model), data.get("thinking", thread.thinking))
    return schemas.thread_json(thread)


def _check_model(provider: str, model: str | None) -> None:
    """400 naming the model and the valid ones when the provider does not list it (None: the default)."""
    error = model and catalog.current().check(provider, model)
    if error:
        abort(400, description=error)


@bp.delete("/threads/<int:thread_id>")
def delete_thread(thread_id: int):
    """Delete a thread and its messages."""
    workspace.delete_thread(workspace.owned_thread_or_404(g.user, thread_id))
    return "", 204
