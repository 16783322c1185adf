"""Instance state without the spec, and a cache of immutable specs.

A process spec is stored once per content hash (``process_spec``); each
instance row stores only its task tree and data. Restoring a spec from JSON is
the most expensive part of a load, and specs never change, so the restored
objects are cached per hash and shared between workflows.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task

from .state_codec import FastSubWorkflowConverter, FastTaskConverter, TaskMappingMixin

SERIALIZER_VERSION = f"spiff-{VERSION}/liandong-1"
"""Stored beside every instance; bump the suffix when our own state layout changes."""

SpecJson = dict[str, Any] | Callable[[], dict[str, Any]]
"""A spec's JSON, or a function returning it: called only when the spec is not cached yet, so the
platform reads the large ``process_spec.spec_json`` column once per process and version, not per step."""


class _SpiffStateOnlyConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Leaves the spec out of the saved state; it is stored once per version instead."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


class _StateOnlyWorkflowConverter(TaskMappingMixin, _SpiffStateOnlyConverter):
    """The same, its tasks read and written by ``state_codec`` (SpiffWorkflow's JSON, less Python per task)."""


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _StateOnlyWorkflowConverter
    config[BpmnSubWorkflow] = FastSubWorkflowConverter
    config[Task] = FastTaskConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def spiff_state_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's own converters with the spec left out, as instances were saved before ``state_codec``: what
    the codec is held to (tests/engine/test_state_codec.py) and measured against (bench/state_codec.py)."""
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpiffStateOnlyConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_serializer = _make_serializer()
_full_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
_SPEC_CACHE_SIZE = 64
_spec_cache: OrderedDict[str, tuple[Any, dict[str, Any]]] = OrderedDict()
_spec_lock = threading.Lock()


def spec_to_dict(spec: Any, subprocess_specs: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a parsed spec, stored immutably in ``process_spec``."""
    registry = _full_serializer.registry
    return {
        "spec": registry.convert(spec),
        "subprocess_specs": {name: registry.convert(s) for name, s in subprocess_specs.items()},
    }


def restore_spec(spec_key: str, spec_json: SpecJson | PinnedSpec) -> tuple[Any, dict[str, Any]]:
    """Return (spec, subprocess_specs) for ``spec_key`` (the content hash), cached."""
    if isinstance(spec_json, PinnedSpec):
        return spec_json.restored
    with _spec_lock:
        if spec_key in _spec_cache:
            _spec_cache.move_to_end(spec_key)
            return _spec_cache[spec_key]
    if callable(spec_json):
        spec_json = spec_json()
    registry = _full_serializer.registry
    restored = (
        registry.restore(json.loads(json.dumps(spec_json["spec"]))),
        {name: registry.restore(s) for name, s in json.loads(json.dumps(spec_json["subprocess_specs"])).items()},
    )
    with _spec_lock:
        _spec_cache[spec_key] = restored
        while len(_spec_cache) > _SPEC_CACHE_SIZE:
            _spec_cache.popitem(last=False)
    return restored


def _reset_lock_in_child() -> None:
    """A fork may happen while another thread holds the lock; the child has only the forking thread."""
    global _spec_lock
    _spec_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_in_child)


class PinnedSpec:
    """A spec already restored in this process: what an isolated child gets instead of a loader."""

    __slots__ = ("restored",)

    def __init__(self, restored: tuple[Any, dict[str, Any]]) -> None:
        self.restored = restored


def pinned_spec(spec_key: str, spec_json: SpecJson | PinnedSpec) -> PinnedSpec:
    """Restore the spec here (reading it if needed), before a child is forked.

    The child must never call the platform's loader (a lazy database read over the
    parent's connection); it gets the restored objects themselves.
    """
    return spec_json if isinstance(spec_json, PinnedSpec) else PinnedSpec(restore_spec(spec_key, spec_json))


def new_workflow(spec_key: str, spec_json: SpecJson | PinnedSpec, script_engine: Any) -> BpmnWorkflow:
    spec, subprocess_specs = restore_spec(spec_key, spec_json)
    return BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)


def dump_state(workflow: BpmnWorkflow) -> str:
    """The instance state as JSON text, without the spec."""
    registry = _serializer.registry
    registry._encoder_mode = True
    try:
        return json.dumps(registry.convert(workflow), cls=_serializer._encoder_cls, ensure_ascii=False)
    finally:
        registry._encoder_mode = False


def load_state(spec_key: str, spec_json: SpecJson | PinnedSpec, state: str, script_engine: Any) -> BpmnWorkflow:
    """Rebuild a workflow from stored state and re-attach OUR script engine.

    SpiffWorkflow gives a deserialized workflow a default, unrestricted script
    engine; forgetting to replace it would run BPMN scripts with full builtins.
    """
    spec, subprocess_specs = restore_spec(spec_key, spec_json)
    dct = json.loads(state, cls=_serializer.json_decoder_cls)
    dct["spec"] = spec
    dct["subprocess_specs"] = subprocess_specs
    workflow: BpmnWorkflow = _serializer.from_dict(dct)
    workflow.script_engine = script_engine
    return workflow
