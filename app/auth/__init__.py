"""Sign-in, registration and the settings page for API tokens."""
from .routes import bp

__all__ = ["bp"]
