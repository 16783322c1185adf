"""The designer API: drafts saved even when invalid, side-panel edits, deploy, permissions, audit, history."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import START
from helpers import open_tasks, submit_report

from app.audit.models import AuditEvent
from app.extensions import db

pytestmark = pytest.mark.dataset("four_in_one")
"""The demo county with only the four-in-one process: these tests are about it, not other bundles."""

DATA = Path(__file__).resolve().parent.parent / "data"
P = "/api/v1/processes"


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def _new_draft(api: Any) -> dict[str, Any]:
    resp = api.post(f"{P}/drafts", json={"process_key": "four_in_one"})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_only_process_designers_may_create_save_or_deploy(as_user: Any) -> None:
    draft = _new_draft(as_user("designer"))
    for username in ("police_t01", "coordinator", "admin"):
        api = as_user(username)
        assert api.post(f"{P}/drafts", json={"process_key": "four_in_one"}).status_code == 403
        assert api.client.put(f"{P}/drafts/{draft['id']}", json={"title": "x"},
                              headers=api.headers).status_code == 403
        resp = api.post(f"{P}/drafts/{draft['id']}/deploy", json={"note": "mine"})
        assert resp.status_code == 403
        assert "only process designers" in resp.get_json()["message"]
        assert api.get(f"{P}/drafts/{draft['id']}").status_code == 403
    assert as_user("police_t01").client.post(f"{P}/drafts", json={}).status_code == 401


def test_draft_from_a_version_is_valid_and_an_invalid_save_is_kept_with_its_messages(as_user: Any) -> None:
    api = as_user("designer")
    draft = _new_draft(api)
    assert draft["valid"] and draft["messages"] == [] and draft["based_on"]["version"] == 1
    bpmn = draft["files"]["four_in_one.bpmn"]
    broken = bpmn.replace('name="education"', 'name="Schulamt"')
    resp = api.client.put(f"{P}/drafts/{draft['id']}", json={"files": {**draft["files"], "four_in_one.bpmn": broken},
                                                              "revision": draft["revision"]}, headers=api.headers)
    assert resp.status_code == 200, resp.get_json()
    saved = resp.get_json()
    assert saved["valid"] is False and saved["revision"] == draft["revision"] + 1
    [message] = [m for m in saved["messages"] if m["level"] == "error"]
    assert (message["element_id"], message["element_name"], message["rule"]) == ("Lane_education", "Schulamt", "lane")
    # nothing is lost: the invalid content is what the draft holds now
    again = api.get(f"{P}/drafts/{draft['id']}?content=1").get_json()
    assert again["files"]["four_in_one.bpmn"] == broken
    # a stale revision is refused instead of overwriting someone else's save
    stale = api.client.put(f"{P}/drafts/{draft['id']}", json={"title": "x", "revision": draft["revision"]},
                           headers=api.headers)
    assert stale.status_code == 409
    # an invalid draft cannot be deployed; the answer lists the messages
    refused = api.post(f"{P}/drafts/{draft['id']}/deploy", json={"note": "try"})
    assert refused.status_code == 422
    assert "Lane_education (Schulamt)" in refused.get_json()["message"]
    assert refused.get_json()["messages"][0]["element_id"] == "Lane_education"


def test_side_panel_deadline_change_deploys_a_new_version_audited_and_new_cases_use_it(as_user: Any) -> None:
    designer = as_user("designer")
    reporter = as_user("reporter_school")
    police = as_user("police_t01")
    submit_report(reporter, "living_alone", "t01v01")
    [before] = open_tasks(police, step="police_triage")

    draft = _new_draft(designer)
    resp = designer.client.patch(f"{P}/drafts/{draft['id']}/elements/police_triage",
                                 json={"properties": {"deadline": "PT2H"}}, headers=designer.headers)
    assert resp.status_code == 200 and resp.get_json()["valid"], resp.get_json()
    assert designer.post(f"{P}/drafts/{draft['id']}/deploy", json={"note": ""}).status_code == 422
    deployed = designer.post(f"{P}/drafts/{draft['id']}/deploy", json={"note": "县里要求两小时内出警"})
    assert deployed.status_code == 201, deployed.get_json()
    spec = deployed.get_json()
    assert (spec["version"], spec["note"]) == (2, "县里要求两小时内出警")
    [event] = _audit("process_deploy")[-1:]
    assert event.user_id is not None and event.detail["version"] == 2 and event.detail["note"] == spec["note"]
    # deploying the same content again is not a new version
    assert designer.post(f"{P}/drafts/{draft['id']}/deploy", json={"note": "again"}).status_code == 200

    submit_report(reporter, "living_alone", "t01v01")
    tasks = {t["id"]: t for t in open_tasks(police, step="police_triage")}
    after = next(t for i, t in tasks.items() if i != before["id"])
    assert tasks[before["id"]]["due_at"] == before["due_at"]
    assert datetime.fromisoformat(before["due_at"]) == START + timedelta(hours=1)
    assert datetime.fromisoformat(after["due_at"]) == START + timedelta(hours=2)


def test_upload_download_and_forms_of_a_draft(as_user: Any) -> None:
    api = as_user("designer")
    camunda = (DATA / "foreign" / "camunda7_leave.bpmn").read_bytes()
    created = api.post(f"{P}/drafts", json={"files": {"placeholder.bpmn": (DATA / "mini.bpmn").read_text()},
                                            "title": "from Camunda"})
    assert created.status_code == 201
    draft_id = created.get_json()["id"]
    resp = api.client.post(f"{P}/drafts/{draft_id}/files", headers=api.headers,
                           data={"file": (io.BytesIO(camunda), "leave.bpmn")}, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body["files"]) == {"placeholder.bpmn", "leave.bpmn"} and body["valid"] is False
    assert any("camunda:formKey" in m["message"] for m in body["messages"])
    down = api.get(f"{P}/drafts/{draft_id}/files/leave.bpmn")
    assert down.status_code == 200 and down.data == camunda
    assert "attachment" in down.headers["Content-Disposition"]
    bad_name = api.post(f"{P}/drafts/{draft_id}/files", json={"name": "../x.bpmn", "content": "<a/>"})
    assert bad_name.status_code == 422
    api.client.delete(f"{P}/drafts/{draft_id}/files/leave.bpmn", headers=api.headers)
    # the mini process needs its form; the form editor adds it and the draft turns valid
    assert api.get(f"{P}/drafts/{draft_id}").get_json()["valid"] is False
    bad_form = api.client.put(f"{P}/drafts/{draft_id}/forms/mini/t1.json", headers=api.headers,
                              json={"schema": {"type": "objekt"}})
    assert any("not a valid JSON Schema" in m["message"] for m in bad_form.get_json()["messages"])
    form = {"type": "object", "properties": {"ok": {"type": "boolean", "title": "到场"}}}
    good = api.client.put(f"{P}/drafts/{draft_id}/forms/mini/t1.json", headers=api.headers, json={"schema": form})
    assert good.get_json()["valid"] is True and good.get_json()["process_key"] == "mini"


def test_history_diff_and_elements(as_user: Any) -> None:
    api = as_user("designer")
    draft = _new_draft(api)
    api.client.patch(f"{P}/drafts/{draft['id']}/elements/police_triage", headers=api.headers,
                     json={"name": "受理研判、出警", "properties": {"deadline": "PT2H"}})
    form = dict(draft["files"] and api.get(f"{P}/drafts/{draft['id']}?content=1").get_json()["forms"]
                ["four_in_one/police_triage.json"])
    form["title"] = "受理研判（新）"
    api.client.put(f"{P}/drafts/{draft['id']}/forms/four_in_one/police_triage.json", headers=api.headers,
                   json={"schema": form})
    preview = api.get(f"{P}/drafts/{draft['id']}/diff").get_json()
    assert [c["id"] for c in preview["elements"]["changed"]] == ["police_triage"]
    api.post(f"{P}/drafts/{draft['id']}/deploy", json={"note": "v2"})

    anyone = as_user("police_t01")
    items = anyone.get(f"{P}/four_in_one/versions").get_json()["items"]
    assert [(i["version"], i["latest"]) for i in items] == [(2, True), (1, False)]
    assert items[0]["deployed_by"] == "designer" and items[0]["note"] == "v2"
    diff = anyone.get(f"{P}/four_in_one/diff?from=1&to=2").get_json()
    assert diff["elements"]["added"] == [] and diff["elements"]["removed"] == []
    [changed] = diff["elements"]["changed"]
    props = {c["property"]: (c["before"], c["after"]) for c in changed["changes"]}
    assert props == {"name": ("受理研判并出警", "受理研判、出警"), "property deadline": ("PT1H", "PT2H")}
    [form_change] = diff["forms"]["changed"]
    assert form_change["path"] == "four_in_one/police_triage.json"
    assert {c["property"] for c in form_change["changes"]} == {"title"}
    version = anyone.get(f"{P}/four_in_one/versions/2").get_json()
    triage = next(e for e in version["elements"] if e["id"] == "police_triage")
    assert (triage["lane"], triage["properties"]["deadline"]) == ("police", "PT2H")
    xml = anyone.get(f"{P}/four_in_one/versions/1/files/four_in_one.bpmn")
    assert xml.status_code == 200 and b"police_triage" in xml.data
    assert anyone.get(f"{P}/four_in_one/versions/9").status_code == 404


def test_admins_grant_and_revoke_the_designer_role_audited(as_user: Any) -> None:
    admin, liaison = as_user("admin"), as_user("police_t01")
    assert liaison.post(f"{P}/drafts", json={"process_key": "four_in_one"}).status_code == 403
    assert as_user("designer").client.put(f"{P}/designers/police_t01",
                                          headers=as_user("designer").headers).status_code == 403
    assert admin.client.put(f"{P}/designers/police_t01", headers=admin.headers).get_json()["changed"] is True
    assert liaison.post(f"{P}/drafts", json={"process_key": "four_in_one"}).status_code == 201
    names = [u["username"] for u in admin.get(f"{P}/designers").get_json()["items"]]
    assert names == ["designer", "police_t01"]
    admin.client.delete(f"{P}/designers/police_t01", headers=admin.headers)
    assert liaison.post(f"{P}/drafts", json={"process_key": "four_in_one"}).status_code == 403
    assert [e.action for e in _audit("role_grant") + _audit("role_revoke")] == ["role_grant", "role_revoke"]
