"""The JSON API at /api: the same service functions as the pages, JSON in and out."""
from .routes import bp
from . import messages  # noqa: E402,F401  (registers the chat routes on bp)

__all__ = ["bp"]
