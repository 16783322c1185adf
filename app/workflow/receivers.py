"""The workflow's subscriptions: a filed report starts its case's process."""

from __future__ import annotations

from typing import Any

from app.cases.models import Case
from app.common import events
from app.org.models import User

from .commands import start_current


def start_case_process(case: Case, *, process_key: str, data: dict[str, Any], actor: User | None,
                       **_: Any) -> None:
    """Start the current version of the case's process; 409 (the report is refused) when none is deployed."""
    start_current(case, process_key, data, actor)


def connect() -> None:
    """Called once by ``create_app``; blinker keeps one weak-referenced receiver per function."""
    events.report_accepted.connect(start_case_process)
