"""The court-ready record of a child's file (一人一档), as a printable page and as a PDF.

For the court or the procuratorate: who the child is, every report, every step with the unit, person,
time and outcome, the decisions, help records, visits and the attachments listed (names, sizes, who added
them; never their content), and the chronology. It is the child file seen through ``app.cases.access``:
only the child's cases the user has a basis on (beyond a reporter's), and on each the parts that basis
allows (a unit that may not read the narrative gets it withheld here too, and a file it may not open is
counted, not named). Every print is audited, one row per case printed, and the row's id is printed in the
watermark on every page, so a copy found later leads back to who printed it and when.

The page and the PDF are one template (``cases/record.html``) and one stylesheet (``css/record.css``):
the browser prints the page with its print rules, WeasyPrint renders the same HTML (``app.common.pdf``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, render_template
from flask_babel import gettext
from flask_login import current_user, login_required

from app.audit.operations import audit
from app.common.clock import now
from app.common.downloads import content_disposition
from app.common.errors import Forbidden, NotFound
from app.common.i18n import local_dt
from app.common.pages import committed_page
from app.common.pdf import PDF_FONTS, html_to_pdf
from app.conferences.models import Conference
from app.conferences.queries import conferences_of_case
from app.duties.models import Entrustment
from app.extensions import db
from app.org.models import User
from app.tasks.attachments import attachments_of
from app.tasks.form_render import step_values
from app.tasks.models import Attachment, Task, TaskState

from .access import CaseAccess, case_access
from .models import Case, Child, Report, TimelineEntry
from .queries import child_view, timeline
from .views import HELP_STEPS, VISIT_STEPS, blp

DECISION_STEPS = ("police_legal_disposition", "township_assessment", "assessment_grading",
                  "civil_affairs_court_petition", "procuratorate_petition_support", "court_hearing_decision",
                  "township_case_closure")
"""Steps whose outcome is a decision: the police disposition, the grade, the petition, the judgment, closure."""
KIND_ORDER = {"protection": 0, "care": 1, "work": 2}
STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "css" / "record.css"


@dataclass
class CaseRecord:
    """One case of the child's file, cut to what the user may read."""

    case: Case
    access: CaseAccess
    reports: list[Report]
    steps: list[Task]
    outcomes: dict[int, list[tuple[str, str]]]
    decisions: list[Task]
    help_records: list[Task]
    visits: list[Task]
    attachments: list[Attachment]
    withheld_attachments: int
    conferences: list[Conference]
    entries: list[TimelineEntry]
    shown_text: set[int] = field(default_factory=set)


def _case_record(access: CaseAccess) -> CaseRecord:
    case = access.case
    steps = list(db.session.scalars(sa.select(Task).where(Task.case_id == case.id)
                                    .order_by(Task.created_at, Task.id)))
    done = [t for t in steps if t.state == TaskState.COMPLETED]
    by_id = {t.id: t for t in steps}
    files = attachments_of(case_id=case.id)
    shown = [a for a in files if access.attachment(a)]
    entries = timeline(case.id)
    return CaseRecord(
        case=case, access=access, reports=list(case.reports), steps=steps,
        outcomes={t.id: step_values(t, access.step_text(t)) for t in done},
        decisions=[t for t in done if t.bpmn_id in DECISION_STEPS],
        help_records=[t for t in done if t.bpmn_id in HELP_STEPS],
        visits=[t for t in done if t.bpmn_id in VISIT_STEPS],
        attachments=shown, withheld_attachments=len(files) - len(shown),
        conferences=conferences_of_case(case.id), entries=entries,
        shown_text={e.id for e in entries if access.timeline_text(e.kind, by_id.get(e.task_id or 0))})


def child_record(user: User, child_id: int) -> tuple[Child, list[CaseRecord]]:
    """The child and the cases of their file the user may read in detail: 404 unknown, 403 none."""
    child = db.session.get(Child, child_id)
    if child is None:
        raise NotFound(f"child {child_id} not found")
    cases = db.session.scalars(sa.select(Case).where(Case.child_id == child.id).order_by(Case.opened_at, Case.id))
    readable = [a for c in cases if (a := case_access(user, c)) is not None and a.detail]
    if not readable:
        raise Forbidden("you have no need to know this child's file")
    readable.sort(key=lambda a: (KIND_ORDER.get(a.case.kind, 9), a.case.opened_at, a.case.id))
    return child, [_case_record(a) for a in readable]


def file_size(size: int) -> str:
    """``12.3 KB`` style sizes for the attachment list."""
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} MB"


def _printed(user: User, child: Child, records: list[CaseRecord], form: str) -> dict[str, Any]:
    """Audit the print (one row per case, so each case's audit trail shows it) and say who printed it."""
    at = now()
    rows = [audit(user.id, "print", "child_record", child.id, case_id=r.case.id,
                  detail={"format": form, "basis": r.access.basis.value, "narratives": r.access.narratives})
            for r in records]
    db.session.flush()
    serial = rows[0].id
    unit = user.unit.name if user.unit is not None else ""
    mark = gettext("Printed by %(who)s%(unit)s on %(at)s · print no. %(serial)s · for court or procuratorate use only",
                   who=user.display_name, unit=f"（{unit}）" if unit else "", at=local_dt(at, "yyyy-MM-dd HH:mm:ss"),
                   serial=serial)
    return {"mark": mark, "printed_at": at, "serial": serial}


def _render(user: User, child: Child, records: list[CaseRecord], printed: dict[str, Any], *, pdf: bool) -> str:
    # Who cares for the child in their parents' stead is the care duties' part of the file: only for a reader of it.
    entrustments = list(db.session.scalars(sa.select(Entrustment).where(Entrustment.child_id == child.id)
                                           .order_by(Entrustment.id))) \
        if any(r.access.care_duties for r in records) else []
    return render_template(
        "cases/record.html", layout="cases/record_print_base.html" if pdf else "base.html", pdf=pdf,
        child=child_view(records[0].case, user), child_id=child.id, records=records,
        entrustments=entrustments, file_size=file_size, pdf_fonts=PDF_FONTS, **printed)


@blp.get("/children/<int:child_id>/record")
@login_required
@committed_page
def court_record(child_id: int) -> Any:
    """The printable record; printing it from the browser hides everything but the record."""
    child, records = child_record(current_user, child_id)
    return _render(current_user, child, records, _printed(current_user, child, records, "page"), pdf=False)


@blp.get("/children/<int:child_id>/record.pdf")
@login_required
@committed_page
def court_record_pdf(child_id: int) -> Any:
    """The same record as a PDF (WeasyPrint), watermarked on every page, offered as a download."""
    return record_pdf(current_user, child_id)


def record_pdf(user: User, child_id: int) -> Response:
    """The PDF for the page and ``GET /api/v1/children/<id>/record.pdf`` (``record_api``), printed and audited."""
    child, records = child_record(user, child_id)
    printed = _printed(user, child, records, "pdf")
    html = _render(user, child, records, printed, pdf=True)
    css = STYLESHEET.read_text(encoding="utf-8")
    data = html_to_pdf(html, [css])
    current_app.logger.info("court record printed", extra={"child_id": child.id, "bytes": len(data),
                                                           "print_no": printed["serial"]})
    name = f"{gettext('child-record')}-{child.id}-{local_dt(printed['printed_at'], 'yyyyMMdd-HHmm')}.pdf"
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": content_disposition(name), "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store"})
