"""Other tables' rows written with the notifications (``notify_many(..., along=...)``, ``common.bulk.insert_many``):
on PostgreSQL one statement (the others' INSERTs in a data-modifying ``WITH``), so a workflow step's timeline entries
cost no round trip of their own; on SQLite one INSERT each. Every row arrives, and a bad one fails the whole."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import report_payload
from sqlcount import not_savepoint, statements_sent

from app.cases.models import TimelineEntry
from app.cases.operations import accept_report
from app.cases.schemas import ReportIn
from app.extensions import db
from app.notifications.bulk import NOTIFICATION_COLUMNS, notify_many
from app.notifications.models import Notification
from app.org.models import User
from app.org.queries import user_by_username

AT = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def _case_id() -> int:
    case, created = accept_report(ReportIn().load(report_payload()), user_by_username("reporter_school"))
    assert created
    db.session.flush()
    return case.id


def _entry(case_id: int, kind: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"case_id": case_id, "at": AT, "kind": kind, "summary": f"摘要 {kind}", "actor_id": None, "unit_id": None,
            "task_id": None, "instance_id": None, "detail": detail or {}}


def _note(user: User, key: str) -> dict[str, Any]:
    row = {"user_id": user.id, "kind": "new_task", "title": "新任务", "body": "", "case_id": None, "task_id": None,
           "dedupe_key": key, "created_at": AT}
    return {c: row[c] for c in NOTIFICATION_COLUMNS}


def _entries(case_id: int) -> list[tuple[str, dict[str, Any], datetime]]:
    return [(e.kind, e.detail, e.at) for e in db.session.scalars(
        sa.select(TimelineEntry).where(TimelineEntry.case_id == case_id, TimelineEntry.kind.like("along_%"))
        .order_by(TimelineEntry.id))]


def test_the_timeline_rows_ride_with_the_notifications_in_one_statement_on_postgresql(demo: dict[str, Any]) -> None:
    case_id = _case_id()
    users = list(db.session.scalars(sa.select(User).order_by(User.id).limit(2)))
    rows = [_note(u, f"along:{u.id}") for u in users]
    entries = [_entry(case_id, "along_a", {"名": "甲", "n": 1}), _entry(case_id, "along_b")]
    with statements_sent(not_savepoint) as seen:
        written = notify_many(rows, {u.id: u for u in users}, AT, along=[(TimelineEntry, entries)])

    assert written == 2
    if db.engine.dialect.name == "postgresql":
        assert len(seen) == 1 and seen[0].startswith("WITH along_0 AS (INSERT INTO timeline_entry"), seen
    else:
        assert [s.split(" (")[0] for s in seen] == ["INSERT INTO timeline_entry", "INSERT INTO notification"], seen
    assert _entries(case_id) == [("along_a", {"名": "甲", "n": 1}, AT), ("along_b", {}, AT)]
    assert set(db.session.scalars(sa.select(Notification.dedupe_key).where(Notification.dedupe_key.like("along:%")))) \
        == {f"along:{u.id}" for u in users}


def test_the_timeline_rows_are_written_when_there_is_no_notification(demo: dict[str, Any]) -> None:
    case_id = _case_id()
    with statements_sent(not_savepoint) as seen:
        assert notify_many([], {}, AT, along=[(TimelineEntry, [_entry(case_id, "along_alone")])]) == 0
    assert [s.split(" (")[0] for s in seen] == ["INSERT INTO timeline_entry"], seen
    assert _entries(case_id) == [("along_alone", {}, AT)]


def test_a_repeated_notification_still_writes_the_timeline_rows(demo: dict[str, Any]) -> None:
    """``ON CONFLICT DO NOTHING`` skips the notification only: the ``WITH``'s INSERT runs to completion anyway."""
    case_id = _case_id()
    user = db.session.scalars(sa.select(User).order_by(User.id)).first()
    assert user is not None
    assert notify_many([_note(user, "along:again")], {user.id: user}, AT) == 1
    assert notify_many([_note(user, "along:again")], {user.id: user}, AT,
                       along=[(TimelineEntry, [_entry(case_id, "along_repeat")])]) == 0
    assert _entries(case_id) == [("along_repeat", {}, AT)]


def test_a_bad_timeline_row_fails_the_whole_and_writes_no_notification(demo: dict[str, Any]) -> None:
    user = db.session.scalars(sa.select(User).order_by(User.id)).first()
    assert user is not None
    missing_case = int(db.session.scalar(sa.select(sa.func.max(TimelineEntry.case_id))) or 0) + 10_000
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        notify_many([_note(user, "along:bad")], {user.id: user}, AT,
                    along=[(TimelineEntry, [_entry(missing_case, "along_bad")])])
    assert db.session.scalar(sa.select(sa.func.count()).where(Notification.dedupe_key == "along:bad")) == 0
    assert db.session.scalar(sa.select(sa.func.count()).where(TimelineEntry.kind == "along_bad")) == 0
