"""Export: a thread as Markdown or as our JSON document (format "chat-export", version 1)."""
from __future__ import annotations

from datetime import datetime
from typing import Iterator

from sqlalchemy import select

from .. import providers
from ..extensions import db
from ..models import Message, Project, Thread, utcnow

FORMAT, VERSION = "chat-export", 1
BATCH = 500  # messages read at a time
MESSAGE_FIELDS = ("role", "content", "status", "provider", "model", "input_tokens", "output_tokens",
                  "reasoning_tokens", "thinking", "thinking_ms", "stop_reason", "error")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def messages_of(thread: Thread) -> Iterator[Message]:
    """A thread's messages, oldest first, read in batches."""
    after = 0
    while True:
        batch = db.session.scalars(select(Message).where(Message.thread_id == thread.id, Message.id > after)
                                   .order_by(Message.id).limit(BATCH)).all()
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1].id


def message_json(message: Message) -> dict:
    """One message in the export document."""
    return {**{name: getattr(message, name) for name in MESSAGE_FIELDS}, "created_at": _time(message.created_at)}


def thread_json(thread: Thread) -> dict:
    """One thread in the export document, with every message."""
    return {"title": thread.title, "model_provider": thread.provider, "model": thread.model,
            "thinking": thread.thinking, "created_at": _time(thread.created_at),
            "updated_at": _time(thread.updated_at), "messages": [message_json(m) for m in messages_of(thread)]}


def project_json(project: Project, threads: list[dict]) -> dict:
    """One project in the export document, with the given threads."""
    return {"name": project.name, "instructions": project.instructions, "created_at": _time(project.created_at),
            "updated_at": _time(project.updated_at), "threads": threads}


def document(projects: list[dict]) -> dict:
    """The export document around these projects."""
    return {"format": FORMAT, "version": VERSION, "exported_at": _time(utcnow()), "projects": projects}


def thread_document(thread: Thread) -> dict:
    """A thread as the export document: its project (name and instructions) holding it alone."""
    return document([project_json(thread.project, [thread_json(thread)])])


def thread_markdown(thread: Thread) -> str:
    """A thread as Markdown for people to read."""
    spec = providers.get(thread.model_provider)
    lines = [f"# {thread.title}", "", f"*{spec.label}{' · ' + thread.model if thread.model else ''} · "
             f"project {thread.project.name} · started {thread.created_at:%Y-%m-%d %H:%M} UTC*", ""]
    for message in messages_of(thread):
        who = "You" if message.role == "user" else providers.get(message.provider).label
        lines += [f"## {who}{' (' + message.model + ')' if message.model else ''}", ""]
        if message.thinking:
            lines += ["> **Thinking**", ">", *[f"> {line}" for line in message.thinking.splitlines()], ""]
        lines += [message.content or "", ""]
        if message.status != "complete":
            lines += [f"*{message.status}{': ' + message.error if message.error else ''}*", ""]
    return "\n".join(lines)
