"""Deploy validation: every rule names the element it is about; nothing is stored on refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.processes.models import ProcessSpec
from app.processes.operations import BundleRejected, deploy

DATA = Path(__file__).resolve().parent.parent / "data"
MINI = (DATA / "mini.bpmn").read_text(encoding="utf-8")
FORM = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {"ok": {"type": "boolean", "title": "到场"}}, "required": ["ok"]}


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count(ProcessSpec.id)))


def test_valid_bundle_deploys_as_version_1_then_2_and_identical_content_is_not_redeployed(ctx: Any) -> None:
    v1 = deploy({"mini.bpmn": MINI}, {"mini/t1.json": FORM})
    assert (v1.process_key, v1.version) == ("mini", 1)
    assert deploy({"mini.bpmn": MINI}, {"mini/t1.json": FORM}).id == v1.id
    v2 = deploy({"mini.bpmn": MINI.replace('value="PT1H"', 'value="PT2H"')}, {"mini/t1.json": FORM})
    assert v2.version == 2 and v2.content_hash != v1.content_hash


def test_lane_naming_no_department_kind_is_refused_naming_the_lane(ctx: Any) -> None:
    with pytest.raises(BundleRejected) as err:
        deploy({"mini.bpmn": MINI.replace('name="township"', 'name="Sozialamt"')}, {"mini/t1.json": FORM})
    assert "lane 'Sozialamt' names no department kind" in str(err.value)
    assert _count() == 0


def test_missing_form_bad_schema_and_bad_deadline_are_each_reported(ctx: Any) -> None:
    bad_deadline = MINI.replace('value="3WD"', 'value="three days"')
    with pytest.raises(BundleRejected) as err:
        deploy({"mini.bpmn": bad_deadline}, {})
    text = str(err.value)
    assert "t1 (出警): form 'mini/t1.json' does not exist" in text
    assert "t2 (评估)" in text and "three days" in text
    with pytest.raises(BundleRejected, match="not a valid JSON Schema"):
        deploy({"mini.bpmn": MINI}, {"mini/t1.json": {"type": "objekt"}})
    assert _count() == 0


def test_form_path_escaping_forms_dir_is_refused(ctx: Any) -> None:
    sneaky = MINI.replace("mini/t1.json", "../../etc/passwd.json")
    with pytest.raises(BundleRejected, match="relative .json path"):
        deploy({"mini.bpmn": sneaky}, {"../../etc/passwd.json": FORM})


def test_shipped_processes_deploy_and_every_form_they_name_is_a_valid_schema(ctx: Any) -> None:
    from app.cli import deploy_shipped

    lines = deploy_shipped("test")
    assert any(line.startswith("four_in_one v1") for line in lines)
    spec = db.session.scalar(sa.select(ProcessSpec).where(ProcessSpec.process_key == "four_in_one"))
    assert spec.user_tasks and all(t["properties"].get("deadline") for t in spec.user_tasks)
    assert all(t["properties"].get("formJsonSchemaFilename") in spec.forms for t in spec.user_tasks)
    for name, schema in spec.forms.items():
        assert json.dumps(schema, ensure_ascii=False).count("title") >= 1, name
