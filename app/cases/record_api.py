"""``GET /api/v1/children/<id>/record.pdf``: the court-ready record for integrations (a court's or a
procuratorate's case system fetching the file it was sent), with a bearer token. The same record, rule,
watermark and audit row as the page (``record_views``)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.common.endpoints import ApiBlueprint, current_api_user

from .record_views import record_pdf

blp = ApiBlueprint("court_record", __name__, url_prefix="/api/v1/children",
                   description="The court-ready record of a child's file")


@blp.route("/<int:child_id>/record.pdf")
class CourtRecordPdf(MethodView):
    @blp.endpoint(scope="cases:read")
    @blp.response(200, description="the record as PDF, watermarked with who printed it", content_type="application/pdf")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, child_id: int) -> Any:
        """The child's file as the caller may read it (only their cases, their parts); each call is audited."""
        return record_pdf(current_api_user(), child_id)
