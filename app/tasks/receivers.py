"""What the tasks package does on domain events: a completed task's drafts go (the sent form is the record);
the units of a case hear of a report added to it; the township hears the police have handled a case and a village
filed its quarterly verification; a supervising unit hears of a finding about a mandatory reporter it supervises."""

from __future__ import annotations

from app.common import events

from .case_news import (
    tell_supervising_unit_of_finding,
    tell_township_of_police_handling,
    tell_township_of_village_verification,
    tell_units_of_added_report,
)
from .drafts import clear_on_completion


def connect() -> None:
    """Called once by ``create_app``; blinker keeps one weak-referenced receiver per function."""
    events.task_completed.connect(clear_on_completion)
    events.report_added.connect(tell_units_of_added_report)
    events.task_completed.connect(tell_township_of_police_handling)
    events.task_completed.connect(tell_township_of_village_verification)
    events.finding_recorded.connect(tell_supervising_unit_of_finding)
