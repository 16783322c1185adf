"""``/api/v1/dashboard``: the coordinator's panels as JSON, drill-down, CSV/XLSX exports (audited)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from app.audit.operations import audit
from app.common.api_doc import BINARY
from app.common.clock import now
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, Beside, current_api_user
from app.common.errors import Forbidden, NotFound
from app.org.models import User
from app.org.roles import Role

from . import queries
from .counties import counties_for, county_table
from .exports import FORMATS, export, export_detail
from .schemas import CountiesOut, DashboardOut, DrillDownArgs, ExportArgs, PeriodArgs, TableOut, TasksOut

blp = ApiBlueprint("dashboard_api", __name__, url_prefix="/api/v1/dashboard", description="County coordinator dashboard")


COORDINATORS = (Role.COUNTY_COORDINATOR, Role.ADMIN)
COORDINATORS_ONLY = "the dashboard is for county coordinators and admins"
coordinators = blp.endpoint(roles=COORDINATORS, refusal=COORDINATORS_ONLY, scope=PEOPLE_ONLY)
"""The county's own panels: county coordinators and admins only."""

OVERSEERS = (Role.REGIONAL_SUPERVISOR, Role.COUNTY_COORDINATOR, Role.ADMIN)
"""Who may read the per-county numbers (each the counties beneath their own region)."""
OVERSEERS_ONLY = "the per-county numbers are for city and province supervisors and county coordinators"


def _holding(roles: tuple[Role, ...], refusal: str) -> User:
    """The caller, if they hold one of ``roles`` (the export's rule depends on the panel, so it is checked here)."""
    user: User = current_api_user()
    if not user.has_role(*roles):
        raise Forbidden(refusal)
    return user


@blp.route("/counties")
class Counties(MethodView):
    @blp.endpoint(roles=OVERSEERS, refusal=OVERSEERS_ONLY, scope=PEOPLE_ONLY)
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, CountiesOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Open, overdue and unrouted tasks and the on-time rate per county beneath the caller's city or
        province (a coordinator: their county). Counts only: no case, step, unit or child."""
        user, at = current_api_user(), now()
        start, end = queries.period(at, args.get("start"), args.get("end"))
        table = county_table(counties_for(user), at, start, end)
        return Beside(table, at=at, start=start, end=end)


@blp.route("")
class Dashboard(MethodView):
    @coordinators
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, DashboardOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Every panel at once (the period applies to on-time rates and the trend)."""
        scope, at = queries.scope_for(current_api_user()), now()
        start, end = queries.period(at, args.get("start"), args.get("end"))
        tables = queries.panels(scope, at, start, end)
        return {"at": at, "start": start, "end": end, "panels": tables}


@blp.route("/tasks")
class DrillDownTasks(MethodView):
    @coordinators
    @blp.arguments(DrillDownArgs, location="query")
    @blp.response(200, TasksOut)
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """The tasks behind a number: filter by kind, township, ageing bucket, step."""
        paging = {"page": pagination_parameters.page, "per_page": pagination_parameters.page_size}
        table, total = queries.table_for("tasks", queries.scope_for(current_api_user()), now(), {**args, **paging})
        pagination_parameters.item_count = total
        return table


@blp.route("/<panel>")
class Panel(MethodView):
    @coordinators
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, TableOut)
    def get(self, args: dict[str, Any], panel: str) -> Any:
        """One panel: overdue, ageing, escalations, on_time, on_time_step, trend."""
        if panel not in queries.PANELS:
            raise NotFound(f"no panel {panel!r}; panels: {', '.join(queries.PANELS)}")
        table, _ = queries.table_for(panel, queries.scope_for(current_api_user()), now(), args)
        return table


@blp.route("/export/<panel>.<fmt>")
class Export(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)  # coordinators for the county's panels, overseers for "counties": checked in the view
    @blp.alt_response(200, success=True, content_type=FORMATS["csv"], schema=BINARY, description="the panel as CSV")
    @blp.alt_response(200, success=True, content_type=FORMATS["xlsx"], schema=BINARY, description="the panel as XLSX")
    @blp.arguments(ExportArgs, location="query")
    def get(self, args: dict[str, Any], panel: str, fmt: str) -> Any:
        """A panel as CSV or XLSX (audited: who exported which panel with which filters)."""
        if panel not in (*queries.PANELS, "counties") or fmt not in FORMATS:
            raise NotFound(f"no export {panel}.{fmt}; panels: {', '.join(queries.PANELS)}, counties; "
                           "formats: csv, xlsx")
        if panel == "counties":
            user, at = _holding(OVERSEERS, OVERSEERS_ONLY), now()
            table = county_table(counties_for(user), at, *queries.period(at, args.get("start"), args.get("end")))
        else:
            user = _holding(COORDINATORS, COORDINATORS_ONLY)
            table, _ = queries.table_for(panel, queries.scope_for(user), now(), args)
        data = export(table, fmt)
        audit(user.id, "export", "dashboard", table.key, detail=export_detail(table, fmt, args))
        return Response(data, mimetype=FORMATS[fmt], headers={
            "Content-Disposition": f'attachment; filename="liandong-{panel}.{fmt}"'})
