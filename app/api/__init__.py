"""The JSON API at /api: the same service functions as the pages, JSON in and out."""
from .routes import bp
from . import admin, messages, openapi  # noqa: E402,F401  (register their routes on bp)

__all__ = ["bp"]
