"""App-wide error pages: JSON under /api, HTML everywhere else."""
from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import db

MESSAGES = {
    400: "The request was not valid.",
    401: "Authentication is required.",
    403: "You are not allowed to do that.",
    404: "Not found.",
    405: "That method is not allowed here.",
    409: "That conflicts with the current state.",
    413: "The request body is too large.",
    415: "The request body must be JSON (Content-Type: application/json).",
    429: "Too many requests; slow down and try again shortly.",
    500: "Something went wrong on our side.",
}


def wants_json() -> bool:
    """Whether this request is to the JSON API."""
    return request.path == "/api" or request.path.startswith("/api/")


def error_response(status: int, message: str | None = None, **extra):
    """An error answer in the request's format, with a human message."""
    message = message or MESSAGES.get(status, "Error.")
    if wants_json():
        return jsonify(error=message, **extra), status
    return render_template("error.html", status=status, message=message), status


def _http_error(exc: HTTPException):
    if exc.code == 500:
        db.session.rollback()
    description = exc.description if exc.description != type(exc).description else None
    response = error_response(exc.code or 500, description)
    if exc.code == 405 and exc.valid_methods:
        response[0].headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _csrf_error(exc: CSRFError):
    return error_response(400, f"The form was not accepted: {exc.description} Reload the page and try again.")


def _unhandled(exc: Exception):
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    return _http_error(InternalServerError())


def init_app(app: Flask) -> None:
    """Register the handlers on the app, so routing 404/405 are caught too."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unhandled)
