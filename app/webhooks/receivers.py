"""Domain events that become webhook deliveries (``app.common.events``; connected once by ``create_app``).

Each receiver builds the event's body from the objects the signal carries and writes the deliveries in
the sender's transaction (``outbox.record``); with no subscriber of that kind it does nothing at all.
"""

from __future__ import annotations

from typing import Any

from app.cases.models import Case, Report
from app.common import events
from app.tasks.models import Task

from . import outbox, payloads


def on_report_accepted(case: Case, *, report: Report, **_: Any) -> None:
    if "report.accepted" in outbox.subscribed_kinds():
        outbox.record("report.accepted", case, payloads.report_data(case, report))


def on_report_added(case: Case, *, report: Report, **_: Any) -> None:
    if "report.added" in outbox.subscribed_kinds():
        outbox.record("report.added", case, payloads.report_data(case, report))


def on_task_opened(task: Task, *, case: Case, **_: Any) -> None:
    if "task.opened" in outbox.subscribed_kinds():
        outbox.record("task.opened", case, payloads.task_data(task, case))


def on_task_completed(task: Task, *, case: Case, **_: Any) -> None:
    if "task.completed" in outbox.subscribed_kinds():
        outbox.record("task.completed", case, payloads.task_data(task, case))


@events.only_when(lambda: "task.overdue" in outbox.subscribed_kinds())  # the sweep loads no task for nobody
def on_task_overdue(task: Task, *, case: Case, level: int, **_: Any) -> None:
    if "task.overdue" in outbox.subscribed_kinds():
        outbox.record("task.overdue", case, payloads.task_data(task, case, escalation_level=level))


def on_case_closed(case: Case, **_: Any) -> None:
    if "case.closed" in outbox.subscribed_kinds():
        outbox.record("case.closed", case, payloads.case_data(case))


def connect() -> None:
    events.report_accepted.connect(on_report_accepted)
    events.report_added.connect(on_report_added)
    events.task_opened.connect(on_task_opened)
    events.task_completed.connect(on_task_completed)
    events.task_overdue.connect(on_task_overdue)
    events.case_closed.connect(on_case_closed)
