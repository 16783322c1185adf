"""The case workspace (一人一档) and report intake, as pages.

Access is ``app.cases.access`` (need to know), the same as ``GET /api/v1/cases/<id>``; every view
of a case writes an audit row.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy.orm import defer, joinedload

from app.audit.operations import audit
from app.common.clock import county_zone, local, now
from app.common.downloads import file_download
from app.common.endpoints import count_of
from app.common.errors import Conflict, Invalid, NotFound
from app.common.inputs import bounded_int
from app.common.pages import PageOf, committed_page, page_number, roles_required
from app.conferences.operations import convening_units
from app.conferences.queries import conferences_of_case
from app.extensions import db
from app.org.kinds import DEPARTMENT_KINDS, RegionLevel
from app.org.labels import department_name
from app.org.models import Region
from app.org.roles import Role
from app.processes.models import ProcessInstance
from app.tasks.attachments import attachments_of
from app.tasks.form_render import step_values
from app.tasks.models import Task, TaskState, Timer
from app.tasks.queries import CASE_TASKS_PER_PAGE, case_tasks_select
from app.tasks.timers import incidents_for

from .access import Basis, require_case, sees_sensitive
from .merging import merge, merges_in, unmerge
from .models import MANDATORY_REPORTERS, TimelineEntry
from .my_reports import STAGES, my_reports_query, stage_rows
from .operations import file_report
from .queries import TIMELINE_PER_PAGE, child_view, get_case_for, timeline_select
from .schemas import ReportIn, SearchArgs
from .search import Terms, child_rows, find_children

blp = Blueprint("workspace", __name__, template_folder="templates")

VISIT_STEPS = ("village_home_visit", "village_return_home_followup", "village_appointed_guardian_followup",
               "home_visit", "weekly_contact", "assessment_visit", "village_persuade")
"""Visit and contact records of both files: the four-in-one case and the child's care file (duties)."""
PROBLEM_STEPS = ("education_assessment_input", "civil_affairs_assessment_input", "village_home_visit",
                 "township_assessment", "village_return_home_followup", "village_appointed_guardian_followup",
                 "assessment_grading", "caregiver_check")
HELP_STEPS = ("police_temporary_care", "civil_affairs_dv_shelter", "village_caring_help", "township_loving_help",
              "civil_affairs_protective_help", "civil_affairs_temporary_guardianship",
              "welfare_institution_long_term_guardianship", "civil_affairs_guardian_placement")
SOLUTION_STEPS = ("police_legal_disposition", "village_caring_help", "township_loving_help",
                  "civil_affairs_protective_help", "civil_affairs_court_petition", "procuratorate_petition_support",
                  "court_hearing_decision", "township_case_closure", "education_return_outcome")


RECORDS_SHOWN = 40
"""The newest completed record steps (visits, help, problems, solutions) the case page shows in full; a care
file gains a weekly contact every week, so older ones are left to the timeline and the tasks list."""
INSTANCES_PER_PAGE = 10
"""Process diagrams per page: each is drawn in the browser, and a care file starts a duty instance per cycle."""
RECORD_STEPS = tuple(sorted(set(VISIT_STEPS + PROBLEM_STEPS + HELP_STEPS + SOLUTION_STEPS)))


def _steps_of(instances: list[ProcessInstance]) -> list[Task]:
    """The tasks of a page's instances (their printed step lists and diagram markers), in one read."""
    ids = [i.id for i in instances]
    return list(db.session.scalars(sa.select(Task).where(Task.instance_id.in_(ids))
                                   .options(joinedload(Task.completed_by))
                                   .order_by(Task.created_at, Task.id))) if ids else []


def _diagram_states(instances: list[ProcessInstance], steps: list[Task]) -> dict[int, dict[str, list[str]]]:
    """Per instance, the bpmn ids of done, current (open tasks) and waiting (timers) elements, for the
    viewer's markers: two reads beside the steps for the whole page, whatever its number of instances."""
    ids = [i.id for i in instances]
    done: dict[int, set[str]] = {i: set() for i in ids}
    current: dict[int, set[str]] = {i: set() for i in ids}
    waiting: dict[int, set[str]] = {i: set() for i in ids}
    if ids:
        for task in steps:
            if task.state == TaskState.COMPLETED:
                done[task.instance_id].add(task.bpmn_id)
            elif task.state == TaskState.OPEN:
                current[task.instance_id].add(task.bpmn_id)
        for instance_id, detail in db.session.execute(
                sa.select(TimelineEntry.instance_id, TimelineEntry.detail).where(
                    TimelineEntry.instance_id.in_(ids), TimelineEntry.kind == "engine_step")):
            if instance_id is not None and (detail or {}).get("bpmn_id"):
                done[instance_id].add(str(detail["bpmn_id"]))
        for instance_id, bpmn_id in db.session.execute(
                sa.select(Timer.instance_id, Timer.bpmn_id).where(Timer.instance_id.in_(ids))):
            waiting[instance_id].add(bpmn_id)
    return {i: {"done": sorted(done[i] - current[i]), "current": sorted(current[i]), "waiting": sorted(waiting[i])}
            for i in ids}


def _page(stmt: sa.Select[Any], param: str, per_page: int, *, newest_end: bool = False) -> PageOf[Any]:
    """One COUNT and one LIMITed read of ``stmt``; the page the ``param`` query parameter asks for (by
    default the first, or the last when the list's newest end is what a reader wants first)."""
    total = count_of(stmt)
    last = max(1, -(-total // per_page))
    page = min(page_number(param, last if newest_end else None), last)
    return PageOf(list(db.session.scalars(stmt.offset((page - 1) * per_page).limit(per_page))), page, per_page, total)


@blp.get("/cases/<int:case_id>")
@login_required
@committed_page
def case_page(case_id: int) -> Any:
    """The case file. Every list on it is paged or capped (timeline, open tasks, records, processes), so
    opening a case costs the same statements at 10 entries or 10,000 (``tests/cases/test_case_paging.py``)."""
    access = require_case(current_user, case_id)
    case, basis = access.case, access.basis
    audit(current_user.id, "view", "case", case.id, case_id=case.id, detail={"basis": basis.value, "page": "case"})
    if not access.detail:
        return render_template("cases/case_reporter.html", case=case)
    show_text = access.narratives
    recorded = list(db.session.scalars(
        sa.select(Task).where(Task.case_id == case.id, Task.state == TaskState.COMPLETED,
                              Task.bpmn_id.in_(RECORD_STEPS))
        .options(joinedload(Task.completed_by)).order_by(Task.completed_at.desc(), Task.id.desc())
        .limit(RECORDS_SHOWN + 1)))
    more_records = len(recorded) > RECORDS_SHOWN
    recorded = recorded[:RECORDS_SHOWN][::-1]
    # Their versions' forms label the answers: the instances in one read, held here so the session's
    # (weak) identity map serves step_values' lookups instead of one read per step.
    held = list(db.session.scalars(sa.select(ProcessInstance).options(defer(ProcessInstance.state))
                                   .where(ProcessInstance.id.in_({t.instance_id for t in recorded})))) if recorded else []
    records = {t.id: step_values(t, access.step_text(t)) for t in recorded}
    del held

    def pick(ids: tuple[str, ...]) -> list[Task]:
        return [t for t in recorded if t.bpmn_id in ids]

    open_tasks = _page(case_tasks_select(case.id, TaskState.OPEN), "tasks_page", CASE_TASKS_PER_PAGE)
    entries = _page(timeline_select(case.id), "timeline_page", TIMELINE_PER_PAGE, newest_end=True)
    task_ids = {e.task_id for e in entries.items if e.task_id is not None}
    tasks = {t.id: t for t in db.session.scalars(sa.select(Task).where(Task.id.in_(task_ids)))} if task_ids else {}
    instances = _page(sa.select(ProcessInstance).where(ProcessInstance.case_id == case.id).order_by(ProcessInstance.id),
                      "processes_page", INSTANCES_PER_PAGE, newest_end=True)
    steps = _steps_of(instances.items)
    files = {a.id: a for a in attachments_of(case_id=case.id) if access.attachment(a)}
    return render_template(
        "cases/case.html", case=case, basis=basis, child=child_view(case, current_user), show_text=show_text,
        reports=case.reports, records=records, visits=pick(VISIT_STEPS), help_records=pick(HELP_STEPS),
        problems=pick(PROBLEM_STEPS), solutions=pick(SOLUTION_STEPS), more_records=more_records,
        records_shown=RECORDS_SHOWN,
        open_tasks=open_tasks, task_links={t.id for t in open_tasks.items if access.task(t)},
        steps=steps, instances=instances, diagram_states=_diagram_states(instances.items, steps), timeline=entries,
        shown_text={e.id for e in entries.items if access.timeline_text(e.kind, tasks.get(e.task_id or 0))},
        attachments=list(files.values()), entry_files={e.id: _files_of(e, files) for e in entries.items},
        conferences=conferences_of_case(case.id), can_convene=bool(convening_units(current_user, case)),
        incidents=incidents_for(current_user, case.id), at=now())


def _files_of(entry: TimelineEntry, files: dict[int, Any]) -> list[Any]:
    """The readable files a timeline entry names: a completion's photos (sent with it from the phone), an upload."""
    detail = entry.detail or {}
    ids = list(detail.get("attachment_ids") or []) + ([detail["attachment_id"]] if detail.get("attachment_id") else [])
    return [files[i] for i in ids if isinstance(i, int) and i in files]


@blp.get("/cases/<int:case_id>/instances/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(case_id: int, instance_id: int) -> Any:
    """The BPMN XML of the version this instance runs, for the bpmn-js viewer."""
    case, basis = get_case_for(current_user, case_id)
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or instance.case_id != case.id or basis == Basis.REPORTER:
        raise NotFound(gettext("No such process instance."))
    files = instance.spec.files
    key = instance.spec.process_key
    name = next((n for n, xml in files.items() if n.endswith(".bpmn") and f'id="{key}"' in xml),
                next((n for n in files if n.endswith(".bpmn")), None))
    if name is None:
        raise NotFound(gettext("This process has no diagram."))
    return file_download(lanes_in_words(files[name]), name)


_LANE_NAME = re.compile(r'(<(?:[\w-]+:)?lane\b[^>]*?\bname=")([^"]*)(")')


def lanes_in_words(xml: str) -> str:
    """The read-only diagram with each lane named by its department in the reader's language.

    Shipped processes name a lane by its department kind code (``police``), which routes its tasks; a reader
    of the case should see 公安机关 / Police. Lanes named otherwise keep the designer's name."""
    def named(match: re.Match[str]) -> str:
        code = html.unescape(match.group(2))
        if code not in DEPARTMENT_KINDS:
            return match.group(0)
        return match.group(1) + html.escape(department_name(code), quote=True) + match.group(3)
    return _LANE_NAME.sub(named, xml)


SEARCH_PAGE_SIZE = 25


@blp.get("/search")
@login_required
@committed_page
def search() -> Any:
    """The header's search box: children (and their cases) the user may open; every search audited."""
    try:
        args = SearchArgs().load({k: v for k, v in request.args.items() if k in SearchArgs().fields})
    except ValidationError as exc:
        return render_template("cases/search.html", terms={}, asked={}, rows=[], total=0, page=1, pages=1,
                               errors=_flatten(exc.messages), sees_sensitive=sees_sensitive(current_user),
                               can_merge=False), 422
    terms = Terms(**args)
    page = max(1, min(bounded_int(request.args.get("page", "1"), 10_000) or 1, 10_000))
    rows: list[dict[str, Any]] = []
    total = 0
    if terms.given():
        audit(current_user.id, "search", "child", None, detail={"terms": terms.given(), "page": "search"})
        stmt = find_children(current_user, terms)
        total = int(db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0)
        found = list(db.session.scalars(stmt.offset((page - 1) * SEARCH_PAGE_SIZE).limit(SEARCH_PAGE_SIZE)))
        rows = child_rows(current_user, found)
    return render_template("cases/search.html", terms=args, asked=terms.given(), rows=rows, total=total,
                           page=page, pages=max(1, -(-total // SEARCH_PAGE_SIZE)), errors={},
                           sees_sensitive=sees_sensitive(current_user),
                           can_merge=current_user.has_role(Role.COUNTY_COORDINATOR, Role.ADMIN))


@blp.route("/children/merges", methods=["GET", "POST"])
@roles_required(Role.COUNTY_COORDINATOR, Role.ADMIN)
@committed_page
def merges() -> Any:
    """A coordinator merges a duplicate child file into the one kept (``merging``), and sees the county's merges."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        kept_id = bounded_int(request.form.get("kept_id", ""))
        merged_id = bounded_int(request.form.get("merged_id", ""))
        reason = request.form.get("reason", "").strip()[:500]
        if kept_id is None or merged_id is None or not reason:
            errors = {"form": [gettext("Give both file numbers and the reason.")]}
        else:
            try:
                merge(current_user, kept_id, merged_id, reason)
            except (Invalid, NotFound, Conflict) as exc:
                db.session.rollback()
                errors = {"form": [str(exc)]}
            else:
                flash(gettext("File %(merged)s merged into file %(kept)s.", merged=merged_id, kept=kept_id), "success")
                return redirect(url_for("workspace.merges"))
    rows = list(db.session.scalars(merges_in(current_user).limit(100)))
    return render_template("cases/merges.html", rows=rows, errors=errors, form=request.form), 422 if errors else 200


@blp.post("/children/merges/<int:merge_id>/undo")
@roles_required(Role.COUNTY_COORDINATOR, Role.ADMIN)
@committed_page
def undo_merge(merge_id: int) -> Any:
    try:
        unmerge(current_user, merge_id)
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(gettext("The merge was undone: the cases went back to their file."), "success")
    return redirect(url_for("workspace.merges"))


@blp.get("/reports/mine")
@login_required
def my_reports() -> Any:
    """A reporter follows their reports: case number, status and each stage's date (``my_reports``)."""
    page = max(1, min(bounded_int(request.args.get("page", "1"), 10_000) or 1, 10_000))
    stmt = my_reports_query(current_user)
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    rows = stage_rows(list(db.session.scalars(stmt.offset((page - 1) * SEARCH_PAGE_SIZE).limit(SEARCH_PAGE_SIZE))))
    return render_template("cases/my_reports.html", rows=rows, stages=("reported",) + tuple(s for s, _ in STAGES)
                           + ("closed",), total=total, page=page, pages=max(1, -(-total // SEARCH_PAGE_SIZE)), at=now())


def _villages() -> list[tuple[str, list[Region]]]:
    townships = db.session.scalars(sa.select(Region).where(Region.level == RegionLevel.TOWNSHIP)
                                   .order_by(Region.code))
    out = []
    for township in townships:
        villages = list(db.session.scalars(sa.select(Region).where(Region.parent_id == township.id)
                                           .order_by(Region.code)))
        out.append((township.name, villages))
    return out


def _report_body(form: Any) -> dict[str, Any]:
    """The intake form as the body ``POST /api/v1/reports`` takes (the same schema validates both)."""
    guardians = []
    indexes = sorted({n for k in form if k.startswith("guardians-")
                      and (n := bounded_int(k.split("-")[1], 100)) is not None})
    for i in indexes:
        g = {k: form.get(f"guardians-{i}-{k}", "").strip() for k in ("name", "relation", "phone")}
        if not any(g.values()):
            continue
        g["working_away"] = form.get(f"guardians-{i}-working_away") == "1"
        g["lives_with_child"] = form.get(f"guardians-{i}-lives_with_child") == "1"
        guardians.append(g)
    child: dict[str, Any] = {k: form.get(k, "").strip() for k in ("name", "sex", "id_number", "village", "address")}
    if form.get("birth_date"):
        child["birth_date"] = form["birth_date"]
    child = {k: v for k, v in child.items() if v or k == "address"}
    child["tags"] = form.getlist("tags")
    child["guardians"] = guardians
    report = {k: form.get(k, "").strip() for k in ("reporter_type", "reporter_name", "reporter_phone",
                                                    "situation", "description")}
    body: dict[str, Any] = {"child": child, "report": {k: v for k, v in report.items() if v}}
    if learned := county_moment(form.get("learned_at", "")):
        body["report"]["learned_at"] = learned
    if form.get("idempotency_key"):
        body["idempotency_key"] = form["idempotency_key"]
    if form.get("confirm_duplicate") == "1":
        body["confirm_duplicate"] = True
    picked = form.get("match", "")
    if picked == "new":
        body["confirm_new_child"] = True
    elif (child_id := bounded_int(picked)) is not None:
        child["id"] = child_id  # one of the likely matches shown (checked again by the intake)
    return body


def county_moment(raw: str) -> str:
    """A ``datetime-local`` field (county time, no offset) as the API's moment with the county's offset; a value
    that is not a date-time goes on as typed, for the schema to refuse (422)."""
    raw = raw.strip()[:40]
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return (moment if moment.tzinfo else moment.replace(tzinfo=county_zone())).isoformat()


def _load_report(body: dict[str, Any]) -> dict[str, Any]:
    """``ReportIn`` as the API loads it, and on this page a mandatory reporter must say when they learned of the
    situation (the API leaves it optional for integrations that do not know it; ``cases.lateness``)."""
    missing: dict[str, Any] = {}
    if body["report"].get("reporter_type") in MANDATORY_REPORTERS and not body["report"].get("learned_at"):
        missing = {"report": {"learned_at": [gettext("A mandatory reporter says when they learned of it.")]}}
    try:
        loaded: dict[str, Any] = ReportIn().load(body)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        if missing:
            given = messages.get("report")
            messages["report"] = {**(given if isinstance(given, dict) else {"_schema": given} if given else {}),
                                  **missing["report"]}
        raise ValidationError(messages) from None
    if missing:
        raise ValidationError(missing)
    return loaded


def _learned_default() -> str:
    """The report page's "learned of it at": now, for the reporter to correct (the page cannot know)."""
    return local(now()).strftime("%Y-%m-%dT%H:%M")


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    else:
        out[prefix.rstrip(".")] = [str(m) for m in (messages if isinstance(messages, list) else [messages])]
    return out


@blp.route("/reports/new", methods=["GET", "POST"])
@login_required
@committed_page
def new_report() -> Any:
    """Mandatory reporters and the 12355 desk: submitting opens the case and shows its number."""
    if request.method == "GET":
        return render_template("cases/report_form.html", form={"learned_at": _learned_default()}, errors={},
                               villages=_villages(), idempotency_key=uuid.uuid4().hex)
    body = _report_body(request.form)
    try:
        accepted = file_report(_load_report(body), current_user, check_recent=True)
        db.session.flush()
    except (ValidationError, Invalid) as exc:
        db.session.rollback()
        errors = _flatten(exc.messages) if isinstance(exc, ValidationError) else exc.errors
        # A form already filed, changed and sent again: a fresh key, so submitting it again files it anew.
        key = uuid.uuid4().hex if "idempotency_key" in errors else request.form.get("idempotency_key")
        return render_template("cases/report_form.html", form=request.form, errors=errors, villages=_villages(),
                               idempotency_key=key or uuid.uuid4().hex), 422
    case, earlier = accepted.case, accepted.possible_duplicate_of
    if case is None:
        # Held, nothing filed: children on file look like this one; the person filing picks one or says new.
        return render_template("cases/report_form.html", form=request.form, errors={}, villages=_villages(),
                               idempotency_key=request.form.get("idempotency_key") or uuid.uuid4().hex,
                               likely=accepted.likely_matches), 409
    if earlier is not None and not accepted.created:
        # Held, nothing filed (409 rolls the request back): the same person reported this child minutes ago.
        return render_template("cases/report_form.html", form=request.form, errors={}, villages=_villages(),
                               idempotency_key=request.form.get("idempotency_key") or uuid.uuid4().hex,
                               duplicate=earlier,
                               duplicate_minutes=int((now() - earlier.received_at).total_seconds() // 60)), 409
    if accepted.outcome == "added_to_open_case":
        flash(gettext("Report received and added to this child's open case %(number)s; its units are told.",
                      number=case.number), "success")
    elif accepted.created:
        flash(gettext("Report received. Case number: %(number)s", number=case.number), "success")
        if earlier is not None:
            flash(gettext("Filed as a new report; marked as a possible duplicate of case %(number)s.",
                          number=earlier.case.number), "info")
    else:
        flash(gettext("This report was already received as case %(number)s.", number=case.number), "info")
    return redirect(url_for("workspace.case_page", case_id=case.id))


