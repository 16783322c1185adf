"""Script-injection payloads stored through the real entry points, for the XSS page suite and the Chromium
check: a report (child, guardian, reporter, narrative), a completed step's free text, a comment, a saved
inbox view, a user's display name, a conference (title, place, attendee, minutes, decisions), and the
designer's content (BPMN task name, documentation and instructions, a form's titles, a deploy note).

Each payload carries its own label (``alert("xss-<label>")``) so a test can say which stored text a page
shows, and which would have run."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from helpers import open_tasks, report_payload
from webhelpers import first_open_task, open_case

from app.extensions import db
from app.org.queries import user_by_username


def script(label: str) -> str:
    return f'<script>alert("xss-{label}")</script>'


def img(label: str) -> str:
    return f'"><img src=x onerror=alert("xss-{label}")>'


def js_url(label: str) -> str:
    return f'javascript:alert("xss-{label}")'


RAW_MARKERS = ("<script>alert", "<img src=x", "<svg onload")
"""Never in a page's HTML as markup: their presence means a payload was printed unescaped."""


def shown(label: str) -> str:
    """What a page's visible text contains when it shows the payload ``label`` as text (escaped)."""
    return f"xss-{label}"


@dataclass
class World:
    case_id: int = 0
    case_number: str = ""
    triage_task: int = 0
    next_task: int = 0
    conference_id: int = 0
    draft_id: int = 0
    run_url: str = ""
    police_user: int = 0
    urls: dict[str, list[str]] = field(default_factory=dict)


def _draft_id(resp: Any) -> int:
    match = re.search(r"/designer/drafts/(\d+)$", resp.headers["Location"])
    assert match, resp.headers.get("Location")
    return int(match.group(1))


def _xml_attr(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def deploy_hostile_designer_content(page: Any) -> None:
    """A designer names a step, documents the process, writes instructions and form titles with script."""
    designer = page("designer")
    draft_id = _draft_id(designer.post("/designer/processes/four_in_one/edit"))
    from app.processes.models import ProcessDraft

    draft = db.session.get(ProcessDraft, draft_id)
    xml = draft.files["four_in_one.bpmn"]
    xml = xml.replace('name="受理研判并出警"', f'name="受理研判并出警{_xml_attr(script("bpmn-name"))}"', 1)
    xml = xml.replace('<spiffworkflow:property name="instructions" value="',
                      f'<spiffworkflow:property name="instructions" value="{_xml_attr(img("instructions"))}')
    xml = xml.replace("<bpmn:documentation>农村留守儿童",
                      f"<bpmn:documentation>{_xml_attr(script('bpmn-doc'))}农村留守儿童", 1)
    token = designer.csrf()
    saved = designer.client.post(f"/designer/drafts/{draft_id}/save", json={"files": {"four_in_one.bpmn": xml}},
                                 headers={"X-CSRFToken": token})
    assert saved.status_code == 200 and saved.get_json()["valid"], saved.get_json()
    db.session.expire_all()
    form = dict(db.session.get(ProcessDraft, draft_id).forms["four_in_one/police_triage.json"])
    form["title"] = "公安受理" + script("form-title")
    form["properties"] = {**form["properties"], "officers": {**form["properties"]["officers"],
                                                             "title": "出警民警" + img("field-title")}}
    resp = designer.post(f"/designer/drafts/{draft_id}/forms/four_in_one/police_triage.json",
                         {"schema": json.dumps(form, ensure_ascii=False)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-400:]
    resp = designer.post(f"/designer/drafts/{draft_id}/deploy", {"note": "修订" + script("deploy-note")})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-400:]


def build(page: Any, as_user: Any) -> World:
    world = World()
    deploy_hostile_designer_content(page)
    body = report_payload("living_alone", "t01v01", name="李" + img("child-name"), address=script("address"),
                          guardians=[{"name": script("guardian"), "relation": "father", "phone": js_url("phone"),
                                      "working_away": True}])
    body["report"].update(reporter_name=img("reporter"),
                          description=script("narrative") + img("narrative-img") + js_url("narrative-url"))
    report = as_user("reporter_school").post("/api/v1/reports", json=body)
    assert report.status_code == 201, report.get_json()
    world.case_id, world.case_number = report.get_json()["case_id"], report.get_json()["case_number"]
    open_case(as_user, name="王" + script("child-2"))
    triage = first_open_task(world.case_id)
    world.triage_task = triage.id

    admin = page("admin")
    police = user_by_username("police_t01")
    assert police is not None
    world.police_user = police.id
    resp = admin.post(f"/admin/users/{police.id}", [("display_name", "联络员" + img("display-name")),
                                                     ("roles", "liaison"), ("unit_id", str(police.unit_id)),
                                                     ("active", "1")])
    assert resp.status_code == 302, resp.get_data(as_text=True)[-300:]

    liaison = page("police_t01")
    assert liaison.post(f"/tasks/{triage.id}/claim").status_code == 302
    assert liaison.post(f"/tasks/{triage.id}/comments", {"body": script("comment") + js_url("comment-url")}
                        ).status_code == 302
    done = liaison.post(f"/tasks/{triage.id}/complete", {
        "situation": "living_alone", "urgency": "urgent", "police_station": img("station"),
        "officers": script("officers"), "dispatched_at": "2026-03-10T09:20", "reporter_contacted": "true"})
    assert done.status_code == 302, re.findall(r'field-error[^>]*>([^<]*)', done.get_data(as_text=True))
    world.next_task = first_open_task(world.case_id).id
    resp = liaison.post("/inbox/views", {"name": img("saved-view"), "query": "overdue=1&" + js_url("view-query")})
    assert resp.status_code == 302

    world.conference_id = schedule_conference(page, world.case_id)
    return world


def schedule_conference(page: Any, case_id: int) -> int:
    from datetime import UTC, datetime

    from app.conferences.models import Conference

    rescue = user_by_username("rescue_center_c01")
    coordinator = user_by_username("coordinator")
    assert rescue is not None and coordinator is not None
    form = [("title", "个案会商" + script("conf-title")), ("scheduled_at", "2026-03-12T14:00"),
            ("mode", "in_person"), ("place", img("conf-place")), ("convening_unit_id", str(rescue.unit_id)),
            ("chair_id", str(coordinator.id)), ("attendees-0-name", script("attendee")),
            ("attendees-0-role", img("attendee-role")), ("invited", "education"), ("invited", "police")]
    resp = page("coordinator").post(f"/cases/{case_id}/conferences/new", form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-500:]
    conference_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    from flask import current_app

    from app.common.clock import FixedClock

    clock = current_app.extensions["liandong.clock"]
    assert isinstance(clock, FixedClock)
    clock.at = datetime(2026, 3, 12, 8, 0, tzinfo=UTC)
    conference = db.session.get(Conference, conference_id)
    assert conference is not None
    present = [str(u.unit_id) for u in conference.units if u.role == "convener"]
    minutes = [("minutes", script("minutes") + img("minutes-img")), ("held_at", "2026-03-12T14:00"),
               *[("attended_units", u) for u in present],
               ("decisions-0-decision", script("decision")), ("decisions-0-department_kind", "police"),
               ("decisions-0-deadline", "3WD"), ("decisions-0-due_on", "")]
    resp = page("rescue_center_c01").post(f"/conferences/{conference_id}/minutes", minutes)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-500:]
    return conference_id


def pages_to_check(world: World, page: Any, as_user: Any) -> dict[str | None, dict[str, tuple[str, ...]]]:
    """User -> page -> the payload labels that page must show as text."""
    [action] = open_tasks(as_user("police_t01"), step="carry_out_decision")
    case, conf = world.case_id, world.conference_id
    designer = page("designer")
    draft_id = _draft_id(designer.post("/designer/processes/four_in_one/edit"))
    return {
        "police_t01": {
            "/inbox": ("saved-view", "bpmn-name", "display-name"), "/inbox?scope=mine": ("display-name",),
            f"/tasks/{world.triage_task}": ("bpmn-name", "guardian"),
            f"/tasks/{world.next_task}": ("officers", "instructions", "child-name", "phone"),
            f"/tasks/{action['id']}": ("decision", "conf-title"),
            f"/cases/{case}": ("child-name", "comment", "comment-url", "guardian", "bpmn-name", "narrative"),
            "/notifications": ("bpmn-name",), "/conferences": ("conf-title",),
            f"/conferences/{conf}": ("minutes", "minutes-img", "conf-title", "conf-place", "attendee", "decision"),
            "/conferences/team": ("conf-title",),
        },
        "coordinator": {
            f"/cases/{case}": ("child-name", "narrative", "narrative-img", "narrative-url", "display-name"),
            f"/tasks/{world.next_task}": ("child-name", "officers"),
            f"/conferences/{conf}": ("attendee", "attendee-role", "decision"),
            "/dashboard/": ("bpmn-name",), "/dashboard/tasks?kind=police": ("bpmn-name",), "/audit": (),
            "/inbox": ("child-2", "child-name"), f"/cases/{case}/conferences/new": ("conf-title",),
        },
        "admin": {"/admin/users": ("display-name",), f"/admin/users/{world.police_user}": ()},
        "reporter_school": {f"/cases/{case}": (), "/inbox": ()},
        "designer": {
            "/designer/": (), "/designer/processes/four_in_one": ("deploy-note",),
            "/designer/processes/four_in_one/diff?from=1&to=2": ("bpmn-name", "instructions"),
            f"/designer/drafts/{draft_id}": (), f"/designer/drafts/{draft_id}/test": (),
            f"/designer/drafts/{draft_id}/forms/four_in_one/police_triage.json": ("field-title", "form-title"),
        },
    }
