"""The county coordinator's numbers: where work is stuck, how late, who was told, how often on time.

Every panel is a ``Table`` (columns + rows), so the page, the JSON API and
the CSV/XLSX exports show exactly the same thing. All counts are SQL
aggregates over the ``task`` and ``escalation`` projections; nothing is
loaded row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext, pgettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from app.cases.findings import Period, findings_select, late_reports_select
from app.cases.models import Case
from app.common.clock import county_zone, is_past_due, local, past_due
from app.common.dialect import local_date
from app.common.endpoints import count_of
from app.common.errors import Invalid
from app.common.inputs import FIRST_DAY, LAST_DAY
from app.common.labels import label
from app.deadlines.models import Escalation
from app.extensions import db
from app.org.labels import department_name
from app.org.models import Region, User
from app.tasks.models import Task, TaskState

AGEING = [("le_1d", _l("≤1 day"), 0, 1), ("1_3d", _l("1–3 days"), 1, 3), ("3_7d", _l("3–7 days"), 3, 7),
          ("gt_7d", _l(">7 days"), 7, None)]
"""Overdue-by buckets in days: (key, label, from, to).

Titles, column labels and code labels are in the viewer's language (the request's locale; the
county's default, Chinese, in a worker or the CLI), so the page, the JSON and the exports agree."""


@dataclass
class Table:
    key: str
    title: str
    columns: list[tuple[str, str]]
    """(key, label) in display order."""
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Scope:
    """Which townships the viewer oversees (None: every township; no caller asks for that today)."""

    township_ids: tuple[int, ...] | None
    townships: dict[int, str]


def scope_for(user: User) -> Scope:
    """A coordinator or admin sees the townships of their county; one without a county sees none (need to
    know, ``app.cases.access``: a missing basis is no access, not all of it)."""
    townships = db.session.execute(sa.select(Region.id, Region.name, Region.parent_id)
                                   .where(Region.level == "township").order_by(Region.code)).all()
    county = user.region_id if user.region is not None and user.region.level == "county" else None
    if county is None:
        return Scope((), {})
    mine = {t.id: t.name for t in townships if t.parent_id == county}
    return Scope(tuple(mine), mine)


def _kind_label(kind: str | None) -> str:
    return department_name(kind) if kind is not None else gettext("(unrouted)")


_village = aliased(Region)
_TOWNSHIP = sa.case((_village.level == "village", _village.parent_id), else_=_village.id)


def _task_base(scope: Scope) -> sa.Select[Any]:
    stmt = (sa.select().select_from(Task).join(Case, Case.id == Task.case_id)
            .join(_village, _village.id == Case.region_id))
    if scope.township_ids is not None:
        stmt = stmt.where(_TOWNSHIP.in_(scope.township_ids))
    return stmt


DUE_SOON_DAYS = 7
"""The coordinator's look-ahead: open tasks due within this many days (not yet overdue)."""


def _due_window(at: datetime, due_within_days: int | None) -> sa.ColumnElement[bool]:
    """Overdue (``None``) or due in the next ``due_within_days`` days and not yet overdue."""
    if due_within_days is None:
        return past_due(Task.due_at, at)
    return sa.and_(~past_due(Task.due_at, at), Task.due_at <= at + timedelta(days=due_within_days))


def headline(scope: Scope, at: datetime) -> dict[str, int]:
    """The two numbers at the top of the dashboard: open tasks overdue, and due within the week. One query."""
    soon = _due_window(at, DUE_SOON_DAYS)
    stmt = (_task_base(scope).add_columns(sa.func.sum(sa.case((past_due(Task.due_at, at), 1), else_=0)),
                                          sa.func.sum(sa.case((soon, 1), else_=0)))
            .where(Task.state == TaskState.OPEN))
    overdue, due_soon = db.session.execute(stmt).one()
    return {"overdue": int(overdue or 0), "due_soon": int(due_soon or 0), "due_soon_days": DUE_SOON_DAYS}


def overdue_matrix(scope: Scope, at: datetime, due_within_days: int | None = None) -> Table:
    """Open overdue tasks (or those due within ``due_within_days``), department kind × township (with totals)."""
    stmt = (_task_base(scope).add_columns(Task.department_kind, _TOWNSHIP.label("township"),
                                          sa.func.count(Task.id))
            .where(Task.state == TaskState.OPEN, _due_window(at, due_within_days))
            .group_by(Task.department_kind, _TOWNSHIP))
    cells: dict[str | None, dict[str, int]] = {}
    for kind, township, count in db.session.execute(stmt):
        cells.setdefault(kind, {})[f"t{township}"] = int(count)
    columns = [("kind", gettext("Department")), *((f"t{tid}", name) for tid, name in scope.townships.items()),
               ("total", gettext("Total"))]
    rows = []
    for kind in sorted(cells, key=lambda k: (k is None, k or "")):
        row: dict[str, Any] = {"kind": _kind_label(kind), "kind_code": kind}
        row.update({key: cells[kind].get(key, 0) for key, _ in columns[1:-1]})
        row["total"] = sum(cells[kind].values())
        rows.append(row)
    totals: dict[str, Any] = {"kind": gettext("Total"), "kind_code": None}
    for key, _ in columns[1:]:
        totals[key] = sum(r[key] for r in rows)
    if due_within_days is not None:
        return Table("due_soon", gettext("Due within %(days)s days (department × township)", days=due_within_days),
                     columns, [*rows, totals] if rows else [])
    return Table("overdue", gettext("Open and overdue (department × township)"), columns, [*rows, totals] if rows else [])


def ageing(scope: Scope, at: datetime) -> Table:
    """Open overdue tasks by how long they are overdue, per department kind."""
    bucket = sa.case(*((Task.due_at > at - timedelta(days=lo_to[3] or 0), lo_to[0]) for lo_to in AGEING[:-1]),
                     else_=AGEING[-1][0])
    stmt = (_task_base(scope).add_columns(Task.department_kind, bucket.label("bucket"), sa.func.count(Task.id))
            .where(Task.state == TaskState.OPEN, past_due(Task.due_at, at)).group_by(Task.department_kind, bucket))
    cells: dict[str | None, dict[str, int]] = {}
    for kind, key, count in db.session.execute(stmt):
        cells.setdefault(kind, {})[key] = int(count)
    columns = [("kind", gettext("Department")), *((key, str(label)) for key, label, _, _ in AGEING),
               ("total", gettext("Total"))]
    rows = []
    for kind in sorted(cells, key=lambda k: (k is None, k or "")):
        row: dict[str, Any] = {"kind": _kind_label(kind), "kind_code": kind}
        row.update({key: cells[kind].get(key, 0) for key, _, _, _ in AGEING})
        row["total"] = sum(cells[kind].values())
        rows.append(row)
    return Table("ageing", gettext("How long overdue"), columns, rows)


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=county_zone()).astimezone(UTC)


def escalations(scope: Scope, at: datetime) -> Table:
    """Ladder steps that notified someone, today and this week (county time), per step."""
    today = local(at).date()
    day_start, week_start = local_midnight(today), local_midnight(today - timedelta(days=today.weekday()))
    stmt = (sa.select(Escalation.level, Escalation.name,
                      sa.func.sum(sa.case((Escalation.recorded_at >= day_start, 1), else_=0)),
                      sa.func.count(Escalation.id))
            .join(Case, Case.id == Escalation.case_id).join(_village, _village.id == Case.region_id)
            .where(Escalation.recorded_at >= week_start, Escalation.recorded_at <= at,
                   Escalation.outcome == "notified")
            .group_by(Escalation.level, Escalation.name).order_by(Escalation.level))
    if scope.township_ids is not None:
        stmt = stmt.where(_TOWNSHIP.in_(scope.township_ids))
    rows = [{"level": level, "step": label("escalation_step", name), "step_code": name, "today": int(today_n or 0),
             "week": int(week_n)} for level, name, today_n, week_n in db.session.execute(stmt)]
    return Table("escalations", gettext("Escalation notices (today / this week)"),
                 [("level", gettext("Level")), ("step", pgettext("dashboard", "Step")), ("today", gettext("Today")),
                  ("week", gettext("This week"))], rows)


def _rate(on_time: int, total: int) -> float | None:
    return round(100.0 * on_time / total, 1) if total else None


def on_time(scope: Scope, start: datetime, end: datetime, by_step: bool = False) -> Table:
    """Tasks completed in [start, end) that had a due time: how many by it (completed_at <= due_at)."""
    keys: list[Any] = [Task.department_kind]
    if by_step:
        keys += [Task.bpmn_id, Task.name]
    in_time = sa.func.sum(sa.case((Task.completed_at <= Task.due_at, 1), else_=0))
    stmt = (_task_base(scope).add_columns(*keys, sa.func.count(Task.id), in_time)
            .where(Task.state == TaskState.COMPLETED, Task.due_at.is_not(None),
                   Task.completed_at >= start, Task.completed_at < end)
            .group_by(*keys).order_by(*keys))
    rows = []
    for values in db.session.execute(stmt):
        kind, total, ok = values[0], int(values[-2]), int(values[-1] or 0)
        row: dict[str, Any] = {"kind": _kind_label(kind), "kind_code": kind}
        if by_step:
            row.update({"step": values[2], "step_code": values[1]})
        row.update({"completed": total, "on_time": ok, "late": total - ok, "rate": _rate(ok, total)})
        rows.append(row)
    columns = [("kind", gettext("Department")), *([("step", pgettext("dashboard", "Step"))] if by_step else []),
               ("completed", pgettext("dashboard", "Completed")), ("on_time", gettext("On time")),
               ("late", gettext("Completed late")), ("rate", gettext("On-time rate %"))]
    title = gettext("Completed on time (by step)") if by_step else gettext("Completed on time (by department)")
    return Table("on_time_step" if by_step else "on_time", title,
                 columns, rows)


def _local_day(column: Any) -> Any:
    """The county-local calendar date of a UTC timestamp column, in SQL."""
    return local_date(column, county_zone())


def trend(scope: Scope, start: datetime, end: datetime) -> Table:
    """Per county-local day: tasks done on time, done late, and escalations beyond a reminder."""
    day = _local_day(Task.completed_at)
    done = (_task_base(scope).add_columns(day.label("day"), sa.func.count(Task.id),
                                          sa.func.sum(sa.case((Task.completed_at <= Task.due_at, 1), else_=0)))
            .where(Task.state == TaskState.COMPLETED, Task.due_at.is_not(None), Task.completed_at >= start,
                   Task.completed_at < end).group_by(day))
    esc_day = _local_day(Escalation.recorded_at)
    esc = (sa.select(esc_day.label("day"), sa.func.count(Escalation.id))
           .join(Case, Case.id == Escalation.case_id).join(_village, _village.id == Case.region_id)
           .where(Escalation.outcome == "notified", Escalation.level >= 2, Escalation.recorded_at >= start,
                  Escalation.recorded_at < end).group_by(esc_day))
    if scope.township_ids is not None:
        esc = esc.where(_TOWNSHIP.in_(scope.township_ids))
    series: dict[str, dict[str, int]] = {}
    for d, total, ok in db.session.execute(done):
        series.setdefault(str(d), {})["on_time"] = int(ok or 0)
        series[str(d)]["late"] = int(total) - int(ok or 0)
    for d, count in db.session.execute(esc):
        series.setdefault(str(d), {})["escalations"] = int(count)
    first, last = local(start).date(), local(end - timedelta(microseconds=1)).date()
    rows, current = [], first
    while current <= last:
        values = series.get(current.isoformat(), {})
        rows.append({"day": current.isoformat(), "on_time": values.get("on_time", 0), "late": values.get("late", 0),
                     "escalations": values.get("escalations", 0)})
        current += timedelta(days=1)
    return Table("trend", gettext("Trend (by day)"),
                 [("day", gettext("Date")), ("on_time", gettext("Completed on time")),
                  ("late", gettext("Completed late")), ("escalations", gettext("Escalation notices"))], rows)


@dataclass
class DrillDown:
    kind: str | None = None
    township_id: int | None = None
    bucket: str | None = None
    step: str | None = None
    overdue: bool = True
    due_within_days: int | None = None
    """Open tasks due in the next this many days (not overdue); replaces ``overdue``."""
    page: int = 1
    per_page: int = 50


def drill_down(scope: Scope, at: datetime, f: DrillDown) -> tuple[Table, int]:
    """The tasks behind a number on the dashboard (open ones; overdue unless asked otherwise)."""
    township = _TOWNSHIP.label("township")
    stmt = (_task_base(scope).add_columns(Task, Case.number, township)
            .where(Task.state == TaskState.OPEN))
    if f.due_within_days is not None:
        stmt = stmt.where(_due_window(at, f.due_within_days))
    elif f.overdue:
        stmt = stmt.where(past_due(Task.due_at, at))
    if f.kind:
        stmt = stmt.where(Task.department_kind == f.kind) if f.kind != "none" else stmt.where(
            Task.department_kind.is_(None))
    if f.township_id is not None:
        stmt = stmt.where(_TOWNSHIP == f.township_id)  # noqa: SIM300  a column, not a constant; left so mypy sees SQL
    if f.step:
        stmt = stmt.where(Task.bpmn_id == f.step)
    for key, _, lo, hi in AGEING:
        if f.bucket == key:
            stmt = stmt.where(Task.due_at <= at - timedelta(days=lo))
            if hi is not None:
                stmt = stmt.where(Task.due_at > at - timedelta(days=hi))
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0)
    page = db.session.execute(stmt.order_by(Task.due_at, Task.id)
                              .offset((f.page - 1) * f.per_page).limit(f.per_page)).all()
    rows = []
    for task, number, township_id in page:
        overdue_days = (at - task.due_at).total_seconds() / 86400 if task.due_at and is_past_due(task.due_at, at) else 0
        rows.append({"task_id": task.id, "case_id": task.case_id, "case_number": number, "step": task.name,
                     "kind": _kind_label(task.department_kind), "unit": task.unit.name if task.unit else gettext("(unrouted)"),
                     "township": scope.townships.get(township_id, ""),
                     "due_at": task.due_at.isoformat(timespec="minutes") if task.due_at else "",
                     "overdue_days": round(overdue_days, 1), "escalation_level": task.escalation_level})
    columns = [("case_number", gettext("Case")), ("step", pgettext("dashboard", "Step")), ("kind", gettext("Department")),
               ("unit", gettext("Unit")), ("township", gettext("Township")), ("due_at", gettext("Due")),
               ("overdue_days", gettext("Days overdue")), ("escalation_level", gettext("Escalation level"))]
    return Table("tasks", gettext("Task list"), columns, rows), total


def default_period(at: datetime, days: int = 30) -> tuple[datetime, datetime]:
    """The last ``days`` county-local days up to and including today."""
    today = local(at).date()
    return local_midnight(today - timedelta(days=days - 1)), local_midnight(today + timedelta(days=1))


def reporting(user: User, start: datetime, end: datetime) -> dict[str, Any]:
    """Late reports received and findings recorded in the period (and findings not answered yet), with the
    period's county-local days the lists take, so each number opens exactly its rows (``cases.findings``)."""
    days = Period(local(start).date(), local(end - timedelta(microseconds=1)).date())
    return {"late": count_of(late_reports_select(user, days)), "findings": count_of(findings_select(user, days)),
            "unanswered": count_of(findings_select(user, days, unanswered=True)), "days": days.given()}


def panels(scope: Scope, at: datetime, start: datetime, end: datetime) -> dict[str, Table]:
    return {
        "overdue": overdue_matrix(scope, at), "due_soon": overdue_matrix(scope, at, DUE_SOON_DAYS),
        "ageing": ageing(scope, at), "escalations": escalations(scope, at),
        "on_time": on_time(scope, start, end), "on_time_step": on_time(scope, start, end, by_step=True),
        "trend": trend(scope, start, end),
    }


PANELS = ("overdue", "due_soon", "ageing", "escalations", "on_time", "on_time_step", "trend", "tasks")


MAX_PERIOD_DAYS = 732
"""Two years of county days: the trend has a row per day, so the period is bounded."""


def period(at: datetime, start_day: date | None, end_day: date | None) -> tuple[datetime, datetime]:
    """[start, end) in UTC for county-local days ``start_day``..``end_day`` (default: the last 30 days).

    Days outside 1900..2100 or a period longer than ``MAX_PERIOD_DAYS`` are refused (422).
    """
    for name, day in (("start", start_day), ("end", end_day)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise Invalid(f"{name} must be between {FIRST_DAY} and {LAST_DAY}", {name: ["out of range"]})
    default_start, default_end = default_period(at)
    start = local_midnight(start_day) if start_day else default_start
    end = local_midnight(end_day + timedelta(days=1)) if end_day else default_end
    if end <= start:
        end = start + timedelta(days=1)
    if end - start > timedelta(days=MAX_PERIOD_DAYS + 1):
        raise Invalid(f"the period is longer than {MAX_PERIOD_DAYS} days; choose a shorter one",
                      {"start": [f"at most {MAX_PERIOD_DAYS} days before end"]})
    return start, end


def table_for(panel: str, scope: Scope, at: datetime, args: dict[str, Any]) -> tuple[Table, int]:
    """One panel (or the drill-down list) for the given query arguments; (table, total rows)."""
    if panel == "tasks":
        return drill_down(scope, at, DrillDown(
            kind=args.get("kind"), township_id=args.get("township"), bucket=args.get("bucket"),
            step=args.get("step"), overdue=args.get("overdue", True),
            due_within_days=args.get("due_within_days") or (DUE_SOON_DAYS if args.get("due") == "soon" else None),
            page=args.get("page", 1),
            per_page=args.get("per_page", 50)))
    start, end = period(at, args.get("start"), args.get("end"))
    table = {
        "overdue": lambda: overdue_matrix(scope, at), "due_soon": lambda: overdue_matrix(scope, at, DUE_SOON_DAYS),
        "ageing": lambda: ageing(scope, at),
        "escalations": lambda: escalations(scope, at), "on_time": lambda: on_time(scope, start, end),
        "on_time_step": lambda: on_time(scope, start, end, by_step=True), "trend": lambda: trend(scope, start, end),
    }[panel]()
    return table, len(table.rows)
