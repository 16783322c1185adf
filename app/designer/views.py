"""Designer pages: process list, history, diff, the modeler with its side panel, forms, deploy.

Process designers only (``roles_required``). The modeler page loads bpmn-js and
dmn-js from ``static/vendor`` (built by ``make assets``) and our side panel
(``processes/static/designer.js``); it saves through ``save`` below, which
validates exactly like the API. Test-run and migration pages are in
``views_runs.py`` on the same blueprint.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.common.downloads import file_download
from app.common.errors import Invalid, NotFound
from app.common.inputs import bounded_int
from app.common.pages import committed_page, roles_required
from app.deadlines.ladder import ESCALATION_EXAMPLE
from app.engine import properties as P
from app.extensions import db
from app.org.kinds import DEPARTMENT_KINDS
from app.org.labels import department_name
from app.org.roles import Role
from app.processes.models import ProcessDraft, ProcessInstance, ProcessSpec
from app.processes.operations import BundleRejected
from app.processes.operations import make_current as make_version_current
from app.processes.queries import current_spec
from app.processes.versions import diff_versions, get_version, history
from app.tasks.form_render import build_fields
from app.tasks.timers import open_incidents

from . import drafts as ops

blp = Blueprint("designer", __name__, url_prefix="/designer", template_folder="templates",
                static_folder="static", static_url_path="/static")

designer_only = roles_required(Role.PROCESS_DESIGNER)


@blp.get("/")
@designer_only
def index() -> Any:
    specs = list(db.session.scalars(sa.select(ProcessSpec).order_by(ProcessSpec.process_key, ProcessSpec.version)))
    latest: dict[str, ProcessSpec] = {}
    for spec in specs:
        latest[spec.process_key] = spec
    running = dict(db.session.execute(
        sa.select(ProcessSpec.process_key, sa.func.count(ProcessInstance.id))
        .join(ProcessInstance, ProcessInstance.spec_id == ProcessSpec.id)
        .where(ProcessInstance.status == "running").group_by(ProcessSpec.process_key)).all())
    drafts = list(db.session.scalars(sa.select(ProcessDraft).order_by(ProcessDraft.updated_at.desc()).limit(50)))

    return render_template("designer/index.html", latest=list(latest.values()), running=running, drafts=drafts,
                           incidents=open_incidents())


@blp.post("/processes/<process_key>/edit")
@designer_only
@committed_page
def edit(process_key: str) -> Any:
    """Open a deployed version in the modeler: a new draft from it."""
    version = bounded_int(request.form.get("version"))
    spec = get_version(process_key, version) if version else current_spec(process_key)
    if spec is None:
        raise NotFound(gettext("No such process."))
    draft, _ = ops.create_draft(current_user, spec=spec)
    return redirect(url_for("designer.modeler", draft_id=draft.id))


@blp.post("/drafts/new")
@designer_only
@committed_page
def new_draft() -> Any:
    """A draft from uploaded .bpmn/.dmn files (another modeler's export)."""
    files = {f.filename: ops.decoded_upload(f.filename, f.read()) for f in request.files.getlist("files")
             if f.filename}
    if not files:
        flash(gettext("Choose at least one .bpmn or .dmn file."), "error")
        return redirect(url_for("designer.index"))
    draft, _ = ops.create_draft(current_user, files=files, title=request.form.get("title", ""))
    return redirect(url_for("designer.modeler", draft_id=draft.id))


@blp.get("/processes/<process_key>")
@designer_only
def versions(process_key: str) -> Any:
    return render_template("designer/history.html", process_key=process_key, items=history(process_key))


@blp.post("/processes/<process_key>/versions/<int:version>/current")
@designer_only
@committed_page
def make_current(process_key: str, version: int) -> Any:
    """The history page's "make current": new cases start on this version (audited)."""
    spec = get_version(process_key, version)
    note = request.form.get("note", "").strip()
    if not note:
        flash(gettext("Say why new cases should start on this version."), "error")
        return redirect(url_for("designer.versions", process_key=process_key))
    if make_version_current(spec, current_user, note[:2000]):
        flash(gettext("New cases now start on version %(version)s.", version=spec.version), "ok")
    return redirect(url_for("designer.versions", process_key=process_key))


@blp.get("/processes/<process_key>/diff")
@designer_only
def diff(process_key: str) -> Any:
    old = get_version(process_key, bounded_int(request.args.get("from")) or 0)
    new = get_version(process_key, bounded_int(request.args.get("to")) or 0)
    return render_template("designer/diff.html", process_key=process_key, diff=diff_versions(old, new),
                           old=old, new=new)


def _draft(draft_id: int) -> ProcessDraft:
    return ops.get_draft(draft_id)


@blp.get("/drafts/<int:draft_id>")
@designer_only
def modeler(draft_id: int) -> Any:
    draft = _draft(draft_id)
    kinds = [{"code": k, "name": department_name(k)} for k in sorted(DEPARTMENT_KINDS)]
    setup = {
        "draftId": draft.id, "revision": draft.revision,
        "files": {name: url_for("designer.draft_file", draft_id=draft.id, name=name) for name in sorted(draft.files)},
        "saveUrl": url_for("designer.save", draft_id=draft.id), "kinds": kinds, "forms": sorted(draft.forms),
        "properties": list(P.SIDE_PANEL_PROPERTIES), "formProperty": P.FORM, "escalationExample": ESCALATION_EXAMPLE,
        "messages": draft.messages or [],
    }
    return render_template("designer/modeler.html", draft=draft, setup=setup, prop=P)


@blp.get("/drafts/<int:draft_id>/files/<name>")
@designer_only
def draft_file(draft_id: int, name: str) -> Any:
    draft = _draft(draft_id)
    if name not in draft.files:
        raise NotFound(gettext("No such file."))
    return file_download(draft.files[name], name)


@blp.post("/drafts/<int:draft_id>/save")
@designer_only
@committed_page
def save(draft_id: int) -> Any:
    """The modeler's save: JSON ``{files: {name: xml}, revision}`` -> the draft's messages."""
    draft = _draft(draft_id)
    body = request.get_json(silent=True) or {}
    files = body.get("files")
    if not isinstance(files, dict):
        raise Invalid("files missing", {"files": ["required"]})
    merged = {**draft.files, **{str(k): str(v) for k, v in files.items()}}
    ops.save_draft(draft, current_user, files=merged, expected_revision=body.get("revision"))
    return {"revision": draft.revision, "valid": draft.valid, "messages": draft.messages}


@blp.post("/drafts/<int:draft_id>/upload")
@designer_only
@committed_page
def upload(draft_id: int) -> Any:
    draft = _draft(draft_id)
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        flash(gettext("Choose a .bpmn or .dmn file."), "error")
    else:
        ops.put_file(draft, current_user, upload_file.filename, upload_file.read())
        flash(gettext("Uploaded %(name)s.", name=upload_file.filename), "success")
    return redirect(url_for("designer.modeler", draft_id=draft.id))


@blp.post("/drafts/<int:draft_id>/deploy")
@designer_only
@committed_page
def deploy(draft_id: int) -> Any:
    draft = _draft(draft_id)
    try:
        spec, created = ops.deploy_draft(draft, current_user, request.form.get("note", ""))
    except (BundleRejected, Invalid) as exc:
        db.session.rollback()
        flash(gettext("Not deployed: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("designer.modeler", draft_id=draft_id))
    if created:
        flash(gettext("Deployed as version %(v)s. New cases use it; running cases keep their version.",
                      v=spec.version), "success")
    else:
        flash(gettext("Nothing changed: this content is version %(v)s already.", v=spec.version), "success")
    return redirect(url_for("designer.versions", process_key=spec.process_key))


@blp.route("/drafts/<int:draft_id>/forms/<path:path>", methods=["GET", "POST"])
@designer_only
@committed_page
def form_editor(draft_id: int, path: str) -> Any:
    """Edit a form's JSON Schema with a live preview rendered by the task page's renderer."""
    draft = _draft(draft_id)
    text = json.dumps(draft.forms.get(path, {"type": "object", "properties": {}}), ensure_ascii=False, indent=2)
    error = None
    if request.method == "POST":
        text = request.form.get("schema", "")
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as exc:
            error = gettext("Not valid JSON: %(e)s", e=str(exc))
        else:
            ops.put_form(draft, current_user, path, schema)
            flash(gettext("Form saved."), "success")
            return redirect(url_for("designer.form_editor", draft_id=draft.id, path=path))
    messages = [m for m in draft.messages or [] if m.get("rule") == "form"]
    return render_template("designer/form_editor.html", draft=draft, path=path, text=text, error=error,
                           fields=_preview_fields(text), messages=messages), (422 if error else 200)


@blp.get("/drafts/<int:draft_id>/forms-new")
@designer_only
def new_form(draft_id: int) -> Any:
    path = request.args.get("path", "").strip()
    return redirect(url_for("designer.form_editor", draft_id=_draft(draft_id).id, path=path or "new.json"))


def _preview_fields(text: str) -> list[Any] | None:
    try:
        schema = json.loads(text)
    except json.JSONDecodeError:
        return None
    return build_fields(schema) if isinstance(schema, dict) else None


@blp.post("/form-preview")
@designer_only
def form_preview() -> Any:
    """htmx: the form as the task page will show it, for the schema being typed."""
    return render_template("designer/_form_preview.html", fields=_preview_fields(request.form.get("schema", "")))


from . import views_runs  # noqa: E402,F401  (test-run and migration pages on this blueprint)
