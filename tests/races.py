"""Forcing an interleaving of two real requests at the SQL statement where a race would bite.

Each request runs in a named thread with its own test client (its own database connection); a
listener on the engine lets a thread pause right after (or before) a chosen statement until the other
thread reaches its own point. Waits are bounded: when the code under test serialises the two (as it
should), the paused thread simply carries on after ``timeout`` seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

Hook = Callable[[str, str], None]
"""(thread name, SQL statement) -> None; may block the thread it is called in."""


@contextmanager
def statement_hooks(engine: Any, before: Hook | None = None, after: Hook | None = None) -> Iterator[None]:
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if before is not None:
            before(threading.current_thread().name, statement)

    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if after is not None:
            after(threading.current_thread().name, statement)

    event.listen(engine, "before_cursor_execute", _before)
    event.listen(engine, "after_cursor_execute", _after)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", _before)
        event.remove(engine, "after_cursor_execute", _after)


def run_threads(targets: dict[str, Callable[[], Any]], timeout: float = 60) -> dict[str, Any]:
    """Run each callable in a thread of that name; their results (or raised exceptions) by name."""
    results: dict[str, Any] = {}

    def wrap(name: str, fn: Callable[[], Any]) -> None:
        try:
            results[name] = fn()
        except Exception as exc:  # the test inspects what each side got
            results[name] = exc

    threads = [threading.Thread(target=wrap, args=(name, fn), name=name) for name, fn in targets.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a request hung"
    return results


def is_task_update(statement: str) -> bool:
    """An UPDATE of task rows: on its own, or a claim's inside its one statement (``app.tasks.claiming``)."""
    s = statement.lstrip().upper()
    return s.startswith("UPDATE TASK ") or (s.startswith("WITH ") and "(UPDATE TASK SET " in s)


def is_instance_lock(statement: str) -> bool:
    s = statement.upper()
    return "FROM PROCESS_INSTANCE" in s and ("FOR UPDATE" in s or "FOR NO KEY UPDATE" in s)


def is_task_read(statement: str) -> bool:
    s = statement.lstrip().upper()
    return s.startswith("SELECT TASK.") and "WHERE TASK.ID =" in s
