"""Move a running instance's state onto another version of its process.

SpiffWorkflow 3.2.0 aligns the old and new specs by BPMN id (``SpecDiff``), lists
the instance's tasks whose specs vanished or changed (``WorkflowDiff``) and
re-points the task tree (``migrate_workflow``), resetting READY and WAITING
branches so their futures are predicted from the new spec. On top of that we
refuse whatever would silently change a case:

* the current step (a ready task, a waiting event or join) no longer exists;
* a step this case already went through was removed (its history would not load);
* an open user task would change lane or department (it would jump to another unit's queue);
* a waiting timer would disappear;
* the move would make an engine step run at once (a script or gateway firing during migration).

Waiting timers whose expression did not change keep their due time (the reset
would otherwise restart the clock). The result is checked by a full
save/load round trip against the new spec before anything is returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import properties as P
from .runtime import _all_tasks, _bpmn_id, _lane, _snapshot
from .sandbox import make_script_engine
from .serialization import SpecJson, _full_serializer, dump_state, load_state, restore_spec
from .types import InstanceSnapshot

LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
HISTORY = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR


@dataclass(frozen=True)
class MigrationCheck:
    """Whether an instance can move to the new version, why not, and its state there if it can."""

    can_move: bool
    reasons: list[str] = field(default_factory=list)
    snapshot: InstanceSnapshot | None = None


def _label(task: Task) -> str:
    name = getattr(task.task_spec, "bpmn_name", None)
    return f"{_bpmn_id(task)} ({name})" if name else _bpmn_id(task)


def _department(task: Task) -> str | None:
    props = getattr(task.task_spec, "extensions", {}).get("properties", {})
    return props.get(P.DEPARTMENT) or None


def _timer_expression(task: Task) -> str | None:
    definition = getattr(task.task_spec, "event_definition", None)
    return definition.expression if isinstance(definition, TimerEventDefinition) else None


def _workflows(workflow: BpmnWorkflow) -> list[Any]:
    return [workflow, *workflow.subprocesses.values()]


def _owns_spec(workflow: Any, task: Task) -> bool:
    return bool(workflow.spec.task_specs.get(task.task_spec.name) is task.task_spec)


def migrate_state(old_key: str, old_spec_json: SpecJson, state: str,
                  new_key: str, new_spec_json: SpecJson) -> MigrationCheck:
    """Check, and if possible perform, the move of ``state`` from the old spec to the new one.

    Nothing is saved here: the caller stores ``snapshot.state`` (and keeps the old
    state for rollback) in its own transaction.
    """
    try:
        workflow = load_state(old_key, old_spec_json, state, make_script_engine(None))
    except Exception as exc:  # a state that does not load has nothing to migrate
        return MigrationCheck(False, [f"the stored state does not load ({type(exc).__name__}: {exc})"])
    new_spec, new_subs = restore_spec(new_key, new_spec_json)
    registry = _full_serializer.registry

    ready_before = {t.id: (_bpmn_id(t), _lane(t), _department(t), _label(t))
                    for t in _all_tasks(workflow, TaskState.READY) if t.task_spec.manual}
    timers_before = {t.id: (t, dict(t.internal_data), _timer_expression(t))
                     for t in _all_tasks(workflow, TaskState.WAITING) if _timer_expression(t) is not None}

    top_diff, sub_diffs = diff_workflow(registry, workflow, new_spec, new_subs)
    reasons: list[str] = []
    diffs = [(workflow, top_diff, new_spec)]
    for sub_id, sub in workflow.subprocesses.items():
        sub_diff = sub_diffs.get(sub_id)
        if sub_diff is None:
            reasons.append(f"the called process {sub.spec.name!r} no longer exists in the new version")
        else:
            diffs.append((sub, sub_diff, new_subs[sub.spec.name]))
    internal: list[str] = []
    for _, diff, _ in diffs:
        for task in diff.removed:
            if getattr(task.task_spec, "bpmn_id", None) is None:
                if task.has_state(LIVE | HISTORY):  # engine-made specs (boundary splits, joins)
                    internal.append(task.task_spec.name)
            elif task.has_state(LIVE):
                reasons.append(f"the current step {_label(task)} no longer exists in the new version")
            elif task.has_state(HISTORY):
                reasons.append(f"step {_label(task)}, already done in this case, was removed from the new "
                               "version (the case's history would not load)")
    if internal and not reasons:
        reasons.append(f"the structure around {', '.join(sorted(set(internal)))} changed (boundary events "
                       "added or removed on a step this case has reached)")
    if reasons:
        return MigrationCheck(False, sorted(set(reasons)))

    for target, diff, spec in diffs:
        migrate_workflow(diff, target, spec)
    workflow.subprocess_specs = new_subs

    for task_id, (old_task, saved, expression) in timers_before.items():
        task = workflow.get_task_from_id(task_id) if task_id in workflow.tasks else None
        if task is None or not task.has_state(TaskState.WAITING):
            reasons.append(f"the waiting timer {_label(old_task)} no longer exists in the new version")
        elif _timer_expression(task) == expression and "event_value" in saved:
            task.internal_data.update(saved)  # keep the original due time

    for sub in _workflows(workflow):
        for task in sub.tasks.values():
            if not _owns_spec(sub, task):
                reasons.append(f"step {_label(task)} would keep a definition the new version no longer has")
    ready_after = {t.id: (_bpmn_id(t), _lane(t), _department(t), _label(t))
                   for t in _all_tasks(workflow, TaskState.READY) if t.task_spec.manual}
    for task_id, (bpmn_id, lane, department, label) in ready_before.items():
        after = ready_after.get(task_id)
        if after is None:
            reasons.append(f"the open task {label} would no longer be open after the move")
        elif after[0] != bpmn_id:
            reasons.append(f"the current step {label} no longer exists in the new version "
                           f"(its place is taken by {after[0]})")
        elif (after[1], after[2]) != (lane, department):
            old = department or lane
            new = after[2] or after[1]
            reasons.append(f"the open task {label} would move from {old} to {new} "
                           "(another department's queue)")
    for task_id, (bpmn_id, *_) in ready_after.items():
        if task_id not in ready_before:
            reasons.append(f"the move would open a new task {bpmn_id}")
    engine_steps = [t for t in _all_tasks(workflow, TaskState.READY) if not t.task_spec.manual]
    for task in engine_steps:
        reasons.append(f"the move would make {_label(task)} run at once")
    if reasons:
        return MigrationCheck(False, sorted(set(reasons)))

    try:
        new_state = dump_state(workflow)
        reloaded = load_state(new_key, new_spec_json, new_state, make_script_engine(None))
    except Exception as exc:
        return MigrationCheck(False, [f"the migrated state does not load against the new version "
                                      f"({type(exc).__name__}: {exc})"])
    return MigrationCheck(True, [], _snapshot(reloaded, []))
