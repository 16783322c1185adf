"""Engine commands: start an instance, complete a user task, fire due timers.

Each command takes the stored state (JSON text) and returns an
``InstanceSnapshot``; the platform saves the state and rebuilds its task and
timer projections from the snapshot in the same transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import fast_lane, isolation
from .isolation import run_isolated
from .isolation_pool import run_command
from .jsondata import data_problem
from .properties import EXPRESSION_PREFIX
from .sandbox import MAX_DATA_SIZE, ScriptBudgetExceeded, check_data_size, make_script_engine
from .serialization import (
    SERIALIZER_VERSION,
    PinnedSpec,
    SpecJson,
    dump_state,
    load_state,
    new_workflow,
    pinned_spec,
)
from .stamping import StartTemplate, named_in_spec, prepare
from .timers import TIMER_ERROR, engine_clock, timer_due
from .types import (
    CompletedStep,
    EngineError,
    InstanceSnapshot,
    ProcessScriptError,
    ReadyTask,
    TaskNotReady,
    WaitingTimer,
)

Helpers = Mapping[str, Callable[..., Any]]

SPIFF_LOGGERS = ("spiff", "spiff.workflow", "spiff.task", "spiff.data", "spiff.dmn", "spiff.metrics")
"""SpiffWorkflow 3.2.0 logs every task state change at INFO, and with the task's data (form answers:
names, addresses, notes about a child) whenever the ``spiff.task`` logger's *own* level is below INFO,
which it is by default (NOTSET). Under the app's INFO root logger that was ~7 JSON lines per completion
carrying a child's file (bench/README.md, 2026-11-30). Each logger gets WARNING itself (a parent's
level would not do: SpiffWorkflow tests ``logger.level``, not the effective level); engine failures
still reach the log through our own errors."""
for _name in SPIFF_LOGGERS:
    logging.getLogger(_name).setLevel(logging.WARNING)


def _lane(task: Task) -> str | None:
    """A task's lane; tasks inside a call activity inherit the calling task's lane."""
    lane = getattr(task.task_spec, "lane", None)
    workflow = task.workflow
    while lane is None and getattr(workflow, "parent_task_id", None) is not None:
        parent = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        lane = getattr(parent.task_spec, "lane", None)
        workflow = parent.workflow
    return lane




def _properties(task: Task) -> dict[str, str]:
    """The task's extension properties, with ``=expression`` values evaluated in the sandbox.

    This is how one BPMN task can be routed per instance (a conference action
    owned by a department chosen at the conference) or get a computed deadline.
    """
    props = dict(getattr(task.task_spec, "extensions", {}).get("properties", {}))
    for key, value in props.items():
        if isinstance(value, str) and value.startswith(EXPRESSION_PREFIX):
            try:
                result = task.workflow.script_engine.evaluate(task, value[len(EXPRESSION_PREFIX):])
            except SpiffWorkflowException as exc:
                raise ProcessScriptError(f"property {key!r}: {exc}", _bpmn_id(task)) from exc
            props[key] = "" if result is None else str(result)
    return props


def _all_tasks(workflow: BpmnWorkflow, state: int) -> list[Task]:
    """Tasks of the workflow and its subprocesses, each once (3.2.0's ``get_tasks`` already
    descends into embedded subprocesses, so walking them again would list their tasks twice)."""
    found: dict[uuid.UUID, Task] = {t.id: t for t in workflow.get_tasks(state=state)}
    for sub in workflow.subprocesses.values():
        for t in sub.get_tasks(state=state):
            found.setdefault(t.id, t)
    return list(found.values())


def _waits_for_timer(task: Task) -> bool:
    """A timer event, or an event-based gateway / multiple event one of whose events is a timer."""
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        return True
    return any(isinstance(d, TimerEventDefinition) for d in getattr(definition, "event_definitions", ()))


def _bpmn_id(task: Task) -> str:
    return str(getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name)


def _timer_due(task: Task) -> datetime | None:
    return timer_due(task._get_internal_data("event_value"))


def _timer_error(task: Task) -> str | None:
    """Why the timer has no time; also when it has none for a reason SpiffWorkflow did not raise on."""
    error = task._get_internal_data(TIMER_ERROR)
    if error is None and _timer_due(task) is None:
        return "no due time could be computed from the value the timer stored"
    return str(error) if error is not None else None


def _process_data(tasks: list[Task], workflow: BpmnWorkflow) -> dict[str, Any]:
    """The case-level data so far: the newest data any task carries (``tasks`` in tree order)."""
    data: dict[str, Any] = {}
    for task in tasks:
        if task.state == TaskState.COMPLETED:
            data.update(task.data)
    for task in tasks:
        if task.state & (TaskState.READY | TaskState.WAITING):
            data.update(task.data)
    if workflow.last_task is not None:
        data.update(workflow.last_task.data)
    return {k: v for k, v in data.items() if not callable(v)}


_SETTLED = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR


def settled_ids(workflow: BpmnWorkflow) -> frozenset[uuid.UUID]:
    """Tasks finished before this command: no script of it can change their data any more, so their data
    was checked when they finished and is not walked again (a step's cost stays flat as history grows)."""
    found = {t.id for t in workflow.tasks.values() if t.state & _SETTLED}
    for sub in workflow.subprocesses.values():
        found.update(t.id for t in sub.tasks.values() if t.state & _SETTLED)
    return frozenset(found)


def _check_data(tasks: list[Task], workflow: BpmnWorkflow, settled: frozenset[uuid.UUID]) -> None:
    """Refuse to save data a script or a form left that is not JSON or has a reserved name (``jsondata``), naming
    the step and the variable."""
    helpers = getattr(getattr(workflow.script_engine, "environment", None), "helpers", None) or {}
    if problem := data_problem(workflow.data, helpers):
        raise ProcessScriptError(problem)
    _refuse_first([(task, problem) for task in tasks
                   if task.id not in settled and (problem := data_problem(task.data, helpers))])


def _refuse_first(found: list[tuple[Task, str]]) -> None:
    if found:  # the earliest step holding it is where the value came from (later ones inherited it)
        task, problem = min(found, key=lambda f: (not f[0].has_state(TaskState.COMPLETED), f[0].last_state_change))
        raise ProcessScriptError(problem, _bpmn_id(task))


def _check_size(state: str, tasks: list[Task], settled: frozenset[uuid.UUID]) -> None:
    """Refuse data over the size every script and condition refuses to run over (``MAX_DATA_SIZE``): stored by a step
    that ran none, it made every later one of the instance fail (a stuck case). A task's data is made of values its
    state text writes out at least once, each item in at least one character, so a state shorter than the limit
    holds no task over it and only a longer one is walked."""
    if len(state) <= MAX_DATA_SIZE:
        return
    found = []
    for task in tasks:
        if task.id not in settled:
            try:
                check_data_size(task.data)
            except ScriptBudgetExceeded as exc:
                found.append((task, f"{exc}: a step's data must stay under what the process's scripts and conditions "
                                    "may read"))
    _refuse_first(found)


def _waiting_timers(workflow: BpmnWorkflow) -> list[Task]:
    return [t for t in workflow.event_manager.tasks.values() if _waits_for_timer(t) and t.has_state(TaskState.WAITING)]


def _snapshot(workflow: BpmnWorkflow, steps: list[CompletedStep], timers_before: bool | None = None,
              settled: frozenset[uuid.UUID] = frozenset()) -> InstanceSnapshot:
    tasks = _all_tasks(workflow, TaskState.ANY_MASK)  # one walk of the tree, filtered below
    _check_data(tasks, workflow, settled)
    ready = [
        ReadyTask(
            id=str(t.id), bpmn_id=_bpmn_id(t),
            name=str(getattr(t.task_spec, "bpmn_name", None) or _bpmn_id(t)),
            lane=_lane(t), properties=_properties(t),
        )
        for t in tasks if t.state == TaskState.READY and t.task_spec.manual
    ]
    timers = [
        WaitingTimer(task_id=str(t.id), bpmn_id=_bpmn_id(t),
                     name=str(getattr(t.task_spec, "bpmn_name", None) or _bpmn_id(t)), due_at=_timer_due(t),
                     error=_timer_error(t))
        for t in _waiting_timers(workflow)
    ]
    end_event = None
    completed = workflow.is_completed()
    if completed:
        ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if isinstance(t.task_spec, EndEvent)]
        if ends:
            end_event = _bpmn_id(max(ends, key=lambda t: t.last_state_change))
    state = dump_state(workflow)
    _check_size(state, tasks, settled)
    return InstanceSnapshot(
        state=state, serializer_version=SERIALIZER_VERSION, completed=completed,
        data=_process_data(tasks, workflow), ready_tasks=ready, timers=timers, steps=steps, end_event=end_event,
        timers_before=timers_before,
    )


def _step(task: Task) -> CompletedStep:
    return CompletedStep(
        id=str(task.id), bpmn_id=_bpmn_id(task),
        name=str(getattr(task.task_spec, "bpmn_name", None) or _bpmn_id(task)),
        kind=type(task.task_spec).__name__, lane=_lane(task),
    )


def _advance(workflow: BpmnWorkflow, steps: list[CompletedStep]) -> None:
    """Run engine steps, turning SpiffWorkflow failures into ``ProcessScriptError``."""
    def done(task: Task) -> None:
        steps.append(_step(task))
        fast_lane.tick()

    try:
        workflow.do_engine_steps(did_complete_task=done)
    except SpiffWorkflowException as exc:
        task = getattr(exc, "task", None)
        bpmn_id = _bpmn_id(task) if task is not None else None
        raise ProcessScriptError(str(exc), bpmn_id) from exc


def start_instance(spec_key: str, spec_json: SpecJson, data: dict[str, Any],
                   helpers: Helpers | None = None, *, now: datetime | None = None) -> InstanceSnapshot:
    """Start a new instance with ``data`` visible to every task; timers start counting at ``now``."""
    return _isolated(_start, spec_key, spec_json, now, data, helpers)


def _isolated(command: Callable[..., InstanceSnapshot], spec_key: str, spec_json: SpecJson, now: datetime | None,
              *args: Any) -> InstanceSnapshot:
    """Run an engine command: in this process when it is provably bounded (``fast_lane.py``), else under
    the backstop in a pooled engine worker, or in a fresh fork when custom helpers (functions that need
    not pickle) are passed."""
    if args and args[-1] is not None:
        return run_isolated(_clocked, now, command, spec_key, pinned_spec(spec_key, spec_json), *args)
    fast = _fast(command, spec_key, spec_json, now, *args)
    if fast is not None:
        return fast
    result: InstanceSnapshot = run_command(command, spec_key, spec_json, now, *args)
    return result


def _fast(command: Callable[..., InstanceSnapshot], spec_key: str, spec_json: SpecJson, now: datetime | None,
          *args: Any) -> InstanceSnapshot | None:
    """The command run in this process, or None when it must go to the pool (or left the fast lane)."""
    backstop = isolation.current()
    if not (backstop.enabled and backstop.fast_lane):
        return None
    state = args[0] if command is not _start else ""
    if len(state) > fast_lane.MAX_STATE_CHARS:
        return None
    pinned = pinned_spec(spec_key, spec_json)
    if fast_lane.classify(spec_key, pinned.restored) is not None:
        return None
    try:
        with fast_lane.running(), engine_clock(now):
            return command(spec_key, pinned, *args)
    except fast_lane.LeaveFastLane as leave:
        if leave.permanent:
            fast_lane.remember(spec_key, leave.reason)
        return None


def _clocked(now: datetime | None, command: Callable[..., InstanceSnapshot], *args: Any) -> InstanceSnapshot:
    """What the isolated child runs: one command on the platform's clock."""
    with engine_clock(now):
        return command(*args)


def _start(spec_key: str, spec_json: SpecJson | PinnedSpec, data: dict[str, Any],
           helpers: Helpers | None) -> InstanceSnapshot:
    workflow = new_workflow(spec_key, spec_json, make_script_engine(helpers))
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    steps: list[CompletedStep] = []
    _advance(workflow, steps)
    return _snapshot(workflow, steps, timers_before=False)  # a new instance waited on no timer before


def complete_task(spec_key: str, spec_json: SpecJson, state: str, task_id: str,
                  data: dict[str, Any], helpers: Helpers | None = None, *,
                  now: datetime | None = None) -> InstanceSnapshot:
    """Complete a READY user task with ``data`` and run the engine to the next wait, as of ``now``.

    SpiffWorkflow's ``Task.run()`` has no state guard (a completed or cancelled
    task can run again), so we check READY and manual ourselves.
    """
    return _isolated(_complete, spec_key, spec_json, now, state, task_id, data, helpers)


def _complete(spec_key: str, spec_json: SpecJson | PinnedSpec, state: str, task_id: str,
              data: dict[str, Any], helpers: Helpers | None) -> InstanceSnapshot:
    workflow = load_state(spec_key, spec_json, state, make_script_engine(helpers))
    try:
        task = workflow.get_task_from_id(uuid.UUID(task_id))
    except (ValueError, WorkflowException, KeyError) as exc:
        raise TaskNotReady(f"task {task_id} is not part of this instance") from exc
    if task is None or not task.task_spec.manual:
        raise TaskNotReady(f"task {task_id} is not a user task of this instance")
    if task.state != TaskState.READY:
        raise TaskNotReady(f"task {_bpmn_id(task)} is {TaskState.get_name(task.state)}, not READY")
    timers_before = bool(_waiting_timers(workflow))
    settled = settled_ids(workflow)
    task.data.update(data)
    steps: list[CompletedStep] = []
    try:
        task.run()
    except SpiffWorkflowException as exc:
        raise ProcessScriptError(str(exc), _bpmn_id(task)) from exc
    steps.append(_step(task))
    _advance(workflow, steps)
    return _snapshot(workflow, steps, timers_before, settled)


def fire_timers(spec_key: str, spec_json: SpecJson, state: str,
                helpers: Helpers | None = None, *, now: datetime | None = None) -> InstanceSnapshot:
    """Let the timers due by ``now`` fire; the engine notices timers only when asked.

    Boundary timers (interrupting or not), intermediate timers and the timers of
    an event-based gateway all fire here, and whatever they lead to (a task for
    another unit, an escalation event caught by a subprocess boundary) runs in
    the same command.
    """
    return _isolated(_fire, spec_key, spec_json, now, state, helpers)


def _fire(spec_key: str, spec_json: SpecJson | PinnedSpec, state: str, helpers: Helpers | None) -> InstanceSnapshot:
    workflow = load_state(spec_key, spec_json, state, make_script_engine(helpers))
    settled = settled_ids(workflow)
    steps: list[CompletedStep] = []
    try:
        workflow.refresh_timers()
    except SpiffWorkflowException as exc:
        raise ProcessScriptError(str(exc)) from exc
    _advance(workflow, steps)
    return _snapshot(workflow, steps, settled=settled)


def cancel_instance(spec_key: str, spec_json: SpecJson, state: str,
                    helpers: Helpers | None = None) -> InstanceSnapshot:
    """Cancel every unfinished task of an instance (a child left the programme, a meeting was called off).

    The snapshot has no ready tasks and no timers, so rebuilding the projections
    withdraws whatever was open; ``completed`` is True because nothing is left to run.
    """
    workflow = load_state(spec_key, spec_json, state, make_script_engine(helpers))
    cancelled = workflow.cancel()
    steps = [CompletedStep(id=str(t.id), bpmn_id=_bpmn_id(t),
                           name=str(getattr(t.task_spec, "bpmn_name", None) or _bpmn_id(t)),
                           kind="Cancelled", lane=_lane(t))
             for t in cancelled if t.task_spec.manual]
    return _snapshot(workflow, steps)


def snapshot(spec_key: str, spec_json: SpecJson, state: str) -> InstanceSnapshot:
    """Read-only view of a stored instance (used to rebuild projections; ``=expression`` properties run)."""
    return _isolated(_snapshot_of, spec_key, spec_json, None, state, None)


def _snapshot_of(spec_key: str, spec_json: SpecJson | PinnedSpec, state: str, helpers: None = None) -> InstanceSnapshot:
    workflow = load_state(spec_key, spec_json, state, make_script_engine(None))
    return _snapshot(workflow, [])


def utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = ["EngineError", "cancel_instance", "complete_task", "fire_timers", "snapshot", "start_instance"]


def prepare_start(spec_key: str, spec_json: SpecJson, common: dict[str, Any],
                  samples: list[dict[str, Any]], *, now: datetime | None = None) -> StartTemplate | None:
    """A template to stamp many starts of this spec from (``stamping``), or None when stamping could differ
    from starting: a varying key named in the spec, or two real starts that do not match the template.

    ``common``: the start data every instance shares; ``samples``: the varying keys' values of the first
    two instances (the same keys in each).
    """
    if len(samples) < 2 or not samples[0]:
        return None
    if named_in_spec(spec_key, spec_json, sorted(samples[0])):
        return None
    return prepare(start_instance, spec_key, spec_json, common, samples[:2], now)
