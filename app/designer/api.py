"""REST endpoints of the process designer: drafts, test runs, migrations of running cases.

Every endpoint needs the process-designer role (403 otherwise). Writes commit
once at the end (``@blp.endpoint``); a save returns the draft with its validation
messages even when it is invalid.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import request
from flask.views import MethodView
from marshmallow import ValidationError

from app.cases.schemas import TimerIncidentPage
from app.common.api_doc import BINARY, download_responses
from app.common.downloads import file_download
from app.common.endpoints import PEOPLE_ONLY, Beside, current_api_user
from app.common.errors import Invalid, NotFound
from app.common.inputs import MAX_ID, bounded_int
from app.extensions import db
from app.org.roles import Role
from app.processes.api import blp
from app.processes.designers import require_designer
from app.processes.models import ProcessDraft
from app.processes.operations import make_current
from app.processes.queries import current_spec
from app.processes.schemas import (
    DeployIn,
    DiffOut,
    DraftCreateIn,
    DraftOut,
    DraftPage,
    DraftSaveIn,
    ElementEditIn,
    ElementPage,
    FileIn,
    FormIn,
    MadeCurrentOut,
    MakeCurrentIn,
    MigrateIn,
    MigrationPlanOut,
    MigrationResultOut,
    RolledBackOut,
    SpecOut,
    TestClockIn,
    TestRunIn,
    TestStepIn,
)
from app.processes.versions import diff_bundles, elements_of, get_version
from app.tasks.forms import FormInvalid
from app.tasks.timers import open_incidents
from app.workflow import migration as moves

from . import drafts as ops
from . import testruns
from .schemas import TestRunOut, TestRunPage


def _designer() -> Any:
    return require_designer(current_api_user())


def _draft(draft_id: int) -> ProcessDraft:
    _designer()
    return ops.get_draft(draft_id)


@blp.route("/incidents")
class TimerIncidents(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, TimerIncidentPage)
    def get(self) -> Any:
        """Open timer incidents of running cases: timers whose time cannot be computed or whose firing
        keeps failing (they back off), with the reason. Designers and admins."""

        user = current_api_user()
        if not user.has_role(Role.ADMIN):
            _designer()
        return {"items": open_incidents()}


@blp.route("/drafts")
class Drafts(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, DraftPage)
    def get(self) -> Any:
        """Every draft, most recently saved first."""
        _designer()
        rows = db.session.scalars(sa.select(ProcessDraft).order_by(ProcessDraft.updated_at.desc()))
        return {"items": list(rows)}

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(DraftCreateIn)
    @blp.response(201, DraftOut)
    @blp.alt_response(404, response="NOT_FOUND")  # the process to start a draft from
    def post(self, body: dict[str, Any]) -> Any:
        """Start a draft from a deployed version (``process_key`` [+ ``version``]) or from files."""
        user = _designer()
        spec = None
        if body.get("process_key"):
            spec = (get_version(body["process_key"], body["version"]) if body.get("version")
                    else current_spec(body["process_key"]))
            if spec is None:
                raise NotFound(f"no process {body['process_key']!r}")
        elif not body.get("files"):
            raise Invalid("give process_key (start from a version) or files", {"files": ["required"]})
        draft, _ = ops.create_draft(user, spec=spec, files=body.get("files"), forms=body.get("forms"),
                                    title=body.get("title", ""))
        return Beside(draft, content=True)


@blp.route("/drafts/<int:draft_id>")
class Draft(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, DraftOut)
    def get(self, draft_id: int) -> Any:
        """A draft with its last validation messages (``?content=1`` includes files and forms)."""
        return Beside(_draft(draft_id), content=request.args.get("content") in ("1", "true"))

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(DraftSaveIn)
    @blp.response(200, DraftOut)
    def put(self, body: dict[str, Any], draft_id: int) -> Any:
        """Save files and/or forms; validated on every save and stored even when invalid."""
        draft = _draft(draft_id)
        ops.save_draft(draft, current_api_user(), files=body.get("files"), forms=body.get("forms"),
                       title=body.get("title"), expected_revision=body.get("revision"))
        return Beside(draft, content=True)


UPLOAD_BODY = {"required": True, "content": {
    "application/json": {"schema": "FileIn"},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": BINARY, "revision": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}}},
}}
"""The upload takes either form; flask-smorest's ``arguments`` can document only one location."""


@blp.route("/drafts/<int:draft_id>/files")
class DraftFiles(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.doc(requestBody=UPLOAD_BODY)
    @blp.response(200, DraftOut)
    def post(self, draft_id: int) -> Any:
        """Upload a .bpmn/.dmn file: multipart ``file`` field, or JSON ``{name, content}``."""
        draft = _draft(draft_id)
        upload = request.files.get("file")
        if upload is not None:
            name, content = upload.filename or "", upload.read()
            revision = bounded_int(request.form.get("revision"))
        else:
            try:
                body = FileIn().load(request.get_json(silent=True) or {})
            except ValidationError as exc:
                raise Invalid("send a multipart `file`, or JSON {name, content}", exc.normalized_messages()) from exc
            name, content, revision = body["name"], body["content"], body.get("revision")
        ops.put_file(draft, current_api_user(), name, content, expected_revision=revision)
        return draft


@blp.route("/drafts/<int:draft_id>/files/<name>")
class DraftFile(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @download_responses(blp)
    def get(self, draft_id: int, name: str) -> Any:
        """Download one file of the draft."""
        draft = _draft(draft_id)
        if name not in draft.files:
            raise NotFound(f"the draft has no file {name!r}")
        return file_download(draft.files[name], name)

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, DraftOut)
    def delete(self, draft_id: int, name: str) -> Any:
        draft = _draft(draft_id)
        ops.delete_file(draft, current_api_user(), name)
        return draft


@blp.route("/drafts/<int:draft_id>/forms/<path:path>")
class DraftForm(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(FormIn)
    @blp.response(200, DraftOut)
    def put(self, body: dict[str, Any], draft_id: int, path: str) -> Any:
        """Save one form's JSON Schema (the form editor)."""
        draft = _draft(draft_id)
        ops.put_form(draft, current_api_user(), path, body["schema"], expected_revision=body.get("revision"))
        return draft

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, DraftOut)
    def delete(self, draft_id: int, path: str) -> Any:
        draft = _draft(draft_id)
        ops.delete_form(draft, current_api_user(), path)
        return draft


@blp.route("/drafts/<int:draft_id>/elements")
class DraftElements(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, ElementPage)
    def get(self, draft_id: int) -> Any:
        """Every element of the draft with its lane and properties (what the side panel shows)."""
        return {"items": elements_of(_draft(draft_id).files)}


@blp.route("/drafts/<int:draft_id>/elements/<element_id>")
class DraftElement(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(ElementEditIn)
    @blp.response(200, DraftOut)
    def patch(self, body: dict[str, Any], draft_id: int, element_id: str) -> Any:
        """The side panel: rename an element (a lane to a department kind) or set its properties."""
        draft = _draft(draft_id)
        ops.edit_element(draft, current_api_user(), element_id, name=body.get("name"),
                         properties=body.get("properties"), expected_revision=body.get("revision"))
        return draft


@blp.route("/drafts/<int:draft_id>/diff")
class DraftDiff(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, DiffOut)
    def get(self, draft_id: int) -> Any:
        """What deploying this draft would change, compared with the version it is based on."""
        draft = _draft(draft_id)
        base = draft.based_on
        return diff_bundles(base.files if base else {}, base.forms if base else {}, draft.files, draft.forms)


@blp.route("/drafts/<int:draft_id>/deploy")
class DraftDeploy(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(DeployIn)
    @blp.response(201, SpecOut)
    @blp.alt_response(200, schema=SpecOut, description="this content was deployed before: that version is current again")
    def post(self, body: dict[str, Any], draft_id: int) -> Any:
        """Deploy a valid draft as a new immutable version (422 with the messages when invalid)."""
        draft = _draft(draft_id)
        spec, created = ops.deploy_draft(draft, current_api_user(), body["note"])
        return spec, 201 if created else 200


@blp.route("/drafts/<int:draft_id>/test-runs")
class TestRuns(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, TestRunPage)
    def get(self, draft_id: int) -> Any:
        return {"items": testruns.runs_of(_draft(draft_id))}

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(TestRunIn)
    @blp.response(201, TestRunOut)
    def post(self, body: dict[str, Any], draft_id: int) -> Any:
        """Start the draft in the sandbox with sample data (no case, no tasks, no notifications)."""
        run = testruns.start_run(_draft(draft_id), current_api_user(), body["data"])
        return run


@blp.route("/test-runs/<int:run_id>")
class TestRun(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, TestRunOut)
    def get(self, run_id: int) -> Any:
        """The path taken so far, the data, and the tasks waiting (with their lanes and forms)."""
        _designer()
        return testruns.get_run(run_id)


@blp.route("/test-runs/<int:run_id>/tasks/<task_id>/complete")
class TestRunStep(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(TestStepIn)
    @blp.response(200, TestRunOut)
    def post(self, body: dict[str, Any], run_id: int, task_id: str) -> Any:
        """Complete a waiting task acting as ``lane`` (a department kind), with form data."""
        _designer()
        try:
            run = testruns.complete_step(testruns.get_run(run_id), current_api_user(), task_id, body["lane"],
                                         body["data"])
        except FormInvalid as exc:
            raise exc.within("data") from exc
        return run


@blp.route("/test-runs/<int:run_id>/clock")
class TestRunClock(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(TestClockIn)
    @blp.response(200, TestRunOut)
    def post(self, body: dict[str, Any], run_id: int) -> Any:
        """Let time pass in a test run: timers due on the way fire, waiting steps may become overdue."""
        _designer()
        run = testruns.get_run(run_id)
        to = testruns.clock_target(run, to=body["to"], advance=body["advance"], next_timer=body["next_timer"])
        return testruns.advance_clock(run, current_api_user(), to)


@blp.route("/<process_key>/versions/<int:version>/migration-plan")
class MigrationPlan(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, MigrationPlanOut)
    def get(self, process_key: str, version: int) -> Any:
        """Dry run: which running cases on other versions can move to this one, and why the others cannot."""
        target = get_version(process_key, version)
        rows = moves.dry_run(target, _designer())
        return {"target": target, "movable": sum(r.can_move for r in rows), "items": rows}


@blp.route("/<process_key>/versions/<int:version>/migrate")
class Migrate(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(MigrateIn)
    @blp.response(200, MigrationResultOut)
    def post(self, body: dict[str, Any], process_key: str, version: int) -> Any:
        """Move the listed instances (or all that can) to this version; each move is audited."""
        target = get_version(process_key, version)
        expected = {int(k): v for k, v in (body.get("expected_versions") or {}).items()} \
            if body.get("expected_versions") is not None else None
        rows = moves.migrate(target, _designer(), body.get("instance_ids"), expected)
        return {"target": target, "moved": sum(r.migration_id is not None for r in rows), "items": rows}


@blp.route("/<process_key>/versions/<int:version>/current")
class MakeCurrent(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(MakeCurrentIn)
    @blp.response(200, MadeCurrentOut)
    def post(self, body: dict[str, Any], process_key: str, version: int) -> Any:
        """New cases start on this version from now on (undo a bad deploy in one step; audited).

        Running cases stay on their version; move them with ``migrate`` if they should follow. With
        ``county`` only that county's new cases do (422 if it names no county).
        """
        spec = get_version(process_key, version)
        changed = make_current(spec, _designer(), body["note"].strip(), county=body["county"])
        answer = {"process_key": process_key, "version": spec.version, "current": True, "changed": changed}
        return answer if body["county"] == "*" else {**answer, "county": body["county"]}


@blp.route("/migrations/<int:migration_id>/rollback")
class MigrationRollback(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, RolledBackOut)
    def post(self, migration_id: int) -> Any:
        """Put the case back on its previous version with exactly its previous state (409 if it moved on)."""
        user = _designer()
        instance = moves.rollback(moves.get_migration(migration_id), user)
        return instance
