"""Pages for late reports and findings about mandatory reporters (added to the workspace blueprint).

The same reads and writes as ``findings_api`` (``findings``: who reads what; every read and change audited).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from marshmallow import ValidationError

from app.audit.operations import audit
from app.common.errors import DomainError
from app.common.inputs import FIRST_DAY, LAST_DAY, bounded_int
from app.common.pages import committed_page, page_number, roles_required
from app.extensions import db
from app.org.kinds import SUPERVISED_BY
from app.org.models import Unit
from app.org.roles import Role

from .access import regions_within, require_case
from .findings import (
    Period,
    answer,
    coordinated_county,
    findings_select,
    get_finding,
    late_reports_select,
    reads_findings,
    record,
)
from .findings_schemas import FindingIn
from .models import Report
from .views import blp, county_moment

PER_PAGE = 50


def _day(name: str) -> date | None:
    """A period day from the query (a bad one is ignored, as the dashboard's filters are)."""
    try:
        day = date.fromisoformat(request.args.get(name, "")[:10])
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def _paged(stmt: sa.Select[Any]) -> tuple[list[Any], int, int, int]:
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    pages = max(1, -(-total // PER_PAGE))
    page = min(page_number("page"), pages)
    return list(db.session.scalars(stmt.offset((page - 1) * PER_PAGE).limit(PER_PAGE)).unique()), total, page, pages


@blp.get("/reports/late")
@roles_required(Role.COUNTY_COORDINATOR)
@committed_page
def late_reports() -> Any:
    """The coordinator's late reports (``findings.late_reports_select``), each with a way to record a finding."""
    period = Period(_day("start"), _day("end"))
    rows, total, page, pages = _paged(late_reports_select(current_user, period))
    audit(current_user.id, "list", "late_report", None, detail={**period.given(), "ids": [row.id for row in rows]})
    return render_template("cases/late_reports.html", rows=rows, total=total, page=page, pages=pages,
                           period=period)


@blp.get("/findings")
@login_required
@committed_page
def findings() -> Any:
    """Findings the user may read: the county's (coordinator) or those routed to their unit."""
    if not reads_findings(current_user):
        abort(403)
    period = Period(_day("start"), _day("end"))
    unanswered = request.args.get("unanswered") == "1"
    rows, total, page, pages = _paged(findings_select(current_user, period, unanswered=unanswered))
    asked = {**period.given(), **({"unanswered": True} if unanswered else {})}
    audit(current_user.id, "list", "finding", None, detail={**asked, "ids": [row.id for row in rows]})
    return render_template("cases/findings.html", rows=rows, total=total, page=page, pages=pages, period=period,
                           unanswered=unanswered, records=coordinated_county(current_user) is not None)


def _reporter_units(county_id: int) -> list[Unit]:
    return list(db.session.scalars(
        sa.select(Unit).where(Unit.kind.in_(SUPERVISED_BY), Unit.region_id.in_(regions_within(county_id)))
        .order_by(Unit.kind, Unit.name)))


@blp.route("/findings/new", methods=["GET", "POST"])
@roles_required(Role.COUNTY_COORDINATOR)
@committed_page
def new_finding() -> Any:
    """A coordinator records a finding on a case of their county (from a late report or the case page)."""
    source = request.form if request.method == "POST" else request.args
    case_id = bounded_int(source.get("case_id"))
    county = coordinated_county(current_user)
    if case_id is None or county is None:
        abort(404)
    access = require_case(current_user, case_id, detail=True)  # 404 for a case the coordinator may not open
    report = db.session.get(Report, bounded_int(source.get("report_id")) or 0)
    report = report if report is not None and report.case_id == case_id else None
    errors: dict[str, Any] = {}
    if request.method == "POST":
        body: dict[str, Any] = {k: request.form.get(k, "").strip() for k in ("kind", "person", "facts")}
        body.update(case_id=case_id, knew_since=county_moment(request.form.get("knew_since", "")))
        for key in ("report_id", "reporter_unit_id"):
            if (number := bounded_int(request.form.get(key))) is not None:
                body[key] = number
        try:
            finding = record(current_user, FindingIn().load({k: v for k, v in body.items() if v != ""}))
        except ValidationError as exc:
            errors = exc.messages if isinstance(exc.messages, dict) else {"form": exc.messages}
        except DomainError as exc:
            errors = exc.errors or {"form": [exc.message]}
        else:
            flash(gettext("Finding recorded and sent to %(unit)s.", unit=finding.supervising_unit.name), "success")
            return redirect(url_for("workspace.finding_page", finding_id=finding.id))
    return render_template("cases/finding_form.html", case=access.case, report=report, errors=errors,
                           form=request.form, units=_reporter_units(county)), 422 if errors else 200


@blp.get("/findings/<int:finding_id>")
@login_required
@committed_page
def finding_page(finding_id: int) -> Any:
    finding = get_finding(current_user, finding_id)
    audit(current_user.id, "view", "finding", finding.id, case_id=finding.case_id)
    may_answer = finding.response is None and current_user.unit_id == finding.supervising_unit_id
    return render_template("cases/finding.html", f=finding, may_answer=may_answer, errors={})


@blp.post("/findings/<int:finding_id>/answer")
@login_required
@committed_page
def answer_finding(finding_id: int) -> Any:
    response = request.form.get("response", "").strip()[:4000]
    if not response:
        finding = get_finding(current_user, finding_id)
        audit(current_user.id, "view", "finding", finding.id, case_id=finding.case_id)
        return render_template("cases/finding.html", f=finding, may_answer=True,
                               errors={"response": [gettext("Say what your unit did about it.")]}), 422
    answer(current_user, finding_id, response)
    flash(gettext("Answer recorded."), "success")
    return redirect(url_for("workspace.finding_page", finding_id=finding_id))
