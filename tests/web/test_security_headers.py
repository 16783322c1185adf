"""Browser hardening, header by header: every route answers with the strict Content-Security-Policy,
``nosniff`` and friends; everything but static assets is ``no-store``; designer content (BPMN, DMN) is only
ever a download; and no rendered page carries inline script (docs/security.md, "Browser hardening")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from pagecheck import inline_script_problems
from webhelpers import first_open_task, open_case

from app.common.headers import CONTENT_SECURITY_POLICY
from app.common.offline import OFFLINE_HEADER
from app.extensions import db
from app.processes.models import ProcessInstance

REQUIRED_DIRECTIVES = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "object-src": "'none'",
    "base-uri": "'none'", "frame-ancestors": "'none'", "form-action": "'self'",
}


def _directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()}


def _path(rule: Any, values: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "", match.group(2)
        if name in values:
            return str(values[name])
        return "1" if converter.startswith("int") else "x"

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", fill, rule.rule)


def test_policy_is_strict_and_has_no_unsafe_source() -> None:
    directives = _directives(CONTENT_SECURITY_POLICY)
    for name, value in REQUIRED_DIRECTIVES.items():
        assert directives[name] == value, name
    assert "unsafe" not in CONTENT_SECURITY_POLICY and "*" not in CONTENT_SECURITY_POLICY


OFFLINE_PAGES = {"inbox.index", "inbox.task_page", "inbox.outbox"}
"""The only pages a phone may keep offline (docs/web.md, "Installable app, offline use"); all else no-store."""


def test_every_route_answers_with_the_policy_nosniff_and_no_store(app: Flask, page: Any, as_user: Any) -> None:
    """Enumerate the url_map: every method of every rule, signed in and anonymous, whatever the status."""
    case = open_case(as_user)
    task = first_open_task(case["case_id"])
    instance = db.session.query(ProcessInstance).filter_by(case_id=case["case_id"]).first()
    values = {"case_id": case["case_id"], "task_id": task.id, "instance_id": instance.id,
              "filename": "css/app.css", "panel": "overdue", "fmt": "csv", "process_key": "four_in_one",
              "version": 1}
    coordinator, anonymous = page("coordinator"), page(None)
    token = as_user("coordinator").headers
    seen: dict[int, int] = {}
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 100
    for rule in rules:
        path = _path(rule, values)
        if rule.endpoint == "designer.static":
            path = "/designer/static/designer.js"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for who, headers in (("coordinator", token if path.startswith("/api/") else {}), ("anonymous", {})):
                client = coordinator.client if who == "coordinator" else anonymous.client
                resp = client.open(path, method=method, headers=headers)
                seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
                where = f"{method} {path} as {who} -> {resp.status_code}"
                assert resp.status_code < 500, where
                assert resp.headers.get("Content-Security-Policy"), where
                assert resp.headers["X-Content-Type-Options"] == "nosniff", where
                assert resp.headers["Referrer-Policy"] == "same-origin", where
                assert resp.headers["X-Frame-Options"] == "DENY", where
                assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], where
                if rule.endpoint.endswith("static"):
                    assert "no-store" not in resp.headers.get("Cache-Control", ""), where
                elif OFFLINE_HEADER in resp.headers:  # the pages a phone may keep (app/common/offline.py)
                    assert rule.endpoint in OFFLINE_PAGES and resp.status_code == 200, where
                    assert resp.headers["Cache-Control"] == "private, no-cache", where
                else:
                    assert "no-store" in resp.headers.get("Cache-Control", ""), where
                resp.close()
    assert seen.get(200, 0) > 30, seen  # the walk really reached pages, not only refusals


@pytest.mark.parametrize("path", ["/inbox", "/api/v1/tasks", "/dashboard/export/overdue.csv",
                                  "/dashboard/export/overdue.xlsx", "/api/v1/dashboard"])
def test_child_data_responses_are_never_stored(page: Any, as_user: Any, path: str) -> None:
    open_case(as_user)
    resp = page("coordinator").get(path) if not path.startswith("/api/") else as_user("coordinator").get(path)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store" or "no-store" in resp.headers["Cache-Control"]
    assert "Expires" not in resp.headers


def _check_download(resp: Any, name: str) -> str:
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert name in resp.headers["Content-Disposition"]
    assert resp.mimetype == "application/octet-stream"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert _directives(resp.headers["Content-Security-Policy"]) == {
        "default-src": "'none'", "sandbox": "", "frame-ancestors": "'none'"}
    assert "no-store" in resp.headers["Cache-Control"]
    return str(resp.get_data(as_text=True))


def test_bpmn_and_dmn_are_only_ever_downloads(page: Any, as_user: Any) -> None:
    """The case viewer's diagram, the designer's draft files (page and API) and deployed versions' files."""
    case = open_case(as_user)
    instance = db.session.query(ProcessInstance).filter_by(case_id=case["case_id"]).first()
    xml = _check_download(page("police_t01").get(f"/cases/{case['case_id']}/instances/{instance.id}/diagram.bpmn"),
                          ".bpmn")
    assert xml.startswith("<?xml") and 'id="four_in_one"' in xml
    designer = page("designer")
    resp = designer.post("/designer/processes/duty_assessment/edit")
    draft = re.search(r"/designer/drafts/(\d+)$", resp.headers["Location"]).group(1)  # type: ignore[union-attr]
    for name in ("duty_assessment.bpmn", "help_tier.dmn"):
        _check_download(designer.get(f"/designer/drafts/{draft}/files/{name}"), name)
        _check_download(as_user("designer").get(f"/api/v1/processes/drafts/{draft}/files/{name}"), name)
        _check_download(as_user("designer").get(f"/api/v1/processes/duty_assessment/versions/1/files/{name}"), name)


def test_download_names_outside_ascii_use_rfc_5987(app: Flask) -> None:
    from app.common.downloads import file_download

    with app.test_request_context("/"):
        resp = file_download("<x/>", "流程/四位一体.bpmn")
    disposition = resp.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in disposition and "%E5%9B%9B" in disposition and "/" not in disposition.split("''")[1]


def test_rendered_pages_carry_no_inline_script_handlers_or_styles(page: Any, as_user: Any) -> None:
    """The main pages of every role, parsed: only <script src> (and JSON data blocks), no on*= handlers,
    no hx-on, no javascript: URLs, no <style> elements or style= attributes."""
    case = open_case(as_user)
    task = first_open_task(case["case_id"])
    designer = page("designer")
    draft = re.search(r"/designer/drafts/(\d+)$",  # type: ignore[union-attr]
                      designer.post("/designer/processes/four_in_one/edit").headers["Location"]).group(1)
    pages = {
        None: ["/login", "/"],
        "police_t01": ["/inbox", "/inbox?scope=mine", f"/tasks/{task.id}", f"/cases/{case['case_id']}",
                       "/notifications", "/reports/new", "/conferences", "/conferences/team"],
        "coordinator": ["/dashboard/", "/dashboard/tasks?kind=police", "/audit", "/duties/cycles",
                        f"/cases/{case['case_id']}/conferences/new"],
        "admin": ["/admin/users", "/admin/users/new"],
        "designer": ["/designer/", f"/designer/drafts/{draft}", f"/designer/drafts/{draft}/test",
                     f"/designer/drafts/{draft}/forms/four_in_one/police_triage.json",
                     "/designer/processes/four_in_one"],
    }
    checked = 0
    for user, paths in pages.items():
        client = page(user)
        for path in paths:
            resp = client.get(path)
            assert resp.status_code == 200 and resp.mimetype == "text/html", (user, path, resp.status_code)
            assert inline_script_problems(resp.get_data(as_text=True)) == [], (user, path)
            checked += 1
    assert checked >= 20


def test_attachments_are_sandboxed_downloads(page: Any, as_user: Any) -> None:
    import io

    task = first_open_task(open_case(as_user)["case_id"])
    police = page("police_t01")
    resp = police.post(f"/tasks/{task.id}/attachments", {"file": (io.BytesIO(b"%PDF-1.4 x"), "a.pdf")},
                       content_type="multipart/form-data")
    link = re.search(r'href="(/attachments/\d+)">a.pdf<', police.get(resp.headers["Location"]).get_data(as_text=True))
    assert link
    resp = police.get(link.group(1))
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    assert _directives(resp.headers["Content-Security-Policy"])["sandbox"] == ""
    assert "no-store" in resp.headers["Cache-Control"] and resp.headers["X-Content-Type-Options"] == "nosniff"
    resp.close()


def test_signing_out_clears_the_browsers_cache_and_storage(page: Any) -> None:
    police = page("police_t01")
    resp = police.post("/logout")
    assert resp.status_code == 302
    assert resp.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert "Clear-Site-Data" not in police.get("/login").headers
