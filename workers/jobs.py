"""Job functions: ids in, one commit, idempotent. The same functions run on RQ and inline.

Each pushes its own app context (so it has its own database session, even
when called inline from a CLI command or the in-process loop) and commits once
at the end; the operations it calls only flush.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from flask import Flask, current_app, has_app_context

from app import create_app
from app.common.clock import now
from app.deadlines.calendar import working_calendar
from app.deadlines.escalation import due_task_ids
from app.deadlines.quiet_hours import describe
from app.deadlines.sweep import due_timer_instances, mark_swept
from app.deadlines.sweep_batch import escalate, escalate_due
from app.extensions import db
from app.notifications import delivery
from app.notifications.email import SmtpFailure, pending_ids, send
from app.notifications.email import queue_digests as write_digests
from app.processes.models import ProcessInstance
from app.tasks.handover import due_absence_ids, run_due
from app.tasks.timers import record_fire_failure
from app.webhooks import delivery as webhook_delivery
from app.workflow.commands import fire_due_timers

from .queues import DEFAULT, ENGINE, NOTIFY, enqueue

log = logging.getLogger(__name__)
CHUNK = 1000
"""Tasks escalated per job (one transaction): each batch is a handful of set-based statements, so a
thousand rows hold their locks for well under a second and amortise the commit."""


@contextmanager
def job_context() -> Iterator[Flask]:
    """A fresh app context (and so a fresh session) for one job; the worker's app, else a new one."""
    if has_app_context():
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    else:
        app = create_app()
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()


def _inline() -> bool:
    return not current_app.config["LIANDONG"].redis_url


def hand_over_absences(absence_ids: list[int]) -> tuple[int, int]:
    """Queue ``default``; retried. The hand-overs due of these absences (tasks to the substitute when one
    begins, back or kept when it ends): (tasks handed over, tasks settled).

    Idempotent: each absence is handed over and settled once (its row locked, ``SKIP LOCKED``), and a task
    moves only while the expected person still holds it.
    """

    with job_context():
        done = run_due(now(), list(absence_ids))
        db.session.commit()
        return done


def escalate_tasks(task_ids: list[int]) -> int:
    """Queue ``default``; retried. Take the due ladder steps of these tasks.

    Idempotent: rows are re-checked under lock (``SKIP LOCKED`` on PostgreSQL)
    and each (task, level) is recorded once, so a rerun after a crash, or a
    second sweep, finds nothing left to do.
    """

    with job_context():
        taken = escalate(list(task_ids))
        db.session.commit()
        return taken


def fire_timers(instance_id: int) -> bool:
    """Queue ``engine``. Fire whatever BPMN timers of the instance are due; False when firing failed.

    Idempotent: a timer fires once (the instance is locked and versioned); a
    rerun finds nothing due. A failure is not left to RQ's retries: it is
    recorded on the timers (attempts, error, ``next_attempt_at`` backoff) and as
    an incident on the instance in a second transaction, and the sweep tries
    again once the backoff has passed.
    """

    with job_context():
        try:
            fire_due_timers(instance_id)
            db.session.commit()
            return True
        except Exception as exc:
            db.session.rollback()
            error = f"{type(exc).__name__}: {exc}"
            log.warning("timers of instance %s failed: %s", instance_id, type(exc).__name__)
        _record_timer_failure(instance_id, error)
        return False


def _record_timer_failure(instance_id: int, error: str) -> None:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is not None:
        record_fire_failure(instance.id, instance.case_id, error)
    db.session.commit()


def send_email(outbox_id: int) -> str:
    """Queue ``notify``; retried on SMTP failure. Send one outbox row (a sent row is left alone)."""

    with job_context():
        try:
            result = send(outbox_id)
        except SmtpFailure:
            db.session.commit()  # keep the attempt count and error, then let RQ retry
            raise
        db.session.commit()
        return result


def deliver_webhook(delivery_id: int) -> str:
    """Queue ``notify``. Post one webhook delivery if it is due (``app.webhooks.delivery.send``).

    Idempotent: the row is locked and a delivered or failed one is left alone. A refused or failed post is
    not raised to RQ: the attempt and the next one's time are on the row, and the sweep sends it again then.
    """

    with job_context():
        result = webhook_delivery.send(delivery_id)
        db.session.commit()
        return result


def deliver_notification(delivery_id: int) -> str:
    """Queue ``notify``; retried on failure. Send one SMS / work-chat delivery, exactly once: the row is
    locked while it goes out and a sent row is left alone; quiet hours hold it (the sweep sends it later)."""

    with job_context():
        try:
            result = delivery.deliver(delivery_id, describe)
        except delivery.DeliveryFailure:
            db.session.commit()  # keep the attempt count and error, then let RQ retry
            raise
        db.session.commit()
        return result


def _deliver_inline(delivery_id: int) -> None:
    try:
        deliver_webhook(delivery_id)
    except Exception as exc:  # the database failed: the row is unchanged, the next sweep tries again
        log.warning("webhook delivery %s not attempted: %s", delivery_id, type(exc).__name__)


def _deliver_notification_inline(delivery_id: int) -> None:
    try:
        deliver_notification(delivery_id)
    except Exception as exc:  # recorded on the row; the next sweep retries
        log.warning("delivery %s not sent: %s", delivery_id, type(exc).__name__)


def queue_digests() -> int:
    """Queue ``notify``; retried. Write today's daily digests (once per user and day) and send them."""

    with job_context():
        rows = write_digests(working_calendar().is_workday)
        db.session.commit()
        ids = [r.id for r in rows]
        inline = _inline()
    if inline:
        for outbox_id in ids:
            _send_inline(outbox_id)
    return len(ids)


def _send_inline(outbox_id: int) -> None:
    try:
        send_email(outbox_id)
    except Exception as exc:  # recorded on the row; the next sweep retries
        log.warning("mail %s not sent: %s", outbox_id, exc)


@dataclass
class SweepReport:
    tasks_due: int = 0
    steps_taken: int = 0
    absences: int = 0
    """Absences whose start or end hand-over was due."""
    instances_with_timers: int = 0
    mails: int = 0
    deliveries: int = 0
    digests: int = 0
    webhooks: int = 0
    enqueued: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sweep(inline: bool | None = None) -> dict[str, Any]:
    """Queue ``default`` (from cron every ``sweep_interval`` s); retried. Find due work in the database.

    Reads which tasks have a ladder step due, which instances have a timer due
    and which mails are unsent, then runs the jobs for them: enqueued with
    Redis, inline without (or when ``inline`` is forced, as ``flask deadlines
    sweep`` does). Writes only its own mark (``sweep_mark``: when it last read
    the database, which ``/readyz`` turns into the sweep lag), so running it
    twice is harmless.
    """

    report = SweepReport()
    with job_context():
        at = now()
        run_inline = _inline() if inline is None else inline
        # Inline, the batches find the due tasks themselves (oldest first, locked): reading every due id
        # first was a second scan of them all (10,000 index entries at a million open tasks), for a count.
        task_ids = [] if run_inline else due_task_ids(at)
        instances = due_timer_instances(at)
        mails = pending_ids(at)
        hooks = webhook_delivery.due_ids(at)
        absences = due_absence_ids(at)
        deliveries = delivery.pending_ids(at)
        mark_swept(at)
        db.session.commit()
    report.tasks_due, report.instances_with_timers = len(task_ids), len(instances)
    report.absences = len(absences)
    chunks = [task_ids[i:i + CHUNK] for i in range(0, len(task_ids), CHUNK)]
    if not run_inline:
        if absences:
            enqueue(hand_over_absences, absences, queue=DEFAULT)
        for instance_id in instances:
            enqueue(fire_timers, instance_id, queue=ENGINE)
        for chunk in chunks:
            enqueue(escalate_tasks, chunk, queue=DEFAULT)
        for outbox_id in mails:
            enqueue(send_email, outbox_id, queue=NOTIFY)
        for delivery_id in hooks:
            enqueue(deliver_webhook, delivery_id, queue=NOTIFY)
        for delivery_id in deliveries:
            enqueue(deliver_notification, delivery_id, queue=NOTIFY)
        enqueue(queue_digests, queue=NOTIFY)
        report.enqueued, report.mails, report.webhooks = True, len(mails), len(hooks)
        report.deliveries = len(deliveries)
        return report.as_dict()
    if absences:  # hand-overs first: the reminders below then address whoever holds the task now
        hand_over_absences(absences)
    for instance_id in instances:  # timers first: they may create tasks that are due at once
        try:
            fire_timers(instance_id)
        except Exception as exc:  # the database itself failed: the next sweep tries again
            log.warning("timers of instance %s failed: %s", instance_id, type(exc).__name__)
    report.tasks_due, report.steps_taken = _escalate_all()
    with job_context():
        mails = pending_ids(now(), settle=_no_settle())
        hooks = webhook_delivery.due_ids(now(), settle=_no_settle())
        deliveries = delivery.pending_ids(now(), settle=_no_settle())
        db.session.rollback()
    for outbox_id in mails:
        _send_inline(outbox_id)
    for delivery_id in hooks:
        _deliver_inline(delivery_id)
    for delivery_id in deliveries:
        _deliver_notification_inline(delivery_id)
    report.mails, report.webhooks, report.deliveries = len(mails), len(hooks), len(deliveries)
    report.digests = queue_digests()
    return report.as_dict()


def _escalate_batch(app: Flask) -> tuple[int, int]:
    """One batch of the oldest due tasks in its own transaction: (tasks locked, steps taken)."""
    with app.app_context():
        try:
            locked, taken = escalate_due(now(), CHUNK)
            db.session.commit()
            return locked, taken
        finally:
            db.session.remove()


def _drain(app: Flask) -> tuple[int, int]:
    """Batch after batch until one comes back short (nothing left that another connection does not hold)."""
    due = steps = 0
    while True:
        locked, taken = _escalate_batch(app)
        due, steps = due + locked, steps + taken
        if locked < CHUNK:
            return due, steps


def _escalate_all() -> tuple[int, int]:
    """Every due ladder step, one batch per transaction; each batch leaves its tasks not due.

    When more than a batch is due on PostgreSQL, ``sweep_connections`` threads drain it from the first
    batch on, each on its own connection: the database's work per row (index entries, constraint checks)
    runs on as many cores while Python plans the next batch (a first batch taken alone kept one core idle
    for a tenth of a 10,000-task sweep). ``SKIP LOCKED`` hands each batch's tasks to one connection; a row
    another connection committed meanwhile is re-checked under the lock and is no longer due;
    ``escalation`` unique on (task, level) stays the backstop. SQLite has one writer: one.
    """
    with job_context() as app:
        connections = app.config["LIANDONG"].sweep_connections
        postgres = db.session.connection().dialect.name == "postgresql"
        several = postgres and connections > 1 and len(due_task_ids(now(), CHUNK + 1)) > CHUNK
        db.session.rollback()
    if not several:
        return _drain(app)
    due = steps = 0
    with ThreadPoolExecutor(max_workers=connections, thread_name_prefix="sweep") as pool:
        for more_due, more_steps in pool.map(lambda _: _drain(app), range(connections)):
            due, steps = due + more_due, steps + more_steps
    return due, steps


def _no_settle() -> Any:
    from datetime import timedelta

    return timedelta(0)
