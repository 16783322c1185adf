"""Marshmallow schemas for tasks (REST API)."""

from __future__ import annotations

from typing import Any

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, missing, validate

from app.common.clock import now
from app.common.endpoints import Instant, ObjectOut, list_of, page_of
from app.common.idempotency import KEY_DESCRIPTION, KEY_LENGTH
from app.common.inputs import Id
from app.extensions import db
from app.processes.models import ProcessInstance
from app.processes.queries import form_schema

from .models import Sharing, Task, TaskState
from .saved import parse


class TaskQueryArgs(Schema):
    unit_id = Id(metadata={"description": "defaults to your own unit"})
    assignee = fields.String(metadata={"description": "'me' or a user id"})
    state = fields.String(validate=validate.OneOf([s.value for s in TaskState]), load_default=TaskState.OPEN.value)
    overdue = fields.Boolean()
    due_within_hours = fields.Float(validate=validate.Range(min=0, max=24 * 366 * 10))
    case_id = Id()
    step = fields.String(metadata={"description": "BPMN id of the step"})


class TaskUnitOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()


def form_schema_of(task: Task) -> Any:
    """The step's JSON Schema; the key is left out for a step without a form."""
    if not task.form:
        return missing
    instance = db.session.get(ProcessInstance, task.instance_id)
    return form_schema(instance.spec, task.form) if instance else None


class TaskOut(ObjectOut):
    """A task as lists and commands answer it (``Task`` dumped as it is)."""

    computed = {
        "case_number": lambda task: task.case.number if task.case is not None else None,
        "assignee": lambda task: task.assignee.display_name if task.assignee else None,
        "overdue": lambda task: task.is_overdue(now()),
    }

    id = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String()
    bpmn_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    department_kind = fields.String(allow_none=True)
    unit = fields.Nested(TaskUnitOut, allow_none=True)
    state = fields.String()
    assignee = fields.String(allow_none=True)
    form = fields.String(allow_none=True)
    instructions = fields.String()
    deadline = fields.String(allow_none=True)
    created_at = fields.DateTime()
    due_at = Instant(allow_none=True)
    remind_at = Instant(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    escalation_level = fields.Integer()
    version = fields.Integer(metadata={
        "description": "bumped by every claim, release, reassignment, completion and withdrawal; send it back "
                       "as `task_version` when completing, to be refused (409) rather than overwrite a change"})
    next_escalation_at = Instant(allow_none=True)
    escalation = fields.String(allow_none=True, metadata={
        "description": "the step's own escalation ladder (BPMN property); null: its process/department ladder"})


TaskPage = page_of(
    TaskOut, "TaskPage",
    total=fields.Integer(metadata={"description": "tasks matching, counted up to 10,000"}),
    more=fields.Boolean(metadata={"description": "true: more than `total` tasks match (narrow the filters)"}))


MAX_INT = 2**31 - 1
MAX_FILES = 20
"""Files one completion may name (a visit's photos)."""


class CompleteIn(Schema):
    data = fields.Dict(required=True, metadata={"description": "form data, validated against the step's JSON Schema"})
    idempotency_key = fields.String(validate=validate.Length(min=KEY_LENGTH[0], max=KEY_LENGTH[1]), metadata={
        "description": KEY_DESCRIPTION + " For a completion the first result is the completed task. Without a "
                       "key a repeated completion is 409 (the task is already completed). The "
                       "`Idempotency-Key` header may carry the key instead."})
    task_version = fields.Integer(validate=validate.Range(min=1, max=MAX_INT), metadata={
        "description": "the task's `version` when the form was filled (an offline phone sends it hours later). "
                       "When the task was completed, withdrawn, reassigned or otherwise changed since, the answer "
                       "is 409 and nothing changes; its `conflict` object carries both sides: `sent` (this "
                       "version and data), `current` (the task's version, state, holder, who completed it, when, "
                       "with what data) and `fields` (label, sent, current) for people. Omitted: no version check."})
    attachment_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=MAX_INT)),
                                 validate=validate.Length(max=MAX_FILES), metadata={
        "description": "files uploaded for this step before the completion (each under its own idempotency key): "
                       "your uploads on this task only (422 otherwise); the completion's timeline entry names them"})


class UploadFileIn(Schema):
    file = Upload(required=True, metadata={"description": "pdf, jpg/jpeg, png, docx, xlsx or txt; the type is "
                                                          "checked from the name and the first bytes; at most "
                                                          "the server's attachment limit (10 MB by default)"})


class UploadFormIn(Schema):
    idempotency_key = fields.String(validate=validate.Length(min=KEY_LENGTH[0], max=KEY_LENGTH[1]), metadata={
        "description": KEY_DESCRIPTION + " For an upload the first result is the stored file; the key is bound to "
                       "the task, the file name and its bytes. The `Idempotency-Key` header may carry it instead."})


class AttachmentOut(ObjectOut):
    """A stored file (its bytes are downloaded from the page's ``/attachments/<id>``, audited)."""

    computed = {"name": lambda a: a.original_name}

    id = fields.Integer()
    task_id = fields.Integer()
    name = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()


IDEMPOTENCY_HEADER = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "minLength": KEY_LENGTH[0], "maxLength": KEY_LENGTH[1]},
    "description": "the same as the body's `idempotency_key` (the body wins when both are sent)",
}


class EscalationOut(Schema):
    level = fields.Integer()
    name = fields.String(metadata={"description": "remind, overdue, coordinator, ..."})
    label = fields.String()
    scheduled_at = fields.DateTime()
    recorded_at = fields.DateTime()
    outcome = fields.String(metadata={"description": "notified, or skipped (a reminder reached after due)"})
    recipients = fields.List(fields.String(), metadata={"description": "display names of the people told"})


class HandoverOut(Schema):
    at = fields.DateTime()
    kind = fields.String(metadata={"description": "away (to the substitute), back (to the holder), kept (left with "
                                                  "the substitute at the end)"})
    label = fields.String()
    absence_id = fields.Integer()
    from_ = fields.String(data_key="from", attribute="from", metadata={"description": "who held it"})
    to = fields.String(metadata={"description": "who holds it since"})


ma = fields
"""marshmallow's fields under another name: the draft schemas have a field called ``fields`` (in JSON; the
attribute is ``draft_fields``, because ``Schema.fields`` is marshmallow's own)."""


class TaskDraftIn(Schema):
    draft_fields = ma.Dict(
        data_key="fields", keys=ma.String(validate=validate.Length(min=1, max=200)), values=ma.Raw(), required=True,
        metadata={"description": "field name -> the text typed, or a list of texts (checkboxes, multiple choice); "
                                 "at most 300 fields"})
    saved_at = ma.String(load_default=None, allow_none=True, validate=validate.Length(max=40), metadata={
        "description": "ISO 8601 date-time with offset when the user typed it; a later stored draft is kept"})


class TaskDraftOut(ObjectOut):
    """A ``TaskDraft`` as it is, or ``NO_DRAFT``; the API and the task page's own draft URL answer the same."""

    computed = {"saved_at": lambda draft: draft.saved_at.isoformat()}

    draft_fields = ma.Dict(attribute="fields", data_key="fields", allow_none=True,
                           metadata={"description": "null when you have no draft of this task"})
    saved_at = ma.String(allow_none=True)


NO_DRAFT = {"fields": None, "saved_at": None}
"""What ``TaskDraftOut`` dumps for a worker who has no draft of the task."""


class BulkRowIn(Schema):
    id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_INT))
    version = fields.Integer(validate=validate.Range(min=1, max=MAX_INT), metadata={
        "description": "the task's `version` as you listed it; a row changed since refuses the whole command (409)"})


class BulkClaimIn(Schema):
    tasks = fields.List(fields.Nested(BulkRowIn), required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "the selected rows (at most 200); all of them change or none"})


class BulkReassignIn(BulkClaimIn):
    to_user_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_INT), metadata={
        "description": "an active liaison or head of your unit"})


BulkOut = list_of(TaskOut, "BulkOut")


SHARING = [s.value for s in Sharing]


class SavedViewIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    query = fields.String(load_default="", validate=validate.Length(max=1000), metadata={
        "description": "the inbox's query string (`scope=mine&overdue=1&step=...&township=...&process=...&sort=...`); "
                       "unknown parameters are dropped"})
    shared_with = fields.String(load_default=Sharing.PRIVATE.value, validate=validate.OneOf(SHARING), metadata={
        "description": "private; unit (your unit's liaisons and head); coordinators (your county's coordinators)"})


class SavedViewPatch(Schema):
    name = fields.String(validate=validate.Length(min=1, max=80))
    query = fields.String(validate=validate.Length(max=1000))
    shared_with = fields.String(validate=validate.OneOf(SHARING))


class SavedViewOwnerOut(Schema):
    id = fields.Integer()
    display_name = fields.String()


class SavedViewFiltersOut(Schema):
    scope = fields.String(metadata={"description": "unit (the queue) or mine (the viewer's own tasks)"})
    overdue = fields.Boolean()
    due_24h = fields.Boolean()
    step = fields.String()
    township = fields.String()
    process = fields.String()
    sort = fields.String()


class SavedViewOut(ObjectOut):
    """A ``SavedView`` with ``mine`` and ``count`` beside it (``saved_api.shown``); its filters are its query read
    as the inbox reads it, without the page."""

    computed = {"filters": lambda view: parse(view.query)}

    id = fields.Integer()
    name = fields.String()
    query = fields.String()
    filters = fields.Nested(SavedViewFiltersOut)
    shared_with = fields.String(validate=validate.OneOf(SHARING))
    owner = fields.Nested(SavedViewOwnerOut)
    mine = fields.Boolean(metadata={"description": "true: yours, you may change and delete it"})
    count = fields.Integer(metadata={"description": "your open tasks the view matches now"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)


SavedViewList = list_of(SavedViewOut, "SavedViewList")
