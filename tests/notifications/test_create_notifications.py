"""One way to create notifications: one INSERT for all recipients; a dedupe key makes a repeat a no-op."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.notifications.models import Notification
from app.notifications.operations import NewNote, create_notifications, notify
from app.org.models import User


@contextmanager
def _inserts() -> Iterator[list[str]]:
    """The INSERTs into ``notification`` sent to the database while the block runs."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO NOTIFICATION"):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


def test_many_recipients_one_statement_and_a_repeat_creates_nothing(demo: dict[str, Any]) -> None:
    users = list(db.session.scalars(sa.select(User).order_by(User.id).limit(3)))
    with _inserts() as statements:
        created = notify(users, "conference", "个案会商", dedupe_key="conference:1")
        assert len(statements) == 1
        assert sorted(n.user_id for n in created) == [u.id for u in users]
        assert all(n.id is not None for n in created)
        again = notify(users, "conference", "个案会商", dedupe_key="conference:1")
        assert again == []
        assert len(statements) == 2  # the repeat is one statement too, which writes nothing
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 3


def test_notes_without_a_key_are_each_created_and_titles_are_cut_to_the_column(demo: dict[str, Any]) -> None:
    user = db.session.scalars(sa.select(User).order_by(User.id)).first()
    assert user is not None
    created = create_notifications([NewNote(user, "new_task", "甲" * 400), NewNote(user, "new_task", "乙")])
    assert sorted(len(n.title) for n in created) == [1, 300]
    assert create_notifications([]) == []
