"""The server-rendered pages: projects, threads and the chat."""
from .routes import bp
from . import chat  # noqa: E402,F401  (registers the chat routes on bp)

__all__ = ["bp"]
