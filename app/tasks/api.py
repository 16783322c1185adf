"""REST endpoints for a unit's tasks: list, read, claim, unclaim (completing is the workflow's, ``app/workflow/api.py``)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import fields

from app.audit.operations import audit
from app.cases.access import lists_tasks, oversees_tasks, require_task
from app.common.clock import now
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, current_api_user, page_rows
from app.common.errors import DomainError, Forbidden, Invalid, NotFound
from app.deadlines.escalation import escalations_out
from app.extensions import db
from app.org.models import User

from . import bulk, operations
from .attachments import upload_once
from .drafts import MAX_DRAFT_BYTES, discard_draft, draft_of, save_draft
from .form_options import ACCEPT_LANGUAGE, api_locale, option_titled
from .handover import handovers_out
from .models import Task
from .queries import (
    INBOX_ROW_OPTIONS,
    TaskFilter,
    capped_count,
    task_query,
    task_scope,
    task_with_case,
    unit_inbox,
)
from .schemas import (
    IDEMPOTENCY_HEADER,
    NO_DRAFT,
    AttachmentOut,
    BulkClaimIn,
    BulkOut,
    BulkReassignIn,
    EscalationOut,
    HandoverOut,
    TaskDraftIn,
    TaskDraftOut,
    TaskOut,
    TaskPage,
    TaskQueryArgs,
    UploadFileIn,
    UploadFormIn,
    form_schema_of,
)


class PayloadTooLarge(DomainError):
    status = 413


blp = ApiBlueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="Department task queues")


class TaskDetailOut(TaskOut):
    """One task as ``GET /tasks/<id>`` answers it: also its form schema and the ladder steps taken (here, not
    in ``schemas``: the ladder is the deadlines package's, a layer above tasks)."""

    computed = {**TaskOut.computed, "form_schema": lambda task: option_titled(form_schema_of(task), api_locale()),
                "escalations": lambda task: escalations_out(task.id),
                "handovers": lambda task: handovers_out(task.id)}

    form_schema = fields.Dict(allow_none=True, metadata={
        "description": "the step's form as JSON Schema (2020-12); each choice is `oneOf` of `{const, title}`, the "
                       "titles in the language of `Accept-Language` (Chinese by default, `en` for English); "
                       "absent for a step without a form"})
    escalations = fields.List(fields.Nested(EscalationOut), metadata={"description": "ladder steps taken"})
    handovers = fields.List(fields.Nested(HandoverOut), metadata={
        "description": "moves because its holder was away: to the substitute, back, or kept (docs/working-week.md)"})


def _visible_task(task_id: int) -> Task:
    """A task the caller may see: its unit's liaisons and head, and coordinators of the county (need to know)."""
    task = operations.get_task(task_id)
    require_task(current_api_user(), task)
    return task


@blp.route("")
class TaskList(MethodView):
    @blp.endpoint(writes=False, scope=PEOPLE_ONLY)
    @blp.arguments(TaskQueryArgs, location="query")
    @blp.response(200, TaskPage)
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """Tasks of your unit (coordinators: of their county, any unit or none), with filters.

        Only the roles that work tasks (liaison, unit head) or oversee them (county coordinator) have a list.
        The total is counted up to 10,000 (``more`` says there are more); a page costs the same statements
        whatever its size (tests/tasks/test_inbox_cost.py).
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
        if not coordinator and assignee is None and args.keys() <= {"state", "unit_id"}:  # the plain inbox
            pagination_parameters.item_count, more, rows = unit_inbox(
                user.unit_id, args["state"], pagination_parameters.first_item, pagination_parameters.page_size)
            return {"items": rows, "more": more}
        stmt = task_query(TaskFilter(
            assignee_id=assignee_id, state=args.get("state"), overdue=args.get("overdue"),
            due_within_hours=args.get("due_within_hours"), case_id=args.get("case_id"), bpmn_id=args.get("step"),
        ), now()).where(task_scope(user, unit_id))
        total, more = capped_count(stmt)
        rows = page_rows(stmt.options(*INBOX_ROW_OPTIONS), pagination_parameters, total=total, unique=True)
        return {"items": rows, "more": more}


def _picks(payload: dict[str, Any]) -> list[bulk.Pick]:
    return [bulk.Pick(row["id"], row.get("version")) for row in payload["tasks"]]


@blp.route("/bulk/reassign")
class BulkReassign(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(BulkReassignIn)
    @blp.response(200, BulkOut)
    def post(self, payload: dict[str, Any]) -> Any:
        """A unit head hands the selected tasks of the unit to one member: all of them or none.

        A row of another unit is 403, a row that is no longer open or changed since you listed it (its
        `version`) 409, an unknown row 404; the answer's `errors` name each refused row (`tasks.<id>`) and
        nothing changes. Each task is audited, on its case's timeline and its version bumped as a single
        reassignment."""
        user = current_api_user()
        target = db.session.get(User, payload["to_user_id"])
        if target is None:
            raise Invalid("no such user", {"to_user_id": ["no such user"]})
        return {"items": bulk.reassign_many(_picks(payload), target, user)}


@blp.route("/bulk/claim")
class BulkClaim(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(BulkClaimIn)
    @blp.response(200, BulkOut)
    def post(self, payload: dict[str, Any]) -> Any:
        """A unit head takes the selected tasks nobody holds: all of them or none (refusals as bulk reassign;
        a row someone else holds is 409)."""
        return {"items": bulk.claim_many(_picks(payload), current_api_user())}


@blp.route("/<int:task_id>")
class TaskResource(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.doc(parameters=[ACCEPT_LANGUAGE])
    @blp.response(200, TaskDetailOut)
    def get(self, task_id: int) -> Any:
        """One task with its form schema (audited: it carries the child's case); the form's option titles in
        the language asked for (`Content-Language` says which)."""
        task = _visible_task(task_id)
        audit(current_api_user().id, "view", "task", task.id, case_id=task.case_id)
        return task, 200, {"Content-Language": api_locale(), "Vary": "Accept-Language"}


@blp.route("/<int:task_id>/claim")
class Claim(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, TaskOut)
    def post(self, task_id: int) -> Any:
        """Take the task: it moves to your "my tasks" and others in the unit see who has it."""
        found = task_with_case(task_id)
        if found is None:
            raise NotFound(f"task {task_id} not found")
        task, _case = found  # held for the claim: its timeline row and the answer read the case from the session
        return operations.claim(task, current_api_user())


@blp.route("/<int:task_id>/unclaim")
class Unclaim(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, TaskOut)
    def post(self, task_id: int) -> Any:
        """Give the task back to the unit's queue."""
        return operations.unclaim(operations.get_task(task_id), current_api_user())


@blp.route("/<int:task_id>/attachments")
class Attachments(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @blp.arguments(UploadFormIn, location="form")
    @blp.arguments(UploadFileIn, location="files")
    @blp.response(201, AttachmentOut)
    @blp.alt_response(200, schema=AttachmentOut, description="a retry of an upload (same key and file): the first")
    def post(self, form: dict[str, Any], files: dict[str, Any], task_id: int) -> Any:
        """Attach a file (a photo taken on the visit) to the step, for its unit's members; name it in the
        completion's `attachment_ids`. An offline client sends each file first, under its own idempotency key:
        a retry answers 200 with the first upload, never a second copy."""
        task = operations.get_task(task_id)
        key = form.get("idempotency_key") or request.headers.get("Idempotency-Key")
        upload = files["file"]
        attachment, created = upload_once(task, current_api_user(), upload.filename or "", upload.stream, key)
        return attachment, 201 if created else 200


@blp.route("/<int:task_id>/draft")
class Draft(MethodView):
    """Your draft of an open task's form (only the task's workers; deleted when the task completes)."""

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, TaskDraftOut)
    def get(self, task_id: int) -> Any:
        """Your draft; ``fields`` is null when you have none."""
        return draft_of(_visible_task(task_id), current_api_user()) or NO_DRAFT

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(TaskDraftIn)
    @blp.response(200, TaskDraftOut)
    @blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
    def put(self, payload: dict[str, Any], task_id: int) -> Any:
        """Store your draft unless a newer one is stored (the answer is the stored one); 413 above 64 KB,
        422 for values that are not texts or lists of texts, 409 when the task is no longer open."""
        task = _visible_task(task_id)
        if (request.content_length or 0) > MAX_DRAFT_BYTES or len(request.get_data()) > MAX_DRAFT_BYTES:
            raise PayloadTooLarge("draft too large (at most 64 KB)")
        body = {"fields": payload["draft_fields"], "saved_at": payload.get("saved_at")}
        return save_draft(task, current_api_user(), body)

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(204)
    def delete(self, task_id: int) -> None:
        """Throw your draft away."""
        discard_draft(_visible_task(task_id), current_api_user())

