"""A case with a long history, made in bulk: timeline entries, tasks and process instances of years of work.

Used by ``tests/cases/test_case_paging.py`` (statement counts must not grow with it) and
``bench/case_view.py`` (the case view's latency at 500 entries and 100 tasks).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.cases.models import TimelineEntry
from app.common.clock import now
from app.extensions import db
from app.org.models import Unit, User
from app.processes.models import ProcessInstance
from app.tasks.models import Task, TaskState

VISIT = {"visit_date": "2026-03-01", "child_seen": True, "findings": "孩子在家，由祖母照料"}


def grow_case(case_id: int, *, entries: int, tasks: int, instances: int = 0, open_share: int = 5) -> None:
    """Add ``entries`` timeline entries, ``tasks`` tasks (one in ``open_share`` open, the rest completed home
    visits with answers) and ``instances`` more process instances to the case, by several actors and units."""
    first = db.session.scalars(sa.select(ProcessInstance).where(ProcessInstance.case_id == case_id)
                               .order_by(ProcessInstance.id)).first()
    assert first is not None, "open the case through the API first"
    users = list(db.session.scalars(sa.select(User).order_by(User.id).limit(5)))
    units = list(db.session.scalars(sa.select(Unit).order_by(Unit.id).limit(5)))
    start = now() - timedelta(days=400)
    instance_ids = [first.id]
    for n in range(instances):
        extra = ProcessInstance(case_id=case_id, spec_id=first.spec_id, state=first.state,
                                serializer_version=first.serializer_version, status="completed", data={},
                                started_at=start + timedelta(days=7 * n), updated_at=start + timedelta(days=7 * n))
        db.session.add(extra)
        db.session.flush()
        instance_ids.append(extra.id)
    rows: list[dict[str, Any]] = []
    for n in range(tasks):
        done = n % open_share != 0
        rows.append({
            "instance_id": instance_ids[n % len(instance_ids)], "case_id": case_id, "engine_task_id": f"grown-{n}",
            "bpmn_id": "village_home_visit", "name": f"入户走访 {n}", "lane": "village_committee",
            "department_kind": "village_committee", "unit_id": units[n % len(units)].id,
            "state": TaskState.COMPLETED if done else TaskState.OPEN, "form": None, "instructions": "",
            "created_at": start + timedelta(days=n), "completed_at": start + timedelta(days=n, hours=3) if done else None,
            "completed_by_id": users[n % len(users)].id if done else None,
            "assignee_id": users[n % len(users)].id, "data": VISIT if done else None,
        })
    if rows:
        db.session.execute(sa.insert(Task), rows)
    task_ids = list(db.session.scalars(sa.select(Task.id).where(Task.case_id == case_id)))
    entry_rows = [{
        "case_id": case_id, "at": start + timedelta(hours=7 * n), "kind": "task_completed" if n % 2 else "comment",
        "summary": f"走访记录 {n}", "actor_id": users[n % len(users)].id, "unit_id": units[n % len(units)].id,
        "task_id": task_ids[n % len(task_ids)] if n % 2 else None, "instance_id": instance_ids[0],
        "detail": {"data": VISIT} if n % 2 else {"comment_id": n},
    } for n in range(entries)]
    if entry_rows:
        db.session.execute(sa.insert(TimelineEntry), entry_rows)
    db.session.commit()
