"""Email: outbox rows written with the notification, sent after commit, daily digests.

A notification for a user with an email address and ``email_frequency``
``immediate`` gets an outbox row in the same transaction; ``daily`` users get
one digest per working day (county time, after ``digest_time``) listing what
arrived since the last one. Rows are sent one per job (``send``), after the
transaction that wrote them has committed. Delivery is at least once: a worker
that dies between the SMTP server's "250 OK" and its commit sends that mail
again on retry, with the same ``Message-ID`` so mail clients can tell.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import sqlalchemy as sa
from flask import current_app

from app.common.clock import county_zone, now
from app.common.dialect import for_update
from app.extensions import db
from app.org.models import User

from .channels import EMAIL, Preferences
from .models import EmailOutbox, Notification

MAX_ATTEMPTS = 8
"""After this many failed SMTP attempts a row is left for an admin (``flask jobs failed`` shows the job)."""


class SmtpFailure(Exception):
    """The SMTP server refused or could not be reached; the attempt is recorded on the row."""


def _body(notes: list[Notification]) -> str:
    return mail_body([(note.title, note.body) for note in notes])


def mail_body(items: list[tuple[str, str]]) -> str:
    """The text of a mail listing these (title, body) notifications."""
    lines = []
    for title, body in items:
        lines.append(f"- {title}" + (f"\n  {body}" if body else ""))
    lines.append("")
    lines.append("请登录联动平台处理。此邮件由系统自动发送。")
    return "\n".join(lines)


def _lock_row(outbox_id: int) -> EmailOutbox | None:
    stmt = sa.select(EmailOutbox).where(EmailOutbox.id == outbox_id)
    stmt = for_update(stmt, skip_locked=True)
    return db.session.scalar(stmt.execution_options(populate_existing=True))


def send(outbox_id: int) -> str:
    """Send one outbox row; returns sent / already / busy / unconfigured / gone. Flushes.

    Raises ``SmtpFailure`` after recording the attempt, so the job is retried.
    """
    settings = current_app.config["LIANDONG"]
    row = _lock_row(outbox_id)
    if row is None:
        exists = db.session.get(EmailOutbox, outbox_id) is not None
        return "busy" if exists else "gone"
    if row.sent_at is not None:
        return "already"
    if not settings.smtp_host:
        return "unconfigured"
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(now())
    message["Message-ID"] = make_msgid(idstring=(row.dedupe_key or f"outbox-{row.id}").replace(":", "."),
                                       domain="liandong")
    message.set_content(row.body)
    row.attempts = (row.attempts or 0) + 1
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value() if settings.smtp_password else "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.flush()
        raise SmtpFailure(row.last_error) from exc
    row.sent_at = now()
    row.last_error = None
    db.session.flush()
    return "sent"


def pending_ids(at: datetime, settle: timedelta = timedelta(seconds=60), limit: int = 1000) -> list[int]:
    """Unsent rows old enough that their after-commit dispatch must have been lost (Redis down)."""
    if not current_app.config["LIANDONG"].smtp_host:
        return []
    return list(db.session.scalars(
        sa.select(EmailOutbox.id).where(EmailOutbox.sent_at.is_(None), EmailOutbox.attempts < MAX_ATTEMPTS,
                                        EmailOutbox.created_at <= at - settle)
        .order_by(EmailOutbox.id).limit(limit)))


def digest_due(at: datetime, is_workday: Callable[[date], bool]) -> bool:
    """Whether ``at`` is past the digest time on a working day in the county.

    ``is_workday`` is the county's calendar (``app.deadlines.calendar``), handed in by the job: the
    calendar lives above notifications.
    """
    settings = current_app.config["LIANDONG"]
    local = at.astimezone(county_zone())
    hour, minute = (int(x) for x in settings.digest_time.split(":"))
    return local.time() >= time(hour, minute) and is_workday(local.date())


def queue_digests(is_workday: Callable[[date], bool], at: datetime | None = None) -> list[EmailOutbox]:
    """Write today's digest for every ``daily`` user with unmailed notifications (once a day). Flushes."""
    at = at or now()
    if not digest_due(at, is_workday):
        return []
    local_day = at.astimezone(county_zone()).date()
    users = db.session.scalars(sa.select(User).where(
        User.email_frequency == "daily", User.email.is_not(None), User.active.is_(True))).all()
    rows = []
    for user in users:
        key = f"digest:{user.id}:{local_day.isoformat()}"
        if db.session.scalar(sa.select(sa.exists().where(EmailOutbox.dedupe_key == key))):
            continue
        notes = list(db.session.scalars(sa.select(Notification).where(
            Notification.user_id == user.id, Notification.emailed_at.is_(None), Notification.created_at <= at)
            .order_by(Notification.created_at, Notification.id)))
        if user.notify_channels:  # kinds the user wants by other channels only are settled, not mailed
            wanted = Preferences.of(user)
            for note in notes:
                if EMAIL not in wanted.channels_for(note.kind):
                    note.emailed_at = at
            notes = [note for note in notes if note.emailed_at is None]
        if not notes:
            continue
        row = EmailOutbox(to_address=user.email, subject=f"[联动] {local_day.isoformat()} 待办摘要（{len(notes)} 条）",
                          body=_body(notes), dedupe_key=key, created_at=at)
        db.session.add(row)
        for note in notes:
            note.emailed_at = at
        rows.append(row)
    db.session.flush()
    return rows
