"""The coordinator's dashboard pages: panels with a trend chart, drill-down list, exports (audited)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext
from flask_login import current_user

from app.audit.operations import audit
from app.common.clock import now
from app.common.inputs import MAX_COUNT, MAX_ID, bounded_int
from app.common.pages import committed_page, roles_required
from app.org.labels import department_name
from app.org.roles import Role

from . import queries
from .counties import counties_for, county_table
from .exports import FORMATS, export, export_detail

blp = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates")


def _args() -> dict[str, Any]:
    """Query arguments of the page, parsed the way the API's schemas parse them (bad values ignored)."""
    args: dict[str, Any] = {}
    for key in ("start", "end"):
        try:
            args[key] = date.fromisoformat(request.args[key]) if request.args.get(key) else None
        except ValueError:
            args[key] = None
    for key in ("kind", "bucket", "step"):
        if request.args.get(key):
            args[key] = request.args[key]
    for key in ("township", "page"):
        if (number := bounded_int(request.args.get(key), MAX_ID if key == "township" else MAX_COUNT)) is not None:
            args[key] = number
    args["overdue"] = request.args.get("overdue", "1") not in ("0", "false")
    if request.args.get("due") == "soon":  # the headline's "due within 7 days" and its matrix
        args["due_within_days"], args["overdue"] = queries.DUE_SOON_DAYS, False
    args.setdefault("page", 1)
    args["per_page"] = 50
    return args


@blp.get("/")
@roles_required(Role.COUNTY_COORDINATOR, Role.ADMIN)
def index() -> str:
    scope, at, args = queries.scope_for(current_user), now(), _args()
    start, end = queries.period(at, args.get("start"), args.get("end"))
    tables = queries.panels(scope, at, start, end)
    return render_template("dashboard/index.html", tables=tables, headline=queries.headline(scope, at), scope=scope,
                           reporting=queries.reporting(current_user, start, end),
                           at=at, start=start,
                           end=end, args=request.args)


@blp.get("/tasks")
@roles_required(Role.COUNTY_COORDINATOR, Role.ADMIN)
def tasks() -> str:
    args = _args()
    scope, at = queries.scope_for(current_user), now()
    table, total = queries.table_for("tasks", scope, at, args)
    return render_template("dashboard/tasks.html", tasks_table=table, total=total, args=request.args, page=args["page"],
                           filters=_filter_words(args, scope), at=at, parse_dt=datetime.fromisoformat)


def _filter_words(args: dict[str, Any], scope: queries.Scope) -> list[tuple[str, str]]:
    """What the list is filtered by, in words, for its heading: the number it opened from, said again."""
    words = [(gettext("Tasks"), gettext("due within %(days)s days", days=args["due_within_days"])
              if args.get("due_within_days") else gettext("overdue") if args["overdue"] else gettext("open"))]
    if kind := args.get("kind"):
        words.append((gettext("Department"), department_name(kind) if kind != "none" else gettext("(unrouted)")))
    if (township := args.get("township")) is not None:
        words.append((gettext("Township"), scope.townships.get(township, "—")))
    if bucket := args.get("bucket"):
        words.append((gettext("Overdue for"), next((str(t) for k, t, _, _ in queries.AGEING if k == bucket), bucket)))
    return words


@blp.get("/counties")
@roles_required(Role.REGIONAL_SUPERVISOR, Role.COUNTY_COORDINATOR, Role.ADMIN)
def counties() -> str:
    """A city or province supervisor's page: one row of counts per county beneath them, no child."""
    at, args = now(), _args()
    start, end = queries.period(at, args.get("start"), args.get("end"))
    table = county_table(counties_for(current_user), at, start, end)
    return render_template("dashboard/counties.html", table=table, region=current_user.region, start=start,
                           end=end, args=request.args)


@blp.get("/export/<panel>.<fmt>")
@roles_required(Role.REGIONAL_SUPERVISOR, Role.COUNTY_COORDINATOR, Role.ADMIN)
@committed_page
def export_panel(panel: str, fmt: str) -> Response:
    if panel not in (*queries.PANELS, "counties") or fmt not in FORMATS:
        abort(404)
    args = _args()
    if panel == "counties":
        at = now()
        table = county_table(counties_for(current_user), at, *queries.period(at, args.get("start"), args.get("end")))
    elif not current_user.has_role(Role.COUNTY_COORDINATOR, Role.ADMIN):
        abort(403)
    else:
        table, _ = queries.table_for(panel, queries.scope_for(current_user), now(), args)
    data = export(table, fmt)
    audit(current_user.id, "export", "dashboard", table.key,
          detail=export_detail(table, fmt, {k: v for k, v in args.items() if v is not None}))
    return Response(data, mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="liandong-{panel}.{fmt}"'})
