"""Domain errors; the API maps each to one HTTP status with a JSON message."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    body: dict[str, Any] | None = None
    """More of the answer than message and errors (a stale submission's both versions), merged into the JSON."""

    def __init__(self, message: str, errors: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


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
