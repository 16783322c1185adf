"""Calendar cycles started in bulk (``duties.bulk``, ``workflow.bulk.start_many``) are the cycles the
per-child command starts, cost a fixed number of statements per batch, and start once however often or
concurrently the scheduler runs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from duty_helpers import complete_cycle, enrolled

from app.audit.models import AuditEvent
from app.cases.models import Case, TimelineEntry
from app.common.clock import county_zone
from app.duties import bulk
from app.duties.cycles import period_of
from app.duties.models import DutyCycle
from app.duties.scheduler import start_cycle, start_due_duties
from app.engine.stamping import normalized
from app.extensions import db
from app.notifications.models import Notification
from app.processes.models import ProcessInstance
from app.tasks.models import Task

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # 09:00 county time; ISO week 2026-W11, not a month start
NEXT_MONDAY = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
WEEK_AFTER = datetime(2026, 3, 23, 1, 0, tzinfo=UTC)


@contextmanager
def statements() -> Iterator[list[str]]:
    """The statements sent; on PostgreSQL ``COPY`` (``common.bulk.copy_rows``) goes through the driver's
    own cursor, not SQLAlchemy's events, so those are counted where they are made."""
    from app.audit import operations as audit_ops
    from app.common import bulk as common_bulk
    from app.workflow import bulk as workflow_bulk

    seen: list[str] = []
    real_copy = common_bulk.copy_rows

    def copy_rows(model: Any, rows: Any) -> None:
        if rows and db.session.get_bind().dialect.name == "postgresql":
            seen.append(f"COPY {model.__tablename__}")
        real_copy(model, rows)

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):  # the test harness
            seen.append(" ".join(statement.split())[:80])

    engine = db.session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    workflow_bulk.copy_rows = audit_ops.copy_rows = copy_rows  # type: ignore[assignment]
    try:
        yield seen
    finally:
        workflow_bulk.copy_rows = audit_ops.copy_rows = real_copy  # type: ignore[assignment]
        sa.event.remove(engine, "before_cursor_execute", count)


def _weekly(child_id: int) -> DutyCycle:
    cycle = db.session.scalar(sa.select(DutyCycle).where(DutyCycle.duty == "weekly_contact",
                                                         DutyCycle.child_id == child_id))
    assert cycle is not None and cycle.instance_id is not None
    return cycle


def _projection(cycle: DutyCycle) -> dict[str, Any]:
    """Everything a cycle's start wrote, with what is the child's own (ids, number, name) taken out."""
    case = db.session.get(Case, cycle.case_id)
    instance = db.session.get(ProcessInstance, cycle.instance_id)
    assert case is not None and instance is not None
    own = [case.number or "", case.subject]

    def plain(value: Any) -> Any:
        text = json.dumps(value, ensure_ascii=False, default=str)
        for word in own:
            text = text.replace(json.dumps(word, ensure_ascii=False)[1:-1], "<own>")
        return json.loads(text)

    tasks = db.session.scalars(sa.select(Task).where(Task.instance_id == instance.id).order_by(Task.id)).all()
    entries = db.session.scalars(sa.select(TimelineEntry).where(TimelineEntry.instance_id == instance.id)
                                 .order_by(TimelineEntry.id)).all()
    notes = db.session.scalars(sa.select(Notification).where(Notification.task_id.in_([t.id for t in tasks]))
                               .order_by(Notification.id)).all()
    return plain({
        # (not ``version``: the per-child start writes its instance twice, insert then state; a bulk start once)
        "instance": [instance.status, instance.serializer_version, instance.data,
                     json.loads(normalized(instance.state))],
        "tasks": [[t.bpmn_id, t.name, t.lane, t.department_kind, t.unit_id, t.state, t.form, t.instructions,
                   t.deadline, t.due_at, t.remind_at, t.escalation, t.escalation_level, t.next_escalation_at]
                  for t in tasks],
        "timeline": [[e.kind, e.summary, e.actor_id, e.unit_id, e.task_id is not None, e.detail] for e in entries],
        "notifications": [[n.user_id, n.kind, n.title, n.body] for n in notes],
        "cycle": [cycle.status, cycle.period, cycle.period_start, cycle.due_at, cycle.trigger],
    })


def test_bulk_cycles_are_the_cycles_the_per_child_command_starts(demo: Any, clock: Any) -> None:
    clock.at = MONDAY
    stamped = [enrolled(name, started_on=date(2026, 1, 1)) for name in ("甲", "乙", "丙")]
    late = enrolled("丁", started_on=date(2026, 3, 10))  # enrolled after the week began: the scheduler skips it
    db.session.commit()
    # per child: the week's contact, the month's home visit, the half-year's assessment; two counties' comparison;
    # their village's quarterly verification
    assert start_due_duties(MONDAY) == 3 * 3 + 2 + 1
    period = period_of("weekly", MONDAY, county_zone())
    case = db.session.get(Case, late.case_id)
    assert case is not None
    one = start_cycle("weekly_contact", f"child:{late.child_id}", period.key, case,
                      period_start=period.start.astimezone(UTC), due_at=period.end.astimezone(UTC),
                      child_id=late.child_id, data={"cadence": "weekly"})
    assert one is not None
    db.session.commit()
    expected = _projection(one)
    for enrolment in stamped:
        assert _projection(_weekly(enrolment.child_id)) == expected
    audited = db.session.scalars(sa.select(AuditEvent.object_id).where(AuditEvent.object_type == "duty_cycle")).all()
    cycles = db.session.scalars(sa.select(DutyCycle.id).where(DutyCycle.child_id.in_([e.child_id for e in stamped])))
    assert sorted(audited) == sorted(str(cycle_id) for cycle_id in cycles)
    complete_cycle(_weekly(stamped[1].child_id))  # a stamped instance is worked like any other
    db.session.commit()
    worked = db.session.get(ProcessInstance, _weekly(stamped[1].child_id).instance_id)
    assert worked is not None and worked.status == "completed"


def test_a_batch_costs_the_same_statements_whatever_its_size(demo: Any, clock: Any) -> None:
    tz = county_zone()
    counts: list[list[str]] = []
    children = 0
    for week, (monday, joining) in enumerate([(MONDAY, 3), (NEXT_MONDAY, 4), (WEEK_AFTER, 12)]):
        clock.at = monday
        for n in range(joining):
            enrolled(f"小{week}-{n}", started_on=date(2026, 1, 1))
        children += joining
        existing = {tuple(r) for r in db.session.execute(sa.select(DutyCycle.duty, DutyCycle.subject,
                                                                   DutyCycle.period))}
        db.session.commit()
        db.session.expunge_all()
        with statements() as seen:
            # everyone's weekly contact, and the month's visit and half-year's assessment of those who joined
            assert bulk.start_child_cycles(monday, tz, existing) == children + 2 * joining
        db.session.commit()
        counts.append(seen)
    # Per run: the frequency rules and the enrolments. Per duty: the overlap check, the calendar and
    # ladders, the version (deployment's and counties' own); per batch (one here): cycles, instance and
    # task ids, instances, tasks, timeline, notifications, the cycles' instances, audit; per village
    # routed: its unit and the unit's workers. The first run also reads each spec (then cached).
    assert len(counts[1]) == len(counts[2]) == 2 + 3 * 16, counts[2]


def test_a_second_or_concurrent_run_starts_nothing_again(demo: Any, clock: Any) -> None:
    clock.at = MONDAY
    children = [enrolled(name, started_on=date(2026, 1, 1)) for name in ("一", "二")]
    db.session.commit()
    assert start_due_duties(MONDAY) == 2 * 3 + 2 + 1  # and their village's quarterly verification
    db.session.commit()
    instances = db.session.scalar(sa.select(sa.func.count(ProcessInstance.id)))
    assert start_due_duties(MONDAY) == 0
    # A scheduler that read the existing cycles before the first committed: the cycle rows' unique key
    # turns its inserts into nothing, so it starts no instance either.
    assert bulk.start_child_cycles(MONDAY, county_zone(), set()) == 0
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(ProcessInstance.id))) == instances
    for enrolment in children:
        assert db.session.scalar(sa.select(sa.func.count(DutyCycle.id)).where(
            DutyCycle.child_id == enrolment.child_id, DutyCycle.duty == "weekly_contact")) == 1


@pytest.mark.postgres
@pytest.mark.committing
def test_two_schedulers_at_once_start_each_childs_cycles_once(app: Any, demo: Any, clock: Any) -> None:
    """Both read no existing cycle (each before the other commits); the second waits on the first's cycle
    rows, then skips them: every child gets one weekly contact, one instance, one task."""
    from races import run_threads

    clock.at = MONDAY
    ids = [enrolled(f"并发{n}", started_on=date(2026, 1, 1)).child_id for n in range(6)]
    db.session.commit()
    db.session.remove()
    ready = threading.Barrier(2)

    def scheduler() -> int:
        with app.app_context():
            ready.wait(timeout=10)
            started = bulk.start_child_cycles(MONDAY, county_zone(), set())
            db.session.commit()
            return started

    results = run_threads({"one": scheduler, "two": scheduler})
    assert sum(results.values()) == 6 * 3, results
    db.session.remove()
    for child_id in ids:
        cycles = db.session.scalars(sa.select(DutyCycle).where(DutyCycle.child_id == child_id)).all()
        assert sorted(c.duty for c in cycles) == ["assessment", "home_visit", "weekly_contact"]
        for cycle in cycles:
            assert cycle.instance_id is not None
            assert db.session.scalar(sa.select(sa.func.count(Task.id)).where(
                Task.instance_id == cycle.instance_id)) == 1
        assert db.session.scalar(sa.select(sa.func.count(ProcessInstance.id)).where(
            ProcessInstance.case_id == cycles[0].case_id)) == 3


def test_the_stamped_start_is_prepared_once_for_all_batches_of_a_run(demo: Any, clock: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from app import engine

    clock.at = MONDAY
    for n in range(5):
        enrolled(f"批{n}", started_on=date(2026, 1, 1))
    db.session.commit()
    prepared: list[str] = []
    real = engine.prepare_start

    def counting(spec_key: str, *args: Any, **kwargs: Any) -> Any:
        prepared.append(spec_key)
        return real(spec_key, *args, **kwargs)

    monkeypatch.setattr(engine, "prepare_start", counting)
    monkeypatch.setattr(bulk, "BATCH", 2)  # five children of each duty: batches of 2, 2 and 1
    assert bulk.start_child_cycles(MONDAY, county_zone(), set()) == 5 * 3
    db.session.commit()
    assert len(prepared) == 3  # one per duty's process (before: one per batch, 9)
    stamped = db.session.scalars(sa.select(DutyCycle).where(DutyCycle.duty == "weekly_contact")
                                 .order_by(DutyCycle.id)).all()
    assert len(stamped) == 5 and all(cycle.instance_id is not None for cycle in stamped)
    last = db.session.get(ProcessInstance, stamped[-1].instance_id)  # the batch of one is stamped too
    assert last is not None and last.version == 1
