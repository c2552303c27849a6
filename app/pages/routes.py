"""Projects and threads as pages; htmx requests get the changed blocks of the same templates."""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user, login_required

from .. import providers
from ..htmx import is_htmx, redirect_to, render_blocks, render_page
from ..pagination import parse_limit
from ..services import catalog, workspace
from ..services.usage import project_totals
from .forms import ProjectForm, ThreadForm

bp = Blueprint("pages", __name__)


@bp.before_request
@login_required
def require_login():
    """Every page here needs a signed-in user."""


def _index(form: ProjectForm, status: int = 200, *blocks: str):
    page = workspace.projects_page(current_user, parse_limit(request.args.get("limit")),
                                   request.args.get("cursor"))
    # The first-run card shows until one provider is ready (a page waits for a first listing briefly).
    statuses = catalog.current().summaries()
    return render_page("pages/index.html", *blocks, page=page, form=form, statuses=statuses,
                       any_ready=any(s.ready for s in statuses)), status


@bp.get("/")
def index():
    """The user's projects and a form to create one."""
    blocks = ("project_rows",) if request.args.get("cursor") else ()
    return _index(ProjectForm(formdata=None), 200, *blocks)


@bp.post("/projects")
def create_project():
    """Create a project and open it."""
    form = ProjectForm()
    if not form.validate_on_submit():
        return _index(form, 400, "project_form")
    project = workspace.create_project(current_user, form.name.data, form.instructions.data)
    return redirect_to(url_for("pages.project", project_id=project.id))


def _project(project, thread_form: ThreadForm, edit_form: ProjectForm, status: int = 200, *blocks: str):
    page = workspace.threads_page(project, parse_limit(request.args.get("limit")),
                                  request.args.get("cursor"))
    return render_page(
        "pages/project.html", *blocks, project=project, page=page, form=thread_form,
        edit_form=edit_form, thread_count=workspace.thread_count(project),
        model_groups=catalog.current().summaries(),
        usage=None if blocks else project_totals(project.id),
    ), status


@bp.get("/projects/<int:project_id>")
def project(project_id: int):
    """A project's threads and the new-thread form."""
    project = workspace.owned_project_or_404(current_user, project_id)
    blocks = ("thread_rows",) if request.args.get("cursor") else ()
    return _project(project, ThreadForm(formdata=None), ProjectForm(obj=project, formdata=None), 200, *blocks)


@bp.post("/projects/<int:project_id>/threads")
def create_thread(project_id: int):
    """Create a thread bound to the chosen provider and open it."""
    project = workspace.owned_project_or_404(current_user, project_id)
    form = ThreadForm()
    if not form.validate_on_submit():
        return _project(project, form, ProjectForm(obj=project, formdata=None), 400, "thread_form")
    thread = workspace.create_thread(project, form.title.data, form.model_provider.data,
                                     model=form.model.data or None, thinking=form.thinking.data)
    return redirect_to(url_for("pages.thread", thread_id=thread.id))


@bp.get("/model-options")
def model_options():
    """The new-thread form's model select for one provider (htmx swaps it in when the provider changes)."""
    name = request.args.get("model_provider")
    names = [name] if name in providers.PROVIDERS else None
    return render_blocks("pages/project.html", "model_field", form=ThreadForm(formdata=None),
                         model_groups=catalog.current().summaries(names))


@bp.post("/projects/<int:project_id>/edit")
def edit_project(project_id: int):
    """Rename a project or change its instructions."""
    project = workspace.owned_project_or_404(current_user, project_id)
    form = ProjectForm()
    if not form.validate_on_submit():
        return _project(project, ThreadForm(formdata=None), form, 400, "project_header")
    workspace.update_project(project, name=form.name.data, instructions=form.instructions.data)
    if is_htmx():
        return _project(project, ThreadForm(formdata=None), ProjectForm(obj=project, formdata=None),
                        200, "project_header")
    return redirect(url_for("pages.project", project_id=project.id), code=303)


@bp.route("/projects/<int:project_id>/delete", methods=["GET", "POST"])
def delete_project(project_id: int):
    """Ask, then delete a project with all its threads."""
    project = workspace.owned_project_or_404(current_user, project_id)
    if request.method == "GET":
        return render_page("pages/confirm_delete.html", what="project", name=project.name,
                           action=url_for("pages.delete_project", project_id=project.id),
                           back=url_for("pages.project", project_id=project.id))
    workspace.delete_project(project)
    return _deleted(url_for("pages.index"))


@bp.route("/threads/<int:thread_id>/delete", methods=["GET", "POST"])
def delete_thread(thread_id: int):
    """Ask, then delete a thread and its messages."""
    thread = workspace.owned_thread_or_404(current_user, thread_id)
    if request.method == "GET":
        return render_page("pages/confirm_delete.html", what="thread", name=thread.title,
                           action=url_for("pages.delete_thread", thread_id=thread.id),
                           back=url_for("pages.thread", thread_id=thread.id))
    project_id = thread.project_id
    workspace.delete_thread(thread)
    return _deleted(url_for("pages.project", project_id=project_id))


def _deleted(location: str):
    # htmx removes the row it came from (an empty 200 swapped over it); a plain post is redirected.
    if is_htmx():
        return ""
    return redirect(location, code=303)
