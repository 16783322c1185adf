"""Issue 15, part 7: the court-ready record of a child's file, as a page and a PDF.

The PDF's text is read back with pypdf: it holds the steps (unit, person, outcome), the watermark on every
page, and nothing a unit may not read (the report's narrative, another unit's notes, another unit's files).
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import open_tasks, report_payload, unit_user
from pypdf import PdfReader

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.extensions import db
from app.org.queries import user_by_username

NARRATIVE = "孩子连续三天独自在家。"
TRIAGE_NOTES = "接学校报告后出警核实。"
FILE_NAME = "训诫书扫描件.pdf"


def _walk(as_user: Any, page: Any, village: str = "t01v01") -> Case:
    """A living-alone case walked to the end (police, assessment inputs, township, village), with a file
    attached by the police at triage."""
    resp = as_user("reporter_school").post("/api/v1/reports", json=report_payload("living_alone", village))
    case_id = resp.get_json()["case_id"]
    scenario = SCENARIOS["living_alone_parents_reached_good_caring"]
    for n, step in enumerate(scenario.steps):
        api = as_user(unit_user(step.lane, village))
        [task] = [t for t in open_tasks(api, case_id=case_id) if t["bpmn_id"] == step.bpmn_id]
        if n == 0:
            upload = page(unit_user(step.lane, village)).post(
                f"/tasks/{task['id']}/attachments", {"file": (io.BytesIO(b"%PDF-1.4 " + b"x" * 2000), FILE_NAME)},
                content_type="multipart/form-data")
            assert upload.status_code == 302
        done = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": step.data})
        assert done.status_code == 200, done.get_json()
    case = db.session.get(Case, case_id)
    assert case is not None and case.status == "closed"
    return case


def _pdf_pages(resp: Any) -> list[str]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF-")
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["Cache-Control"] == "private, no-store"
    return [p.extract_text() or "" for p in PdfReader(io.BytesIO(resp.data)).pages]


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_pdf_holds_every_step_and_the_watermark_on_every_page(page: Any, as_user: Any) -> None:
    case = _walk(as_user, page)
    coordinator = user_by_username("coordinator")
    pages = _pdf_pages(page("coordinator").get(f"/children/{case.child_id}/record.pdf"))
    text = _flat("".join(pages))
    assert len(pages) >= 2
    # the watermark (who printed it, and the print number) on every page
    serial = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)).where(AuditEvent.action == "print"))
    for number, page_text in enumerate(pages, 1):
        assert _flat(coordinator.display_name) in _flat(page_text), number  # type: ignore[union-attr]
        assert f"{serial}" in _flat(page_text), number
    # who the child is, the report, every step with unit, person and outcome
    assert "李小明" in text and NARRATIVE.rstrip("。") in text
    for name in ("受理研判并出警", "单独居住：责令返回、确定受委托监护人、训诫", "依法处置并通报乡镇",
                 "综合评估定级", "关心式帮扶计划", "结案审核"):
        assert name in text, name
    assert TRIAGE_NOTES.rstrip("。") in text
    assert "经会同评估，定级如上" in text
    # attachments listed by name, size and who added them, never their content
    assert FILE_NAME.removesuffix(".pdf") in text and "2.0KB" in text
    assert "xxxxxxxx" not in text
    # a print is audited, once per case of the file, with the format
    rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "print")).all()
    assert [(r.user_id, r.case_id, r.detail["format"]) for r in rows] == [
        (coordinator.id, case.id, "pdf")]  # type: ignore[union-attr]


def test_a_unit_without_the_narrative_gets_it_withheld_in_the_pdf_too(page: Any, as_user: Any) -> None:
    case = _walk(as_user, page)
    education = unit_user("education", "t01v01")
    pages = _pdf_pages(page(education).get(f"/children/{case.child_id}/record.pdf"))
    text = _flat("".join(pages))
    assert "受理研判并出警" in text and "评估协查：就学和身心情况" in text  # every step is listed ...
    assert NARRATIVE.rstrip("。") not in text  # ... but not the report's narrative
    assert TRIAGE_NOTES.rstrip("。") not in text  # nor the police's notes
    assert FILE_NAME.removesuffix(".pdf") not in text  # nor the name of the police's file
    assert "不予显示" in text and "已隐藏" in text
    assert "城关镇中心小学" in text  # its own step's text it reads
    html = page(education).get(f"/children/{case.child_id}/record").get_data(as_text=True)
    assert NARRATIVE not in html and TRIAGE_NOTES not in html and FILE_NAME not in html


@pytest.mark.parametrize("username", ["police_t02", "reporter_school", "designer", "city_supervisor"])
def test_only_users_with_a_basis_print_a_record(page: Any, as_user: Any, username: str) -> None:
    resp = as_user("reporter_school").post("/api/v1/reports", json=report_payload("living_alone", "t01v01"))
    child_id = db.session.get(Case, resp.get_json()["case_id"]).child_id  # type: ignore[union-attr]
    for path in (f"/children/{child_id}/record", f"/children/{child_id}/record.pdf"):
        assert page(username).get(path).status_code == 403, (username, path)
    assert page("coordinator").get("/children/999999/record.pdf").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "print")) == 0


def test_the_printable_page_is_audited_and_linked_from_the_case(page: Any, as_user: Any) -> None:
    resp = as_user("reporter_school").post("/api/v1/reports", json=report_payload("living_alone", "t01v01"))
    case_id = resp.get_json()["case_id"]
    child_id = db.session.get(Case, case_id).child_id  # type: ignore[union-attr]
    director = page("director_t01v01")
    assert f"/children/{child_id}/record" in director.get(f"/cases/{case_id}").get_data(as_text=True)
    html = director.get(f"/children/{child_id}/record").get_data(as_text=True)
    assert "record-mark" in html and "受理研判并出警" in html and NARRATIVE in html
    [row] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "print")).all()
    assert row.case_id == case_id and row.detail["format"] == "page"


def test_the_api_gives_the_same_pdf_to_a_bearer_token_and_audits_it(page: Any, as_user: Any) -> None:
    case = _walk(as_user, page)
    resp = as_user(unit_user("education", "t01v01")).get(f"/api/v1/children/{case.child_id}/record.pdf")
    text = _flat("".join(_pdf_pages(resp)))
    assert "受理研判并出警" in text and NARRATIVE.rstrip("。") not in text
    assert as_user("police_t02").get(f"/api/v1/children/{case.child_id}/record.pdf").status_code == 403
    assert as_user("coordinator").get("/api/v1/children/999999/record.pdf").status_code == 404
    rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "print")).all()
    assert [(r.case_id, r.detail["format"]) for r in rows] == [(case.id, "pdf")]


def test_entrusted_care_is_printed_only_for_readers_of_the_care_duties(page: Any, as_user: Any) -> None:
    """The caregiver a child was entrusted to belongs to the care duties part of the read matrix: a unit
    that reads only assessment and help (education) gets the record without it; the county gets it."""
    case = _walk(as_user, page)
    assert as_user("coordinator").post("/api/v1/duties/entrustments", json={
        "child_id": case.child_id, "caregiver_name": "邻居钱某某", "relation": "neighbour", "is_relative": False,
        "agreement_signed_on": "2026-03-01", "filed_with_township": True, "filed_with_village": True,
    }).status_code == 201
    path = f"/children/{case.child_id}/record"
    assert "邻居钱某某" in page("coordinator").get(path).get_data(as_text=True)
    education = page(unit_user("education", "t01v01"))
    html = education.get(path).get_data(as_text=True)
    assert "城关镇中心小学" in html  # the record itself is there ...
    assert "邻居钱某某" not in html  # ... without the care duties' caregiver
    assert "邻居钱某某" not in _flat("".join(_pdf_pages(education.get(path + ".pdf"))))
