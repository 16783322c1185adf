"""``app.engine.state_codec`` writes and reads exactly what SpiffWorkflow's own converters do.

Every state an instance passes through is checked three ways against SpiffWorkflow 3.2.0's converters (the
state-only workflow converter as it was before the codec): the text a live workflow is dumped to, the tree a
stored state is loaded into (every task's fields, compared by ``repr`` so 1, 1.0 and True differ), and what the
next step does to the tree loaded either way. The states come from every user task of the four-in-one
scenarios, every shipped process walked as far as it goes, and the test processes with timers (boundary,
non-interrupting, in a subprocess) fired late.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app import engine
from app.engine import serialization
from app.engine.sandbox import make_script_engine
from app.engine.stamping import normalized
from app.engine.state_codec import plain_json, task_uuid
from app.engine.timers import engine_clock
from tests.flows.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


STOCK = serialization.spiff_state_serializer()
"""SpiffWorkflow's converters, which ``serialization`` used before ``state_codec``."""


def _with(serializer: Any, monkeypatch: pytest.MonkeyPatch, call: Any, *args: Any) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(serialization, "_serializer", serializer)
        return call(*args)


def _tree(workflow: Any) -> list[Any]:
    """Everything a loaded workflow holds that a step or a dump reads, as text that tells types apart."""
    convert = STOCK.registry.convert  # objects in internal data (a seen BpmnEvent) by content, not by address
    out: list[Any] = []
    for wf in [workflow, *workflow.subprocesses.values()]:
        out.append(repr((wf.data, wf.success, wf.completed, wf.correlations,
                         wf.last_task.id if wf.last_task is not None else None, wf.task_tree.id, list(wf.tasks))))
        for task in wf.tasks.values():
            out.append(repr((task.id, task._parent, task._children, task._state, task.task_spec.name,
                             task.triggered, task.thread_id, task.last_state_change, convert(task.data),
                             convert(task.internal_data), type(task).__name__, task.workflow is wf)))
    out.append(repr(sorted(str(t.id) for t in workflow.event_manager.tasks.values())))
    out.append(repr(convert(workflow.bpmn_events)))
    return out


def _check(spec_key: str, spec: Any, state: str, monkeypatch: pytest.MonkeyPatch,
           step: tuple[str, dict[str, Any]] | None = None) -> None:
    """The state read and written as SpiffWorkflow does, and the next step (``step``: a ready task's BPMN id and
    answers; else the first ready user task with a made-up answer) done the same on either tree."""
    pinned = serialization.pinned_spec(spec_key, spec)

    def load(text: str) -> Any:
        return serialization.load_state(spec_key, pinned, text, make_script_engine(None))

    ours = load(state)
    theirs = _with(STOCK, monkeypatch, load, state)
    assert _tree(ours) == _tree(theirs)
    assert serialization.dump_state(ours) == _with(STOCK, monkeypatch, serialization.dump_state, theirs) == state
    assert _next_step(ours, step) == _with(STOCK, monkeypatch, _next_step, theirs, step)


def _next_step(workflow: Any, step: tuple[str, dict[str, Any]] | None) -> tuple[str, str]:
    """What one more step leaves: the state, but for the ids of the tasks it creates (uuid4) and its state-change
    times (time.time()), which ``normalized`` numbers and drops; or the error it raised."""
    try:
        with engine_clock(AT + timedelta(days=400)):
            for task in workflow.get_tasks(state=16):  # READY
                if task.task_spec.manual and (step is None or task.task_spec.bpmn_id == step[0]):
                    task.data.update(step[1] if step is not None else {"answered": [1, {"nested": True}]})
                    task.run()
                    break
            workflow.refresh_timers()
            workflow.do_engine_steps()
    except Exception as exc:  # noqa: BLE001 - the same failure either way is what is compared
        return type(exc).__name__, str(exc)
    return "state", normalized(serialization.dump_state(workflow))


def _bundle(files: dict[str, str]) -> tuple[str, Any]:
    parsed = engine.parse_bundle(files)
    return f"codec-test-{parsed.process_id}-{len(json.dumps(parsed.spec_json))}", parsed.spec_json


ANSWERS = {"differences": [{"field": "address", "ours": "一组", "theirs": "二组"}, {"field": "school", "ours": "甲",
                                                                                  "theirs": "乙"}],
           "caregiver_capacity": "capable", "neglect": False, "decision": "approve", "answered": True}
"""Answers that carry the shipped processes past their gateways and into a multi-instance step."""


def _walk(spec_key: str, spec: Any, start: dict[str, Any], steps: int = 12) -> list[str]:
    """The states of an instance whose first ready task is completed with ``ANSWERS`` (and due timers fired a year
    late) until it ends, stops on a gateway without data, or ``steps`` have run."""
    snap = engine.start_instance(spec_key, spec, start, now=AT)
    states = [snap.state]
    for n in range(steps):
        try:
            if snap.ready_tasks:
                snap = engine.complete_task(spec_key, spec, snap.state, snap.ready_tasks[0].id, dict(ANSWERS),
                                             now=AT)
            elif snap.timers:
                snap = engine.fire_timers(spec_key, spec, snap.state, now=AT + timedelta(days=365 + n))
            else:
                break
        except engine.EngineError:
            break
        states.append(snap.state)
    return states


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_state_of_the_four_in_one_scenarios(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "bpmn" / "four_in_one").iterdir()
             if p.suffix in (".bpmn", ".dmn")}
    spec_key, spec = _bundle(files)
    scenario = SCENARIOS[name]
    snap = engine.start_instance(spec_key, spec, dict(scenario.start), now=AT)
    for step in scenario.steps:
        _check(spec_key, spec, snap.state, monkeypatch, (step.bpmn_id, dict(step.data)))
        task_id = next(t.id for t in snap.ready_tasks if t.bpmn_id == step.bpmn_id)
        snap = engine.complete_task(spec_key, spec, snap.state, task_id, dict(step.data), now=AT)
    _check(spec_key, spec, snap.state, monkeypatch)
    assert snap.completed


SHIPPED = sorted(p.name for p in (ROOT / "bpmn").iterdir() if p.is_dir() and p.name != "four_in_one")
TEST_PROCESSES = sorted(p.name for p in DATA.glob("timer_*.bpmn"))


@pytest.mark.parametrize("key", SHIPPED)
def test_every_state_of_the_shipped_processes(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "bpmn" / key).iterdir()
             if p.suffix in (".bpmn", ".dmn")}
    spec_key, spec = _bundle(files)
    start = {"duty": key, "duty_name": key, "period": "2026-W10", "duty_deadline": "PT561600S", "cadence": "weekly",
             "duty_due_local": "2026-03-09 00:00", "case_number": "LD-2026-000001", "subject": "王小明",
             "prepare_department": "education", "prepare_deadline": "2026-03-09T09:00:00+08:00",
             "prepare_instructions": "准备材料", "action_department": "civil_affairs",
             "action_deadline": "2026-03-20T17:30:00+08:00", "action_instructions": "落实救助",
             "children": [{"name": "甲"}, {"name": "乙"}], "items": ["a", "b"]}
    states = _walk(spec_key, spec, start)
    for state in states:
        _check(spec_key, spec, state, monkeypatch)
    assert len(states) >= 2


@pytest.mark.parametrize("name", TEST_PROCESSES)
def test_every_state_of_the_timer_processes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_key, spec = _bundle({name: (DATA / name).read_text(encoding="utf-8")})
    states = _walk(spec_key, spec, {"score": 2, "situation": "living_alone", "unit": "police"})
    for state in states:
        _check(spec_key, spec, state, monkeypatch)
    assert len(states) >= 2


CALLING = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="parent" isExecutable="true">
    <bpmn:startEvent id="ps"/>
    <bpmn:sequenceFlow id="pf1" sourceRef="ps" targetRef="call"/>
    <bpmn:callActivity id="call" name="调用" calledElement="child"/>
    <bpmn:sequenceFlow id="pf2" sourceRef="call" targetRef="after"/>
    <bpmn:userTask id="after" name="之后"/>
    <bpmn:sequenceFlow id="pf3" sourceRef="after" targetRef="pe"/>
    <bpmn:endEvent id="pe"/>
  </bpmn:process>
  <bpmn:process id="child" isExecutable="true">
    <bpmn:startEvent id="cs"/>
    <bpmn:sequenceFlow id="cf1" sourceRef="cs" targetRef="inner"/>
    <bpmn:userTask id="inner" name="里面"/>
    <bpmn:sequenceFlow id="cf2" sourceRef="inner" targetRef="cscript"/>
    <bpmn:scriptTask id="cscript"><bpmn:script>found = [1, {"k": "v"}]</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="cf3" sourceRef="cscript" targetRef="ce"/>
    <bpmn:endEvent id="ce"/>
  </bpmn:process>
</bpmn:definitions>"""
"""A call activity: the called process runs as a subworkflow of its own in the state (``subprocesses``)."""


def test_every_state_of_a_call_activity(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = engine.parse_bundle({"calling.bpmn": CALLING}, process_id="parent")
    spec_key = "codec-test-calling"
    states = _walk(spec_key, parsed.spec_json, {"situation": "living_alone"})
    assert [len(json.loads(state)["subprocesses"]) for state in states] == [1, 1, 1]
    assert json.loads(states[1])["data"] == {} and engine.snapshot(spec_key, parsed.spec_json, states[1]).data[
        "found"] == [1, {"k": "v"}]
    for state in states:
        _check(spec_key, parsed.spec_json, state, monkeypatch)


def test_registered_types_in_stored_data_are_restored_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value SpiffWorkflow stored with a ``typename`` (a datetime, a timedelta, a UUID) anywhere in a task's data,
    delta or internal data comes back as that type, as SpiffWorkflow's converter gives it."""
    spec_key, spec = _bundle({"timer_supervision.bpmn": (DATA / "timer_supervision.bpmn").read_text(encoding="utf-8")})
    state = json.loads(_walk(spec_key, spec, {})[-1])
    when = {"typename": "datetime", "value": "2026-03-02T09:00:00+08:00"}
    span = {"typename": "timedelta", "days": 3, "seconds": 60}
    ident = {"typename": "UUID", "value": "0b6e3c1e-7d4f-4a53-9a3c-2f1d6a8b9c01"}
    for n, task in enumerate(state["tasks"].values()):
        task["internal_data"]["liandong_when"] = [when, {"deeper": span}]
        if task["parent"] is None:
            task["data"]["root_when"] = when
        else:
            task["delta"].setdefault("updates", {})[f"at_{n}"] = {"when": when, "span": span, "id": ident}
    text = json.dumps(state, ensure_ascii=False)
    pinned = serialization.pinned_spec(spec_key, spec)

    def load(text: str) -> Any:
        return serialization.load_state(spec_key, pinned, text, make_script_engine(None))

    ours, theirs = load(text), _with(STOCK, monkeypatch, load, text)
    assert _tree(ours) == _tree(theirs)
    some = next(t for t in ours.tasks.values() if t.parent is not None)
    assert isinstance(some.internal_data["liandong_when"][0], datetime)
    assert isinstance(some.internal_data["liandong_when"][1]["deeper"], timedelta)
    assert any(isinstance(v.get("id"), uuid.UUID) for v in some.data.values() if isinstance(v, dict))
    assert serialization.dump_state(ours) == _with(STOCK, monkeypatch, serialization.dump_state, theirs)
    assert _next_step(ours, None) == _with(STOCK, monkeypatch, _next_step, theirs, None)


def test_plain_json_is_only_what_restore_would_copy_unchanged() -> None:
    assert plain_json({"a": [1, 2.5, None, True, "文字", {"b": []}]})
    assert not plain_json({"a": {"typename": "datetime", "value": "2026-01-01T00:00:00"}})
    assert not plain_json([{"x": [{"typename": "anything"}]}])
    assert not plain_json({"t": (1, 2)})  # not what json.loads gives: left to restore
    assert task_uuid("0b6e3c1e-7d4f-4a53-9a3c-2f1d6a8b9c01") is task_uuid("0b6e3c1e-7d4f-4a53-9a3c-2f1d6a8b9c01")
