"""The JSON API at /api: the same service functions as the pages, JSON in and out."""
from .routes import bp

__all__ = ["bp"]
