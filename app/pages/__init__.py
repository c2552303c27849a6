"""The server-rendered pages: projects, threads and the chat."""
from .routes import bp
from . import chat, search, threads  # noqa: E402,F401  (register the thread, chat and search routes on bp)

__all__ = ["bp"]
