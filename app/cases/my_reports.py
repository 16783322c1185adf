"""A reporter follows their reports: each report's case number, status and the date each stage was reached.

Nothing more: the reporter has only the ``reporter`` basis (``access``), so no narrative, no step text, no
names (not even the child's: the file may hold a name other than the one they gave). The stages are read
from the case's timeline: the completion of the four-in-one process's steps that mark them (below).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import lazyload, load_only

from app.extensions import db
from app.org.models import User

from .models import Case, Report, TimelineEntry

STAGES: tuple[tuple[str, frozenset[str]], ...] = (
    ("accepted", frozenset({"police_triage"})),
    ("police_handled", frozenset({"police_legal_disposition"})),
    ("assessed", frozenset({"township_assessment"})),
    ("help_decided", frozenset({"village_caring_help", "township_loving_help", "civil_affairs_protective_help",
                                "civil_affairs_temporary_guardianship"})),
)
"""Stage → the steps of ``bpmn/four_in_one`` whose first completion reaches it: the police accept and dispatch
(受理研判并出警), the police disposition reported to the township (依法处置并通报乡镇), the township's graded
assessment (综合评估定级), a help plan made (关心式 / 关爱式 / 保护式帮扶计划) or civil affairs taking temporary
guardianship (民政部门临时监护) where the assessment sends the case to intervention. "Reported" is the report's own
time and "closed" the case's."""
STAGE_STEPS = {step: stage for stage, steps in STAGES for step in steps}


@dataclass
class MyReport:
    report_id: int
    situation: str
    reported_at: datetime
    case_id: int
    case_number: str | None
    status: str
    stages: dict[str, datetime | None] = field(default_factory=dict)
    """``reported``, ``accepted``, ``police_handled``, ``assessed``, ``help_decided``, ``closed``: when reached,
    or None."""


def my_reports_query(user: User) -> sa.Select[Report]:
    return (sa.select(Report).where(Report.submitted_by_id == user.id)
            .order_by(Report.received_at.desc(), Report.id.desc()))


def stage_rows(reports: list[Report]) -> list[MyReport]:
    """The page's reports with their stages: two statements (their cases, their step completions)."""
    case_ids = sorted({r.case_id for r in reports})
    cases = {c.id: c for c in db.session.scalars(sa.select(Case).where(Case.id.in_(case_ids))
                                                 .options(load_only(Case.id, Case.number, Case.status,
                                                                    Case.closed_at), lazyload(Case.child)))}
    reached: dict[int, dict[str, datetime]] = {i: {} for i in case_ids}
    for entry in db.session.scalars(
            sa.select(TimelineEntry).where(TimelineEntry.case_id.in_(case_ids),
                                           TimelineEntry.kind == "task_completed")
            .options(load_only(TimelineEntry.case_id, TimelineEntry.at, TimelineEntry.detail))
            .order_by(TimelineEntry.at, TimelineEntry.id)):
        stage = STAGE_STEPS.get(str((entry.detail or {}).get("bpmn_id")))
        if stage is not None:
            reached[entry.case_id].setdefault(stage, entry.at)
    rows = []
    for report in reports:
        case = cases[report.case_id]
        stages: dict[str, datetime | None] = {"reported": report.received_at}
        stages.update({stage: reached[case.id].get(stage) for stage, _ in STAGES})
        stages["closed"] = case.closed_at
        rows.append(MyReport(report_id=report.id, situation=report.situation, reported_at=report.received_at,
                             case_id=case.id, case_number=case.number, status=case.status, stages=stages))
    return rows
