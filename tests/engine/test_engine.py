"""The engine boundary: hardened parsing, state without spec, state guard, sandbox re-attached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import engine

DATA = Path(__file__).resolve().parent.parent / "data"
MINI = (DATA / "mini.bpmn").read_text(encoding="utf-8")


def parsed() -> engine.ParsedBundle:
    return engine.parse_bundle({"mini.bpmn": MINI})


def test_parse_reports_lanes_and_user_task_properties() -> None:
    bundle = parsed()
    assert bundle.process_id == "mini"
    assert bundle.lanes == ["police", "township"]
    by_id = {t.bpmn_id: t for t in bundle.user_tasks}
    assert by_id["t1"].lane == "police"
    assert by_id["t1"].properties == {"deadline": "PT1H", "formJsonSchemaFilename": "mini/t1.json"}
    assert by_id["t2"].properties["deadline"] == "3WD"


def test_entity_expansion_bomb_is_refused() -> None:
    bomb = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p">&lol3;</bpmn:process></bpmn:definitions>"""
    with pytest.raises(engine.BundleInvalid) as err:
        engine.parse_bundle({"bomb.bpmn": bomb})
    assert "DTD or entities" in str(err.value)


def test_external_entity_file_read_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = f"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{secret}">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">
<bpmn:process id="p" name="&xxe;" isExecutable="true"/></bpmn:definitions>"""
    with pytest.raises(engine.BundleInvalid) as err:
        engine.parse_bundle({"xxe.bpmn": xxe})
    assert "TOP-SECRET" not in str(err.value)
    assert "refused" in str(err.value)


def test_malformed_and_oversized_xml_get_clear_messages() -> None:
    with pytest.raises(engine.BundleInvalid, match="not well-formed"):
        engine.parse_bundle({"bad.bpmn": "<bpmn:definitions"})
    with pytest.raises(engine.BundleInvalid, match="limit"):
        engine.parse_bundle({"big.bpmn": "<a>" + "x" * (3 * 1024 * 1024) + "</a>"})


def test_bundle_without_executable_process_is_refused() -> None:
    with pytest.raises(engine.BundleInvalid, match="executable process"):
        engine.parse_bundle({"mini.bpmn": MINI.replace('isExecutable="true"', 'isExecutable="false"')})


def test_script_that_imports_is_refused_at_parse_naming_the_element() -> None:
    evil = MINI.replace("score = 2 if ok else 1", "import os\nscore = os.getcwd()")
    with pytest.raises(engine.BundleInvalid) as err:
        engine.parse_bundle({"mini.bpmn": evil})
    assert any(m.element_id == "s1" and m.element_name == "calc" for m in err.value.messages)


def test_state_is_saved_without_the_spec_and_round_trips() -> None:
    bundle = parsed()
    snap = engine.start_instance("mini-h", bundle.spec_json, {"situation": "missing"})
    state = json.loads(snap.state)
    assert "spec" not in state and "subprocess_specs" not in state
    assert snap.serializer_version.startswith("spiff-")
    [ready] = snap.ready_tasks
    assert (ready.bpmn_id, ready.lane, ready.deadline, ready.form) == ("t1", "police", "PT1H", "mini/t1.json")
    again = engine.snapshot("mini-h", bundle.spec_json, snap.state)
    assert [t.id for t in again.ready_tasks] == [ready.id]


def test_completed_task_cannot_run_again_and_unknown_ids_are_refused() -> None:
    bundle = parsed()
    snap = engine.start_instance("mini-h", bundle.spec_json, {})
    first = snap.ready_tasks[0].id
    after = engine.complete_task("mini-h", bundle.spec_json, snap.state, first, {"ok": True})
    assert [t.bpmn_id for t in after.ready_tasks] == ["t2"]
    assert after.data["score"] == 2
    with pytest.raises(engine.TaskNotReady, match="COMPLETED"):
        engine.complete_task("mini-h", bundle.spec_json, after.state, first, {"ok": True})
    with pytest.raises(engine.TaskNotReady):
        engine.complete_task("mini-h", bundle.spec_json, after.state, "not-a-uuid", {})
    with pytest.raises(engine.TaskNotReady):
        engine.complete_task("mini-h", bundle.spec_json, after.state, "00000000-0000-0000-0000-000000000000", {})


def test_default_path_and_end_event_are_reported() -> None:
    bundle = parsed()
    snap = engine.start_instance("mini-h", bundle.spec_json, {})
    done = engine.complete_task("mini-h", bundle.spec_json, snap.state, snap.ready_tasks[0].id, {"ok": False})
    assert done.completed and done.end_event == "end2"
    assert [s.bpmn_id for s in done.steps][:2] == ["t1", "s1"]


def test_loaded_workflow_runs_scripts_in_the_sandbox_not_the_default_engine() -> None:
    """A deserialized workflow gets SpiffWorkflow's unrestricted engine unless we re-attach ours.

    Deploy refuses ``open`` already; here the stored spec is tampered with after
    validation, so only the runtime environment stands between the script and the
    file. The script runs after a load, when the default engine would have read it.
    """
    bundle = parsed()
    spec_json = json.loads(json.dumps(bundle.spec_json))
    script_task = spec_json["spec"]["task_specs"]["s1"]
    assert script_task["script"] == "score = 2 if ok else 1"
    script_task["script"] = "score = open('/etc/hostname').read()"
    snap = engine.start_instance("mini-tampered", spec_json, {})
    with pytest.raises(engine.ProcessScriptError) as err:
        engine.complete_task("mini-tampered", spec_json, snap.state, snap.ready_tasks[0].id, {"ok": True})
    assert err.value.bpmn_id == "s1"


def test_expression_properties_route_each_instance_by_its_data() -> None:
    bundle = engine.parse_bundle({"r.bpmn": (DATA / "routed_by_data.bpmn").read_text(encoding="utf-8")})
    snap = engine.start_instance("routed", bundle.spec_json, {"action_department": "education",
                                                               "action_deadline": "3WD"})
    [task] = snap.ready_tasks
    assert (task.lane, task.department, task.deadline) == ("civil_affairs", "education", "3WD")


def test_expression_property_that_does_not_compile_is_refused_at_parse() -> None:
    text = (DATA / "routed_by_data.bpmn").read_text(encoding="utf-8").replace("=action_department", "=import os")
    with pytest.raises(engine.BundleInvalid) as err:
        engine.parse_bundle({"r.bpmn": text})
    assert any(m.element_id == "act" for m in err.value.messages)
