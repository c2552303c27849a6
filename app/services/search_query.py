"""What people type into the search box, read the way PostgreSQL's websearch_to_tsquery reads it.

Words must all match; "quoted words" match as a phrase; -word excludes; `or` between two terms
accepts either. SQLite gets the same query as an FTS5 expression built only from quoted strings,
so no input can be read as FTS5 syntax.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..limits import SEARCH_QUERY_MAX

# A quoted phrase (its closing quote optional), or a run of anything but space and quotes.
TERM = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')


class SearchQueryError(ValueError):
    """A query that cannot be searched for; its message says why."""


@dataclass(frozen=True)
class SearchQuery:
    """A query as typed, and its terms: groups of alternatives that must all match, and exclusions."""

    text: str
    groups: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...]

    def fts5(self) -> str:
        """The query as an FTS5 expression."""
        wanted = " AND ".join("(" + " OR ".join(map(_quoted, group)) + ")" for group in self.groups)
        return "(" + wanted + ")" + "".join(f" NOT {_quoted(term)}" for term in self.excluded)


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _has_word(term: str) -> bool:
    return re.search(r"\w", term) is not None


def parse(text: str | None) -> SearchQuery:
    """The query, or SearchQueryError when it is empty, too long, or has nothing to find."""
    text = (text or "").strip()
    if not text:
        raise SearchQueryError("Type something to search for.")
    if len(text) > SEARCH_QUERY_MAX:
        raise SearchQueryError(f"A search is at most {SEARCH_QUERY_MAX} characters.")
    if "\x00" in text:
        raise SearchQueryError("The search must not contain NUL characters.")
    groups: list[list[str]] = []
    excluded: list[str] = []
    join_next = False
    for match in TERM.finditer(text):
        negated = bool(match.group(1) or match.group(3))
        term = match.group(2) if match.group(2) is not None else match.group(4)
        if match.group(4) is not None and term.lower() == "or" and not negated:
            join_next = bool(groups)
            continue
        if not _has_word(term):
            continue
        if negated:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    if not groups:
        raise SearchQueryError("Search for at least one word (a -word only excludes).")
    return SearchQuery(text, tuple(map(tuple, groups)), tuple(excluded))
