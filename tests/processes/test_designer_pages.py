"""Designer pages (server side): who may open them, and each page's main action through the session."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import submit_report

from app.extensions import db
from app.processes.models import ProcessDraft, ProcessInstance, ProcessSpec

pytestmark = pytest.mark.dataset("four_in_one")
"""The demo county with only the four-in-one process: these tests are about it, not other bundles."""

SCENARIO = SCENARIOS["living_alone_parents_reached_good_caring"]


def _draft_id(response: Any) -> int:
    match = re.search(r"/designer/drafts/(\d+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))


def test_only_designers_open_designer_pages(page: Any) -> None:
    designer = page("designer")
    assert designer.get("/designer/").status_code == 200
    assert "四位一体" in designer.get("/designer/").get_data(as_text=True)
    for user in ("admin", "coordinator", "police_t01"):
        assert page(user).get("/designer/").status_code == 403
        assert page(user).post("/designer/processes/four_in_one/edit").status_code == 403
    assert page(None).get("/designer/").status_code == 302
    assert 'href="/designer/"' in designer.get("/notifications").get_data(as_text=True)


def test_edit_save_and_deploy_through_the_pages(page: Any) -> None:
    designer = page("designer")
    resp = designer.post("/designer/processes/four_in_one/edit")
    assert resp.status_code == 302
    draft_id = _draft_id(resp)
    html = designer.get(f"/designer/drafts/{draft_id}").get_data(as_text=True)
    assert "bpmn-modeler.production.min.js" in html and "designer.js" in html
    setup = json.loads(re.search(r'id="designer-setup">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert setup["files"]["four_in_one.bpmn"].endswith("/files/four_in_one.bpmn")
    xml = designer.get(setup["files"]["four_in_one.bpmn"]).get_data(as_text=True)
    script = designer.get("/designer/static/designer.js")
    assert script.status_code == 200 and b"spiffworkflow:Properties" in script.data
    script.close()
    # the modeler posts JSON with the CSRF header
    token = designer.csrf()
    changed = xml.replace('<spiffworkflow:property name="deadline" value="PT1H" />',
                          '<spiffworkflow:property name="deadline" value="PT2H" />', 1)
    bad = designer.client.post(setup["saveUrl"], json={"files": {"four_in_one.bpmn": changed.replace(
        'name="police"', 'name="polizei"')}, "revision": setup["revision"]}, headers={"X-CSRFToken": token})
    assert bad.status_code == 200 and bad.get_json()["valid"] is False
    no_csrf = designer.client.post(setup["saveUrl"], json={"files": {"four_in_one.bpmn": changed}})
    assert no_csrf.status_code == 400
    good = designer.client.post(setup["saveUrl"], json={"files": {"four_in_one.bpmn": changed},
                                                         "revision": bad.get_json()["revision"]},
                                headers={"X-CSRFToken": token})
    assert good.get_json()["valid"] is True, good.get_json()
    deployed = designer.post(f"/designer/drafts/{draft_id}/deploy", {"note": "两小时"})
    assert deployed.status_code == 302 and deployed.headers["Location"].endswith("/designer/processes/four_in_one")
    history = designer.get("/designer/processes/four_in_one").get_data(as_text=True)
    assert "v2" in history and "两小时" in history
    diff = designer.get("/designer/processes/four_in_one/diff?from=1&to=2").get_data(as_text=True)
    assert "police_triage" in diff and "PT2H" in diff


def test_upload_foreign_file_and_form_editor_with_preview(page: Any) -> None:
    designer = page("designer")
    camunda = (Path(__file__).resolve().parent.parent / "data" / "foreign" / "camunda7_leave.bpmn").read_bytes()
    resp = designer.post("/designer/drafts/new", {"files": (io.BytesIO(camunda), "leave.bpmn"), "title": "请假"},
                         content_type="multipart/form-data")
    draft_id = _draft_id(resp)
    page_html = designer.get(f"/designer/drafts/{draft_id}").get_data(as_text=True)
    assert "camunda:formKey" in page_html  # the problems list arrives with the page
    preview = designer.post("/designer/form-preview", {"schema": json.dumps(
        {"type": "object", "properties": {"seen": {"type": "boolean", "title": "已见到儿童"}}})})
    assert preview.status_code == 200 and "已见到儿童" in preview.get_data(as_text=True)
    assert "JSON" in designer.post("/designer/form-preview", {"schema": "{"}).get_data(as_text=True)
    url = f"/designer/drafts/{draft_id}/forms/leave/review.json"
    assert designer.get(url).status_code == 200
    assert designer.post(url, {"schema": "{nope"}).status_code == 422
    saved = designer.post(url, {"schema": json.dumps({"type": "object", "properties": {}})})
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(ProcessDraft, draft_id).forms == {"leave/review.json": {"type": "object", "properties": {}}}


def test_test_run_pages_walk_a_step_as_its_lane(page: Any) -> None:
    designer = page("designer")
    draft_id = _draft_id(designer.post("/designer/processes/four_in_one/edit"))
    resp = designer.post(f"/designer/drafts/{draft_id}/test", {"data": json.dumps(SCENARIO.start)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-500:]
    run_url = resp.headers["Location"]
    html = designer.get(run_url).get_data(as_text=True)
    assert 'data-step="police_triage"' in html and 'name="situation"' in html
    task_id = re.search(r'/tasks/([0-9a-f-]{36})"', html).group(1)  # type: ignore[union-attr]
    form = {"lane": "police", **{k: ("true" if v is True else v) for k, v in SCENARIO.steps[0].data.items()
                                 if not isinstance(v, list)}}
    form["dispatched_at"] = "2025-03-03T08:20"
    done = designer.post(f"{run_url}/tasks/{task_id}", form)
    assert done.status_code == 302, re.findall(r'field-error[^>]*>([^<]*)', done.get_data(as_text=True))
    assert 'data-step="police_living_alone"' in designer.get(run_url).get_data(as_text=True)
    assert designer.post(f"/designer/drafts/{draft_id}/test", {"data": "{"}).status_code == 422

    # let time pass on the run's clock: the living-alone step (PT2H) falls overdue, on the page only
    assert 'class="due due-soon"' in designer.get(run_url).get_data(as_text=True)
    assert designer.post(f"{run_url}/clock", {"advance": "PT3H"}).status_code == 302
    html = designer.get(run_url).get_data(as_text=True)
    assert 'class="due overdue"' in html and "⏱" in html
    refused = designer.post(f"{run_url}/clock", {"advance": "soon"}, follow_redirects=True)
    assert "deadline" in refused.get_data(as_text=True).lower() or "期限" in refused.get_data(as_text=True)
    assert page("police_t01").post(f"{run_url}/clock", {"advance": "P1D"}).status_code == 403


def test_migration_page_dry_run_move_and_move_back(page: Any, as_user: Any) -> None:
    designer = page("designer")
    case = submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    draft_id = _draft_id(designer.post("/designer/processes/four_in_one/edit"))
    draft = db.session.get(ProcessDraft, draft_id)
    xml = draft.files["four_in_one.bpmn"].replace('value="PT1H"', 'value="PT2H"', 1)
    token = designer.csrf()
    designer.client.post(f"/designer/drafts/{draft_id}/save", json={"files": {"four_in_one.bpmn": xml}},
                         headers={"X-CSRFToken": token})
    designer.post(f"/designer/drafts/{draft_id}/deploy", {"note": "v2"})
    plan = designer.get("/designer/processes/four_in_one/versions/2/migration").get_data(as_text=True)
    instance = db.session.scalar(sa.select(ProcessInstance).where(ProcessInstance.case_id == case["case_id"]))
    assert f'data-instance="{instance.id}"' in plan and 'name="instance"' in plan
    moved = designer.post("/designer/processes/four_in_one/versions/2/migration",
                          {"instance": str(instance.id), f"lock-{instance.id}": str(instance.version)})
    assert moved.status_code == 302
    db.session.expire_all()
    assert db.session.get(ProcessInstance, instance.id).spec.version == 2
    html = designer.get("/designer/processes/four_in_one/versions/2/migration").get_data(as_text=True)
    migration_id = re.search(r"/designer/migrations/(\d+)/rollback", html).group(1)  # type: ignore[union-attr]
    assert designer.post(f"/designer/migrations/{migration_id}/rollback").status_code == 302
    db.session.expire_all()
    v1 = db.session.scalar(sa.select(ProcessSpec).where(ProcessSpec.version == 1))
    assert db.session.get(ProcessInstance, instance.id).spec_id == v1.id
