"""What happens when a duty's instance ends: the cycle's status and outcome, the caregiver's status."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.common import events
from app.common.clock import now
from app.extensions import db
from app.processes.models import ProcessInstance

from .models import DutyCycle, Entrustment, EntrustmentStatus
from .status import settle


def on_instance_completed(instance: ProcessInstance, **_: Any) -> None:
    """A duty instance ended: settle its cycle; an entrusted-care check sets the caregiver's status."""
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
