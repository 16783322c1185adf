"""REST endpoints for programme enrolment ("dynamic management") and recurring duties."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from sqlalchemy.orm import selectinload

from app.audit.operations import audit
from app.cases.access import case_access
from app.cases.models import Case, Child
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, Beside, SelectPage, current_api_user
from app.common.errors import Forbidden, NotFound
from app.extensions import db
from app.org.models import Unit, User
from app.org.roles import Role
from app.tasks.form_render import step_data
from app.tasks.models import Task

from . import operations
from .frequencies import FrequencyRule, rules_in_force, set_frequency
from .models import DutyCycle, Enrolment
from .queries import CycleFilter, child_programme, cycle_area, cycle_query, day_range
from .schemas import (
    AssessNowIn,
    CycleArgs,
    CycleOut,
    CyclePage,
    DropoutIn,
    EndIn,
    EnrolIn,
    EnrolmentOut,
    EntrustmentIn,
    EntrustmentOut,
    FrequencyIn,
    FrequencyOut,
    ProgrammeOut,
)

blp = ApiBlueprint("duties", __name__, url_prefix="/api/v1/duties", description="Programme enrolment and duties")

DROPOUT_REPORTER_KINDS = ("school", "education")


def _child(child_id: int) -> Child:
    child = db.session.get(Child, child_id)
    if child is None:
        raise NotFound(f"child {child_id} not found")
    return child


@blp.route("/enrolments")
class Enrolments(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(EnrolIn)
    @blp.response(201, EnrolmentOut)
    @blp.alt_response(404, response="NOT_FOUND")  # a child named by id that does not exist
    def post(self, payload: dict[str, Any]) -> Any:
        """Enrol a child (a new child found, parents left to work ...): duties start at each one's next cycle."""
        user = current_api_user()
        child = operations.child_from_payload(payload.pop("child"))
        operations.ensure_can_manage_child(user, child)
        enrolment = operations.enrol(child, user, **payload)
        return Beside(enrolment, cycles_cancelled=0), 201


@blp.route("/enrolments/<int:enrolment_id>/end")
class EndEnrolment(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(EndIn)
    @blp.response(200, EnrolmentOut)
    def post(self, payload: dict[str, Any], enrolment_id: int) -> Any:
        """Take a child out of the programme (a parent returned ...): open duties are cancelled, none start."""
        user = current_api_user()
        enrolment = db.session.get(Enrolment, enrolment_id)
        if enrolment is None:
            raise NotFound(f"enrolment {enrolment_id} not found")
        operations.ensure_can_manage_child(user, enrolment.child)
        cancelled = operations.end_enrolment(enrolment, user, payload["end_reason"], payload.get("ended_on"))
        return Beside(enrolment, cycles_cancelled=cancelled)


@blp.route("/children/<int:child_id>")
class ChildProgramme(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, ProgrammeOut)
    def get(self, child_id: int) -> Any:
        """The child's programme record: enrolments, entrusted care, every duty cycle and its record (audited)."""
        user = current_api_user()
        child = _child(child_id)
        case = db.session.scalar(sa.select(Case).where(Case.child_id == child.id, Case.kind == "care"))
        access = case_access(user, case) if case is not None else None
        if access is None or not access.detail:
            operations.ensure_can_manage_child(user, child)
            access = None
        audit(user.id, "view", "programme", child.id, case_id=case.id if case else None,
              detail={"basis": access.basis.value if access else "manages"})
        programme = child_programme(child)
        if access is not None and not access.narratives:  # visit records' free text follows the step's rule
            for cycle in programme["cycles"]:
                task = db.session.get(Task, cycle["task_id"]) if cycle["task_id"] is not None else None
                if cycle["record"] is not None and task is not None:
                    cycle["record"] = step_data(task, access.step_text(task))
        return programme


@blp.route("/children/<int:child_id>/assessments")
class AssessNow(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(AssessNowIn)
    @blp.response(201, CycleOut)
    def post(self, payload: dict[str, Any], child_id: int) -> Any:
        """Assess a key child now, outside the semiannual cycle (重点对象随时评估)."""
        user = current_api_user()
        child = _child(child_id)
        operations.ensure_can_manage_child(user, child)
        cycle = operations.start_assessment_now(child, user, payload["reason"])
        return cycle, 201


def _may_report_dropout(user: User, child: Child) -> bool:
    if user.unit is not None and user.unit.kind in DROPOUT_REPORTER_KINDS and user.has_role(
            Role.LIAISON, Role.UNIT_HEAD, Role.REPORTER):
        return True
    try:
        operations.ensure_can_manage_child(user, child)
    except Forbidden:
        return False
    return True


@blp.route("/dropouts")
class Dropouts(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(DropoutIn)
    @blp.response(201, CycleOut)
    @blp.alt_response(404, response="NOT_FOUND")  # the child named by id
    def post(self, payload: dict[str, Any]) -> Any:
        """A school reports a dropout: education, township and village persuade the child back (劝返复学)."""
        user = current_api_user()
        child = _child(payload["child_id"])
        if not _may_report_dropout(user, child):
            raise Forbidden("schools, education, the child's director and supervisor, and coordinators report dropouts")
        cycle = operations.report_dropout(child, user, school=payload["school"], left_on=payload.get("left_on"),
                                          note=payload["note"])
        return cycle, 201


@blp.route("/entrustments")
class Entrustments(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(EntrustmentIn)
    @blp.response(201, EntrustmentOut)
    @blp.alt_response(404, response="NOT_FOUND")  # the child named by id
    def post(self, payload: dict[str, Any]) -> Any:
        """Record an entrusted caregiver (and agreement); the village committee checks their capacity."""
        user = current_api_user()
        child = _child(payload.pop("child_id"))
        operations.ensure_can_manage_child(user, child)
        entrustment = operations.record_entrustment(child, user, **payload)
        return entrustment, 201


@blp.route("/cycles")
class Cycles(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(CycleArgs, location="query")
    @blp.response(200, CyclePage)
    @blp.alt_response(404, response="NOT_FOUND")  # the region or child filtered on
    @blp.paginate(SelectPage, page_size=100)
    def get(self, args: dict[str, Any]) -> Any:
        """Duty cycles in your area (supervisors: their township; coordinators: the county), newest first;
        `from`/`to` keep the cycles whose period overlaps those days, `child_id` one child's, `unit_id` those
        with a step in that unit's queue. Each names its period in words (`period_label`). Audited (a cycle's
        record is the child's visit)."""
        user = current_api_user()
        region_id = cycle_area(user, args.get("region"))
        unit_id = args.get("unit_id")
        if unit_id is not None and db.session.get(Unit, unit_id) is None:
            raise NotFound(f"unit {unit_id} not found")
        since, until = day_range(args.get("since"), args.get("until"))
        audit(user.id, "list", "duty_cycle", None, detail={"filters": {
            k: (v.isoformat() if isinstance(v, date) else v) for k, v in args.items()}})
        return cycle_query(CycleFilter(duty=args.get("duty"), status=args.get("status"),
                                       child_id=args.get("child_id"), region_id=region_id,
                                       since=since, until=until, unit_id=unit_id)
                           ).options(selectinload(DutyCycle.tasks))


@blp.route("/frequencies")
class Frequencies(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, FrequencyOut(many=True))
    def get(self) -> Any:
        """The cadence rules in force: defaults and the county's overrides."""
        return rules_in_force()

    @blp.endpoint(roles=(Role.COUNTY_COORDINATOR, Role.ADMIN),
                  refusal="only county coordinators and admins set duty frequencies", scope=PEOPLE_ONLY)
    @blp.arguments(FrequencyIn)
    @blp.response(200, FrequencyOut)
    def put(self, payload: dict[str, Any]) -> Any:
        """Set a cadence rule (coordinators and admins); it applies from each child's next cycle."""
        row = set_frequency(payload["duty"], payload["selector"], payload["cadence"], current_api_user())
        return FrequencyRule.of(row)
