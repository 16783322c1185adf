"""REST endpoints for late reports and findings about mandatory reporters (``findings``: who reads what)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from app.audit.operations import audit
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, current_api_user, page_rows
from app.org.roles import Role

from .findings import Period, answer, findings_select, get_finding, late_reports_select, record
from .findings_schemas import (
    FindingAnswerIn,
    FindingArgs,
    FindingIn,
    FindingOut,
    FindingPage,
    LateReportPage,
    PeriodArgs,
)

blp = ApiBlueprint("findings", __name__, url_prefix="/api/v1",
                   description="Late reports and findings about mandatory reporters")


@blp.route("/reports/late")
class LateReports(MethodView):
    @blp.endpoint(roles=(Role.COUNTY_COORDINATOR,), refusal="only county coordinators list late reports",
                  scope=PEOPLE_ONLY)
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, LateReportPage)
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """Mandatory reporters' reports filed later than the county's `late_report_hours` after they learned of
        the situation, in your county, newest first (received within `start`..`end` when given); audited."""
        user = current_api_user()
        period = Period(args.get("start"), args.get("end"))
        rows = page_rows(late_reports_select(user, period), pagination_parameters, unique=True)
        audit(user.id, "list", "late_report", None, detail={**period.given(), "ids": [row.id for row in rows]})
        return {"items": rows}


@blp.route("/findings")
class Findings(MethodView):
    @blp.endpoint(scope="findings:read")
    @blp.arguments(FindingArgs, location="query")
    @blp.response(200, FindingPage)
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """Findings you may read, newest first: a coordinator those of their county, a unit's liaisons and heads
        those routed to their unit (recorded within `start`..`end` when given); others none. Audited."""
        user = current_api_user()
        period = Period(args.get("start"), args.get("end"))
        rows = page_rows(findings_select(user, period, unanswered=args["unanswered"]), pagination_parameters,
                         unique=True)
        asked = {**period.given(), **({"unanswered": True} if args["unanswered"] else {})}
        audit(user.id, "list", "finding", None, detail={**asked, "ids": [row.id for row in rows]})
        return {"items": rows}

    @blp.endpoint(roles=(Role.COUNTY_COORDINATOR,), refusal="only county coordinators record findings",
                  scope=PEOPLE_ONLY)
    @blp.arguments(FindingIn)
    @blp.response(201, FindingOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, payload: dict[str, Any]) -> Any:
        """Record that a mandatory reporter failed or delayed reporting: routed at once to the unit that
        supervises the reporter (a school's education bureau, a clinic's health commission, a village
        committee's township), whose liaisons and heads are told; audited."""
        return record(current_api_user(), payload), 201


@blp.route("/findings/<int:finding_id>")
class FindingResource(MethodView):
    @blp.endpoint(scope="findings:read")
    @blp.response(200, FindingOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, finding_id: int) -> Any:
        """One finding you may read (audited)."""
        user = current_api_user()
        finding = get_finding(user, finding_id)
        audit(user.id, "view", "finding", finding.id, case_id=finding.case_id)
        return finding


@blp.route("/findings/<int:finding_id>/answer")
class FindingAnswer(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(FindingAnswerIn)
    @blp.response(200, FindingOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, payload: dict[str, Any], finding_id: int) -> Any:
        """The supervising unit says what it did about the finding (once; audited)."""
        return answer(current_api_user(), finding_id, payload["response"])
