"""Test runs: start a draft with sample data and step through it as each lane, in the sandbox.

A test run lives only in the ``sandbox_run`` table and in the engine: it never
creates a case, a task row, a timer row, a timeline entry or a notification,
so nothing a department sees (queues, dashboards, sweeps) can ever show it.
The draft's parsed spec and forms are copied into the run when it starts.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from app import engine
from app.common.clock import now
from app.common.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.org.models import User
from app.tasks.forms import validate_form_data

from .drafts import require_designer, validate_draft
from .models import ProcessDraft, SandboxRun
from .operations import bundle_hash

SANDBOX_KEY_PREFIX = "sandbox-"
"""Spec cache keys of test runs; deployed versions are cached under their content hash."""


ENGINE_INTERNAL = frozenset({"BpmnStartTask", "SimpleBpmnTask"})
"""Steps the engine adds around a process (its root, start and end joins): not part of the drawn path."""


def get_run(run_id: int) -> SandboxRun:
    run = db.session.get(SandboxRun, run_id)
    if run is None:
        raise NotFound(f"no test run {run_id}")
    return run


def runs_of(draft: ProcessDraft) -> list[SandboxRun]:
    return list(db.session.scalars(
        sa.select(SandboxRun).where(SandboxRun.draft_id == draft.id).order_by(SandboxRun.id.desc())))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _apply(run: SandboxRun, snap: engine.InstanceSnapshot, acted_as: str | None = None,
           by: User | None = None) -> None:
    run.state = snap.state
    run.data = _jsonable(snap.data)
    run.ready = [{"id": t.id, "bpmn_id": t.bpmn_id, "name": t.name, "lane": t.lane,
                  "department": t.department or t.lane, "form": t.form, "deadline": t.deadline,
                  "instructions": t.properties.get("instructions", "")} for t in snap.ready_tasks]
    run.timers = [{"bpmn_id": t.bpmn_id, "name": t.name, "due_at": t.due_at.isoformat() if t.due_at else None}
                  for t in snap.timers]
    at = now().isoformat()
    path = list(run.path or [])
    for step in snap.steps:
        if step.kind in ENGINE_INTERNAL or step.kind.startswith("_"):
            continue
        entry: dict[str, Any] = {"bpmn_id": step.bpmn_id, "name": step.name, "kind": step.kind,
                                 "lane": step.lane, "at": at}
        if step.kind in ("UserTask", "ManualTask") and acted_as:
            entry["acted_as"] = acted_as
            entry["by"] = by.username if by else None
        path.append(entry)
    run.path = path
    run.error = None
    if snap.completed:
        run.status = "completed"
    run.updated_at = now()


def start_run(draft: ProcessDraft, actor: User, data: dict[str, Any]) -> SandboxRun:
    """Start the draft in the sandbox; it needs a spec the engine can build (other problems are allowed)."""
    require_designer(actor)
    if not isinstance(data, dict):
        raise Invalid("sample data must be a JSON object", {"data": ["expected an object"]})
    report = validate_draft(draft)
    if report.parsed is None:
        raise Invalid("the draft cannot run yet: " + "; ".join(str(m) for m in report.errors),
                      {"messages": report.as_dicts()})
    digest = bundle_hash(dict(draft.files), report.used_forms)
    key = SANDBOX_KEY_PREFIX + digest
    try:
        snap = engine.start_instance(key, report.parsed.spec_json, data)
    except engine.ProcessScriptError as exc:
        raise Invalid(f"the process failed{f' at {exc.bpmn_id}' if exc.bpmn_id else ''}: {exc}",
                      {"element": [exc.bpmn_id or ""]}) from exc
    at = now()
    run = SandboxRun(
        draft_id=draft.id, content_hash=digest, spec_json=report.parsed.spec_json, forms=report.used_forms,
        state="", status="running", start_data=_jsonable(data), data={}, path=[], ready=[], timers=[],
        started_by_id=actor.id, started_at=at, updated_at=at,
    )
    _apply(run, snap)
    db.session.add(run)
    db.session.flush()
    return run


def complete_step(run: SandboxRun, actor: User, task_id: str, lane: str, data: dict[str, Any]) -> SandboxRun:
    """Complete a ready task acting as a member of ``lane``'s department, with the form validated."""
    require_designer(actor)
    if run.status != "running":
        raise Conflict(f"this test run is {run.status}")
    task = next((t for t in run.ready or [] if t["id"] == task_id), None)
    if task is None:
        raise Conflict(f"task {task_id} is not waiting in this test run")
    if lane != task["department"]:
        raise Forbidden(f"{task['bpmn_id']} is for {task['department']}; acting as {lane} cannot complete it")
    schema = run.forms.get(task["form"]) if task["form"] else None
    checked = validate_form_data(schema, data) if (schema is not None or not task["form"]) else data
    try:
        snap = engine.complete_task(SANDBOX_KEY_PREFIX + run.content_hash, run.spec_json, run.state, task_id,
                                    checked)
    except engine.TaskNotReady as exc:
        raise Conflict(str(exc)) from exc
    except engine.ProcessScriptError as exc:
        raise Invalid(f"the process failed at {exc.bpmn_id or task['bpmn_id']}: {exc}",
                      {"element": [exc.bpmn_id or task["bpmn_id"]]}) from exc
    _apply(run, snap, acted_as=lane, by=actor)
    db.session.flush()
    return run


def run_dict(run: SandboxRun) -> dict[str, Any]:
    return {
        "id": run.id, "draft_id": run.draft_id, "status": run.status, "content_hash": run.content_hash,
        "start_data": run.start_data, "data": run.data, "path": run.path, "ready": run.ready,
        "timers": run.timers, "error": run.error, "started_at": run.started_at, "updated_at": run.updated_at,
        "forms": {t["form"]: run.forms.get(t["form"]) for t in run.ready or [] if t.get("form")},
    }
