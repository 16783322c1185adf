"""The SQL the app's engine sends while a block runs: the one listener of the tests that pin statement counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from app.extensions import db

SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
"""What the rolled-back test fixture adds around a test's commits (tests/rollback.py), not the app's own SQL."""


def every(statement: str) -> bool:
    return True


def not_savepoint(statement: str) -> bool:
    return not statement.startswith(SAVEPOINTS)


def starting(prefix: str) -> Callable[[str], bool]:
    """Statements that begin with ``prefix`` (case and leading blanks ignored), e.g. ``"SELECT"``."""
    wanted = prefix.upper()
    return lambda statement: statement.lstrip().upper().startswith(wanted)


@contextmanager
def statements_sent(keep: Callable[[str], bool] = every) -> Iterator[list[str]]:
    """Each statement the DB-API cursor executes inside the block that ``keep`` accepts, in order."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if keep(statement):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
