"""Test runs: start a draft with sample data and step through it as each lane, in the sandbox.

A test run lives only in the ``sandbox_run`` table and in the engine: it never
creates a case, a task row, a timer row, a timeline entry or a notification,
so nothing a department sees (queues, dashboards, sweeps) can ever show it.
The draft's parsed spec and forms are copied into the run when it starts.

A run keeps its own clock (``clock_at``). It starts at the real time and moves
only when the designer advances it: to a moment, by a deadline-style amount
(``P3D``, ``5WD``), or to the next waiting timer. Timers due on the way fire
one at a time at their own due moment, as the worker would fire them, so a
timer that starts another timer measures from when the first one fired.
Waiting steps show when they would fall due on that clock, and which are
overdue, without any ladder or notification running.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app import engine
from app.common.clock import county_zone, now
from app.common.errors import Conflict, Forbidden, Invalid, NotFound
from app.deadlines.arithmetic import DeadlineSyntaxError, due_at, parse_deadline
from app.deadlines.calendar import compute_due, working_calendar
from app.engine import properties as P
from app.extensions import db
from app.org.models import User
from app.processes.designers import require_designer
from app.processes.models import ProcessDraft, SandboxRun
from app.processes.operations import bundle_hash
from app.processes.validation import message_dict
from app.tasks.forms import validate_form_data

from .drafts import validate_draft

SANDBOX_KEY_PREFIX = "sandbox-"
"""Spec cache keys of test runs; deployed versions are cached under their content hash."""


MAX_TIMER_FIRINGS = 500
"""Per clock move: a cycle timer every hour over a month would be 720; the designer moves in smaller steps."""
MAX_CLOCK_MOVE = timedelta(days=3 * 366)
"""Longer than any duty's cycle in DOMAIN.md (yearly reports): enough to walk a process end to end."""

_TICK = timedelta(microseconds=1)

ENGINE_INTERNAL = frozenset({"BpmnStartTask", "SimpleBpmnTask"})
"""Steps the engine adds around a process (its root, start and end joins): not part of the drawn path."""


def _refused(message: str, messages: list[dict[str, Any]]) -> Invalid:
    """422 for a draft that cannot run: the validation messages (each naming its element) beside the message."""
    refused = Invalid(message)
    refused.body = {"messages": messages}
    return refused


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


def run_clock(run: SandboxRun) -> datetime:
    """The run's own "now" (runs started before the clock existed: when they were last touched)."""
    return run.clock_at or run.updated_at or run.started_at


def _ready_rows(run: SandboxRun, snap: engine.InstanceSnapshot, clock: datetime) -> list[dict[str, Any]]:
    """Waiting steps; a step already waiting keeps the due time it got when it opened."""
    earlier = {t["id"]: t for t in run.ready or []}
    calendar = working_calendar()
    rows = []
    for t in snap.ready_tasks:
        if t.id in earlier and "opened_at" in earlier[t.id]:
            opened, due = earlier[t.id]["opened_at"], earlier[t.id].get("due_at")
        else:
            when, _ = compute_due(clock, t.deadline, calendar)
            opened, due = clock.isoformat(), when.isoformat() if when else None
        rows.append({"id": t.id, "bpmn_id": t.bpmn_id, "name": t.name, "lane": t.lane,
                     "department": t.department or t.lane, "form": t.form, "deadline": t.deadline,
                     "instructions": t.properties.get(P.INSTRUCTIONS, ""), "opened_at": opened, "due_at": due})
    return rows


def _apply(run: SandboxRun, snap: engine.InstanceSnapshot, acted_as: str | None = None,
           by: User | None = None) -> None:
    clock = run_clock(run)
    run.state = snap.state
    run.data = _jsonable(snap.data)
    run.ready = _ready_rows(run, snap, clock)
    run.timers = [{"bpmn_id": t.bpmn_id, "name": t.name, "due_at": t.due_at.isoformat() if t.due_at else None}
                  for t in snap.timers]
    at = clock.isoformat()
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
        raise _refused("the draft cannot run yet: " + "; ".join(str(m) for m in report.errors),
                       report.as_dicts())
    bounded = [m for m in report.errors if m.rule == "bounds"]
    if bounded:  # certain to be refused by the sandbox: say so now, naming the element
        raise _refused("the draft would be refused when it runs: " + "; ".join(str(m) for m in bounded),
                       [message_dict(m) for m in bounded])
    digest = bundle_hash(dict(draft.files), report.used_forms)
    key = SANDBOX_KEY_PREFIX + digest
    at = now()
    try:
        snap = engine.start_instance(key, report.parsed.spec_json, data, now=at)
    except engine.ProcessScriptError as exc:
        raise Invalid(f"the process failed{f' at {exc.bpmn_id}' if exc.bpmn_id else ''}: {exc}",
                      {"element": [exc.bpmn_id or ""]}) from exc
    run = SandboxRun(
        draft_id=draft.id, content_hash=digest, spec_json=report.parsed.spec_json, forms=report.used_forms,
        state="", status="running", start_data=_jsonable(data), data={}, path=[], ready=[], timers=[],
        started_by_id=actor.id, started_at=at, updated_at=at, clock_at=at,
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
                                    checked, now=run_clock(run))
    except engine.TaskNotReady as exc:
        raise Conflict(str(exc)) from exc
    except engine.ProcessScriptError as exc:
        raise Invalid(f"the process failed at {exc.bpmn_id or task['bpmn_id']}: {exc}",
                      {"element": [exc.bpmn_id or task["bpmn_id"]]}) from exc
    _apply(run, snap, acted_as=lane, by=actor)
    db.session.flush()
    return run


def clock_target(run: SandboxRun, *, to: datetime | None = None, advance: str | None = None,
                 next_timer: bool = False) -> datetime:
    """Where a clock move lands: exactly one of a moment, an amount (``PT2H``, ``P3D``, ``5WD``), the next timer."""
    if sum(x is not None and x is not False for x in (to, advance, next_timer)) != 1:
        raise Invalid("give exactly one of: to (a moment), advance (PT2H, P3D, 5WD) or next_timer",
                      {"clock": ["exactly one of to, advance, next_timer"]})
    clock = run_clock(run)
    if to is not None:
        if to.tzinfo is None or to.utcoffset() is None:
            raise Invalid("the moment needs a time zone", {"to": ["expected a time with its offset"]})
        return to
    if advance is not None:
        try:
            amount = parse_deadline(advance)
        except DeadlineSyntaxError as exc:
            raise Invalid(str(exc), {"advance": [str(exc)]}) from exc
        tz = county_zone()
        return due_at(clock, amount, tz, working_calendar())
    pending = sorted(_timer_due(t) for t in run.timers or [] if t.get("due_at"))
    if not pending:
        raise Conflict("no timer is waiting in this test run")
    return max(pending[0] + _TICK, clock)


def _timer_due(timer: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(timer["due_at"])


def advance_clock(run: SandboxRun, actor: User, to: datetime) -> SandboxRun:
    """Move the run's clock forward to ``to``, firing each timer due on the way at its own moment.

    Refused (nothing changed) for a finished run, a move backwards or beyond
    ``MAX_CLOCK_MOVE``, and a move that would fire more than ``MAX_TIMER_FIRINGS``
    timer events (a cycle timer: move in smaller steps).
    """
    require_designer(actor)
    if run.status != "running":
        raise Conflict(f"this test run is {run.status}")
    start = run_clock(run)
    if to <= start:
        raise Invalid(f"a test run's clock only moves forward (it is {start.isoformat()})",
                      {"to": ["must be after the run's clock"]})
    if to - start > MAX_CLOCK_MOVE:
        raise Invalid(f"move the clock at most {MAX_CLOCK_MOVE.days} days at a time", {"to": ["too far ahead"]})
    key = SANDBOX_KEY_PREFIX + run.content_hash
    firings = 0
    while run.status == "running":
        due = [d for d in (_timer_due(t) for t in run.timers or [] if t.get("due_at")) if d <= to]
        # SpiffWorkflow fires a timer once its moment has strictly passed: one microsecond after it
        at = max(min(due) + _TICK, run_clock(run)) if due else to
        before = (run.state, [t.get("due_at") for t in run.timers or []])
        try:
            snap = engine.fire_timers(key, run.spec_json, run.state, now=at)
        except engine.ProcessScriptError as exc:
            raise Invalid(f"the process failed{f' at {exc.bpmn_id}' if exc.bpmn_id else ''} at "
                          f"{at.isoformat()}: {exc}", {"element": [exc.bpmn_id or ""]}) from exc
        run.clock_at = at
        _apply(run, snap)
        if not due:
            break
        firings += 1
        if firings > MAX_TIMER_FIRINGS:
            raise Invalid(f"more than {MAX_TIMER_FIRINGS} timer events would fire before {to.isoformat()}; "
                          "move the clock in smaller steps", {"to": ["too many timer events on the way"]})
        if (run.state, [t.get("due_at") for t in run.timers or []]) == before:
            run.clock_at = to  # the engine did not take the timer: do not spin on it
            break
    run.clock_at = max(run_clock(run), to) if run.status == "running" else run_clock(run)
    run.path = [*(run.path or []), {"bpmn_id": "", "name": f"{start.isoformat()} → {to.isoformat()}",
                                    "kind": "clock", "lane": None, "at": to.isoformat(),
                                    "from": start.isoformat(), "to": to.isoformat()}]
    run.updated_at = now()
    db.session.flush()
    return run


def ready_steps(run: SandboxRun) -> list[dict[str, Any]]:
    """The run's waiting steps, each marked ``overdue`` on the run's own clock."""
    clock = run_clock(run)
    return [{**t, "overdue": bool(t.get("due_at")) and datetime.fromisoformat(t["due_at"]) <= clock}
            for t in run.ready or []]


def ready_forms(run: SandboxRun) -> dict[str, Any]:
    """The forms of the waiting steps, by path."""
    return {t["form"]: run.forms.get(t["form"]) for t in run.ready or [] if t.get("form")}
