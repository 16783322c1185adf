"""REST endpoints for reports and cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from sqlalchemy.orm import joinedload

from app.audit.operations import audit
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, SelectPage, count_of, current_api_user, page_rows
from app.common.errors import NotFound
from app.extensions import db
from app.org.roles import Role
from app.processes.models import ProcessInstance
from app.processes.queries import instances_of_case
from app.tasks.models import Task, TaskState, TimerIncident
from app.tasks.queries import case_tasks_select
from app.tasks.timers import incidents_for

from .access import Basis, CaseAccess, require_case
from .merging import merge, merges_in, unmerge
from .models import Case, Child, Report, TimelineEntry
from .my_reports import my_reports_query, stage_rows
from .operations import file_report
from .queries import ChildView, child_view, timeline_select
from .schemas import (
    CaseOut,
    CasePage,
    CaseSearchArgs,
    CaseTaskPage,
    CaseTasksQuery,
    ChildFoundOut,
    ChildPage,
    MergeIn,
    MergeOut,
    MergePage,
    MyReportPage,
    ReportAccepted,
    ReportIn,
    SearchArgs,
    TimelinePage,
)
from .search import Terms, child_rows, find_cases, find_children

CASE_VIEW_ROWS = 100
"""Most timeline entries and open tasks ``GET /api/v1/cases/<id>`` carries (the newest); the rest is paged
at ``/timeline`` and ``/tasks``, so the case costs the same however long its history."""

blp = ApiBlueprint("cases", __name__, url_prefix="/api/v1", description="Reports and cases")


@blp.route("/reports")
class Reports(MethodView):
    @blp.endpoint(scope="reports:file")
    @blp.arguments(ReportIn)
    @blp.response(201, ReportAccepted)
    @blp.alt_response(200, schema=ReportAccepted, description="nothing new filed: a retry (same idempotency "
                      "key) gets the first case; a report without a key that repeats one of the last minutes "
                      "gets that case with `possible_duplicate_of`")
    @blp.alt_response(404, response="NOT_FOUND")  # a child named by id that does not exist
    def post(self, payload: dict[str, Any]) -> Any:
        """Accept a mandatory report or hotline call: opens a case and starts the four-in-one process."""
        accepted = file_report(payload, current_api_user())
        return accepted, (201 if accepted.created else 200)


@blp.route("/children")
class Children(MethodView):
    @blp.endpoint(scope="cases:read")
    @blp.arguments(SearchArgs, location="query")
    @blp.response(200, ChildPage)
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """Find a child among those you may see (your jurisdiction, or a case you may open); audited with the
        terms asked. ID numbers are masked and the `hiv` tag hidden (and not searchable) unless your role
        needs them. Merged files are left out (their reports are on the kept file)."""
        user = current_api_user()
        terms = Terms(**args)
        audit(user.id, "search", "child", None, detail={"terms": terms.given()})
        stmt = find_children(user, terms)
        return {"items": child_rows(user, page_rows(stmt, pagination_parameters))}


@blp.route("/children/<int:child_id>")
class ChildResource(MethodView):
    @blp.endpoint(scope="cases:read")
    @blp.response(200, ChildFoundOut)
    def get(self, child_id: int) -> Any:
        """One child you may see, by id, as the search finds it (ID number masked unless your role needs it,
        the child's cases you may open); audited. 404 for a child you may not see, as for none (a merged
        file too: its reports are on the kept file)."""
        user = current_api_user()
        child = db.session.scalar(find_children(user, Terms()).where(Child.id == child_id))
        if child is None:
            raise NotFound("no such child, or not one you may see")
        audit(user.id, "view", "child", child.id)
        return child_rows(user, [child])[0]


@blp.route("/cases")
class Cases(MethodView):
    @blp.endpoint(scope="cases:read")
    @blp.arguments(CaseSearchArgs, location="query")
    @blp.response(200, CasePage)
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Cases you may open (beyond a reporter's number and status: that is `GET /me/reports`), newest first,
        filtered by the child's terms and the case's number, status and kind; audited with the terms asked."""
        user = current_api_user()
        terms = Terms(**args)
        audit(user.id, "search", "case", None, detail={"terms": terms.given()})
        return find_cases(user, terms).options(joinedload(Case.region))


@blp.route("/children/merges")
class Merges(MethodView):
    @blp.endpoint(roles=(Role.COUNTY_COORDINATOR, Role.ADMIN), refusal="only county coordinators merge files",
                  writes=False, scope=PEOPLE_ONLY)
    @blp.response(200, MergePage)
    @blp.paginate(SelectPage)
    def get(self) -> Any:
        """Merges of children's files in your county, newest first."""
        return merges_in(current_api_user())

    @blp.endpoint(roles=(Role.COUNTY_COORDINATOR, Role.ADMIN), refusal="only county coordinators merge files",
                  scope=PEOPLE_ONLY)
    @blp.arguments(MergeIn)
    @blp.response(201, MergeOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, payload: dict[str, Any]) -> Any:
        """Merge a duplicate child file into the one kept: its cases, reports, visits, programme membership and
        entrusted care move; audited; undo with `POST /children/merges/{id}/undo`. Different ID numbers are
        refused (422)."""
        return merge(current_api_user(), payload["kept_id"], payload["merged_id"], payload["reason"]), 201


@blp.route("/children/merges/<int:merge_id>/undo")
class Unmerge(MethodView):
    @blp.endpoint(roles=(Role.COUNTY_COORDINATOR, Role.ADMIN), refusal="only county coordinators merge files",
                  scope=PEOPLE_ONLY)
    @blp.response(200, MergeOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, merge_id: int) -> Any:
        """Undo a merge: exactly what it moved goes back; audited."""
        return unmerge(current_api_user(), merge_id)


@blp.route("/me/reports")
class MyReports(MethodView):
    @blp.endpoint(writes=False, scope="reports:read")
    @blp.response(200, MyReportPage)
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> Any:
        """The reports you filed, newest first: each case's number, status and the date each stage was
        reached (reported, accepted, police handled, assessed, help decided, closed), and nothing more."""
        user = current_api_user()
        return {"items": stage_rows(page_rows(my_reports_query(user), pagination_parameters))}


@blp.route("/cases/<int:case_id>")
class CaseResource(MethodView):
    @blp.endpoint(scope="cases:read")
    @blp.response(200, CaseOut)
    def get(self, case_id: int) -> Any:
        """The case: child, open tasks with unit and due time, process instances, timeline (audited)."""
        user = current_api_user()
        access = require_case(user, case_id)
        audit(user.id, "view", "case", case_id, case_id=case_id, detail={"basis": access.basis.value})
        return case_view(access)


@dataclass(frozen=True)
class VisibleReport:
    """A report as its reader may see it: the narrative only with need to know for harm details."""

    report: Report
    narrative: bool


@dataclass(frozen=True)
class VisibleEntry:
    """A timeline entry with its summary and detail cut to what the reader may see."""

    entry: TimelineEntry
    summary: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class InstanceRow:
    """A process instance of the case with its open timer incidents (for those who read incidents)."""

    instance: ProcessInstance
    incidents: list[TimerIncident]


@dataclass
class CaseView:
    """The API's case, cut to what ``access`` allows (the same parts the case page shows); ``CaseOut`` dumps it.
    A reporter's basis gets the case's number and status and nothing about the child."""

    case: Case
    access: str
    grade: str | None = None
    help_tier: str | None = None
    child: ChildView | None = None
    reports: list[VisibleReport] = field(default_factory=list)
    open_tasks: list[Task] = field(default_factory=list)
    open_tasks_total: int = 0
    instances: list[InstanceRow] = field(default_factory=list)
    timeline: list[VisibleEntry] = field(default_factory=list)
    timeline_total: int = 0


def case_view(access: CaseAccess) -> CaseView:
    """Read the case's parts ``access`` allows: the newest ``CASE_VIEW_ROWS`` open tasks and timeline
    entries (a total is counted only when the page is full), instances and their incidents."""
    case, basis, user = access.case, access.basis, access.user
    view = CaseView(case=case, access=basis.value)
    if basis == Basis.REPORTER:
        return view
    view.grade, view.help_tier, view.child = case.grade, case.help_tier, child_view(case, user)
    view.reports = [VisibleReport(r, access.narratives) for r in case.reports]
    open_select = case_tasks_select(case.id, TaskState.OPEN)
    view.open_tasks = list(db.session.scalars(open_select.limit(CASE_VIEW_ROWS)))
    view.open_tasks_total = len(view.open_tasks) if len(view.open_tasks) < CASE_VIEW_ROWS \
        else count_of(open_select)
    incidents = incidents_for(user, case.id)
    view.instances = [InstanceRow(i, [x for x in incidents if x.instance_id == i.id])
                      for i in instances_of_case(case.id)]
    newest = list(db.session.scalars(timeline_select(case.id, newest_first=True).limit(CASE_VIEW_ROWS)))
    view.timeline = visible_entries(access, newest[::-1])
    view.timeline_total = len(newest) if len(newest) < CASE_VIEW_ROWS else \
        count_of(sa.select(TimelineEntry.id).where(TimelineEntry.case_id == case.id))
    return view


def visible_entries(access: CaseAccess, entries: list[TimelineEntry]) -> list[VisibleEntry]:
    """Timeline entries cut to what ``access`` allows; the tasks they name are read in one statement."""
    ids = {e.task_id for e in entries if e.task_id is not None}
    tasks = {t.id: t for t in db.session.scalars(sa.select(Task).where(Task.id.in_(ids)))} if ids else {}
    rows = []
    for e in entries:
        summary, detail = access.timeline_entry(e.kind, e.summary, e.detail or {}, tasks.get(e.task_id or 0))
        rows.append(VisibleEntry(e, summary, detail))
    return rows


def _detail_access(case_id: int, page: str) -> CaseAccess:
    """A list of the case's own rows: 404/403 as for the case, and the reporter's basis is not enough."""
    user = current_api_user()
    access = require_case(user, case_id, detail=True)
    audit(user.id, "view", "case", case_id, case_id=case_id, detail={"basis": access.basis.value, "page": page})
    return access


@blp.route("/cases/<int:case_id>/timeline")
class CaseTimeline(MethodView):
    @blp.endpoint(scope="cases:read")
    @blp.response(200, TimelinePage)
    @blp.paginate()
    def get(self, case_id: int, pagination_parameters: PaginationParameters) -> Any:
        """The case's whole timeline, oldest first, a page at a time (cut to need to know; audited)."""
        access = _detail_access(case_id, "timeline")
        total = count_of(sa.select(TimelineEntry.id).where(TimelineEntry.case_id == case_id))
        return visible_entries(access, page_rows(timeline_select(case_id), pagination_parameters, total=total))


@blp.route("/cases/<int:case_id>/tasks")
class CaseTasks(MethodView):
    @blp.endpoint(scope="cases:read")
    @blp.arguments(CaseTasksQuery, location="query")
    @blp.response(200, CaseTaskPage)
    @blp.paginate()
    def get(self, args: dict[str, Any], case_id: int, pagination_parameters: PaginationParameters) -> Any:
        """The case's tasks (``state``: open, completed, cancelled; all when left out), open ones first by
        id, finished ones newest first: names, units, dates, never the answers (audited)."""
        _detail_access(case_id, "tasks")
        return page_rows(case_tasks_select(case_id, args.get("state")), pagination_parameters)
