"""Writes about cases: accepting a report starts a case and its main process."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from app.common.clock import now
from app.common.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.org.kinds import RegionLevel
from app.org.models import User
from app.org.queries import region_by_code
from app.processes import runtime
from app.processes.queries import current_spec

from .audit import audit
from .models import Case, Child, Guardian, Report
from .timeline import record

MAIN_PROCESS = "four_in_one"


def _local_today() -> date:
    return now().astimezone(ZoneInfo(current_app.config["LIANDONG"].county_timezone)).date()


def _child_from(payload: dict[str, Any]) -> Child:
    if payload.get("id"):
        child = db.session.get(Child, payload["id"])
        if child is None:
            raise NotFound(f"child {payload['id']} not found")
        return child
    village = region_by_code(payload["village"])
    if village is None or village.level != RegionLevel.VILLAGE:
        raise Invalid("unknown village", {"child.village": [f"no village with code {payload['village']!r}"]})
    child = Child(
        name=payload["name"], sex=payload["sex"], birth_date=payload.get("birth_date"),
        id_number=payload.get("id_number") or None, village=village, address=payload.get("address", ""),
        tags=sorted(set(payload.get("tags", []))), created_at=now(),
    )
    child.guardians = [Guardian(**g) for g in payload.get("guardians", [])]
    db.session.add(child)
    db.session.flush()
    return child


def accept_report(payload: dict[str, Any], submitted_by: User | None,
                  process_key: str = MAIN_PROCESS) -> tuple[Case, bool]:
    """Record a report, open a case and start the main process; returns (case, created).

    A retried submission with the same idempotency key returns the first case
    instead of opening a second one.
    """
    key = payload.get("idempotency_key")
    if key:
        earlier = db.session.scalar(sa.select(Report).where(Report.idempotency_key == key))
        if earlier is not None:
            if submitted_by is not None and earlier.submitted_by_id not in (None, submitted_by.id):
                raise Conflict("this idempotency key was used by another user")
            return earlier.case, False
    spec = current_spec(process_key)
    if spec is None:
        raise Conflict(f"process {process_key!r} is not deployed; run `flask processes deploy`")
    child = _child_from(payload["child"])
    info = payload["report"]
    at = now()
    case = Case(child=child, region_id=child.village_id, situation=info["situation"], status="open", opened_at=at)
    db.session.add(case)
    db.session.flush()
    case.number = f"LD{_local_today().year}{case.id:06d}"
    report = Report(
        case_id=case.id, reporter_type=info["reporter_type"], reporter_name=info.get("reporter_name", ""),
        reporter_phone=info.get("reporter_phone", ""),
        reporter_unit_id=submitted_by.unit_id if submitted_by else None, situation=info["situation"],
        description=info.get("description", ""), received_at=at,
        submitted_by_id=submitted_by.id if submitted_by else None, idempotency_key=key,
    )
    db.session.add(report)
    db.session.flush()
    record(case, "report_received", f"report from {info['reporter_type']}: {info['situation']}",
           actor=submitted_by, detail={"report_id": report.id, "reporter_type": info["reporter_type"],
                                       "situation": info["situation"]})
    audit(submitted_by.id if submitted_by else None, "create", "case", case.id, case_id=case.id)
    start_data = {
        "case_number": case.number,
        "situation": info["situation"],
        "reporter_type": info["reporter_type"],
        "child_age": child.age_on(_local_today()),
    }
    runtime.start(case, spec, start_data, submitted_by)
    return case, True
