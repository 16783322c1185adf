"""What a case does when its process moves: take the grade and help tier it decided, close when it ends."""

from __future__ import annotations

from typing import Any

from app.common import events
from app.common.clock import now
from app.extensions import db
from app.org.models import User

from .models import Case
from .timeline import record


def take_assessment(instance: Any, *, case: Case, data: dict[str, Any], **_: Any) -> None:
    """The process's latest grade and help tier are the case's (shown on the case and its timeline)."""
    if data.get("grade"):
        case.grade = str(data["grade"])
    if data.get("help_tier"):
        case.help_tier = str(data["help_tier"])


def take_assessments(spec: Any, *, started: list[Any], **_: Any) -> None:
    """``take_assessment`` for a bulk start: only the cases whose new instance's data carries a grade or tier."""
    for item in started:
        if item.data.get("grade") or item.data.get("help_tier"):
            case = db.session.get(Case, item.case_id)
            if case is not None:
                take_assessment(None, case=case, data=item.data)


def close_when_done(instance: Any, *, case: Case, actor: User | None, end_event: str, end_name: str,
                    last_of_case: bool, **_: Any) -> None:
    """A protection case closes when its last running instance ends.

    A child's programme file and a region's work file stay open across their many short instances
    (recurring duties, conference actions), and a conference action still running keeps a protection
    case open until it is done.
    """
    if case.kind != "protection" or case.status != "open" or not last_of_case:
        return
    case.status = "closed"
    case.closed_at = now()
    record(case, "case_closed", f"case closed ({end_event})", actor=actor, instance=instance,
           detail={"end_event": end_event, "end_name": end_name})
    events.case_closed.send(case, instance=instance, actor=actor)


def connect() -> None:
    """Called once by ``create_app``; blinker keeps one weak-referenced receiver per function."""
    events.instance_saved.connect(take_assessment)
    events.instances_started.connect(take_assessments)
    events.instance_completed.connect(close_when_done)
