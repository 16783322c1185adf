"""Stored script injection: payloads put in through the real entry points (report, step data, comment,
saved view, display name, conference, BPMN names and documentation, form titles, deploy note) come back
on every page that shows them as text, never as markup, handlers or script URLs."""

from __future__ import annotations

import json
import re
from typing import Any

import lxml.html
from pagecheck import inline_script_problems
from xss_scenario import RAW_MARKERS, build, pages_to_check, script, shown

from app.extensions import db
from app.processes.models import ProcessDraft


def _check(html: str, where: str) -> str:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: raw {marker!r}"
    assert inline_script_problems(html) == [], where
    return str(lxml.html.document_fromstring(html).text_content())


def test_stored_payloads_are_text_on_every_page_that_shows_them(page: Any, as_user: Any) -> None:
    world = build(page, as_user)
    checked = 0
    for user, pages in pages_to_check(world, page, as_user).items():
        client = page(user)
        for path, labels in pages.items():
            resp = client.get(path)
            where = f"{user} {path}"
            assert resp.status_code == 200, (where, resp.status_code)
            text = _check(resp.get_data(as_text=True), where)
            for label in labels:
                assert shown(label) in text, f"{where} does not show {label}"
            checked += 1
    assert checked >= 25


def test_test_run_pages_show_hostile_step_names_as_text(page: Any, as_user: Any) -> None:
    """The designer's sandbox run lists steps by their BPMN name and renders the step's form titles."""
    build(page, as_user)
    designer = page("designer")
    resp = designer.post("/designer/processes/four_in_one/edit")
    draft_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    start = {"situation": "living_alone", "reporter_type": "school", "child_age": 9, "case_number": "T-1"}
    resp = designer.post(f"/designer/drafts/{draft_id}/test", {"data": json.dumps(start)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-400:]
    text = _check(designer.get(resp.headers["Location"]).get_data(as_text=True), "test run")
    assert shown("bpmn-name") in text and shown("field-title") in text


def test_htmx_partials_and_json_stay_inert(page: Any, as_user: Any) -> None:
    """Partials swapped in by htmx and the API's JSON carry the payload as data, never as markup."""
    world = build(page, as_user)
    police = page("police_t01")
    partial = police.get("/inbox?overdue=0", headers={"HX-Request": "true", "HX-Target": "inbox-table"})
    html = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in html
    _check(html, "inbox partial")
    body = as_user("coordinator").get(f"/api/v1/cases/{world.case_id}")
    assert body.status_code == 200 and body.mimetype == "application/json"
    assert body.get_json()["child"]["guardians"][0]["name"] == script("guardian")


def test_json_data_blocks_cannot_close_their_script_element(page: Any, as_user: Any) -> None:
    """The modeler page embeds its setup as JSON in <script type=application/json>; a stored
    ``</script>`` must arrive escaped (\\u003c), or it would end the block and start markup."""
    build(page, as_user)
    designer = page("designer")
    resp = designer.post("/designer/processes/four_in_one/edit")
    draft_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    draft = db.session.get(ProcessDraft, draft_id)
    lane = '</script><script>alert("xss-lane")</script>'
    xml = draft.files["four_in_one.bpmn"].replace('name="police"', f'name="{lane.replace("<", "&lt;").replace(chr(34), "&quot;")}"', 1)
    saved = designer.client.post(f"/designer/drafts/{draft_id}/save", json={"files": {"four_in_one.bpmn": xml}},
                                 headers={"X-CSRFToken": designer.csrf()})
    assert saved.status_code == 200 and not saved.get_json()["valid"]
    assert any("xss-lane" in m["text"] for m in saved.get_json()["messages"])  # the problem names the lane
    html = designer.get(resp.headers["Location"]).get_data(as_text=True)
    _check(html, "modeler")
    blocks = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    assert len(blocks) == 2
    for block in blocks:
        assert "<" not in block
        json.loads(block)
    assert any("xss-lane" in m["text"] for m in json.loads(blocks[0])["messages"])
