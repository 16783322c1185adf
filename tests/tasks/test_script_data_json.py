"""A script that leaves data JSON cannot hold (NaN, sets, maps with number keys, exceptions, dates ...)
stops the step with a 422 naming the step and the variable; nothing is saved (issue 10 part 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import claimed_step

from app import engine
from app.extensions import db

MINI = (Path(__file__).resolve().parent.parent / "data" / "mini.bpmn").read_text(encoding="utf-8")
FORM = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
BAD = {
    "float('nan')": "is nan, not a finite number", "float('inf')": "is inf, not a finite number",
    "{1, 2}": "is a set", "{1: 'a'}": "map with a key 1", "{'a': {(1, 2): 3}}": "map with a key (1, 2)",
    "ValueError('x')": "is a ValueError", "range(3)": "is a range", "b'abc'": "is a bytes",
    "['ok', {'x': float('nan')}]": "'bad[1].x' is nan", "'\\ud800'": "lone surrogate",
    "{'typename': 'datetime', 'value': 'x'}": "'bad' is an object with a key 'typename'",
    "[{'deep': {'typename': 1}}]": "'bad[0].deep' is an object with a key 'typename'",
    "{'ok': {'\\udc80x': 1}}": "'bad.ok' has a key with a lone surrogate",
}


def _with_script(expr: str) -> str:
    return MINI.replace("score = 2 if ok else 1", f"score = 2 if ok else 1\nbad = {expr}")


@pytest.mark.parametrize("expr", sorted(BAD))
def test_the_engine_refuses_non_json_data_naming_step_and_variable(expr: str) -> None:
    parsed = engine.parse_bundle({"mini.bpmn": _with_script(expr)})
    snap = engine.start_instance(f"json-{expr}", parsed.spec_json, {})
    with pytest.raises(engine.ProcessScriptError) as err:
        engine.complete_task(f"json-{expr}", parsed.spec_json, snap.state, snap.ready_tasks[0].id, {"ok": True})
    assert err.value.bpmn_id == "s1"
    assert "variable 'bad" in str(err.value) and BAD[expr] in str(err.value)


def test_a_variable_named_typename_is_refused_naming_it() -> None:
    """SpiffWorkflow reads any stored object with a ``typename`` key as one of its own types: a task's data with
    one was saved and then never loaded again (every later step a TypeError). Now the step is refused."""
    parsed = engine.parse_bundle({"mini.bpmn": MINI.replace("score = 2 if ok else 1", "score = 2 if ok else 1\ntypename = 'x'")})
    snap = engine.start_instance("json-typename", parsed.spec_json, {})
    with pytest.raises(engine.ProcessScriptError, match="variable 'typename': the name 'typename' is reserved"):
        engine.complete_task("json-typename", parsed.spec_json, snap.state, snap.ready_tasks[0].id, {"ok": True})
    with pytest.raises(engine.ProcessScriptError, match="variable 'typename': the name 'typename' is reserved"):
        engine.start_instance("json-typename", parsed.spec_json, {"typename": "datetime"})


TWO_STEPS = (MINI.replace('<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t1"/>',
                         '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t0"/><bpmn:userTask id="t0" name="接报"/>'
                         '<bpmn:sequenceFlow id="f0" sourceRef="t0" targetRef="t1"/>')
             .replace("<bpmn:flowNodeRef>start</bpmn:flowNodeRef>",
                      "<bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>t0</bpmn:flowNodeRef>"))
"""``mini`` with a user task ``t0`` before ``t1``: completing ``t0`` runs no script and evaluates no condition."""


@pytest.mark.parametrize("name", ["__builtins__", "_getattr_", "_print_", "_write_"])
def test_a_name_the_sandbox_reserves_is_refused_where_it_is_entered(name: str) -> None:
    """The sandbox refuses to run a script over data holding its guards' names. A step that ran none stored them,
    and every later script or condition of the instance was refused for good (a stuck case): now the step that
    brings them in is refused, naming the variable."""
    parsed = engine.parse_bundle({"mini.bpmn": TWO_STEPS})
    snap = engine.start_instance(f"json-{name}", parsed.spec_json, {})
    assert [t.bpmn_id for t in snap.ready_tasks] == ["t0"]
    with pytest.raises(engine.ProcessScriptError, match=f"variable '{name}': the name is reserved by the script"):
        engine.complete_task(f"json-{name}", parsed.spec_json, snap.state, snap.ready_tasks[0].id, {name: {}})
    done = engine.complete_task(f"json-{name}", parsed.spec_json, snap.state, snap.ready_tasks[0].id, {"note": 1})
    done = engine.complete_task(f"json-{name}", parsed.spec_json, done.state, done.ready_tasks[0].id, {"ok": True})
    assert [t.bpmn_id for t in done.ready_tasks] == ["t2"] and done.data["score"] == 2


@pytest.mark.parametrize("name", ["len", "max", "str", "ValueError", "add_days", "days_between"])
def test_a_name_scripts_call_is_refused_where_it_is_entered(name: str) -> None:
    """Data named as a function scripts call hid it from every later script and condition (``len`` became 5:
    ``'int' object is not callable``; a helper's name: SpiffWorkflow's "task data that overwrites a predefined
    function"), so the case was stuck at the next script. Now the step that brings the name in is refused."""
    bundle = TWO_STEPS.replace("score = 2 if ok else 1",
                               "score = 2 if ok and len('ab') == 2 and add_days('2026-03-01', 1) else 1")
    parsed = engine.parse_bundle({"mini.bpmn": bundle})
    snap = engine.start_instance(f"json-{name}", parsed.spec_json, {})
    with pytest.raises(engine.ProcessScriptError, match=f"variable '{name}': the name is a function scripts call"):
        engine.complete_task(f"json-{name}", parsed.spec_json, snap.state, snap.ready_tasks[0].id, {name: 5})
    with pytest.raises(engine.ProcessScriptError, match=f"variable '{name}': the name is a function scripts call"):
        engine.start_instance(f"json-{name}", parsed.spec_json, {name: "x"})
    done = engine.complete_task(f"json-{name}", parsed.spec_json, snap.state, snap.ready_tasks[0].id, {"note": 1})
    done = engine.complete_task(f"json-{name}", parsed.spec_json, done.state, done.ready_tasks[0].id, {"ok": True})
    assert done.data["score"] == 2


def test_data_over_what_scripts_may_read_is_refused_where_it_is_entered() -> None:
    """Every script and condition refuses to run over task data of more than ``MAX_DATA_SIZE`` items and characters.
    A step that ran none stored it, and the case was stuck at its next script; now that step is refused."""
    from app.engine.sandbox import MAX_DATA_SIZE

    parsed = engine.parse_bundle({"mini.bpmn": TWO_STEPS})
    snap = engine.start_instance("json-large", parsed.spec_json, {})
    with pytest.raises(engine.ProcessScriptError, match="larger than the sandbox limit of 10,000,000 items") as err:
        engine.complete_task("json-large", parsed.spec_json, snap.state, snap.ready_tasks[0].id,
                             {"note": "x" * MAX_DATA_SIZE})
    assert err.value.bpmn_id == "t0"
    done = engine.complete_task("json-large", parsed.spec_json, snap.state, snap.ready_tasks[0].id,
                                {"note": "x" * (MAX_DATA_SIZE // 2)})  # large, but scripts may still read it
    done = engine.complete_task("json-large", parsed.spec_json, done.state, done.ready_tasks[0].id, {"ok": True})
    assert done.data["score"] == 2


def test_json_data_still_passes() -> None:
    parsed = engine.parse_bundle({"mini.bpmn": _with_script("{'n': 2 ** 40, 'f': 0.5, 'l': [None, True, 'x'], 't': (1, 2)}")})
    snap = engine.start_instance("json-ok", parsed.spec_json, {})
    done = engine.complete_task("json-ok", parsed.spec_json, snap.state, snap.ready_tasks[0].id, {"ok": True})
    assert done.data["bad"]["n"] == 2**40


def test_a_case_step_whose_script_leaves_a_set_is_a_422_and_nothing_is_saved(as_user: Any, page: Any) -> None:
    from app.processes.models import ProcessInstance
    from app.tasks.models import Task

    police, task, before = claimed_step(as_user, {"mini.bpmn": _with_script("{1, 2}")}, {"mini/t1.json": FORM})
    resp = police.post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"ok": True}})
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    message = resp.get_json()["message"]
    assert "s1" in message and "variable 'bad' is a set" in message
    db.session.expire_all()
    assert db.session.get(ProcessInstance, task.instance_id).state == before
    assert db.session.get(Task, task.id).state == "open"
    resp = page("police_t01").post(f"/tasks/{task.id}/complete", {"ok": "true"})
    assert resp.status_code == 422 and "variable &#39;bad&#39; is a set" in resp.get_data(as_text=True)


def test_a_datetime_left_in_the_data_is_refused_naming_it() -> None:
    """A helper or start data handing the engine a ``datetime``: stored as JSON it would become a string
    on one path and a typed object on another, so it is refused like the others."""
    from datetime import UTC, datetime

    parsed = engine.parse_bundle({"mini.bpmn": MINI})
    with pytest.raises(engine.ProcessScriptError, match="variable 'when' is a datetime"):
        engine.start_instance("json-datetime", parsed.spec_json, {"when": datetime(2026, 3, 10, tzinfo=UTC)})


@pytest.mark.parametrize("extra", [{"typename": "x"}, {"note": {"typename": "datetime", "value": "soon"}},
                                   {"visits": [{"at": "home", "typename": "BpmnWorkflow"}]}])
def test_a_submission_holding_the_reserved_key_is_a_422_and_the_case_goes_on(
        extra: dict[str, Any], as_user: Any) -> None:
    """A form that lets other fields through (``additionalProperties: true``) handed the engine whatever a client
    sent: ``{"typename": ...}`` anywhere in it froze the instance for good. Now it is a 422, nothing is saved, and the
    next valid submission completes the step."""
    from app.processes.models import ProcessInstance
    from app.tasks.models import Task

    police, task, before = claimed_step(as_user, {"mini.bpmn": MINI}, {"mini/t1.json": {**FORM, "additionalProperties": True}})
    resp = police.post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"ok": True, **extra}})
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    assert "'typename'" in resp.get_json()["message"] and "reserved" in resp.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(ProcessInstance, task.instance_id).state == before
    resp = police.post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"ok": True}})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert db.session.get(Task, task.id).state == "completed"
    assert db.session.get(ProcessInstance, task.instance_id).state != before
