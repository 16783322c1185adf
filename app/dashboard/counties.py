"""Per-county numbers for a city or province supervisor: on-time rates and overdue counts, nothing else.

A supervisor above the counties has no need to know any child (``app.cases.access`` gives the role no
basis), so this module answers with one row per county of counts and a rate: no case number, no step,
no unit, no name, and no drill-down. The same ``Table`` serves the page, the JSON API and the exports.
A county coordinator (or an administrator of a county) asking sees the row of their own county.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from app.cases.models import Case
from app.common.clock import past_due
from app.extensions import db
from app.org.models import Region, User
from app.org.queries import counties_under
from app.tasks.models import Task, TaskState

from .queries import Table

COLUMNS = [("county", _l("County")), ("open", _l("Open tasks")), ("overdue", _l("Open and overdue")),
           ("unrouted", _l("Open without a unit")), ("completed", _l("Completed in the period")),
           ("on_time", _l("On time")), ("rate", _l("On-time rate %"))]


def counties_for(user: User) -> list[Region]:
    """The counties beneath the user's region (a city's, a province's; a county's own); none without one."""
    return counties_under(user.region) if user.region is not None else []


def _county_map(county_ids: list[int]) -> Any:
    """(region_id, county_id) for every region in the given counties, walking down from each county."""
    tree = (sa.select(Region.id.label("region_id"), Region.id.label("county_id"))
            .where(Region.id.in_(county_ids)).cte("county_map", recursive=True))
    child = aliased(Region)
    return tree.union_all(sa.select(child.id, tree.c.county_id).join(tree, child.parent_id == tree.c.region_id))


def county_table(counties: list[Region], at: datetime, start: datetime, end: datetime) -> Table:
    """One row per county: open tasks, open and overdue, open without a unit, completed in [start, end) with a
    due time, how many of those on time, and the rate. Two grouped statements, whatever the number of counties."""
    rows: dict[int, dict[str, Any]] = {
        c.id: {"county": c.name, "county_code": c.code, "open": 0, "overdue": 0, "unrouted": 0, "completed": 0,
               "on_time": 0, "rate": None} for c in counties}
    if counties:
        county_map = _county_map(list(rows))
        base = (sa.select(county_map.c.county_id).select_from(Task).join(Case, Case.id == Task.case_id)
                .join(county_map, county_map.c.region_id == Case.region_id).group_by(county_map.c.county_id))
        open_stmt = base.add_columns(
            sa.func.count(Task.id), sa.func.sum(sa.case((past_due(Task.due_at, at), 1), else_=0)),
            sa.func.sum(sa.case((Task.unit_id.is_(None), 1), else_=0))).where(Task.state == TaskState.OPEN)
        for county_id, n_open, overdue, unrouted in db.session.execute(open_stmt):
            rows[county_id].update(open=int(n_open), overdue=int(overdue or 0), unrouted=int(unrouted or 0))
        done_stmt = base.add_columns(
            sa.func.count(Task.id), sa.func.sum(sa.case((Task.completed_at <= Task.due_at, 1), else_=0))).where(
            Task.state == TaskState.COMPLETED, Task.due_at.is_not(None), Task.completed_at >= start,
            Task.completed_at < end)
        for county_id, done, ok in db.session.execute(done_stmt):
            rows[county_id].update(completed=int(done), on_time=int(ok or 0),
                                   rate=round(100.0 * int(ok or 0) / int(done), 1) if done else None)
    return Table("counties", gettext("On time and overdue, per county"),
                 [(key, str(label)) for key, label in COLUMNS], list(rows.values()))
