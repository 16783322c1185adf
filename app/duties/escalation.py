"""What happens, besides the task's own escalation ladder, when a duty cycle is missed.

The cycle's task is due at the end of its period; issue 4's escalation ladder
takes it from there like any task (for ``village_committee`` tasks the
``overdue`` step at the due time notifies the township's child supervisor:
"a missed visit escalates to the township child supervisor", 003 二（三）8,
000 附件2 第4项). This hook adds the duty-level record, once per cycle: the
cycle is marked missed and the miss is written on the child's file (or the
region's work file), where the supervisor's file checks look for it.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.cases.models import Case
from app.cases.timeline import record
from app.extensions import db
from app.tasks.models import Task, TaskState

from .catalog import DUTIES
from .models import DutyCycle


def escalate_missed(cycle: DutyCycle) -> None:
    """Record the miss on the file's timeline, naming the task still open (called once per cycle)."""
    case = db.session.get(Case, cycle.case_id)
    assert case is not None
    summary = f"未按期完成：{DUTIES[cycle.duty].name_zh}（{cycle.period}）"
    task = db.session.scalar(sa.select(Task).where(Task.instance_id == cycle.instance_id,
                                                   Task.state == TaskState.OPEN).order_by(Task.id).limit(1))
    entry = record(case, "duty_missed", summary, task=task, detail={
        "cycle_id": cycle.id, "duty": cycle.duty, "period": cycle.period,
        "due_at": cycle.due_at.isoformat() if cycle.due_at else None})
    entry.instance_id = None  # as the ladder does: no FK wait on an instance another command holds
