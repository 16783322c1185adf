"""A BPMN with thousands of namespace declarations (or attributes) is refused in well under a second,
instead of taking minutes to save: reading its elements was quadratic (issue 10 part 5)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from app import engine

pytestmark = pytest.mark.dataset("four_in_one")
"""The demo county with only the four-in-one process: these tests are about it, not other bundles."""

MINI = (Path(__file__).resolve().parent.parent / "data" / "mini.bpmn").read_text(encoding="utf-8")
FORM = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
P = "/api/v1/processes"


def _namespaced(declarations: int, attributes: int) -> str:
    decls = " ".join(f'xmlns:n{i}="urn:x:{i}"' for i in range(declarations))
    attrs = " ".join(f'n{i % max(declarations, 1)}:a{i}="v"' for i in range(attributes))
    return (MINI.replace("<bpmn:definitions ", f"<bpmn:definitions {decls} ", 1)
            .replace('<bpmn:userTask id="t1"', f'<bpmn:userTask {attrs} id="t1"'))


@pytest.mark.parametrize("declarations,attributes,words", [
    (4000, 4000, "more than 200 namespace declarations"),
    (150, 20000, "element 't1' has 20002 attributes; the limit is 100"),
])
def test_thousands_of_declarations_or_attributes_are_refused_fast(as_user: Any, declarations: int, attributes: int,
                                                                 words: str) -> None:
    xml = _namespaced(declarations, attributes)
    api = as_user("designer")
    started = time.perf_counter()
    draft = api.post(f"{P}/drafts", json={"files": {"mini.bpmn": xml}, "forms": {"mini/t1.json": FORM}})
    assert draft.status_code == 201 and draft.get_json()["valid"] is False
    assert any(words in m["message"] for m in draft.get_json()["messages"]), draft.get_json()["messages"]
    deploy = api.post(f"{P}/drafts/{draft.get_json()['id']}/deploy", json={"note": "x"})
    assert deploy.status_code == 422 and words in deploy.get_json()["message"]
    elapsed = time.perf_counter() - started
    assert elapsed < 3, f"{elapsed:.1f}s (was 11 s for 4,000 declarations, growing quadratically)"


def test_a_modeler_s_usual_namespaces_and_foreign_attributes_still_pass() -> None:
    model = engine.describe_bundle({"mini.bpmn": _namespaced(20, 60)})
    t1 = model.element("t1")
    assert t1 is not None and t1.details["n3:a3"] == "v"
    assert engine.parse_bundle({"mini.bpmn": _namespaced(20, 60)}).process_id == "mini"
