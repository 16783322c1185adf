"""The duty cycles page: a director's, supervisor's or coordinator's cycles (weekly contacts, home visits,
assessments ...), filtered by the days their period overlaps, the child and the unit, each period in words.

The same reads and rules as ``GET /api/v1/duties/cycles`` (``queries.cycle_area``, ``cycle_query``); the page
names children (everyone who may list cycles has jurisdiction over them), so each view is audited.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, render_template, request
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from app.audit.operations import audit
from app.cases.access import regions_within
from app.cases.models import Child
from app.common.inputs import MAX_COUNT, bounded_int
from app.common.pages import committed_page
from app.extensions import db
from app.org.models import Region, Unit

from .catalog import DUTIES
from .models import CycleStatus
from .period_labels import period_label
from .queries import CycleFilter, cycle_area, cycle_query, day_range

blp = Blueprint("duty_pages", __name__, template_folder="templates")

PER_PAGE = 50


def _day(raw: str | None) -> date | None:
    """A filter's day; anything else (a typo, a hostile value) is no filter rather than an error page."""
    try:
        day = date.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    return day if date(2000, 1, 1) <= day <= date(2100, 12, 31) else None


@blp.get("/duties/cycles")
@login_required
@committed_page
def cycles() -> Any:
    region_id = cycle_area(current_user)
    args = request.args
    first, last = _day(args.get("from")), _day(args.get("to"))
    if first and last and first > last:
        first, last = last, first
    units = list(db.session.scalars(sa.select(Unit).where(Unit.region_id.in_(regions_within(region_id)))
                                    .order_by(Unit.kind, Unit.name)))
    unit_id = bounded_int(args.get("unit_id"))
    unit_id = unit_id if unit_id in {u.id for u in units} else None
    child_id = bounded_int(args.get("child_id"))
    duty = args.get("duty") if args.get("duty") in DUTIES else None
    status = args.get("status") if args.get("status") in {s.value for s in CycleStatus} else None
    filters = {"from": first.isoformat() if first else "", "to": last.isoformat() if last else "",
               "unit_id": unit_id or "", "child_id": child_id or "", "duty": duty or "", "status": status or ""}
    since, until = day_range(first, last)
    stmt = cycle_query(CycleFilter(duty=duty, status=status, child_id=child_id, region_id=region_id,
                                   since=since, until=until, unit_id=unit_id))
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(1, bounded_int(args.get("page"), MAX_COUNT) or 1), pages)
    rows = list(db.session.scalars(stmt.offset((page - 1) * PER_PAGE).limit(PER_PAGE)))
    children = {c.id: c for c in db.session.scalars(sa.select(Child).where(
        Child.id.in_({c.child_id for c in rows if c.child_id is not None})).options(joinedload(Child.village)))}
    regions = {r.id: r.name for r in db.session.scalars(sa.select(Region).where(
        Region.id.in_({c.region_id for c in rows if c.region_id is not None})))}
    audit(current_user.id, "list", "duty_cycle", None,
          detail={"filters": {k: v for k, v in filters.items() if v}, "page": page})
    kept = {k: v for k, v in filters.items() if v}
    return render_template(
        "duties/cycles.html", rows=rows, total=total, page=page, pages=pages, filters=filters, units=units,
        children=children, regions=regions, duties=DUTIES, statuses=[s.value for s in CycleStatus],
        period_label=period_label, page_url=lambda n: "?" + urlencode({**kept, "page": n}),
        # the child filtered on is named only when it has cycles here (in the user's jurisdiction)
        child=children.get(child_id) if child_id else None)
