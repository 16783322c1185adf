"""One way to create notifications (``bulk.notify_many``, also under ``notify``): one INSERT for all
recipients; a dedupe key makes a repeat write nothing, and no second mail."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlcount import starting, statements_sent

from app.extensions import db
from app.notifications.models import EmailOutbox, Notification
from app.notifications.operations import notify
from app.org.models import User


def _count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_many_recipients_one_statement_and_a_repeat_writes_nothing(demo: dict[str, Any]) -> None:
    users = list(db.session.scalars(sa.select(User).order_by(User.id).limit(3)))
    for user in users:
        user.email, user.email_frequency = f"{user.username}@example.org", "immediate"
    with statements_sent(starting("INSERT INTO notification")) as statements:
        assert notify(users, "conference", "个案会商", dedupe_key="conference:1") == 3
        assert len(statements) == 1
        mails = _count(EmailOutbox)
        assert mails == 3
        assert notify(users, "conference", "个案会商", dedupe_key="conference:1") == 0
        assert len(statements) == 2  # the repeat is one statement too, which writes nothing
    assert _count(Notification) == 3 and _count(EmailOutbox) == mails
    keys = set(db.session.scalars(sa.select(Notification.dedupe_key)))
    assert keys == {f"conference:1:{u.id}" for u in users}


def test_notes_without_a_key_are_each_created_and_titles_are_cut_to_the_column(demo: dict[str, Any]) -> None:
    user = db.session.scalars(sa.select(User).order_by(User.id)).first()
    assert user is not None
    assert notify([user], "new_task", "甲" * 400) == 1
    assert notify([user], "new_task", "乙") == 1
    assert sorted(len(t) for t in db.session.scalars(sa.select(Notification.title))) == [1, 300]
    assert notify([], "new_task", "无人") == 0
