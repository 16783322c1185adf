"""REST endpoints for a unit's tasks: list, read, claim, unclaim, complete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from app.audit.operations import audit
from app.cases.access import lists_tasks, oversees_tasks, require_task
from app.cases.models import Case
from app.common.api import BEARER_SECURITY, committed, current_api_user, token_required
from app.common.clock import now
from app.common.errors import Forbidden, Invalid
from app.deadlines.escalation import escalations_out
from app.extensions import db
from app.processes.models import ProcessInstance
from app.processes.queries import form_schema

from . import operations
from .models import Task
from .queries import TaskFilter, capped_count, task_query, task_scope
from .schemas import TaskOut, TaskPage, TaskQueryArgs

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="Department task queues")


def case_numbers(case_ids: set[int]) -> dict[int, str]:
    """Case numbers of a page of tasks in one statement (not one ``Case`` load per row)."""
    if not case_ids:
        return {}
    return dict(db.session.execute(sa.select(Case.id, Case.number).where(Case.id.in_(case_ids))).all())  # type: ignore[arg-type]


def task_out(task: Task, at: datetime, with_schema: bool = False, case_number: str | None = None) -> dict[str, Any]:
    if case_number is None:
        case = db.session.get(Case, task.case_id)
        case_number = case.number if case else None
    body: dict[str, Any] = {
        "id": task.id, "case_id": task.case_id, "case_number": case_number,
        "bpmn_id": task.bpmn_id, "name": task.name, "lane": task.lane, "department_kind": task.department_kind,
        "unit": {"id": task.unit.id, "name": task.unit.name, "kind": task.unit.kind} if task.unit else None,
        "state": task.state, "assignee": task.assignee.display_name if task.assignee else None,
        "form": task.form, "instructions": task.instructions, "deadline": task.deadline,
        "created_at": task.created_at, "due_at": task.due_at, "remind_at": task.remind_at,
        "completed_at": task.completed_at, "overdue": task.is_overdue(at), "escalation_level": task.escalation_level,
        "next_escalation_at": task.next_escalation_at, "escalation": task.escalation,
    }
    if with_schema:
        body["escalations"] = escalations_out(task.id)
    if with_schema and task.form:
        instance = db.session.get(ProcessInstance, task.instance_id)
        body["form_schema"] = form_schema(instance.spec, task.form) if instance else None
    return body


def _visible_task(task_id: int) -> Task:
    """A task the caller may see: its unit's liaisons and head, and coordinators of the county (need to know)."""
    task = operations.get_task(task_id)
    require_task(current_api_user(), task)
    return task


@blp.route("")
class TaskList(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(TaskQueryArgs, location="query")
    @blp.response(200, TaskPage)
    @token_required
    def get(self, args: dict[str, Any]) -> Any:
        """Tasks of your unit (coordinators: of their county, any unit or none), with filters.

        Only the roles that work tasks (liaison, unit head) or oversee them (county coordinator) have a list.
        """
        user = current_api_user()
        if not lists_tasks(user):
            raise Forbidden("your role works no tasks")
        coordinator = oversees_tasks(user)
        unit_id = args.get("unit_id", None if coordinator else user.unit_id)
        if unit_id != user.unit_id and not coordinator:
            raise Forbidden("you can list only your own unit's tasks")
        assignee = args.get("assignee")
        assignee_id = None
        if assignee == "me":
            assignee_id = user.id
        elif assignee:
            try:
                assignee_id = int(assignee)
            except ValueError as exc:
                raise Invalid("bad assignee", {"assignee": ["'me' or a user id"]}) from exc
        at = now()
        stmt = task_query(TaskFilter(
            assignee_id=assignee_id, state=args.get("state"), overdue=args.get("overdue"),
            due_within_hours=args.get("due_within_hours"), case_id=args.get("case_id"), bpmn_id=args.get("step"),
        ), at).where(task_scope(user, unit_id))
        total, more = capped_count(stmt)
        page, per_page = args["page"], args["per_page"]
        rows = db.session.scalars(stmt.options(sa.orm.joinedload(Task.assignee))
                                  .offset((page - 1) * per_page).limit(per_page)).unique().all()
        numbers = case_numbers({t.case_id for t in rows})
        return {"items": [task_out(t, at, case_number=numbers.get(t.case_id)) for t in rows], "total": total,
                "more": more, "page": page, "per_page": per_page}


@blp.route("/<int:task_id>")
class TaskResource(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, TaskOut)
    @token_required
    @committed
    def get(self, task_id: int) -> Any:
        """One task with its form schema (audited: it carries the child's case)."""
        task = _visible_task(task_id)
        audit(current_api_user().id, "view", "task", task.id, case_id=task.case_id)
        return task_out(task, now(), with_schema=True)


@blp.route("/<int:task_id>/claim")
class Claim(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, TaskOut)
    @token_required
    @committed
    def post(self, task_id: int) -> Any:
        """Take the task: it moves to your "my tasks" and others in the unit see who has it."""
        task = operations.claim(operations.get_task(task_id), current_api_user())
        return task_out(task, now())


@blp.route("/<int:task_id>/unclaim")
class Unclaim(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, TaskOut)
    @token_required
    @committed
    def post(self, task_id: int) -> Any:
        """Give the task back to the unit's queue."""
        task = operations.unclaim(operations.get_task(task_id), current_api_user())
        return task_out(task, now())
