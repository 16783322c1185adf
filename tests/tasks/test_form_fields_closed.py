"""A step writes only the fields its form declares (``app.tasks.forms._undeclared``).

What a step submits becomes the process's variables. JSON Schema lets other fields through by default, so a form
that did not close itself let a client write any variable: overwrite the ``situation`` another department's step
set (and reroute the case), or one a later script reads (and stop the case there). The shipped forms close
themselves; a designer's form that says nothing about other fields is closed by the platform; a form that says
what else it takes (``additionalProperties``, ``patternProperties``, a composition) is followed as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import claimed_step

from app.common.errors import WHOLE
from app.extensions import db
from app.tasks.forms import form_errors

MINI = (Path(__file__).resolve().parent.parent / "data" / "mini.bpmn").read_text(encoding="utf-8")
FORM = {"type": "object", "properties": {"ok": {"type": "boolean"}, "note": {"type": "string"}}, "required": ["ok"]}


def _paths(schema: dict[str, Any], data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(path, error.message) for path, error in form_errors(schema, data)]


def test_a_field_the_form_does_not_declare_is_refused_naming_it() -> None:
    assert _paths(FORM, {"ok": True, "note": "见面"}) == []
    assert _paths(FORM, {"ok": True, "situation": "missing", "score": "abc"}) == [
        ("situation", "'situation' is not a field of this step's form"),
        ("score", "'score' is not a field of this step's form")]


def test_a_form_of_no_fields_takes_none() -> None:
    assert _paths({"type": "object"}, {"situation": "missing"}) == [
        ("situation", "'situation' is not a field of this step's form")]
    assert _paths({"type": "object"}, {}) == []


@pytest.mark.parametrize("opening", [{"additionalProperties": True}, {"additionalProperties": {"type": "string"}},
                                     {"patternProperties": {"^x_": {}}},
                                     {"allOf": [{"properties": {"situation": {"type": "string"}}}]}])
def test_a_form_that_says_what_else_it_takes_is_followed(opening: dict[str, Any]) -> None:
    assert _paths({**FORM, **opening}, {"ok": True, "x_situation": "missing"}) == []


def test_a_closed_form_still_answers_as_before() -> None:
    closed = {**FORM, "additionalProperties": False}
    assert _paths(closed, {"ok": True, "situation": "x"}) == [  # jsonschema's own error, on the whole form
        (WHOLE, "Additional properties are not allowed ('situation' was unexpected)")]


def test_over_the_api_an_undeclared_field_is_a_422_and_changes_nothing(as_user: Any) -> None:
    from app.processes.models import ProcessInstance

    police, task, before = claimed_step(as_user, {"mini.bpmn": MINI}, {"mini/t1.json": FORM},
                                        start={"situation": "living_alone"})
    resp = police.post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"ok": True, "situation": "missing"}})
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    assert resp.get_json()["errors"]["json"] == {"data.situation": ["'situation' is not a field of this step's form"]}
    db.session.expire_all()
    assert db.session.get(ProcessInstance, task.instance_id).state == before
    resp = police.post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"ok": True, "note": "到场"}})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert db.session.get(ProcessInstance, task.instance_id).data["situation"] == "living_alone"
