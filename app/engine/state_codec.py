"""SpiffWorkflow's task converters, rewritten for speed: the same JSON, the same objects, less Python per task.

Every completion loads an instance's task tree from its stored JSON and dumps it back (``serialization.py``), ~30
tasks for a county case; SpiffWorkflow 3.2.0's generic converters spent about half of the engine's time per step
on it (0.76 of 1.55 ms: ``bench/state_codec.py`` against ``bench/completion_phases.py``): each task id parsed into a
``UUID`` up to four times (as the mapping's key, its own ``id``, its parent's child, its child's parent), each task
built through ``Task.__init__`` and then overwritten, and every plain value walked by the registry's ``restore`` into
a copy of itself.

What changes, and only that:

- ids are parsed once per string (``task_uuid``, a bounded memo; a ``UUID`` is immutable, so sharing one is safe)
  and turned back into text once per id (``task_id_text``);
- a task is built from its stored fields directly (the attributes ``Task.__init__`` sets, no other);
- ``internal_data``, ``data`` and delta updates that hold no registered type (no ``typename`` key at any depth:
  plain JSON) are kept as parsed instead of copied by ``restore``; anything else goes through ``restore`` as before.

The output is byte for byte SpiffWorkflow's (the same keys in the same order, so a stored state reads the same with
either) and a loaded tree is the one SpiffWorkflow builds; ``tests/engine/test_state_codec.py`` holds both
against SpiffWorkflow's own converters on every shipped process's states. A task whose spec is not in the process
(SpiffWorkflow substitutes a start task) is left to SpiffWorkflow's converter.
"""

from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

MEMO_SIZE = 1 << 14
"""Ids kept parsed (and as text): the tasks of a few hundred instances, ~4 MB at most per process."""

task_uuid = functools.lru_cache(maxsize=MEMO_SIZE)(UUID)
task_id_text = functools.lru_cache(maxsize=MEMO_SIZE)(str)

_SCALARS = (str, int, float, bool, type(None))
_WAITING = TaskState.WAITING


def plain_json(value: Any) -> bool:
    """True when ``registry.restore`` would give back an equal copy: JSON with no ``typename`` key anywhere."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is dict:
        return "typename" not in value and all(plain_json(v) for v in value.values())
    if kind is list:
        return all(plain_json(v) for v in value)
    return False


class FastTaskConverter(TaskConverter):  # type: ignore[misc]
    """SpiffWorkflow's ``TaskConverter``, its JSON unchanged (see the module's docstring)."""

    def to_dict(self, task: Task) -> dict[str, Any]:
        parent_id = task._parent
        parent = task.workflow.tasks.get(parent_id) if parent_id is not None else None
        if parent is None:
            data, delta = task.data, {}
        else:  # only what differs from the parent (DeepMerge.get_updated_keys / get_deleted_keys)
            before, after = parent.data, task.data
            data = {}
            delta = {"updates": {k: v for k, v in after.items() if k not in before or v != before[k]},
                     "deletions": [k for k in before if k not in after]}
        return {
            "id": task_id_text(task.id),
            "parent": task_id_text(parent_id) if parent is not None else None,
            "children": [task_id_text(child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task._state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data),
            "data": data,
            "delta": delta,
        }

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Task:
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        if task_spec is None:
            return super().from_dict(dct, workflow)
        task: Task = self.target_class.__new__(self.target_class)
        task.id = task_uuid(dct["id"])
        workflow.tasks[task.id] = task
        task.workflow = workflow
        parent_id = dct["parent"]
        task._parent = task_uuid(parent_id) if parent_id is not None else None
        task._children = [task_uuid(child) for child in dct["children"]]
        task._state = dct["state"]
        task.triggered = dct["triggered"]
        task.task_spec = task_spec
        task.thread_id = self.target_class.thread_id_pool
        task.last_state_change = dct["last_state_change"]
        task.internal_data = self._restored(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task._state & _WAITING:
            workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = workflow.tasks.get(task._parent) if task._parent is not None else None
        if delta and parent is not None:
            data = DeepMerge.merge({}, parent.data)
            data.update(self._restored(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                if key in data:
                    del data[key]
        else:
            data = self._restored(dct["data"])
        task.data = data
        return task

    def _restored(self, value: Any) -> Any:
        return value if plain_json(value) else self.registry.restore(value)


class TaskMappingMixin:
    """A workflow's ``tasks`` mapping restored with parsed-once ids and no copy of each task's dict."""

    registry: Any

    def mapping_from_dict(self, mapping: dict[str, Any], key_class: Any = None, **kwargs: Any) -> dict[Any, Any]:
        workflow = kwargs.get("workflow")
        if key_class is not UUID or workflow is None or len(kwargs) != 1:
            return super().mapping_from_dict(mapping, key_class, **kwargs)  # type: ignore[misc, no-any-return]
        restore = self.registry.restore
        task_from_dict = self.registry.convert_from_dict["Task"]
        return {task_uuid(key): task_from_dict(value, workflow=workflow) if value.get("typename") == "Task"
                else restore(value, workflow=workflow) for key, value in mapping.items()}


class FastSubWorkflowConverter(TaskMappingMixin, BpmnSubWorkflowConverter):  # type: ignore[misc]
    """A call activity's or subprocess's workflow, its tasks restored as the top workflow's are."""
