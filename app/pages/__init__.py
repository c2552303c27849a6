"""The server-rendered pages: projects, threads and the chat."""
from .routes import bp
from . import branches, chat, threads  # noqa: E402,F401  (register the thread and chat routes on bp)

__all__ = ["bp"]
