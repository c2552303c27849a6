"""Projects and threads: owner-scoped loading and the changes people make to them."""
from __future__ import annotations

from flask import abort
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager

from ..extensions import db
from ..limits import DEFAULT_THREAD_TITLE
from ..models import Message, Project, Thread, User, utcnow
from ..pagination import Page, encode_cursor, newest_first


def owned_project_or_404(user: User, project_id: int) -> Project:
    """The user's project, or 404 (another user's id is not found, not forbidden)."""
    project = db.session.scalar(
        select(Project).where(Project.id == project_id, Project.user_id == user.id)
    )
    if project is None:
        abort(404, description="Project not found.")
    return project


def owned_thread_or_404(user: User, thread_id: int) -> Thread:
    """The user's thread, or 404."""
    thread = db.session.scalar(
        select(Thread).join(Project).options(contains_eager(Thread.project))  # posts touch the project too
        .where(Thread.id == thread_id, Project.user_id == user.id)
    )
    if thread is None:
        abort(404, description="Thread not found.")
    return thread


def owned_message_or_404(user: User, message_id: int) -> Message:
    """The user's message, or 404."""
    message = db.session.scalar(
        select(Message).join(Message.thread).join(Thread.project)
        .where(Message.id == message_id, Project.user_id == user.id)
    )
    if message is None:
        abort(404, description="Message not found.")
    return message


def thread_count(project: Project) -> int:
    """How many threads the project has."""
    return db.session.scalar(select(func.count()).where(Thread.project_id == project.id)) or 0


def create_project(user: User, name: str, instructions: str = "") -> Project:
    """A new project for the user."""
    project = Project(user=user, name=name, instructions=instructions or "")
    db.session.add(project)
    db.session.commit()
    return project


def update_project(project: Project, **changes) -> Project:
    """Rename a project or change its instructions."""
    for field in ("name", "instructions"):
        if changes.get(field) is not None:
            setattr(project, field, changes[field])
    project.updated_at = utcnow()
    db.session.commit()
    return project


def delete_project(project: Project) -> None:
    """Delete a project with its threads and their messages."""
    db.session.delete(project)
    db.session.commit()


def create_thread(project: Project, title: str | None, provider: str, model: str | None = None,
                  thinking: bool = True) -> Thread:
    """A new thread bound to a provider for good; no model means the provider's default at each reply."""
    thread = Thread(project=project, title=title or DEFAULT_THREAD_TITLE, model_provider=provider, model=model,
                    thinking=thinking)
    db.session.add(thread)
    thread.touch()
    db.session.commit()
    return thread


def rename_thread(thread: Thread, title: str) -> Thread:
    """Give a thread a new title."""
    thread.title = title
    thread.touch()
    db.session.commit()
    return thread


def set_thread_model(thread: Thread, model: str | None, thinking: bool) -> Thread:
    """Change the model (None: the provider's default) and thinking the thread's next reply uses."""
    thread.model, thread.thinking = model, thinking
    thread.touch()
    db.session.commit()
    return thread


def delete_thread(thread: Thread) -> None:
    """Delete a thread and its messages."""
    db.session.delete(thread)
    db.session.commit()


def projects_page(user: User, limit: int, cursor: str | None) -> Page[tuple[Project, int]]:
    """The user's projects with their thread counts, latest activity first."""
    # Counted per listed project through the (project_id, …) index, not over every thread.
    count = select(func.count(Thread.id)).where(Thread.project_id == Project.id).correlate(Project).scalar_subquery()
    query = select(Project, count).where(Project.user_id == user.id)
    rows = db.session.execute(newest_first(query, Project.updated_at, Project.id, limit, cursor)).all()
    return _page([(project, count) for project, count in rows], limit, lambda row: row[0])


def threads_page(project: Project, limit: int, cursor: str | None) -> Page[Thread]:
    """A project's threads, latest activity first."""
    query = select(Thread).where(Thread.project_id == project.id)
    rows = db.session.scalars(newest_first(query, Thread.updated_at, Thread.id, limit, cursor)).all()
    return _page(list(rows), limit, lambda thread: thread)


def _page(rows: list, limit: int, keyed) -> Page:
    """Cut the extra row fetched to learn whether another page follows."""
    if len(rows) <= limit:
        return Page(rows, None)
    last = keyed(rows[limit - 1])
    return Page(rows[:limit], encode_cursor(last.updated_at, last.id))


def all_projects(user: User) -> list[Project]:
    """Every project of the user, by name (what a fork can go into)."""
    return list(db.session.scalars(select(Project).where(Project.user_id == user.id).order_by(Project.name,
                                                                                               Project.id)))
