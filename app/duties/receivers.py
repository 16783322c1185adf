"""What happens when a duty's instance ends: the cycle's status and outcome, the caregiver's status; a child's
duties follow their file when it is merged."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.cases.models import Case, ChildMerge
from app.common import events
from app.common.clock import now
from app.extensions import db
from app.processes.models import ProcessInstance

from .models import DutyCycle, Enrolment, Entrustment, EntrustmentStatus
from .status import settle

MOVED_WITH_THE_CHILD = (("enrolment", Enrolment), ("duty_cycle", DutyCycle), ("entrustment", Entrustment))
"""The duties rows about a child that follow its file when it is merged into another (a cycle keeps its
``subject``: it names whom the duty was done for at the time)."""


def on_children_merged(merge: ChildMerge, **_: Any) -> None:
    """Re-point the merged child's programme membership, duty cycles and entrusted care to the kept child,
    listing their ids in ``merge.moved`` for an unmerge."""
    moved = dict(merge.moved or {})
    for table, model in MOVED_WITH_THE_CHILD:
        ids = list(db.session.scalars(sa.select(model.id).where(model.child_id == merge.merged_id)))
        if ids:
            db.session.execute(sa.update(model).where(model.id.in_(ids)).values(child_id=merge.kept_id)
                               .execution_options(synchronize_session="fetch"))
            moved[table] = ids
    merge.moved = moved


def on_children_unmerged(merge: ChildMerge, **_: Any) -> None:
    """Put back exactly the rows the merge moved."""
    for table, model in MOVED_WITH_THE_CHILD:
        ids = (merge.moved or {}).get(table) or []
        if ids:
            db.session.execute(sa.update(model).where(model.id.in_(ids), model.child_id == merge.kept_id)
                               .values(child_id=merge.merged_id).execution_options(synchronize_session="fetch"))


def on_instance_completed(instance: ProcessInstance, *, case: Case, **_: Any) -> None:
    """A duty instance ended: settle its cycle; an entrusted-care check sets the caregiver's status.

    A cycle runs on a child's care file or a region's work file (``files``), never on a protection case, whose
    instances end without a read here."""
    if case.kind == "protection":
        return
    cycle = db.session.scalar(sa.select(DutyCycle).where(DutyCycle.instance_id == instance.id))
    if cycle is None:
        return
    settle(cycle)
    if cycle.duty == "entrusted_care_check" and cycle.entrustment_id is not None:
        entrustment = db.session.get(Entrustment, cycle.entrustment_id)
        if entrustment is not None and entrustment.status != EntrustmentStatus.ENDED:
            capable = instance.data.get("caregiver_capacity") == "capable" and not instance.data.get("neglect")
            entrustment.status = EntrustmentStatus.CAPABLE if capable else EntrustmentStatus.INADEQUATE
            entrustment.status_since = now()


def connect() -> None:
    """Called once by ``create_app``; blinker keeps one weak-referenced receiver per function."""
    events.instance_completed.connect(on_instance_completed)
    events.children_merged.connect(on_children_merged)
    events.children_unmerged.connect(on_children_unmerged)
