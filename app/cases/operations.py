"""Writes about cases: accepting a report opens a case; the workflow starts its process on ``report_accepted``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.audit.operations import audit
from app.common import events, idempotency
from app.common.clock import local_today, now
from app.common.dialect import for_update
from app.common.errors import Invalid
from app.extensions import db
from app.org.models import User

from .identity import normalise_id_number
from .intake import ChildFound, find_child, open_case_of
from .lateness import lateness
from .models import Case, Child, Report
from .queries import LikelyMatch, likely_view
from .timeline import record

MAIN_PROCESS = "four_in_one"


@dataclass
class Accepted:
    """What filing a report did: the case it opened (or the one it repeats) and whether it is new."""

    case: Case | None
    created: bool
    possible_duplicate_of: Report | None = None
    """A report of the last minutes by the same person about the same child (see ``recent_duplicate``)."""
    outcome: str = "new_case"
    """``new_case`` (a new child), ``new_case_known_child`` (a child on file without an open case),
    ``added_to_open_case``, ``held_possible_duplicate``, ``held_likely_matches``, ``replayed``."""
    report: Report | None = None
    likely_matches: tuple[LikelyMatch, ...] = ()
    """Held: children with the name, birth date and village given; pick one (``child.id``) or send
    ``confirm_new_child``."""

    @property
    def case_id(self) -> int | None:
        return self.case.id if self.case is not None else None

    @property
    def case_number(self) -> str | None:
        return self.case.number if self.case is not None else None

    @property
    def status(self) -> str | None:
        return self.case.status if self.case is not None else None

    @property
    def report_id(self) -> int | None:
        return self.report.id if self.report is not None else None


def _lock_filer(user: User) -> None:
    """Serialise one person's keyless reports (PostgreSQL), so two copies sent at once are seen as such.

    ``FOR NO KEY UPDATE``: rows that merely reference the user (timeline, audit, notifications) are not
    blocked by it.
    """
    db.session.execute(for_update(sa.select(User.id).where(User.id == user.id), key_share=True))


def recent_duplicate(payload: dict[str, Any], user: User | None) -> Report | None:
    """The latest report ``user`` filed in the last minutes (setting ``duplicate_report_minutes``) about the
    same child: the same child record, the same ID number, or the same name and birth date."""
    minutes = current_app.config["LIANDONG"].duplicate_report_minutes
    child = payload["child"]
    if user is None or minutes <= 0:
        return None
    same: list[Any] = []
    if child.get("id"):
        same.append(Case.child_id == child["id"])
    if norm := normalise_id_number(child.get("id_number")):
        same.append(Child.id_number_norm == norm)
    if child.get("name") and child.get("birth_date"):
        same.append(sa.and_(Child.name == child["name"], Child.birth_date == child["birth_date"]))
    if not same:
        return None
    return db.session.scalar(
        sa.select(Report).join(Case, Case.id == Report.case_id).join(Child, Child.id == Case.child_id)
        .where(Report.submitted_by_id == user.id, Report.received_at >= now() - timedelta(minutes=minutes),
               sa.or_(*same))
        .order_by(Report.id.desc()).limit(1))


def accept_report(payload: dict[str, Any], submitted_by: User | None,
                  process_key: str = MAIN_PROCESS) -> tuple[Case, bool]:
    """``file_report`` for programmatic intake (imports, scripts, tests) that needs only (case, created).

    It does not hold back a report that repeats a recent one: an import files what it is given.
    """
    accepted = file_report(payload, submitted_by, process_key, check_recent=False)
    if accepted.case is None:
        raise Invalid("likely matches: name the child or confirm a new one",
                      {"child": ["a child with this name, birth date and village is on file"]})
    return accepted.case, accepted.created


def file_report(payload: dict[str, Any], submitted_by: User | None, process_key: str = MAIN_PROCESS,
                check_recent: bool | None = None) -> Accepted:
    """Record a report, open a case and start the main process.

    With an ``idempotency_key`` a retry returns the first case, however many copies arrive and
    however close together (``app.common.idempotency``). Without one (or with ``check_recent``: the
    report page, whose key covers only one rendered form), a report matching one the same person
    filed in the last minutes about the same child is not filed again: the earlier case comes back
    with ``possible_duplicate_of`` set, unless ``confirm_duplicate`` says it is a new report (then it
    is filed and flagged on its case).
    """
    key = payload.get("idempotency_key")
    user_id = submitted_by.id if submitted_by else None
    request = {k: v for k, v in payload.items() if k not in ("idempotency_key", "confirm_duplicate",
                                                               "confirm_new_child")}
    if key:
        first = idempotency.take("report", key, user_id, request)
        if first is not None:
            case = db.session.get(Case, first, populate_existing=True)
            assert case is not None
            return Accepted(case, False, outcome="replayed")
    duplicate: Report | None = None
    if (check_recent if check_recent is not None else not key) and submitted_by is not None:
        _lock_filer(submitted_by)
        duplicate = recent_duplicate(payload, submitted_by)
        if duplicate is not None and not payload.get("confirm_duplicate"):
            if key:
                idempotency.release("report", key)  # held, not filed: confirming may reuse the form's key
            return Accepted(duplicate.case, False, duplicate, outcome="held_possible_duplicate")
    if duplicate is not None and duplicate.case.child is not None and not payload["child"].get("id"):
        # Confirmed as a new report about the child this person reported minutes ago: that child's file.
        found = ChildFound(duplicate.case.child, known=True)
    else:
        found = find_child(payload["child"], submitted_by, confirm_new=bool(payload.get("confirm_new_child")))
    if found.child is None:
        if key:
            idempotency.release("report", key)  # held: the same form, with a choice made, may be sent again
        return Accepted(None, False, outcome="held_likely_matches",
                        likely_matches=tuple(likely_view(c, submitted_by) for c in found.likely))
    child = found.child
    info = payload["report"]
    at = now()
    if found.known and (open_case := open_case_of(child)) is not None:
        report = _add_report(open_case, info, submitted_by, key, duplicate, at)
        return Accepted(open_case, True, duplicate, outcome="added_to_open_case", report=report)
    case = Case(child=child, region_id=child.village_id, situation=info["situation"], status="open", opened_at=at)
    db.session.add(case)
    db.session.flush()
    case.number = f"LD{local_today().year}{case.id:06d}"
    report, detail = _new_report(case, info, submitted_by, key, duplicate, at)
    record(case, "report_received", f"report from {info['reporter_type']}: {info['situation']}{_late_words(report)}",
           actor=submitted_by, detail=detail)
    audit(submitted_by.id if submitted_by else None, "create", "case", case.id, case_id=case.id)
    start_data = {
        "case_number": case.number,
        "situation": info["situation"],
        "reporter_type": info["reporter_type"],
        "child_age": child.age_on(local_today()),
    }
    # The workflow starts the process here (409, and the caller rolls back, when it is not deployed).
    events.report_accepted.send(case, report=report, process_key=process_key, data=start_data, actor=submitted_by)
    if key:
        idempotency.settle("report", key, case.id)
    return Accepted(case, True, duplicate, outcome="new_case_known_child" if found.known else "new_case",
                    report=report)


def _add_report(case: Case, info: dict[str, Any], submitted_by: User | None, key: str | None,
                duplicate: Report | None, at: datetime) -> Report:
    """A report about a child whose case is open joins that case: the process already running carries it,
    the timeline shows it, and the units working the case are told (``events.report_added``)."""
    report, detail = _new_report(case, info, submitted_by, key, duplicate, at)
    record(case, "report_added",
           f"another report from {info['reporter_type']}: {info['situation']}{_late_words(report)}",
           actor=submitted_by, detail=detail)
    audit(submitted_by.id if submitted_by else None, "create", "report", report.id, case_id=case.id,
          detail={"added_to_open_case": case.number})
    events.report_added.send(case, report=report, actor=submitted_by)
    if key:
        idempotency.settle("report", key, case.id)
    return report


def _new_report(case: Case, info: dict[str, Any], submitted_by: User | None, key: str | None,
                duplicate: Report | None, at: datetime) -> tuple[Report, dict[str, Any]]:
    """The report row (flushed) and its timeline entry's detail: when the reporter learned of the situation
    and whether the report is late, with the limit then in force (``lateness``)."""
    learned_at = info.get("learned_at")
    found = lateness(info["reporter_type"], learned_at, at, case.child.county_id if case.child else None)
    report = Report(
        case_id=case.id, reporter_type=info["reporter_type"], reporter_name=info.get("reporter_name", ""),
        reporter_phone=info.get("reporter_phone", ""),
        reporter_unit_id=submitted_by.unit_id if submitted_by else None, situation=info["situation"],
        description=info.get("description", ""), received_at=at, learned_at=learned_at, late=found.late,
        submitted_by_id=submitted_by.id if submitted_by else None, idempotency_key=key,
        duplicate_of_case_id=duplicate.case_id if duplicate is not None else None,
    )
    db.session.add(report)
    db.session.flush()
    detail: dict[str, Any] = {"report_id": report.id, "reporter_type": info["reporter_type"],
                              "situation": info["situation"]}
    if learned_at is not None:
        detail.update(learned_at=learned_at.isoformat(), hours_to_report=found.hours_taken)
    if found.late:
        detail.update(late=True, late_report_hours=found.hours_allowed)
    if duplicate is not None:
        detail["possible_duplicate_of"] = duplicate.case.number
    return report, detail


def _late_words(report: Report) -> str:
    return " (late)" if report.late else ""
