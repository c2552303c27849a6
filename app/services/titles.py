"""Automatic titles: once a thread's first reply is stored, its provider names the thread.

Runs after the writer has stored the reply, on a thread (a greenlet under gevent) of its own, so it
never delays a reply. The title lands only while the thread still has the default one: a title the
user set, even while this one was being written, always wins. Any failure leaves the default and
logs one line. Token usage is logged (no column).
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Mapping

from sqlalchemy import Engine, and_, func, select, update

from .. import providers
from ..limits import DEFAULT_THREAD_TITLE
from ..models import COMPLETE, Message, Thread
from ..providers.base import ProviderError, ReplyRequest, StreamEnd, TextDelta, Turn
from .replies_store import MessageView

log = logging.getLogger(__name__)
messages, threads = Message.__table__, Thread.__table__

TITLE_MAX = 60
TITLE_OUTPUT_TOKENS = 24
EXCERPT_CHARS = 2000  # of the question and of the answer: plenty to name a thread
INSTRUCTION = ("Write a title of at most six words for the conversation below. Answer with the title alone: "
               "no quotes, no trailing period.")


def clean(raw: str) -> str | None:
    """A title from what the model wrote: one line, no quotes or trailing period, at most TITLE_MAX characters."""
    lines = [line for line in raw.strip().splitlines() if line.strip()]
    text = re.sub(r"\s+", " ", lines[0] if lines else "").strip()
    text = re.sub(r"^(title:\s*)", "", text, flags=re.IGNORECASE)
    text = text.strip(" \"'`*“”‘’«»").rstrip(".").strip()
    if len(text) > TITLE_MAX:
        cut = text[:TITLE_MAX + 1].rsplit(" ", 1)[0]
        text = (cut if len(cut) >= TITLE_MAX // 2 else text[:TITLE_MAX]).rstrip(" ,;:-.")
    return text or None


class TitleMaker:
    """Names threads after their first reply; the writer calls `reply_stored` for every stored reply."""

    def __init__(self, engine: Engine, config: Mapping):
        self.engine, self.config = engine, config

    def reply_stored(self, reply: MessageView) -> None:
        """Start naming the reply's thread if this was its first complete reply."""
        if reply.status == COMPLETE and reply.role == "assistant" and self.config.get("AUTO_TITLES"):
            threading.Thread(target=self.name_thread, args=(reply,), daemon=True,
                             name=f"reply-title-{reply.thread_id}").start()

    def name_thread(self, reply: MessageView) -> str | None:
        """Ask the thread's provider for a title and store it unless the user has set one; the title or None."""
        try:
            request = self._request(reply)
            if request is None:
                return None
            provider, model, title_request = request
            raw, end = self._ask(provider, title_request)
            title = clean(raw)
            if title is None:
                raise ProviderError("the answer held no title")
            with self.engine.begin() as conn:
                stored = conn.execute(update(threads).where(threads.c.id == reply.thread_id,
                                                            threads.c.title == DEFAULT_THREAD_TITLE)
                                      .values(title=title)).rowcount == 1
            log.info("Thread %s %s by %s %s (%s input, %s output tokens)", reply.thread_id,
                     "titled" if stored else "kept the user's title; title made", provider, model,
                     end.input_tokens if end else None, end.output_tokens if end else None)
            return title if stored else None
        except Exception as exc:  # never more than the default title and one line
            log.warning("No automatic title for thread %s: %s", reply.thread_id,
                        exc.message if isinstance(exc, ProviderError) else repr(exc))
            return None

    def _request(self, reply: MessageView):
        """What to ask, or None when the thread has a title already or this is not its first reply."""
        with self.engine.connect() as conn:
            thread = conn.execute(select(threads.c.title, threads.c.model_provider, threads.c.model)
                                  .where(threads.c.id == reply.thread_id)).first()
            if thread is None or thread.title != DEFAULT_THREAD_TITLE:
                return None
            first_reply = conn.execute(select(func.min(messages.c.id)).where(and_(
                messages.c.thread_id == reply.thread_id, messages.c.role == "assistant",
                messages.c.status == COMPLETE))).scalar()
            if first_reply != reply.id:
                return None
            question = conn.execute(select(messages.c.content).where(
                messages.c.thread_id == reply.thread_id, messages.c.role == "user", messages.c.id < reply.id)
                .order_by(messages.c.id.desc()).limit(1)).scalar() or ""
        spec = providers.get(thread.model_provider)
        model = self.config.get(spec.title_model_var) or thread.model or reply.model or spec.model(self.config)
        conversation = f"User: {question[:EXCERPT_CHARS]}\n\nAssistant: {reply.content[:EXCERPT_CHARS]}"
        turns = (Turn("user", f"{INSTRUCTION}\n\n{conversation}"),)
        return spec.name, model, ReplyRequest(turns, None, model, TITLE_OUTPUT_TOKENS, thinking=False)

    def _ask(self, provider: str, request: ReplyRequest) -> tuple[str, StreamEnd | None]:
        parts, end = [], None
        stream = providers.adapter_for(provider, self.config).stream(request)
        try:
            for event in stream:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                elif isinstance(event, StreamEnd):
                    end = event
        finally:
            stream.close()
        return "".join(parts), end


def init_app(app) -> None:
    """Let the app's reply writer hand each stored reply to a TitleMaker."""
    runner = app.extensions["reply_runner"]
    runner.writer.listeners.append(TitleMaker(runner.engine, app.config).reply_stored)
