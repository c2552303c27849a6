"""Keyset pagination with opaque cursors, the same for every list."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Generic, TypeVar

from flask import abort
from sqlalchemy import Select, and_, or_

from .limits import ID_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX

T = TypeVar("T")
INVALID_CURSOR = "The cursor is not valid; use next_cursor from a previous page."


@dataclass
class Page(Generic[T]):
    """One page of a list and the cursor of the next one (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(*values) -> str:
    """An opaque cursor for the given key values."""
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list:
    """The key values inside a cursor; 400 when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        return values
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
        abort(400, description=INVALID_CURSOR)


def cursor_id(value) -> int:
    """An id read from a cursor; 400 unless it is a whole number a row could have."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= ID_MAX:
        abort(400, description=INVALID_CURSOR)
    return value


def parse_limit(raw: str | None) -> int:
    """The page size asked for; 400 outside 1..PAGE_SIZE_MAX."""
    if raw is None:
        return PAGE_SIZE_DEFAULT
    # ASCII digits of bounded length only: isdigit() accepts "²", which int() refuses, and so are huge numbers.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not 1 <= int(raw) <= PAGE_SIZE_MAX:
        abort(400, description=f"limit must be a whole number from 1 to {PAGE_SIZE_MAX}.")
    return int(raw)


def newest_first(query: Select, updated_col, id_col, limit: int, cursor: str | None) -> Select:
    """Order by (updated, id) descending, starting after the cursor's row."""
    if cursor:
        updated_raw, last_id = decode_cursor(cursor, 2)
        try:
            updated = datetime.fromisoformat(updated_raw)
            if updated.tzinfo is None:
                raise ValueError
            updated = updated.astimezone(timezone.utc)
        except (TypeError, ValueError, OverflowError):
            abort(400, description=INVALID_CURSOR)
        last_id = cursor_id(last_id)
        query = query.where(
            or_(updated_col < updated, and_(updated_col == updated, id_col < last_id))
        )
    return query.order_by(updated_col.desc(), id_col.desc()).limit(limit + 1)
