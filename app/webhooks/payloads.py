"""The event kinds a subscriber may ask for, and what each one's body says.

A body carries ids, kinds, times, region and unit codes and links, never a child's name, a report's
narrative, a form's answers or a person's name: a receiving system learns *that* something happened to
case 12 of county 370826 and fetches what its own basis allows through the API (need to know).
The shape follows Standard Webhooks (``type``, ``timestamp``, ``data``) plus our ``id`` and ``county``::

    {"id": "evt_...", "type": "case.closed", "timestamp": "2026-11-30T08:00:00+00:00",
     "county": "370826", "data": {"case": {...}, "links": {...}}}
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.cases.models import Case, Report
from app.common.clock import now
from app.org.models import Unit
from app.tasks.models import Task

KINDS: dict[str, Any] = {
    "report.accepted": _l("A report was accepted and opened a case"),
    "report.added": _l("A report was added to a child's open case"),
    "task.opened": _l("A step opened in a unit's queue"),
    "task.completed": _l("A unit completed a step"),
    "task.overdue": _l("A step became overdue"),
    "case.closed": _l("A case was closed"),
}
"""Every kind, in the order the admin pages list them, with the words they show."""


def new_event_id() -> str:
    """``evt_`` + a random UUID: unique per event, the receiver's de-duplication key."""
    return f"evt_{uuid.uuid4().hex}"


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _link(path: str) -> str:
    return current_app.config["LIANDONG"].public_url + path


def _case(case: Case) -> dict[str, Any]:
    return {"id": case.id, "number": case.number, "kind": case.kind, "status": case.status,
            "region": case.region.code, "opened_at": _at(case.opened_at), "closed_at": _at(case.closed_at)}


def _case_links(case: Case) -> dict[str, str]:
    return {"case": _link(f"/cases/{case.id}"), "case_api": _link(f"/api/v1/cases/{case.id}")}


def _unit(unit: Unit | None) -> dict[str, Any] | None:
    return None if unit is None else {"id": unit.id, "kind": unit.kind, "region": unit.region.code}


def _task(task: Task) -> dict[str, Any]:
    return {"id": task.id, "step": task.bpmn_id, "department_kind": task.department_kind, "state": task.state,
            "unit": _unit(task.unit), "created_at": _at(task.created_at), "due_at": _at(task.due_at),
            "completed_at": _at(task.completed_at)}


def report_data(case: Case, report: Report) -> dict[str, Any]:
    """``report.accepted`` / ``report.added``: the report's id and time, its case; not what it says."""
    return {"report": {"id": report.id, "received_at": _at(report.received_at)}, "case": _case(case),
            "links": _case_links(case)}


def task_data(task: Task, case: Case, **extra: Any) -> dict[str, Any]:
    """``task.*``: the step's id, BPMN id, unit and times, its case; never the form's answers."""
    return {"task": {**_task(task), **extra}, "case": _case(case),
            "links": {**_case_links(case), "task": _link(f"/tasks/{task.id}"),
                      "task_api": _link(f"/api/v1/tasks/{task.id}")}}


def case_data(case: Case) -> dict[str, Any]:
    """``case.closed``: the case's id, number, region and times."""
    return {"case": _case(case), "links": _case_links(case)}


def body(event_id: str, kind: str, county: str, data: dict[str, Any], at: datetime | None = None) -> str:
    """The JSON text posted (compact, keys in a fixed order: every retry sends these bytes)."""
    if kind not in KINDS:
        raise ValueError(f"unknown webhook event kind {kind!r}")
    return json.dumps({"id": event_id, "type": kind, "timestamp": (at or now()).isoformat(), "county": county,
                       "data": data}, ensure_ascii=False, separators=(",", ":"))
