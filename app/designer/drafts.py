"""Drafts: edit a process in the designer, validated on every save, deployed only when valid.

A save always stores the content, valid or not, so a designer never loses work
to a validation rule; the messages of the last save are stored with it.
Operations flush; the view or CLI command commits.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from app import engine
from app.common.clock import now
from app.common.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.org.models import User
from app.processes.designers import require_designer
from app.processes.models import ProcessDraft, ProcessSpec
from app.processes.operations import BundleRejected, deploy
from app.processes.validation import ValidationReport, message_dict, safe_form_path, validate_bundle

FILE_NAME = re.compile(r"[\w\-. ]{1,120}\.(bpmn|dmn)", re.UNICODE)
MAX_FILES = 20


def get_draft(draft_id: int) -> ProcessDraft:
    draft = db.session.get(ProcessDraft, draft_id)
    if draft is None:
        raise NotFound(f"no draft {draft_id}")
    return draft


def validate_draft(draft: ProcessDraft) -> ValidationReport:
    """All bundle rules, plus: a draft of a deployed process must keep that process's id."""
    report = validate_bundle(dict(draft.files or {}), dict(draft.forms or {}))
    executable = [p for p in report.model.processes if p.executable]
    if draft.process_key and draft.based_on_spec_id and len(executable) == 1 \
            and executable[0].id != draft.process_key:
        report.messages.append(engine.ValidationMessage(
            f"the process id changed from {draft.process_key!r} to {executable[0].id!r}: deploying would start "
            "a second process instead of a new version; keep the id", executable[0].id, executable[0].name,
            executable[0].file, rule="process_key"))
    return report


def _store(draft: ProcessDraft, actor: User) -> ValidationReport:
    report = validate_draft(draft)
    draft.messages = report.as_dicts()
    draft.valid = report.ok
    draft.updated_by_id = actor.id
    draft.updated_at = now()
    executable = [p for p in report.model.processes if p.executable]
    if not draft.process_key and len(executable) == 1:
        draft.process_key = executable[0].id
    db.session.flush()
    return report


def _check_revision(draft: ProcessDraft, expected: int | None) -> None:
    if expected is not None and expected != draft.revision:
        raise Conflict(f"the draft was saved by someone else (revision {draft.revision}, you had {expected}); "
                       "reload it before saving")


def _check_file(name: str, content: str) -> None:
    if not FILE_NAME.fullmatch(name) or "/" in name or "\\" in name:
        raise Invalid(f"file name {name!r} must be a plain .bpmn or .dmn name", {"name": ["bad file name"]})
    if len(content.encode("utf-8", errors="surrogatepass")) > engine.MAX_XML_BYTES:
        raise Invalid(f"{name} is larger than {engine.MAX_XML_BYTES} bytes", {"content": ["too large"]})


def _check_forms(forms: dict[str, Any]) -> None:
    for path, schema in forms.items():
        if not safe_form_path(path):
            raise Invalid(f"form path {path!r} must be a relative .json path", {"forms": [path]})
        if not isinstance(schema, dict):
            raise Invalid(f"form {path!r} must be a JSON object", {"forms": [path]})


def create_draft(actor: User, *, spec: ProcessSpec | None = None, files: dict[str, str] | None = None,
                 forms: dict[str, Any] | None = None, title: str = "") -> tuple[ProcessDraft, ValidationReport]:
    """Start a draft from a deployed version (its files and forms), or from uploaded files."""
    require_designer(actor)
    files = dict(spec.files) if spec is not None else {n: decoded_upload(n, c) for n, c in (files or {}).items()}
    forms = dict(spec.forms) if spec is not None else dict(forms or {})
    for name, content in files.items():
        _check_file(name, content)
    _check_forms(forms)
    at = now()
    draft = ProcessDraft(
        process_key=spec.process_key if spec else None, title=title or (f"{spec.name} v{spec.version}" if spec else ""),
        files=files, forms=forms, based_on_spec_id=spec.id if spec else None, valid=False, messages=[],
        created_by_id=actor.id, created_at=at, updated_by_id=actor.id, updated_at=at,
    )
    db.session.add(draft)
    db.session.flush()
    return draft, _store(draft, actor)


def save_draft(draft: ProcessDraft, actor: User, *, files: dict[str, str] | None = None,
               forms: dict[str, Any] | None = None, title: str | None = None,
               expected_revision: int | None = None) -> ValidationReport:
    """Replace the draft's files and/or forms; stored even when invalid, with the messages."""
    require_designer(actor)
    _check_revision(draft, expected_revision)
    if files is not None:
        if len(files) > MAX_FILES:
            raise Invalid(f"at most {MAX_FILES} files per process", {"files": ["too many"]})
        files = {name: decoded_upload(name, content) for name, content in files.items()}
        for name, content in files.items():
            _check_file(name, content)
        draft.files = files
    if forms is not None:
        _check_forms(forms)
        draft.forms = dict(forms)
    if title is not None:
        draft.title = title[:200]
    return _store(draft, actor)


def decoded_upload(name: str, content: bytes | str) -> str:
    """A file's text, from bytes in their declared encoding (GBK from Chinese tools too) or from text,
    its declaration saying UTF-8; 422 for an unknown encoding or bytes that are not valid in it."""
    try:
        if isinstance(content, bytes):
            return engine.decode_xml(content, name)
        return engine.as_utf8_text(content, name)
    except engine.BundleInvalid as exc:
        raise Invalid(f"{name}: {exc.messages[0].message}", {"content": [exc.messages[0].message]}) from exc


def put_file(draft: ProcessDraft, actor: User, name: str, content: bytes | str,
             expected_revision: int | None = None) -> ValidationReport:
    """Upload one .bpmn/.dmn file into the draft (replacing a file of the same name)."""
    content = decoded_upload(name, content)
    files = dict(draft.files or {})
    files[name] = content
    return save_draft(draft, actor, files=files, expected_revision=expected_revision)


def delete_file(draft: ProcessDraft, actor: User, name: str) -> ValidationReport:
    files = dict(draft.files or {})
    if files.pop(name, None) is None:
        raise NotFound(f"the draft has no file {name!r}")
    return save_draft(draft, actor, files=files)


def put_form(draft: ProcessDraft, actor: User, path: str, schema: Any,
             expected_revision: int | None = None) -> ValidationReport:
    forms = dict(draft.forms or {})
    forms[path] = schema
    return save_draft(draft, actor, forms=forms, expected_revision=expected_revision)


def delete_form(draft: ProcessDraft, actor: User, path: str) -> ValidationReport:
    forms = dict(draft.forms or {})
    if forms.pop(path, None) is None:
        raise NotFound(f"the draft has no form {path!r}")
    return save_draft(draft, actor, forms=forms)


def edit_element(draft: ProcessDraft, actor: User, element_id: str, *, name: str | None = None,
                 properties: dict[str, str | None] | None = None,
                 expected_revision: int | None = None) -> ValidationReport:
    """The side panel's edit: rename an element (a lane to a department kind) or set its properties."""
    model = engine.describe_bundle(dict(draft.files or {}))
    element = model.element(element_id)
    if element is None:
        raise NotFound(f"no element {element_id!r} in this draft")
    try:
        xml = engine.edit_element(draft.files[element.file], element.file, element_id, name=name,
                                  properties=properties)
    except engine.BundleInvalid as exc:
        raise Invalid(str(exc), {"element": [str(m) for m in exc.messages]}) from exc
    files = dict(draft.files)
    files[element.file] = xml
    return save_draft(draft, actor, files=files, expected_revision=expected_revision)


def deploy_draft(draft: ProcessDraft, actor: User, note: str) -> tuple[ProcessSpec, bool]:
    """Deploy a valid draft as a new immutable version; ``(spec, created)``.

    Identical content returns the version that already has it (``created`` False).
    """
    require_designer(actor)
    if not note.strip():
        raise Invalid("say why this version is deployed", {"note": ["required"]})
    report = validate_draft(draft)
    if not report.ok:
        errors = report.errors
        raise BundleRejected([str(m) for m in errors] or ["the engine could not build a runnable process"],
                             [message_dict(m) for m in errors])
    latest_id = db.session.scalar(sa.select(sa.func.max(ProcessSpec.id))) or 0
    spec = deploy(dict(draft.files), dict(draft.forms), deployed_by=actor, note=note.strip())
    created = spec.id > latest_id
    draft.deployed_spec_id = spec.id
    draft.based_on_spec_id = spec.id
    draft.process_key = spec.process_key
    draft.valid = True
    draft.messages = report.as_dicts()
    draft.updated_by_id = actor.id
    draft.updated_at = now()
    db.session.flush()
    return spec, created
