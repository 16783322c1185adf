"""REST endpoints for the county's roster of children: dry run, import, export (issue 15, part 8).

``POST /api/v1/roster/checks`` takes the XLSX and answers row by row what an import would do (nothing is
written but the upload's record); ``POST /api/v1/roster/imports/<id>/confirm`` imports that very file,
checked again, in one transaction; ``GET /api/v1/roster/export.xlsx`` is the ledger in the same layout.
The county coordinator and the county civil affairs bureau's liaisons and head only (``roster_county``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response
from flask.views import MethodView

from app.audit.operations import audit
from app.common.clock import now
from app.common.downloads import content_disposition
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, Beside, current_api_user
from app.common.i18n import local_dt

from . import roster_files
from .models import RosterImport
from .roster import Plan
from .schemas import RosterFileIn, RosterImportOut, RosterReportOut

blp = ApiBlueprint("roster", __name__, url_prefix="/api/v1/roster", description="The county's roster of children")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


F = TypeVar("F", bound=Callable[..., Any])


def roster_keepers(view: F) -> F:
    """403 before the body is parsed (a caller who may not upload learns that, not what the body lacks)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        roster_files.roster_county(current_api_user())
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def report(record: RosterImport, plan: Plan) -> Beside:
    """The import's record beside the plan's rows, as ``RosterReportOut`` dumps them."""
    return Beside(plan, roster_import=record)


@blp.route("/checks")
class Checks(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @roster_keepers
    @blp.arguments(RosterFileIn, location="files")
    @blp.response(201, RosterReportOut)
    def post(self, files: dict[str, Any]) -> Any:
        """Dry run: what importing this ledger would create, update, leave unchanged or refuse, and why."""
        upload = files["file"]
        record, plan = roster_files.check_upload(current_api_user(), upload.filename or "", upload.read())
        return report(record, plan), 201


@blp.route("/imports/<int:import_id>")
class Import(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, RosterImportOut)
    def get(self, import_id: int) -> Any:
        """A checked or imported ledger: its counts per outcome."""
        return roster_files.get_import(current_api_user(), import_id)


@blp.route("/imports/<int:import_id>/confirm")
class Confirm(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, RosterReportOut)
    def post(self, import_id: int) -> Any:
        """Import the checked ledger (checked again first): all rows in one transaction; 409 if done before."""
        record, plan = roster_files.confirm_import(current_api_user(), import_id)
        return report(record, plan)


@blp.route("/export.xlsx")
class Export(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, description="the ledger as XLSX", content_type=XLSX)
    def get(self) -> Any:
        """Every child in the county's programme, in the import's layout (export, then import = unchanged)."""
        user = current_api_user()
        county, count, data = roster_files.export_xlsx(user)
        audit(user.id, "export", "roster", county.id, detail={"rows": count, "format": "xlsx"})
        return export_response(county.name, data)


def export_response(county_name: str, data: bytes) -> Response:
    """The ledger as a download (the page offers the same file)."""
    name = f"{county_name}儿童信息台账-{local_dt(now(), 'yyyyMMdd')}.xlsx"
    return Response(data, mimetype=XLSX, headers={
        "Content-Disposition": content_disposition(name), "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store"})
