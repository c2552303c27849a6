"""Static files under versioned URLs: `url_for('static', …)` adds `?v=<content hash>`, cached for a year.

A changed file gets a new URL, so browsers may keep a versioned one for good; a request whose
`v` is not the file's current hash (an old page after a deploy) keeps Flask's revalidation.
"""
from __future__ import annotations

import hashlib
import os

from flask import Flask, Response, current_app, request
from werkzeug.security import safe_join

ONE_YEAR = 365 * 24 * 3600
HASH_CHARS = 12

# absolute path → ((mtime_ns, size), hash): a file is read again only when it changes.
_hashes: dict[str, tuple[tuple[int, int], str]] = {}


def content_hash(filename: str) -> str | None:
    """A short hash of a static file's bytes; None when there is no such file."""
    path = safe_join(current_app.static_folder, filename)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _hashes.get(path)
    if cached is None or cached[0] != key:
        with open(path, "rb") as file:
            cached = (key, hashlib.sha256(file.read()).hexdigest()[:HASH_CHARS])
        _hashes[path] = cached
    return cached[1]


def _add_version(endpoint: str, values: dict) -> None:
    if endpoint == "static" and "filename" in values and "v" not in values:
        version = content_hash(values["filename"])
        if version:
            values["v"] = version


def _cache_versioned(response: Response) -> Response:
    # Only the current version may be kept for good; 304s carry the same header as the 200 they confirm.
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    version = request.args.get("v")
    if version and version == content_hash((request.view_args or {}).get("filename", "")):
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = ONE_YEAR
        response.cache_control.immutable = True
    return response


def init_app(app: Flask) -> None:
    """Version every static URL and let browsers cache the versioned ones for a year."""
    app.url_defaults(_add_version)
    app.after_request(_cache_versioned)
