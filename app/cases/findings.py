"""Late reports and findings about mandatory reporters (issue 15 part 5): who reads them, recording, answering.

Need to know, one rule for the page and the API:

- a county coordinator reads the late reports and the findings of their county, and records findings on the
  cases of their county (they hold the county's basis on those cases);
- the liaisons and heads of the unit a finding is routed to (the reporter's supervising unit,
  ``org.queries.supervising_unit``) read the findings routed to them and answer them; they see the reporter's
  unit, person, dates and facts, and the case number, never the child (the case opens only on a basis of its
  own, ``access``);
- nobody else reads either (a reporter does not see findings about their own unit: the supervising unit
  decides what to tell them).

Every read writes an audit row (a list: one row naming what it showed), every change one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.audit.operations import audit
from app.common import events
from app.common.clock import county_zone, now
from app.common.errors import Forbidden, Invalid, NotFound
from app.extensions import db
from app.org.kinds import ABOVE_COUNTY, SUPERVISED_BY
from app.org.models import Unit, User
from app.org.queries import county_id_of, supervising_unit
from app.org.roles import Role

from .access import require_case, works_tasks
from .models import Case, Child, FindingKind, Report, ReportingFinding


def coordinated_county(user: User) -> int | None:
    """The county a coordinator oversees (None: not a coordinator of one county)."""
    if not user.has_role(Role.COUNTY_COORDINATOR) or user.region is None or user.region.level in ABOVE_COUNTY:
        return None
    return county_id_of(user.region_id)


def reads_findings(user: User) -> bool:
    """Whether the user has a findings page at all: a county's coordinator, or a liaison or head of a unit of a
    kind that supervises mandatory reporters (education, health, township, civil affairs)."""
    return coordinated_county(user) is not None or (
        works_tasks(user) and user.unit is not None and user.unit.kind in set(SUPERVISED_BY.values()))


@dataclass(frozen=True)
class Period:
    """County-local days ``start``..``end`` (both included; either open), as the dashboard counts them."""

    start: date | None = None
    end: date | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        zone = county_zone()
        lower = datetime.combine(self.start, time(0), tzinfo=zone) if self.start else None
        upper = datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=zone) if self.end else None
        return lower, upper

    def where(self, column: Any) -> list[Any]:
        lower, upper = self.bounds()
        return [c for c in (column >= lower if lower else None, column < upper if upper else None) if c is not None]

    def given(self) -> dict[str, str]:
        return {k: v.isoformat() for k, v in (("start", self.start), ("end", self.end)) if v is not None}


def late_reports_select(user: User, period: Period = Period()) -> sa.Select[Report]:
    """Late reports about the children of the coordinator's county, newest first (none for anyone else)."""
    county = coordinated_county(user)
    stmt = (sa.select(Report).join(Case, Case.id == Report.case_id)
            .where(Report.late.is_(True), *period.where(Report.received_at))
            .options(joinedload(Report.case), joinedload(Report.reporter_unit))
            .order_by(Report.received_at.desc(), Report.id.desc()))
    if county is None:
        return stmt.where(sa.false())
    return stmt.join(Child, Child.id == Case.child_id).where(Child.county_id == county)


def findings_select(user: User, period: Period = Period(), *, unanswered: bool = False) -> sa.Select[ReportingFinding]:
    """The findings ``user`` may read (module docstring), newest first."""
    mine: list[Any] = []
    if (county := coordinated_county(user)) is not None:
        mine.append(ReportingFinding.county_id == county)
    if works_tasks(user):
        mine.append(ReportingFinding.supervising_unit_id == user.unit_id)
    stmt = (sa.select(ReportingFinding).where(sa.or_(*mine) if mine else sa.false(),
                                              *period.where(ReportingFinding.recorded_at))
            .options(joinedload(ReportingFinding.reporter_unit), joinedload(ReportingFinding.supervising_unit),
                     joinedload(ReportingFinding.case))
            .order_by(ReportingFinding.recorded_at.desc(), ReportingFinding.id.desc()))
    return stmt.where(ReportingFinding.response.is_(None)) if unanswered else stmt


def get_finding(user: User, finding_id: int) -> ReportingFinding:
    """One finding the user may read (404 otherwise: a finding not theirs is not said to exist). The entry
    point that shows it audits the read (``audit_rows``)."""
    finding = db.session.scalar(findings_select(user).where(ReportingFinding.id == finding_id))
    if finding is None:
        raise NotFound(f"finding {finding_id} not found")
    return finding


def _reporter_unit(payload: dict[str, Any], case: Case, report: Report | None) -> Unit:
    unit_id = payload.get("reporter_unit_id") or (report.reporter_unit_id if report is not None else None)
    unit = db.session.get(Unit, unit_id) if unit_id else None
    if unit is None:
        raise Invalid("name the mandatory reporter's unit", {"reporter_unit_id": ["unknown unit"]})
    if unit.kind not in SUPERVISED_BY:
        raise Invalid("this unit is not a mandatory reporter", {"reporter_unit_id": [
            f"a unit of kind {unit.kind} is not a mandatory reporter with a supervising unit "
            f"(one of {', '.join(sorted(SUPERVISED_BY))})"]})
    if county_id_of(unit.region_id) != (case.child.county_id if case.child else county_id_of(case.region_id)):
        raise Invalid("the unit is in another county", {"reporter_unit_id": ["not a unit of the case's county"]})
    return unit


def record(user: User, payload: dict[str, Any]) -> ReportingFinding:
    """Record a finding on a case of the coordinator's county and route it to the reporter's supervising unit.
    Flushes; the caller commits. 404 for a case the coordinator may not open, 422 for what does not fit."""
    access = require_case(user, payload["case_id"], detail=True)
    case = access.case
    county = coordinated_county(user)
    case_county = case.child.county_id if case.child else county_id_of(case.region_id)
    if county is None or county != case_county:
        raise Forbidden("only the coordinator of the child's county records a finding")
    report = None
    if payload.get("report_id") is not None:
        report = db.session.get(Report, payload["report_id"])
        if report is None or report.case_id != case.id:
            raise Invalid("the report is not one of this case's", {"report_id": ["not a report of the case"]})
    unit = _reporter_unit(payload, case, report)
    supervisor = supervising_unit(unit)
    if supervisor is None:
        raise Invalid("no unit supervises this reporter here", {"reporter_unit_id": [
            f"the county has no {SUPERVISED_BY[unit.kind]} unit to route the finding to"]})
    knew_since = payload["knew_since"]
    if knew_since > now() + timedelta(minutes=5):
        raise Invalid("knew_since is in the future", {"knew_since": ["must not be in the future"]})
    finding = ReportingFinding(
        county_id=case_county, case_id=case.id, report_id=report.id if report else None, kind=payload["kind"],
        reporter_unit_id=unit.id, person=payload["person"].strip(), knew_since=knew_since,
        facts=payload["facts"].strip(), supervising_unit_id=supervisor.id, recorded_by_id=user.id,
        recorded_at=now())
    db.session.add(finding)
    db.session.flush()
    audit(user.id, "create", "finding", finding.id, case_id=case.id, detail={
        "kind": finding.kind, "reporter_unit_id": unit.id, "unit_id": supervisor.id})
    events.finding_recorded.send(finding, actor=user)
    return finding


def answer(user: User, finding_id: int, response: str) -> ReportingFinding:
    """The supervising unit says what it did about the finding (once). Flushes; the caller commits."""
    finding = db.session.scalar(findings_select(user).where(ReportingFinding.id == finding_id))
    if finding is None:
        raise NotFound(f"finding {finding_id} not found")
    if not works_tasks(user) or user.unit_id != finding.supervising_unit_id:
        raise Forbidden("only the supervising unit answers a finding")
    if finding.response is not None:
        raise Invalid("the finding was answered already", {"response": ["already answered"]})
    finding.response, finding.responded_by_id, finding.responded_at = response.strip(), user.id, now()
    db.session.flush()
    audit(user.id, "update", "finding", finding.id, case_id=finding.case_id, detail={"answered": True})
    return finding


KINDS = tuple(k.value for k in FindingKind)
