"""Domain errors; the API maps each to one HTTP status and one JSON error shape (``app/common/api.py``).

``errors`` maps a field's path to its messages. A path is the field's names joined by dots, an array
index in brackets (``child.village``, ``relatives[0].phone``), ``_schema`` for the whole input (marshmallow's
name); pages show the messages beside their fields by the same paths. The API puts them under the
``location`` they came from (``json``, ``query``, ``form``, ``files``, ``headers``, webargs' names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

WHOLE = "_schema"
"""The path of an error about the input as a whole rather than one field."""


class DomainError(Exception):
    status = 400
    body: dict[str, Any] | None = None
    """More of the answer than message and errors (a stale submission's both versions), merged into the JSON."""

    def __init__(self, message: str, errors: dict[str, Any] | None = None, *, location: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.location = location
        """Where the fields are (``json``, ``form``, ``files``, ``headers``, ``query``); ``None``: where the
        request's input is (its body, else its query)."""


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    """Stale or double submission, a task no longer open, a lost optimistic lock."""

    status = 409


class Invalid(DomainError):
    """Input that fails validation; ``errors`` maps field paths to messages."""

    status = 422


class Unavailable(DomainError):
    """A server the answer needs (Redis for the job registry) is down: try again later; nothing changed."""

    status = 503


def field_path(parts: Iterable[str | int]) -> str:
    """``("relatives", 0, "phone")`` -> ``relatives[0].phone``; no parts is the whole input (``_schema``)."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in (WHOLE, ""):
            path += f".{part}" if path else str(part)
    return path or WHOLE


def flat_messages(messages: Any, parts: tuple[str | int, ...] = ()) -> dict[str, list[str]]:
    """marshmallow's nested messages (``{"report": {"situation": [...]}, "items": {0: {...}}}``) as one
    map of path to messages, so a client finds a field's errors by its path without walking."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            for path, texts in flat_messages(value, (*parts, key)).items():
                flat.setdefault(path, []).extend(texts)
        return flat
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return {field_path(parts): list(messages)} if messages else {}
        return flat_messages(dict(enumerate(messages)), parts)
    return {field_path(parts): [str(messages)]}
