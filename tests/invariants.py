"""Nothing lost, nothing doubled, nothing stuck: the invariants checked after every load and fault test.

``check_invariants`` reads the database (and the engine state of every running instance) and returns
counts: totals to show the test did something, and violations, each of which must be zero.
``ClientLog`` is what the clients saw (status codes, accepted reports, claims), collected across threads.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

VIOLATIONS = ("report_key_with_several_cases", "case_without_report", "task_claimed_by_two",
              "task_completed_twice", "ready_task_missing_row", "open_row_not_ready", "duplicate_open_step",
              "timeline_completions_mismatch", "overdue_step_not_escalated", "escalation_doubled",
              "reference_to_missing_task", "server_errors")


@dataclass
class ClientLog:
    """What the clients saw; ``in_flight_at_kill`` requests may fail with 5xx or a dropped connection."""

    statuses: Counter[int] = field(default_factory=Counter)
    reports: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    dropped: int = 0
    server_errors: list[str] = field(default_factory=list)
    excused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, status: int, what: str, excused: bool = False) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status >= 500:
                if excused:
                    self.excused += 1
                else:
                    self.server_errors.append(f"{status} {what}")

    def accepted(self, key: str, case_id: int) -> None:
        with self.lock:
            self.reports[key].add(case_id)


def check_invariants(session: Any, log: ClientLog | None = None, at: datetime | None = None,
                     escalation_grace: timedelta = timedelta(seconds=30)) -> dict[str, int]:
    """Counts over the whole database; the ``VIOLATIONS`` keys must all be 0."""
    from app import engine
    from app.cases.models import Case, Report, TimelineEntry
    from app.deadlines.models import Escalation
    from app.processes.models import ProcessInstance
    from app.tasks.models import Task

    at = at or datetime.now().astimezone()
    counts: dict[str, int] = dict.fromkeys(VIOLATIONS, 0)
    session.rollback()

    # Every accepted report has exactly one case (per idempotency key, in the database and as answered).
    per_key = session.execute(sa.select(Report.idempotency_key, sa.func.count(sa.distinct(Report.case_id)))
                              .where(Report.idempotency_key.is_not(None)).group_by(Report.idempotency_key)).all()
    counts["report_key_with_several_cases"] = sum(1 for _, n in per_key if n != 1)
    if log is not None:
        counts["report_key_with_several_cases"] += sum(1 for ids in log.reports.values() if len(ids) != 1)
        counts["reports_accepted"] = len(log.reports)
    protection = set(session.scalars(sa.select(Case.id).where(Case.kind == "protection")))
    reported = set(session.scalars(sa.select(Report.case_id)))
    counts["case_without_report"] = len(protection - reported)
    counts["cases"] = len(protection)

    # No task claimed by two people or completed twice (the timeline records each claim and completion).
    claims = session.execute(sa.select(TimelineEntry.task_id, sa.func.count(sa.distinct(TimelineEntry.actor_id)))
                             .where(TimelineEntry.kind == "task_claimed").group_by(TimelineEntry.task_id)).all()
    counts["task_claimed_by_two"] = sum(1 for _, n in claims if n > 1)
    completions = session.execute(sa.select(TimelineEntry.task_id, sa.func.count())
                                  .where(TimelineEntry.kind == "task_completed").group_by(TimelineEntry.task_id)).all()
    counts["task_completed_twice"] = sum(1 for _, n in completions if n > 1)
    completed_rows = session.scalar(sa.select(sa.func.count(Task.id)).where(Task.state == "completed")) or 0
    counts["tasks_completed"] = completed_rows
    counts["timeline_completions_mismatch"] = abs(sum(n for _, n in completions) - completed_rows)

    # Open task rows equal the engine's ready tasks; every next step exists exactly once.
    open_rows: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(sa.select(Task.instance_id, Task.engine_task_id, Task.bpmn_id)
                               .where(Task.state == "open")):
        open_rows[row.instance_id].append(row)
    instances = session.scalars(sa.select(ProcessInstance).where(ProcessInstance.status == "running")).all()
    for instance in instances:
        spec = instance.spec
        snap = engine.snapshot(spec.content_hash, lambda spec=spec: spec.spec_json, instance.state)
        ready = {t.id for t in snap.ready_tasks}
        rows = {r.engine_task_id for r in open_rows.get(instance.id, [])}
        counts["ready_task_missing_row"] += len(ready - rows)
        counts["open_row_not_ready"] += len(rows - ready)
        steps = Counter(r.engine_task_id for r in open_rows.get(instance.id, []))
        counts["duplicate_open_step"] += sum(n - 1 for n in steps.values() if n > 1)
    counts["instances_running"] = len(instances)
    counts["open_tasks"] = sum(len(v) for v in open_rows.values())

    # Every overdue ladder step escalated exactly once (the unique key makes "twice" impossible; count it anyway).
    counts["overdue_step_not_escalated"] = session.scalar(sa.select(sa.func.count(Task.id)).where(
        Task.state == "open", Task.next_escalation_at <= at - escalation_grace)) or 0
    doubled = session.execute(sa.select(Escalation.task_id, Escalation.level, sa.func.count())
                              .group_by(Escalation.task_id, Escalation.level).having(sa.func.count() > 1)).all()
    counts["escalation_doubled"] = len(doubled)
    counts["escalations"] = session.scalar(sa.select(sa.func.count(Escalation.id))) or 0
    counts["reference_to_missing_task"] = missing_task_references(session)

    if log is not None:
        counts["server_errors"] = len(log.server_errors)
        counts["server_errors_excused"] = log.excused
        counts["requests"] = sum(log.statuses.values())
        counts["dropped_connections"] = log.dropped
    session.rollback()
    return counts


def missing_task_references(session: Any) -> int:
    """Escalation, timeline and notification rows naming a task that does not exist (those references have no
    foreign key since migration d4f7b2e9a6c1: their writers hold the task row, and a task is never deleted)."""
    from app.cases.models import TimelineEntry
    from app.deadlines.models import Escalation
    from app.notifications.models import Notification
    from app.tasks.models import Task

    tasks = sa.select(Task.id)
    return sum(session.scalar(sa.select(sa.func.count()).select_from(model).where(
        model.task_id.is_not(None), model.task_id.not_in(tasks))) or 0
        for model in (Escalation, TimelineEntry, Notification))


def violations(counts: dict[str, int]) -> dict[str, int]:
    return {k: counts[k] for k in VIOLATIONS if counts.get(k)}
