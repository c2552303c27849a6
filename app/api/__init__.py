"""The JSON API at /api: the same service functions as the pages, JSON in and out."""
from .routes import bp
from . import admin, branches, export, messages, openapi, search  # noqa: E402,F401  (register their routes on bp)

__all__ = ["bp"]
