"""App-wide error pages: JSON under /api, HTML everywhere else."""
from __future__ import annotations

from flask import Flask, Response, current_app, g, jsonify, make_response, render_template, request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from . import rate_limits
from .extensions import db, login
from .htmx import is_htmx, render_blocks
from .services.chat import BudgetExceeded, RepliesBusy

BUSY_RETRY_AFTER_SECONDS = 5

MESSAGES = {
    400: "The request was not valid.",
    401: "Authentication is required.",
    402: "This month's budget is used up.",
    403: "You are not allowed to do that.",
    404: "Not found.",
    405: "That method is not allowed here.",
    409: "That conflicts with the current state.",
    413: "The request body is too large.",
    415: "The request body must be JSON (Content-Type: application/json).",
    429: "Too many requests; slow down and try again shortly.",
    500: "Something went wrong on our side.",
    503: "The server is busy right now. Try again in a few seconds.",
}


def wants_json() -> bool:
    """Whether this request is to the JSON API."""
    return request.path == "/api" or request.path.startswith("/api/")


def error_response(status: int, message: str | None = None, **extra) -> Response:
    """An error answer in the request's format, with a human message."""
    message = message or MESSAGES.get(status, "Error.")
    if wants_json():
        body = jsonify(error=message, **extra)
    elif is_htmx():  # htmx swaps the answer in and runs its scripts: only the message, no page around it
        body = render_blocks("error.html", "content", status=status, message=message)
    else:
        body = render_template("error.html", status=status, message=message)
    return make_response(body, status)


def _http_error(exc: HTTPException):
    if exc.code == 500:
        db.session.rollback()
    description = exc.description if exc.description != type(exc).description else None
    response = error_response(exc.code or 500, description)
    if exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _csrf_error(exc: CSRFError):
    return error_response(400, f"The form was not accepted: {exc.description} Reload the page and try again.")


def _rate_limited(exc: RateLimitExceeded):
    seconds = rate_limits.retry_after_seconds()
    wait = f"{seconds} seconds" if seconds < 120 else f"{-(-seconds // 60)} minutes"
    response = error_response(429, f"{exc.description} Try again in {wait}.")
    response.headers["Retry-After"] = str(seconds)
    return response


def busy_response(message: str | None = None) -> Response:
    """A 503 that says when to try again: the server is saturated, not broken."""
    response = error_response(503, message)
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


def _replies_busy(exc: RepliesBusy):
    db.session.rollback()
    return busy_response(str(exc))


def _budget_exceeded(exc: BudgetExceeded):
    db.session.rollback()
    return error_response(402, str(exc))


def _database_unavailable(exc: PoolTimeout | DBAPIError):
    # Every connection stayed taken for the pool's whole timeout (overload), or the one in use was
    # lost (the database restarted; the pool reconnects): try again, not a bug.
    if isinstance(exc, DBAPIError) and not exc.connection_invalidated:
        return _unhandled(exc)
    current_app.logger.warning("No database connection for %s %s: %s", request.method, request.path, exc)
    db.session.rollback()
    if not hasattr(g, "_login_user"):
        # The page around the message must not wait for the pool again to load the signed-in user.
        login._update_request_context_with_user()  # anonymous for this answer
    return busy_response()


def _unhandled(exc: Exception):
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    return _http_error(InternalServerError())


def init_app(app: Flask) -> None:
    """Register the handlers on the app, so routing 404/405 are caught too."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(RateLimitExceeded, _rate_limited)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(RepliesBusy, _replies_busy)
    app.register_error_handler(BudgetExceeded, _budget_exceeded)
    app.register_error_handler(PoolTimeout, _database_unavailable)
    app.register_error_handler(DBAPIError, _database_unavailable)
    app.register_error_handler(Exception, _unhandled)
