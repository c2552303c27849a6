"""The server-rendered pages: projects, threads and the chat."""
from .routes import bp
from . import branches, chat, search, threads, titles, usage_pages  # noqa: E402,F401  (register their routes on bp)

__all__ = ["bp"]
