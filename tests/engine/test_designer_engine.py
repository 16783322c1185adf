"""Engine support for the designer: element model, schema errors with ids, timers, edits, migration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import engine

DATA = Path(__file__).resolve().parent.parent / "data"
MINI = (DATA / "mini.bpmn").read_text(encoding="utf-8")
TIMED = (DATA / "timer_task.bpmn").read_text(encoding="utf-8")


def test_model_describes_lanes_properties_flows_and_conditions() -> None:
    model = engine.describe_bundle({"mini.bpmn": MINI})
    assert model.messages == []
    assert [(p.id, p.executable) for p in model.processes] == [("mini", True)]
    t1 = model.element("t1")
    assert t1 is not None and (t1.type, t1.name, t1.lane) == ("userTask", "出警", "police")
    assert t1.properties == {"deadline": "PT1H", "formJsonSchemaFilename": "mini/t1.json"}
    f4 = model.element("f4")
    assert f4 is not None and (f4.source, f4.target, f4.condition) == ("gw", "t2", "score == 2")
    assert model.element("l_town") is not None and model.element("l_town").type == "lane"  # type: ignore[union-attr]


def test_model_never_raises_on_garbage_and_names_the_file() -> None:
    model = engine.describe_bundle({"a.bpmn": "<bpmn:definitions", "b.bpmn": "<root/>", "notes.txt": "x"})
    texts = [str(m) for m in model.messages]
    assert any(t.startswith("a.bpmn: not well-formed") for t in texts)
    assert any(t.startswith("b.bpmn: not a BPMN 2.0 file") for t in texts)


def test_schema_errors_name_the_element_by_id_and_name() -> None:
    bad = MINI.replace('<bpmn:userTask id="t2" name="评估">', '<bpmn:userTask id="t2" name="评估" colour="red">')
    messages = engine.describe_bundle({"mini.bpmn": bad}).messages
    assert [(m.element_id, m.element_name, m.rule) for m in messages] == [("t2", "评估", "schema")]
    assert "attribute 'colour'" in messages[0].message
    with pytest.raises(engine.BundleInvalid) as err:
        engine.parse_bundle({"mini.bpmn": bad})
    assert err.value.messages[0].element_id == "t2"


@pytest.mark.parametrize(("kind", "expression", "problem"), [
    ("timeDuration", '"P3D"', None),
    ("timeDuration", "P3D", 'write the ISO value in quotes, "P3D"'),
    ("timeDuration", '"P3X"', "not a valid ISO 8601 duration"),
    ("timeDuration", '"three days"', "not an ISO 8601 duration"),
    ("timeDuration", "3", "must give a string"),
    ("timeDuration", "wait_for", None),
    ("timeDate", '"2026-05-01T09:00:00+08:00"', None),
    ("timeDate", '"2026-05-01T09:00:00"', "no UTC offset"),
    ("timeDate", '"next tuesday"', "not a valid ISO 8601 date-time"),
    ("timeCycle", '"R3/PT1H"', None),
    ("timeCycle", '"every hour"', "not an ISO 8601 repeating interval"),
    ("timeDuration", '__import__("os").system("x")', "does not compile in the restricted environment"),
])
def test_timer_expressions_are_read_as_the_engine_reads_them(kind: str, expression: str, problem: str | None) -> None:
    found = engine.check_timer(kind, expression)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0], found


def test_edit_element_sets_and_removes_properties_and_keeps_the_file_valid() -> None:
    plain = (DATA / "foreign" / "bpmnio_new_diagram.bpmn").read_text(encoding="utf-8")
    edited = engine.edit_element(plain, "x.bpmn", "Activity_0x7k2m1", name="入户走访核查",
                                 properties={"deadline": "3WD", "instructions": "见附件3"})
    assert 'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"' in edited.split(">", 2)[1]
    model = engine.describe_bundle({"x.bpmn": edited})
    task = model.element("Activity_0x7k2m1")
    assert model.messages == [] and task is not None
    assert task.name == "入户走访核查" and task.properties == {"deadline": "3WD", "instructions": "见附件3"}
    again = engine.edit_element(edited, "x.bpmn", "Activity_0x7k2m1", properties={"deadline": None})
    assert engine.describe_bundle({"x.bpmn": again}).element("Activity_0x7k2m1").properties == {  # type: ignore[union-attr]
        "instructions": "见附件3"}
    with pytest.raises(engine.BundleInvalid, match="no element"):
        engine.edit_element(plain, "x.bpmn", "nope", name="x")


def _started(text: str, key: str) -> tuple[engine.ParsedBundle, engine.InstanceSnapshot]:
    bundle = engine.parse_bundle({"t.bpmn": text})
    return bundle, engine.start_instance(key, bundle.spec_json, {})


def test_migration_keeps_the_open_task_and_the_timers_due_time() -> None:
    old, snap = _started(TIMED, "timed-1")
    new = engine.parse_bundle({"t.bpmn": TIMED.replace('value="P1D"', 'value="P2D"').replace('name="上门"', 'name="上门核查"')})
    check = engine.migrate_state("timed-1", old.spec_json, snap.state, "timed-2", new.spec_json)
    assert check.can_move and check.reasons == [] and check.snapshot is not None
    [task] = check.snapshot.ready_tasks
    assert (task.id, task.name, task.deadline) == (snap.ready_tasks[0].id, "上门核查", "P2D")
    assert [t.due_at for t in check.snapshot.timers] == [t.due_at for t in snap.timers]
    # the migrated state runs on against the new version
    done = engine.complete_task("timed-2", new.spec_json, check.snapshot.state, task.id, {})
    assert done.completed and done.end_event == "end"


def test_changed_timer_expression_restarts_that_timer() -> None:
    old, snap = _started(TIMED, "timed-1")
    new = engine.parse_bundle({"t.bpmn": TIMED.replace('"P3D"', '"P5D"')})
    check = engine.migrate_state("timed-1", old.spec_json, snap.state, "timed-5", new.spec_json)
    assert check.can_move and check.snapshot is not None
    assert check.snapshot.timers[0].due_at > snap.timers[0].due_at  # type: ignore[operator]


def test_migration_is_refused_with_reasons() -> None:
    old, snap = _started(TIMED, "timed-1")
    no_timer = re.sub(r"<bpmn:boundaryEvent.*?</bpmn:boundaryEvent>", "", TIMED, flags=re.S).replace(
        'sourceRef="late"', 'sourceRef="start"')
    moved_lane = TIMED.replace("<bpmn:flowNodeRef>visit</bpmn:flowNodeRef>", "").replace(
        "<bpmn:flowNodeRef>chase</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>chase</bpmn:flowNodeRef>"
        "<bpmn:flowNodeRef>visit</bpmn:flowNodeRef>")
    renamed = TIMED.replace('"visit"', '"home_visit"')
    cases = {
        "no-timer": (no_timer, "the current step late (三天未上门) no longer exists"),
        "lane": (moved_lane, "the open task visit (上门) would move from police to township"),
        "renamed": (renamed, "the current step visit (上门) no longer exists"),
    }
    for key, (text, reason) in cases.items():
        new = engine.parse_bundle({"t.bpmn": text})
        check = engine.migrate_state("timed-1", old.spec_json, snap.state, f"timed-{key}", new.spec_json)
        assert not check.can_move and check.snapshot is None
        assert any(reason in r for r in check.reasons), (key, check.reasons)
