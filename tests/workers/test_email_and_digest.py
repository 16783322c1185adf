"""Notifications by email through a real SMTP peer: one mail per event, or one digest per working day."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from deadline_helpers import notifications, open_case, sweep, tasks_of

from app.extensions import db
from app.notifications.models import EmailOutbox
from app.org.queries import user_by_username

TZ = ZoneInfo("Asia/Shanghai")


def _email(username: str, address: str, frequency: str = "immediate") -> None:
    user = user_by_username(username)
    user.email, user.email_frequency = address, frequency
    db.session.commit()


def test_escalation_mail_goes_out_once_through_smtp(county: Any, clock: Any, smtp: Any) -> None:
    _email("police_t01_head", "head@police.example")
    case = open_case("four_in_one", "t01v01")
    sweep()
    assert any("LD2026" in s for s in smtp.subjects())  # the new task, mailed at once
    clock.advance(minutes=61)
    sweep()
    subjects = smtp.subjects()
    assert any("已逾期" in s for s in subjects), subjects
    assert all(m["To"] == "head@police.example" for m in smtp.messages)
    count = len(smtp.messages)
    sweep()
    sweep()
    assert len(smtp.messages) == count  # sent rows are never sent again
    rows = db.session.query(EmailOutbox).all()
    assert rows and all(r.sent_at is not None and r.attempts == 1 for r in rows)
    assert len({m["Message-ID"] for m in smtp.messages}) == count
    assert tasks_of(case.id)[0].escalation_level == 2


def test_smtp_refusal_is_recorded_and_retried_later(county: Any, clock: Any, smtp: Any) -> None:
    _email("police_t01", "liaison@police.example")
    open_case("four_in_one", "t01v01")
    smtp.refuse = True
    sweep()
    [row] = db.session.query(EmailOutbox).all()
    assert row.sent_at is None and row.attempts == 1 and "451" in (row.last_error or "")
    smtp.refuse = False
    clock.advance(minutes=2)
    sweep()
    db.session.expire_all()
    row = db.session.get(EmailOutbox, row.id)
    assert row.sent_at is not None and row.attempts == 2 and row.last_error is None
    assert len(smtp.messages) == 1


def test_daily_digest_once_per_working_day_after_digest_time(county: Any, clock: Any, smtp: Any) -> None:
    _email("police_t01", "digest@police.example", "daily")
    clock.at = datetime(2026, 3, 13, 10, 0, tzinfo=TZ)  # Friday 10:00, after the digest time
    open_case("four_in_one", "t01v01")
    open_case("four_in_one", "t01v02")
    clock.at = datetime(2026, 3, 14, 9, 0, tzinfo=TZ)  # Saturday: no digest
    clock.advance(minutes=1)
    sweep()
    assert smtp.messages == []
    clock.at = datetime(2026, 3, 16, 8, 0, tzinfo=TZ)  # Monday before 08:30
    sweep()
    assert smtp.messages == []
    clock.at = datetime(2026, 3, 16, 8, 31, tzinfo=TZ)
    sweep()
    [digest] = smtp.messages
    assert "待办摘要" in smtp.subjects()[0]
    body = digest.get_payload(decode=True).decode("utf-8")
    mine = [n for n in notifications() if n.user_id == user_by_username("police_t01").id]
    assert len(mine) >= 4 and all(n.title in body for n in mine)  # new tasks and their escalations
    assert all(n.emailed_at is not None for n in mine)
    clock.advance(hours=3)
    sweep()
    assert len(smtp.messages) == 1  # one digest a day
    clock.at = datetime(2026, 3, 17, 9, 0, tzinfo=TZ)
    sweep()
    assert len(smtp.messages) == 1  # nothing new since yesterday's digest
