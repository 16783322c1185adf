"""Marshmallow schemas for reports and cases (REST API)."""

from __future__ import annotations

from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from app.cases.models import ChildTag, ReporterType, Situation
from app.common.clock import now
from app.common.endpoints import Instant, ObjectOut, list_of, page_of
from app.common.idempotency import KEY_DESCRIPTION, KEY_LENGTH
from app.common.inputs import Day, Id, Moment


class GuardianIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    relation = fields.String(required=True, validate=validate.Length(min=1, max=40),
                             metadata={"description": "e.g. father, mother, grandmother"})
    phone = fields.String(load_default="", validate=validate.Length(max=40))
    working_away = fields.Boolean(load_default=False)
    lives_with_child = fields.Boolean(load_default=False)


class ChildIn(Schema):
    id = Id(metadata={"description": "an existing child's id (one you may see, or one of the "
                                     "`likely_matches` of the child you describe); the other fields are then "
                                     "ignored"})
    name = fields.String(validate=validate.Length(min=1, max=100))
    sex = fields.String(validate=validate.OneOf(["male", "female"]))
    birth_date = Day()
    id_number = fields.String(validate=validate.Length(max=32))
    village = fields.String(metadata={"description": "village region code"})
    address = fields.String(load_default="", validate=validate.Length(max=300))
    tags = fields.List(fields.String(validate=validate.OneOf([t.value for t in ChildTag])), load_default=list)
    guardians = fields.List(fields.Nested(GuardianIn), load_default=list)

    @validates_schema
    def new_child_is_complete(self, data: dict[str, Any], **_: Any) -> None:
        """Without ``id`` the report brings a new child, who needs a name, sex and village."""
        if data.get("id") is None:
            missing = {name: ["required for a new child (or give the id of a known child)"]
                       for name in ("name", "sex", "village") if not data.get(name)}
            if missing:
                raise ValidationError(missing)


class ReportInfoIn(Schema):
    reporter_type = fields.String(required=True, validate=validate.OneOf([t.value for t in ReporterType]))
    reporter_name = fields.String(load_default="", validate=validate.Length(max=100))
    reporter_phone = fields.String(load_default="", validate=validate.Length(max=40))
    situation = fields.String(required=True, validate=validate.OneOf([s.value for s in Situation]))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    learned_at = Moment(metadata={"description": (
        "when the reporter learned of the situation (with an offset). A mandatory reporter (school, kindergarten, "
        "medical, village_committee, social_work, rescue_institution) filing more than `late_report_hours` "
        "(LIANDONG_LATE_REPORT_HOURS, default 24, a county may override it) later is flagged `late`; the report "
        "is filed all the same. Optional: not stated, the report is not flagged")})

    @validates("learned_at")
    def not_in_future(self, value: datetime, **_: Any) -> None:
        if value > now() + LEARNED_AT_SKEW:
            raise ValidationError("must not be in the future")


LEARNED_AT_SKEW = timedelta(minutes=5)
"""A reporter's clock may run a little ahead of ours; more than this is a typing error (422)."""


class ReportIn(Schema):
    child = fields.Nested(ChildIn, required=True)
    report = fields.Nested(ReportInfoIn, required=True)
    idempotency_key = fields.String(validate=validate.Length(min=KEY_LENGTH[0], max=KEY_LENGTH[1]),
                                    metadata={"description": KEY_DESCRIPTION + " For a report the first result "
                                              "is its case (`created: false`)."})
    confirm_duplicate = fields.Boolean(load_default=False, metadata={
        "description": "file the report although the same person reported the same child minutes ago "
                       "(a report without a key is otherwise held and answered with `possible_duplicate_of`)"})
    confirm_new_child = fields.Boolean(load_default=False, metadata={
        "description": "the child described is none of the `likely_matches` answered before: file a new "
                       "child (without it, a child on file with the same name, birth date and village "
                       "holds the report and comes back as a likely match)"})


class DuplicateOut(Schema):
    """The earlier ``Report`` a held or flagged report repeats."""

    case_id = fields.Integer()
    case_number = fields.String(attribute="case.number")
    report_id = fields.Integer(attribute="id")
    received_at = fields.DateTime()


class LikelyMatchOut(Schema):
    """A child on file with the name, birth date and village given (``queries.LikelyMatch``)."""

    child_id = fields.Integer(metadata={"description": "send it as `child.id` to file the report about this child"})
    name = fields.String(metadata={"description": "masked unless you may see the child"})
    birth_date = fields.Date(allow_none=True)
    village = fields.String()
    township = fields.String()
    id_number = fields.String(allow_none=True, metadata={"description": "masked unless your role needs it"})
    guardians = fields.List(fields.String(), metadata={"description": "relation: name (masked unless you may "
                                                                       "see the child)"})
    has_open_case = fields.Boolean(metadata={"description": "a report about this child joins its open case"})
    open_case_number = fields.String(allow_none=True, metadata={"description": "only if you may see the child"})


class ReportAccepted(Schema):
    """What filing did (``operations.Accepted`` dumped as it is)."""

    case_id = fields.Integer(allow_none=True)
    case_number = fields.String(allow_none=True)
    created = fields.Boolean(metadata={"description": "false: nothing new was filed; the case is the first "
                                                      "result of this key, or the possible duplicate, or none "
                                                      "(likely matches to choose from)"})
    outcome = fields.String(metadata={"description": "new_case (a new child), new_case_known_child (a child on "
                                                     "file with no open case: a new case on the same file), "
                                                     "added_to_open_case (the child's open case took the report; "
                                                     "its units are told), held_possible_duplicate, "
                                                     "held_likely_matches, replayed"})
    report_id = fields.Integer(allow_none=True)
    status = fields.String(allow_none=True)
    likely_matches = fields.List(fields.Nested(LikelyMatchOut), metadata={
        "description": "held (200, nothing filed): children on file with this name, birth date and village; "
                       "send the report again with `child.id` of one of them, or with `confirm_new_child`"})
    possible_duplicate_of = fields.Nested(DuplicateOut, allow_none=True, metadata={
        "description": "a report the same person filed in the last minutes about the same child (setting "
                       "LIANDONG_DUPLICATE_REPORT_MINUTES, default 10). Without `confirm_duplicate` nothing "
                       "was filed (200, `created: false`, the case is that report's); with it the new case "
                       "was opened and flagged (201)"})


class UnitOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()


class GuardianOut(Schema):
    name = fields.String()
    relation = fields.String()
    phone = fields.String()
    working_away = fields.Boolean()
    lives_with_child = fields.Boolean()


class ChildOut(Schema):
    id = fields.Integer()
    name = fields.String()
    sex = fields.String()
    birth_date = fields.Date(allow_none=True)
    id_number = fields.String(allow_none=True)
    village = fields.String()
    township = fields.String()
    tags = fields.List(fields.String())
    guardians = fields.List(fields.Nested(GuardianOut))


class OpenTaskOut(ObjectOut):
    """A task of the case (``Task`` dumped as it is): names, unit, dates, never the answers."""

    computed = {
        "assignee": lambda task: task.assignee.display_name if task.assignee else None,
        "overdue": lambda task: task.is_overdue(now()),
    }

    id = fields.Integer()
    bpmn_id = fields.String()
    name = fields.String()
    unit = fields.Nested(UnitOut, allow_none=True)
    assignee = fields.String(allow_none=True)
    due_at = Instant(allow_none=True)
    overdue = fields.Boolean()


class CaseTaskOut(OpenTaskOut):
    state = fields.String(metadata={"description": "open, completed or cancelled"})
    completed_at = fields.DateTime(allow_none=True)


class CaseTasksQuery(Schema):
    state = fields.String(validate=validate.OneOf(["open", "completed", "cancelled"]), metadata={
        "description": "only the tasks in this state (all when left out)"})


class TimelineOut(ObjectOut):
    """A ``VisibleEntry``: the entry's own columns, with the summary and detail its reader may see."""

    computed = {
        "at": lambda row: row.entry.at,
        "kind": lambda row: row.entry.kind,
        "task_id": lambda row: row.entry.task_id,
        "actor": lambda row: row.entry.actor.display_name if row.entry.actor else None,
        "unit": lambda row: row.entry.unit.name if row.entry.unit else None,
    }

    at = fields.DateTime()
    kind = fields.String()
    summary = fields.String()
    actor = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    detail = fields.Dict()


TimelinePage = page_of(TimelineOut, "TimelinePage")


CaseTaskPage = page_of(CaseTaskOut, "CaseTaskPage")


class TimerIncidentOut(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    case_id = fields.Integer()
    bpmn_id = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"description": "no_due_time (the timer's time cannot be computed) or "
                                                  "fire_failed (firing it failed; it backs off)"})
    reason = fields.String()
    attempts = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


TimerIncidentPage = list_of(TimerIncidentOut, "TimerIncidentPage")


class InstanceOut(ObjectOut):
    """An ``InstanceRow``: the process instance with its open timer incidents."""

    computed = {
        "id": lambda row: row.instance.id,
        "process": lambda row: row.instance.spec.process_key,
        "version": lambda row: row.instance.spec.version,
        "status": lambda row: row.instance.status,
        "end_event": lambda row: row.instance.end_event,
    }

    id = fields.Integer()
    process = fields.String()
    version = fields.Integer()
    status = fields.String()
    end_event = fields.String(allow_none=True)
    incidents = fields.List(fields.Nested(TimerIncidentOut), metadata={
        "description": "open timer incidents (shown to admins, process designers and coordinators)"})


class ReportOut(ObjectOut):
    """A ``VisibleReport``: the report, its narrative only with need to know."""

    computed = {
        "id": lambda row: row.report.id,
        "reporter_type": lambda row: row.report.reporter_type,
        "reporter_name": lambda row: row.report.reporter_name,
        "reporter_unit": lambda row: row.report.reporter_unit.name if row.report.reporter_unit else None,
        "situation": lambda row: row.report.situation,
        "description": lambda row: row.report.description if row.narrative else None,
        "received_at": lambda row: row.report.received_at,
        "learned_at": lambda row: row.report.learned_at,
        "late": lambda row: row.report.late,
    }

    id = fields.Integer()
    reporter_type = fields.String()
    reporter_name = fields.String()
    reporter_unit = fields.String(allow_none=True)
    situation = fields.String()
    description = fields.String(allow_none=True, metadata={
        "description": "the report's narrative; null without need to know for harm details"})
    received_at = fields.DateTime()
    learned_at = fields.DateTime(allow_none=True, metadata={
        "description": "when the reporter learned of the situation (null: not stated)"})
    late = fields.Boolean(metadata={"description": "a mandatory reporter filed it later than the county's "
                                                  "`late_report_hours` after `learned_at`"})


class CaseOut(ObjectOut):
    """A ``CaseView`` (``api.case_view``): the case's own columns and the parts its reader may see."""

    computed = {name: attrgetter(f"case.{name}")
                for name in ("id", "number", "kind", "title", "status", "situation", "opened_at", "closed_at")}

    id = fields.Integer()
    number = fields.String()
    kind = fields.String(metadata={"description": "protection (from a report), care (a child's programme file), "
                                                  "work (a township's or the county's work file)"})
    title = fields.String()
    status = fields.String()
    situation = fields.String()
    grade = fields.String(allow_none=True)
    help_tier = fields.String(allow_none=True)
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    child = fields.Nested(ChildOut, allow_none=True)
    reports = fields.List(fields.Nested(ReportOut))
    open_tasks = fields.List(fields.Nested(OpenTaskOut), metadata={
        "description": "the first 100 open tasks; all of them at /api/v1/cases/{id}/tasks?state=open"})
    open_tasks_total = fields.Integer()
    instances = fields.List(fields.Nested(InstanceOut))
    timeline = fields.List(fields.Nested(TimelineOut), metadata={
        "description": "the newest 100 entries, oldest first; the whole timeline, paged, at /api/v1/cases/{id}/timeline"})
    timeline_total = fields.Integer()
    access = fields.String(metadata={"description": "why you may see this case: county, jurisdiction, unit, reporter"})


class SearchArgs(Schema):
    """Find children or cases (every term optional; all given must hold). Only what you may open is found."""

    q = fields.String(load_default="", validate=validate.Length(max=100), metadata={
        "description": "one box: a part of the name, an ID number, a case number, a guardian's phone or a "
                       "part of the village's name"})
    name = fields.String(load_default="", validate=validate.Length(max=100),
                         metadata={"description": "a part of the child's name"})
    id_number = fields.String(load_default="", validate=validate.Length(max=32),
                              metadata={"description": "the whole ID number (spaces and full-width digits allowed)"})
    case_number = fields.String(load_default="", validate=validate.Length(max=32))
    village = fields.String(load_default="", validate=validate.Length(max=100),
                            metadata={"description": "village code, or a part of its name"})
    guardian_phone = fields.String(load_default="", validate=validate.Length(max=40))
    tag = fields.String(load_default="", validate=validate.OneOf([""] + [t.value for t in ChildTag]))


class CaseSearchArgs(SearchArgs):
    status = fields.String(load_default="", validate=validate.OneOf(["", "open", "closed"]))
    kind = fields.String(load_default="", validate=validate.OneOf(["", "protection", "care", "work"]))


class CaseRefOut(Schema):
    id = fields.Integer()
    number = fields.String(allow_none=True)
    kind = fields.String()
    status = fields.String()
    opened_at = fields.DateTime()


class ChildFoundOut(Schema):
    id = fields.Integer()
    name = fields.String()
    sex = fields.String()
    birth_date = fields.Date(allow_none=True)
    id_number = fields.String(allow_none=True, metadata={"description": "masked unless your role needs it"})
    village = fields.String()
    township = fields.String()
    tags = fields.List(fields.String())
    cases = fields.List(fields.Nested(CaseRefOut), metadata={"description": "the child's cases you may open"})


ChildPage = page_of(ChildFoundOut, "ChildPage")


class CaseFoundOut(Schema):
    id = fields.Integer()
    number = fields.String(allow_none=True)
    kind = fields.String()
    status = fields.String()
    situation = fields.String()
    subject = fields.String(metadata={"description": "the child's name, or a work file's title"})
    village = fields.String(attribute="region.name")
    grade = fields.String(allow_none=True)
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


CasePage = page_of(CaseFoundOut, "CasePage")


class StagesOut(Schema):
    reported = fields.DateTime()
    accepted = fields.DateTime(allow_none=True, metadata={"description": "the police accepted and dispatched"})
    police_handled = fields.DateTime(allow_none=True, metadata={"description": "the police disposition, reported "
                                                                              "to the township"})
    assessed = fields.DateTime(allow_none=True, metadata={"description": "the township's graded assessment"})
    help_decided = fields.DateTime(allow_none=True, metadata={"description": "a help plan was made"})
    closed = fields.DateTime(allow_none=True)


class MyReportOut(Schema):
    """One report you filed and how far its case has come (``my_reports.MyReport``): nothing else."""

    report_id = fields.Integer()
    situation = fields.String(metadata={"description": "what you reported"})
    reported_at = fields.DateTime()
    case_id = fields.Integer()
    case_number = fields.String(allow_none=True)
    status = fields.String()
    stages = fields.Nested(StagesOut, metadata={"description": "when each stage was reached; null: not yet"})


MyReportPage = page_of(MyReportOut, "MyReportPage")


class MergeIn(Schema):
    kept_id = Id(required=True, metadata={"description": "the child file that stays"})
    merged_id = Id(required=True, metadata={"description": "the duplicate: its cases move to the kept file"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class MergeOut(Schema):
    id = fields.Integer()
    kept_id = fields.Integer()
    merged_id = fields.Integer()
    case_ids = fields.List(fields.Integer(), metadata={"description": "the cases moved to the kept file"})
    moved = fields.Dict(keys=fields.String(), values=fields.List(fields.Integer()), metadata={
        "description": "other rows re-pointed, by table (programme membership, duty cycles, entrusted care)"})
    reason = fields.String()
    merged_at = fields.DateTime()
    undone_at = fields.DateTime(allow_none=True)


MergePage = page_of(MergeOut, "MergePage")
