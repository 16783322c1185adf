"""REST endpoints for reports and cases."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.audit.operations import audit
from app.common.api import BEARER_SECURITY, committed, current_api_user, token_required
from app.common.clock import now

from .access import require_case
from .operations import Accepted, file_report
from .queries import case_view
from .schemas import CaseOut, ReportAccepted, ReportIn

blp = Blueprint("cases", __name__, url_prefix="/api/v1", description="Reports and cases")


@blp.route("/reports")
class Reports(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(ReportIn)
    @blp.response(201, ReportAccepted)
    @blp.alt_response(200, schema=ReportAccepted, description="nothing new filed: a retry (same idempotency "
                      "key) gets the first case; a report without a key that repeats one of the last minutes "
                      "gets that case with `possible_duplicate_of`")
    @blp.alt_response(404, response="NOT_FOUND")  # a child named by id that does not exist
    @token_required
    @committed
    def post(self, payload: dict[str, Any]) -> Any:
        """Accept a mandatory report or hotline call: opens a case and starts the four-in-one process."""
        accepted = file_report(payload, current_api_user())
        return accepted_out(accepted), (201 if accepted.created else 200)


def accepted_out(accepted: Accepted) -> dict[str, Any]:
    case, earlier = accepted.case, accepted.possible_duplicate_of
    body: dict[str, Any] = {"case_id": case.id, "case_number": case.number, "created": accepted.created,
                            "status": case.status, "possible_duplicate_of": None}
    if earlier is not None:
        body["possible_duplicate_of"] = {"case_id": earlier.case_id, "case_number": earlier.case.number,
                                         "report_id": earlier.id, "received_at": earlier.received_at}
    return body


@blp.route("/cases/<int:case_id>")
class CaseResource(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, CaseOut)
    @token_required
    @committed
    def get(self, case_id: int) -> Any:
        """The case: child, open tasks with unit and due time, process instances, timeline (audited)."""
        user = current_api_user()
        access = require_case(user, case_id)
        audit(user.id, "view", "case", case_id, case_id=case_id, detail={"basis": access.basis.value})
        return case_view(access, now())
