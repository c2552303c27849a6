"""The server-rendered pages: projects, threads and the chat."""
from .routes import bp
from . import chat, threads, usage_pages  # noqa: E402,F401  (register the thread and chat routes on bp)

__all__ = ["bp"]
