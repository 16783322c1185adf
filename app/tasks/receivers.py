"""What the tasks package does on domain events: a completed task's drafts go (the sent form is the record)."""

from __future__ import annotations

from app.common import events

from .drafts import clear_on_completion


def connect() -> None:
    """Called once by ``create_app``; blinker keeps one weak-referenced receiver per function."""
    events.task_completed.connect(clear_on_completion)
