"""What the deadlines package does on domain events: a reassigned task's ladder starts over for its holder."""

from __future__ import annotations

from typing import Any

from app.common import events
from app.tasks.models import Task

from .escalation import restart_ladder


def restart_for_new_holder(task: Task, **_: Any) -> None:
    """Steps still ahead address the new holder (docs/deadlines-and-escalation.md, "Reassigning")."""
    restart_ladder(task)


def connect() -> None:
    """Called once by ``create_app``; blinker keeps one weak-referenced receiver per function."""
    events.task_reassigned.connect(restart_for_new_holder)
