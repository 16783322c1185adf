"""Marshmallow schemas for the process designer API."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from app.common.endpoints import ObjectOut, list_of
from app.common.inputs import Id, Moment

from .versions import elements_of

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> None:
    """Text that goes into a BPMN file: XML 1.0 cannot hold control characters, so refuse them (422)
    here rather than let the XML writer fail with a 500."""
    if _NOT_XML.search(value):
        raise ValidationError("control characters cannot be stored in a BPMN file")


class SpecOut(Schema):
    id = fields.Integer()
    process_key = fields.String()
    version = fields.Integer()
    name = fields.String()
    content_hash = fields.String()
    deployed_at = fields.DateTime()
    note = fields.String()
    user_tasks = fields.List(fields.Dict())


class MessageOut(Schema):
    level = fields.String(metadata={"description": "error (blocks deploy) or warning"})
    rule = fields.String()
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True)
    file = fields.String(allow_none=True)
    message = fields.String()
    text = fields.String(metadata={"description": "the message with file and element, for display"})


def _bundle_part(draft: Any, part: str) -> dict[str, Any]:
    """A draft's files or forms: their content when the view shows it (``Beside(draft, content=True)``),
    else their names (sorted) with ``null``."""
    found = getattr(draft, part) or {}
    return dict(found) if getattr(draft, "content", False) else dict.fromkeys(sorted(found), None)


class DraftOut(ObjectOut):
    """A ``ProcessDraft``, its files' and forms' names only unless the view passes ``Beside(draft, content=True)``."""

    computed = {
        "messages": lambda draft: draft.messages or [],
        "based_on": lambda draft: ({"id": draft.based_on.id, "version": draft.based_on.version}
                                   if draft.based_on is not None else None),
        "files": lambda draft: _bundle_part(draft, "files"),
        "forms": lambda draft: _bundle_part(draft, "forms"),
    }

    id = fields.Integer()
    process_key = fields.String(allow_none=True)
    title = fields.String()
    revision = fields.Integer(metadata={"description": "send it back when saving (optimistic lock)"})
    valid = fields.Boolean(metadata={"description": "true when the draft can be deployed"})
    messages = fields.List(fields.Nested(MessageOut))
    based_on = fields.Dict(allow_none=True)
    deployed_spec_id = fields.Integer(allow_none=True)
    files = fields.Dict(metadata={"description": "file name -> XML (names only unless ?content=1)"})
    forms = fields.Dict(metadata={"description": "form path -> JSON Schema (paths only unless ?content=1)"})
    updated_at = fields.DateTime()
    updated_by_id = fields.Integer(allow_none=True)


class DraftCreateIn(Schema):
    process_key = fields.String(metadata={"description": "start from this process's latest version"})
    version = Id(metadata={"description": "start from this version instead of the latest"})
    title = fields.String(load_default="")
    files = fields.Dict(keys=fields.String(), values=fields.String())
    forms = fields.Dict(keys=fields.String(), values=fields.Dict())


class DraftSaveIn(Schema):
    files = fields.Dict(keys=fields.String(), values=fields.String())
    forms = fields.Dict(keys=fields.String(), values=fields.Raw())
    title = fields.String()
    revision = Id(metadata={"description": "the revision you loaded; 409 if someone saved since"})


class FileIn(Schema):
    name = fields.String(required=True)
    content = fields.String(required=True)
    revision = Id()


class FormIn(Schema):
    schema = fields.Raw(required=True, data_key="schema")
    revision = Id()


class ElementEditIn(Schema):
    name = fields.String(validate=xml_text, metadata={"description": "new name (for a lane: a department kind)"})
    properties = fields.Dict(keys=fields.String(validate=xml_text),
                             values=fields.String(allow_none=True, validate=xml_text),
                             metadata={"description": "spiffworkflow:properties to set; null removes one"})
    revision = Id()


class DeployIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class MakeCurrentIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                         metadata={"description": "why new cases go back to (or on to) this version"})
    county = fields.String(load_default="*", validate=validate.Length(min=1, max=32), metadata={
        "description": "a county's region code: only its new cases start on this version; * (default): every "
                       "county without a version of its own"})


class TestRunIn(Schema):
    data = fields.Dict(load_default=dict, metadata={"description": "sample start data"})


class TestStepIn(Schema):
    lane = fields.String(required=True, metadata={"description": "act as a member of this department kind"})
    data = fields.Dict(load_default=dict)


class TestClockIn(Schema):
    to = Moment(load_default=None, metadata={"description": "move the run's clock to this moment"})
    advance = fields.String(load_default=None, metadata={"description": "or by this much: PT2H, P3D, 5WD"})
    next_timer = fields.Boolean(load_default=False, metadata={"description": "or to the next waiting timer"})


class MigrateIn(Schema):
    instance_ids = fields.List(Id(), metadata={"description": "omit to move every instance that can"})
    expected_versions = fields.Dict(keys=fields.String(validate=validate.Regexp(r"[0-9]{1,10}\Z")), values=Id(),
                                    metadata={"description": "instance id -> lock_version from the dry run"})


class DiffArgs(Schema):
    from_version = Id(required=True, data_key="from")
    to_version = Id(required=True, data_key="to")


# -- answers of the version, diff, designer and migration endpoints (the document describes each body) ---------


class ElementOut(Schema):
    """One BPMN element of a bundle with its lane and Liandong properties (the designer's side panel)."""

    id = fields.String()
    type = fields.String()
    name = fields.String(allow_none=True)
    file = fields.String(allow_none=True)
    process_id = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    properties = fields.Dict(metadata={"description": "the element's extension properties, name -> value"})
    details = fields.Dict(metadata={"description": "what the diff compares: timers, conditions, forms, ..."})


ElementPage = list_of(ElementOut, "ElementPage")


class VersionOut(SpecOut):
    """One version in a process's history: the deployed version's fields (its steps are in the version's
    own answer) and what the history knows beside them."""

    class Meta:
        exclude = ("user_tasks",)

    deployed_by = fields.String(allow_none=True, metadata={"description": "username; null for the shipped deploy"})
    running_instances = fields.Integer()
    latest = fields.Boolean(metadata={"description": "the highest version"})
    current = fields.Boolean(metadata={"description": "the version new cases start on (the deployment's)"})
    counties = fields.List(fields.String(), metadata={"description": "counties that run this version instead"})
    files = fields.List(fields.String())
    forms = fields.List(fields.String())


VersionPage = list_of(VersionOut, "VersionPage")


class VersionDetailOut(ObjectOut, SpecOut):
    """A deployed version (``ProcessSpec``) with its file names, forms and every element."""

    computed = {
        "files": lambda spec: sorted(spec.files),
        "elements": lambda spec: elements_of(spec.files),
    }

    files = fields.List(fields.String())
    forms = fields.Dict(metadata={"description": "form path -> JSON Schema"})
    elements = fields.List(fields.Nested(ElementOut))


class PropertyChangeOut(Schema):
    property = fields.String()
    before = fields.String(allow_none=True)
    after = fields.String(allow_none=True)


class ElementSummaryOut(Schema):
    id = fields.String()
    type = fields.String()
    name = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)


class ElementChangeOut(ElementSummaryOut):
    changes = fields.List(fields.Nested(PropertyChangeOut))


class ElementDiffOut(Schema):
    added = fields.List(fields.Nested(ElementSummaryOut))
    removed = fields.List(fields.Nested(ElementSummaryOut))
    changed = fields.List(fields.Nested(ElementChangeOut))


class FormChangeOut(Schema):
    path = fields.String()
    changes = fields.List(fields.Nested(PropertyChangeOut))


class FormDiffOut(Schema):
    added = fields.List(fields.String())
    removed = fields.List(fields.String())
    changed = fields.List(fields.Nested(FormChangeOut))


class FileDiffOut(Schema):
    added = fields.List(fields.String())
    removed = fields.List(fields.String())


class VersionRefOut(Schema):
    id = fields.Integer()
    version = fields.Integer()
    content_hash = fields.String()


class DiffOut(Schema):
    """Elements, forms and files added, removed and changed from one bundle to another."""

    elements = fields.Nested(ElementDiffOut)
    forms = fields.Nested(FormDiffOut)
    files = fields.Nested(FileDiffOut)
    from_ = fields.Nested(VersionRefOut, data_key="from", metadata={"description": "versions only"})
    to = fields.Nested(VersionRefOut, metadata={"description": "versions only"})


class DesignerOut(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()


DesignerPage = list_of(DesignerOut, "DesignerPage")


class DesignerChangeOut(Schema):
    username = fields.String()
    process_designer = fields.Boolean()
    changed = fields.Boolean(metadata={"description": "false: the user already had (or lacked) the role"})


DraftPage = list_of(DraftOut, "DraftPage")


class TargetOut(Schema):
    id = fields.Integer()
    version = fields.Integer()


class PlanRowOut(Schema):
    """One running instance in a migration plan or result (``migration.PlanRow``)."""

    instance_id = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String()
    from_version = fields.Integer()
    lock_version = fields.Integer(metadata={"description": "pass it back in `expected_versions` to migrate"})
    can_move = fields.Boolean()
    reasons = fields.List(fields.String())
    open_steps = fields.List(fields.String())
    migration_id = fields.Integer(allow_none=True, metadata={"description": "set once moved (roll back by it)"})


class MigrationPlanOut(Schema):
    target = fields.Nested(TargetOut)
    movable = fields.Integer()
    items = fields.List(fields.Nested(PlanRowOut))


class MigrationResultOut(Schema):
    target = fields.Nested(TargetOut)
    moved = fields.Integer()
    items = fields.List(fields.Nested(PlanRowOut))


class MadeCurrentOut(Schema):
    process_key = fields.String()
    version = fields.Integer()
    current = fields.Boolean()
    changed = fields.Boolean()
    county = fields.String(metadata={"description": "only when one county's version was set"})


class RolledBackOut(ObjectOut):
    """The instance (``ProcessInstance``) back on its previous version."""

    computed = {"instance_id": lambda instance: instance.id,
                "version": lambda instance: instance.spec.version}

    instance_id = fields.Integer()
    spec_id = fields.Integer()
    version = fields.Integer()
