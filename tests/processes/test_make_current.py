"""Undoing a bad deploy in one step: redeploying earlier content, or "make current", puts new cases back
on that version (audited), from the CLI, the API and the designer's history page (issue 10 part 6)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from helpers import submit_report

from app.audit.models import AuditEvent
from app.extensions import db
from app.processes.models import ProcessInstance, ProcessSpec

pytestmark = pytest.mark.dataset("four_in_one")
"""The demo county with only the four-in-one process: these tests are about it, not other bundles."""

P = "/api/v1/processes"


def _deploy_v2() -> ProcessSpec:
    from app.processes.operations import deploy

    v1 = db.session.scalar(sa.select(ProcessSpec).where(ProcessSpec.version == 1))
    files = {**v1.files, "four_in_one.bpmn": v1.files["four_in_one.bpmn"].replace('value="PT1H"', 'value="PT2H"', 1)}
    v2 = deploy(files, v1.forms, note="the bad one")
    db.session.commit()
    return v2


def _started_on(as_user: Any) -> int:
    case = submit_report(as_user("reporter_school"))
    db.session.expire_all()
    instance = db.session.scalar(sa.select(ProcessInstance).where(ProcessInstance.case_id == case["case_id"]))
    return db.session.get(ProcessSpec, instance.spec_id).version


def _made_current() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "process_make_current")))


def test_redeploying_earlier_content_makes_it_current_again(as_user: Any) -> None:
    from app.processes.operations import deploy

    _deploy_v2()
    assert _started_on(as_user) == 2
    v1 = db.session.scalar(sa.select(ProcessSpec).where(ProcessSpec.version == 1))
    again = deploy(dict(v1.files), dict(v1.forms), note="back to v1")
    db.session.commit()
    assert again.id == v1.id, "identical content is not stored twice"
    assert _started_on(as_user) == 1
    [event] = _made_current()
    assert event.detail["version"] == 1 and event.detail["previous_version"] == 2
    items = as_user("police_t01").get(f"{P}/four_in_one/versions").get_json()["items"]
    assert [(i["version"], i["current"], i["latest"]) for i in items] == [(2, False, True), (1, True, False)]
    deploy(dict(v1.files), dict(v1.forms), note="again")
    db.session.commit()
    assert len(_made_current()) == 1, "redeploying what is already current changes nothing"


def test_make_current_through_the_api_is_for_designers_and_audited(as_user: Any) -> None:
    _deploy_v2()
    refused = as_user("coordinator").post(f"{P}/four_in_one/versions/1/current", json={"note": "x"})
    assert refused.status_code == 403
    no_note = as_user("designer").post(f"{P}/four_in_one/versions/1/current", json={})
    assert no_note.status_code == 422
    missing = as_user("designer").post(f"{P}/four_in_one/versions/7/current", json={"note": "x"})
    assert missing.status_code == 404
    assert _made_current() == []
    resp = as_user("designer").post(f"{P}/four_in_one/versions/1/current", json={"note": "v2 mis-routes"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"process_key": "four_in_one", "version": 1, "current": True, "changed": True}
    assert _started_on(as_user) == 1
    [event] = _made_current()
    assert event.detail["note"] == "v2 mis-routes"
    forward = as_user("designer").post(f"{P}/four_in_one/versions/2/current", json={"note": "fixed"})
    assert forward.get_json()["changed"] is True and _started_on(as_user) == 2


def test_make_current_from_the_shell(app: Any, as_user: Any) -> None:
    _deploy_v2()
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["processes", "current", "four_in_one", "1", "--as", "police_t01", "--note", "x"])
    assert refused.exit_code == 2 and "only process designers" in refused.output
    done = runner.invoke(args=["processes", "current", "four_in_one", "1", "--as", "designer", "--note", "undo"])
    assert done.exit_code == 0 and "new cases start on v1" in done.output, done.output
    history = runner.invoke(args=["processes", "history", "four_in_one"]).output.splitlines()
    assert history[0].startswith("v2  ") and history[1].startswith("v1   *"), history
    assert _started_on(as_user) == 1


def test_make_current_from_the_history_page(app: Any, as_user: Any) -> None:
    from webhelpers import PageClient

    _deploy_v2()
    designer = PageClient(app, "designer")
    page = designer.get("/designer/processes/four_in_one").get_data(as_text=True)
    assert page.count('class="inline make-current"') == 1, "only the version that is not current offers it"
    assert designer.post("/designer/processes/four_in_one/versions/1/current", data={}).status_code == 302
    assert _made_current() == [], "a reason is required"
    resp = designer.post("/designer/processes/four_in_one/versions/1/current", data={"note": "undo v2"})
    assert resp.status_code == 302
    assert _started_on(as_user) == 1 and len(_made_current()) == 1
    after = designer.get("/designer/processes/four_in_one").get_data(as_text=True)
    assert 'data-version="1"><td>v1 <span class="tag">' in after
    other = PageClient(app, "coordinator").post("/designer/processes/four_in_one/versions/2/current",
                                                 data={"note": "x"})
    assert other.status_code == 403 and len(_made_current()) == 1


def test_demo_load_keeps_what_a_designer_made_current(app: Any, as_user: Any) -> None:
    from app.cli import deploy_shipped

    v2 = _deploy_v2()
    deploy_shipped("demo load", reinstate=False)
    db.session.commit()
    assert _started_on(as_user) == v2.version
