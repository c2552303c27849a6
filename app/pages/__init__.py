"""The server-rendered pages: projects, threads and the chat."""
from .routes import bp

__all__ = ["bp"]
