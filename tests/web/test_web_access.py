"""Role × endpoint: who gets what from every page and API endpoint (need to know, 403 on guessing).

One case in 东城镇柳树村 (t01v01) whose first task sits with 东城镇派出所 (police_t01). Every row is
(user, method, url, expected status); ``None`` as user is an anonymous browser / no token.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from webhelpers import first_open_task, open_case

from app.extensions import db
from app.notifications.models import Notification

POLICE, OTHER_POLICE, HEAD = "police_t01", "police_t02", "police_t01_head"
CONVENER, INVITED = "rescue_center_c01", "education_c01"
"""The world's conference on the case: convened by the county rescue centre, the education bureau invited."""
ANON = None
CONFERENCE_CHANGES = ("/cases/{case}/conferences/new", "/conferences/{conference}/minutes",
                      "/conferences/{conference}/actions", "/conferences/{conference}/cancel")

PAGES: list[tuple[str | None, str, str, int]] = [
    # inbox, notifications, intake: any signed-in user; anonymous goes to the login page
    *[(u, "GET", url, 200) for u in (POLICE, "coordinator", "reporter_school", "designer")
      for url in ("/inbox", "/inbox?scope=mine", "/notifications", "/notifications/count", "/reports/new")],
    *[(ANON, "GET", url, 302) for url in ("/inbox", "/notifications", "/notifications/count", "/reports/new",
                                          "/tasks/{task}", "/cases/{case}", "/audit", "/admin/users",
                                          "/attachments/{attachment}")],
    (ANON, "GET", "/login", 200),
    # the task page: its unit's members and county coordinators
    (POLICE, "GET", "/tasks/{task}", 200), (HEAD, "GET", "/tasks/{task}", 200),
    ("coordinator", "GET", "/tasks/{task}", 200),
    *[(u, "GET", "/tasks/{task}", 403) for u in (OTHER_POLICE, "township_t01", "director_t01v01", "admin",
                                                  "reporter_school", "court_c01")],
    ("police_t01", "GET", "/tasks/999999", 404),
    # a task's draft: only its workers (the task's unit's members); a coordinator reads the task, not drafts
    (POLICE, "GET", "/tasks/{task}/draft", 200), (HEAD, "GET", "/tasks/{task}/draft", 200),
    *[(u, "GET", "/tasks/{task}/draft", 403) for u in ("coordinator", OTHER_POLICE, "township_t01", "reporter_school")],
    (ANON, "GET", "/tasks/{task}/draft", 302),
    # the phone's outbox page and its session probe: any signed-in user (the queue lives on the device)
    *[(u, "GET", path, 200) for u in (POLICE, "coordinator", "reporter_school") for path in ("/outbox", "/outbox/session")],
    (ANON, "GET", "/outbox", 302), (ANON, "GET", "/outbox/session", 302),
    # the case workspace: need to know
    *[(u, "GET", "/cases/{case}", 200) for u in (POLICE, HEAD, "coordinator", "admin", "director_t01v01",
                                                  "supervisor_t01", "reporter_school")],
    *[(u, "GET", "/cases/{case}", 403) for u in (OTHER_POLICE, "township_t01", "court_c01", "director_t01v02",
                                                  "supervisor_t03", "designer", "village_committee_t02v01")],
    (POLICE, "GET", "/cases/{case}/instances/{instance}/diagram.bpmn", 200),
    (OTHER_POLICE, "GET", "/cases/{case}/instances/{instance}/diagram.bpmn", 403),
    ("reporter_school", "GET", "/cases/{case}/instances/{instance}/diagram.bpmn", 404),
    # attachments: like the case, but never for the reporter
    (POLICE, "GET", "/attachments/{attachment}", 200), ("coordinator", "GET", "/attachments/{attachment}", 200),
    (OTHER_POLICE, "GET", "/attachments/{attachment}", 403), ("reporter_school", "GET", "/attachments/{attachment}", 403),
    # audit log: admins and coordinators; user admin: admins
    ("admin", "GET", "/audit", 200), ("coordinator", "GET", "/audit", 200),
    *[(u, "GET", "/audit", 403) for u in (POLICE, HEAD, "director_t01v01", "designer")],
    *[("admin", "GET", url, 200) for url in ("/admin/users", "/admin/users/new", "/admin/users/{user}")],
    *[(u, "GET", url, 403) for u in ("coordinator", POLICE, "designer")
      for url in ("/admin/users", "/admin/users/new", "/admin/users/{user}")],
    # duty cycles: directors, supervisors and coordinators of an area
    *[(u, "GET", "/duties/cycles", 200) for u in ("coordinator", "director_t01v01", "supervisor_t01")],
    *[(u, "GET", "/duties/cycles", 403) for u in (POLICE, "reporter_school", "designer")],
    (ANON, "GET", "/duties/cycles", 302),
    ("admin", "GET", "/admin/service-accounts", 200),
    *[(u, "GET", "/admin/service-accounts", 403) for u in ("coordinator", POLICE, "designer")],
    # notifications are personal
    (POLICE, "GET", "/notifications/{note}", 302), (OTHER_POLICE, "GET", "/notifications/{note}", 404),
    # changes (with a valid CSRF token): the task's unit only
    (POLICE, "POST", "/tasks/{task}/claim", 302), (HEAD, "POST", "/tasks/{task}/claim", 302),
    *[(u, "POST", "/tasks/{task}/claim", 403) for u in (OTHER_POLICE, "coordinator", "township_t01", "admin")],
    (ANON, "POST", "/tasks/{task}/claim", 302),
    (POLICE, "POST", "/tasks/{task}/unclaim", 302), (OTHER_POLICE, "POST", "/tasks/{task}/unclaim", 403),
    (POLICE, "POST", "/tasks/{task}/complete", 422), (OTHER_POLICE, "POST", "/tasks/{task}/complete", 403),
    ("coordinator", "POST", "/tasks/{task}/complete", 403),
    (POLICE, "POST", "/tasks/{task}/comments", 302), (OTHER_POLICE, "POST", "/tasks/{task}/comments", 403),
    ("coordinator", "POST", "/tasks/{task}/comments", 403),
    (POLICE, "POST", "/tasks/{task}/attachments", 302), (OTHER_POLICE, "POST", "/tasks/{task}/attachments", 403),
    # absences: a worker's own (a head: their members'); roles without tasks have none
    (POLICE, "GET", "/absence", 200), (HEAD, "GET", "/absence", 200), ("coordinator", "GET", "/absence", 403),
    (ANON, "GET", "/absence", 302), (POLICE, "POST", "/absence", 422), ("coordinator", "POST", "/absence", 403),
    (POLICE, "POST", "/absence/end", 302), ("admin", "POST", "/absence/end", 403),
    (HEAD, "POST", "/inbox/claim", 302), (POLICE, "POST", "/inbox/claim", 403),
    ("police_t02_head", "POST", "/inbox/claim", 403),
    (HEAD, "POST", "/inbox/reassign", 302), (POLICE, "POST", "/inbox/reassign", 403),
    ("police_t02_head", "POST", "/inbox/reassign", 403),
    ("admin", "POST", "/admin/users/{user}/password", 302), ("coordinator", "POST", "/admin/users/{user}/password", 403),
    ("admin", "POST", "/admin/users/{user}", 302), (POLICE, "POST", "/admin/users/{user}", 403),
    # case conferences: lists for liaisons, heads and coordinators; a conference on need to know
    *[(u, "GET", url, 200) for u in (CONVENER, INVITED, "coordinator", POLICE, HEAD)
      for url in ("/conferences", "/conferences?status=held", "/conferences/team")],
    *[(u, "GET", url, 403) for u in ("reporter_school", "admin", "designer") for url in ("/conferences", "/conferences/team")],
    (INVITED, "GET", "/conferences/team?unit_id={rescue}", 403), ("coordinator", "GET", "/conferences/team?unit_id={rescue}", 200),
    *[(ANON, "GET", url, 302) for url in ("/conferences", "/conferences/team", "/conferences/{conference}")],
    *[(ANON, "POST", url, 302) for url in CONFERENCE_CHANGES],
    *[(u, "GET", "/conferences/{conference}", 200) for u in (CONVENER, INVITED, "coordinator", POLICE, HEAD, "admin",
                                                             "director_t01v01")],
    *[(u, "GET", "/conferences/{conference}", 403) for u in (OTHER_POLICE, "justice_c01", "township_t01",
                                                             "reporter_school", "designer")],
    ("coordinator", "GET", "/conferences/999999", 404),
    # scheduling: the convening units (rescue centre, civil affairs, township) and coordinators, on need to know
    *[(u, "GET", "/cases/{case}/conferences/new", 200) for u in (CONVENER, "coordinator")],
    *[(u, "GET", "/cases/{case}/conferences/new", 403) for u in (INVITED, POLICE, OTHER_POLICE, "township_t01",
                                                                 "reporter_school")],
    ("coordinator", "GET", "/cases/999999/conferences/new", 404),
    ("coordinator", "POST", "/cases/{case}/conferences/new", 302),
    *[(u, "POST", "/cases/{case}/conferences/new", 403) for u in (INVITED, OTHER_POLICE, "reporter_school")],
    # running it: the convening unit and coordinators; invited units read only
    *[(u, "POST", url, 403) for u in (INVITED, OTHER_POLICE, "justice_c01") for url in CONFERENCE_CHANGES[1:]],
    (CONVENER, "POST", "/conferences/{conference}/minutes", 302), (CONVENER, "POST", "/conferences/{conference}/actions", 302),
    (CONVENER, "POST", "/conferences/{conference}/cancel", 409),  # already held
    ("coordinator", "POST", "/conferences/{conference}/actions", 409),  # not held yet
    ("coordinator", "POST", "/conferences/{conference}/cancel", 302),
    # finding a child: any signed-in user, results cut by need to know (tests/cases/test_child_search.py)
    *[(u, "GET", "/search?q=李", 200) for u in (POLICE, "coordinator", "reporter_school", "designer")],
    (ANON, "GET", "/search", 302),
    # a reporter's own reports: any signed-in user sees what they filed
    *[(u, "GET", "/reports/mine", 200) for u in ("reporter_school", POLICE, "coordinator")],
    (ANON, "GET", "/reports/mine", 302),
    # merging children's files: county coordinators and admins
    *[(u, "GET", "/children/merges", 200) for u in ("coordinator", "admin")],
    *[(u, "GET", "/children/merges", 403) for u in (POLICE, HEAD, "director_t01v01", "reporter_school", "designer")],
    (ANON, "GET", "/children/merges", 302),
    *[(u, "POST", "/children/merges/999999/undo", 403) for u in (POLICE, "reporter_school", "designer")],
    ("coordinator", "POST", "/children/merges/999999/undo", 404),
    # the court-ready record of a child's file: a basis on one of the child's cases beyond a reporter's
    *[(u, "GET", url, 200) for u in (POLICE, "coordinator", "director_t01v01")
      for url in ("/children/{child}/record", "/children/{child}/record.pdf")],
    *[(u, "GET", "/children/{child}/record", 403) for u in (OTHER_POLICE, "township_t01", "court_c01",
                                                             "reporter_school", "designer")],
    (OTHER_POLICE, "GET", "/children/{child}/record.pdf", 403), ("reporter_school", "GET", "/children/{child}/record.pdf", 403),
    ("coordinator", "GET", "/children/999999/record", 404),
    *[(ANON, "GET", url, 302) for url in ("/children/{child}/record", "/children/{child}/record.pdf")],
    # late reports: the county's coordinator; findings: the coordinator and the supervising units' liaisons
    ("coordinator", "GET", "/reports/late", 200),
    *[(u, "GET", "/reports/late", 403) for u in (POLICE, INVITED, "reporter_school", "admin")],
    *[(u, "GET", "/findings", 200) for u in ("coordinator", INVITED, "township_t01")],
    *[(u, "GET", "/findings", 403) for u in (POLICE, "reporter_school", "designer", "admin")],
    ("coordinator", "GET", "/findings/new?case_id={case}", 200),
    *[(u, "GET", "/findings/new?case_id={case}", 403) for u in (POLICE, INVITED, "reporter_school")],
    ("coordinator", "GET", "/findings/new?case_id=999999", 404), ("coordinator", "GET", "/findings/999999", 404),
    (INVITED, "POST", "/findings/999999/answer", 404),
    *[(ANON, "GET", url, 302) for url in ("/reports/late", "/findings", "/findings/new", "/findings/999999")],
]

API: list[tuple[str | None, str, str, int]] = [
    (POLICE, "GET", "/api/v1/me", 200), (ANON, "GET", "/api/v1/me", 401),
    ("coordinator", "GET", "/api/v1/reports/late", 200), (INVITED, "GET", "/api/v1/reports/late", 403),
    (ANON, "GET", "/api/v1/reports/late", 401),
    *[(u, "GET", "/api/v1/findings", 200) for u in ("coordinator", INVITED, POLICE)],  # POLICE: an empty list
    (ANON, "GET", "/api/v1/findings", 401), (POLICE, "POST", "/api/v1/findings", 403),
    ("coordinator", "GET", "/api/v1/findings/999999", 404),
    (POLICE, "GET", "/api/v1/tasks", 200), ("coordinator", "GET", "/api/v1/tasks", 200),
    ("designer", "GET", "/api/v1/tasks", 403), (ANON, "GET", "/api/v1/tasks", 401),
    (POLICE, "GET", "/api/v1/tasks/{task}", 200), ("coordinator", "GET", "/api/v1/tasks/{task}", 200),
    *[(u, "GET", "/api/v1/tasks/{task}", 403) for u in (OTHER_POLICE, "township_t01", "admin", "reporter_school")],
    (ANON, "GET", "/api/v1/tasks/{task}", 401),
    *[(u, "GET", "/api/v1/cases/{case}", 200) for u in (POLICE, "coordinator", "director_t01v01", "reporter_school")],
    *[(u, "GET", "/api/v1/cases/{case}", 403) for u in (OTHER_POLICE, "township_t01", "court_c01", "designer")],
    (ANON, "GET", "/api/v1/cases/{case}", 401),
    (POLICE, "POST", "/api/v1/tasks/{task}/claim", 200), (OTHER_POLICE, "POST", "/api/v1/tasks/{task}/claim", 403),
    (POLICE, "POST", "/api/v1/tasks/{task}/unclaim", 200), (OTHER_POLICE, "POST", "/api/v1/tasks/{task}/unclaim", 403),
    (POLICE, "POST", "/api/v1/tasks/{task}/complete", 422), (OTHER_POLICE, "POST", "/api/v1/tasks/{task}/complete", 403),
    (ANON, "POST", "/api/v1/tasks/{task}/complete", 401),
    ("hotline_12355", "POST", "/api/v1/reports", 201), (ANON, "POST", "/api/v1/reports", 401),
]


@pytest.fixture
def world(as_user: Any) -> dict[str, int]:
    from app.cases.models import Case
    from app.conferences.operations import schedule
    from app.org.queries import user_by_username
    from app.tasks.attachments import add_attachment

    case = open_case(as_user)
    task = first_open_task(case["case_id"])
    police = user_by_username(POLICE)
    assert police is not None
    attachment = add_attachment(task, police, "warning.pdf", io.BytesIO(b"%PDF-1.4 test"))
    note = db.session.scalars(db.select(Notification).where(Notification.user_id == police.id)).first()
    rescue = user_by_username(CONVENER).unit_id  # type: ignore[union-attr]
    conference = schedule(db.session.get(Case, case["case_id"]), user_by_username("coordinator"),  # type: ignore[arg-type]
                          title="李小明个案会商", scheduled_at=datetime(2026, 3, 12, 6, 0, tzinfo=UTC),
                          convening_unit_id=rescue, invited=[{"department_kind": "education"}])
    db.session.commit()
    return {"case": case["case_id"], "task": task.id, "instance": task.instance_id, "attachment": attachment.id,
            "note": note.id, "user": user_by_username("village_committee_t01v01").id,  # type: ignore[union-attr]
            "conference": conference.id, "rescue": rescue,
            "child": db.session.get(Case, case["case_id"]).child_id}  # type: ignore[union-attr]  # type: ignore[dict-item]


def _form_for(url: str, world: dict[str, int]) -> dict[str, Any]:
    decision = {"decisions-0-decision": "学校安排班主任结对帮扶", "decisions-0-department_kind": "education",
                "decisions-0-deadline": "5WD"}
    if url.endswith("/conferences/new"):
        return {"title": "个案会商", "scheduled_at": "2026-03-20T10:00", "mode": "in_person",
                "convening_unit_id": str(world["rescue"]), "invited": "education"}
    if url.endswith("/minutes"):
        return {"minutes": "各部门通报情况。", **decision}
    if url.endswith("/actions"):
        return decision
    if url.endswith("/cancel"):
        return {"reason": "家长已返乡"}
    if url.endswith("/comments"):
        return {"body": "已电话联系监护人。"}
    if url == "/inbox/claim":
        return {"task_ids": str(world["task"])}
    if url == "/inbox/reassign":
        from app.org.queries import user_by_username

        return {"task_ids": str(world["task"]), "to_user_id": str(user_by_username(POLICE).id)}  # type: ignore[union-attr]
    if url.endswith("/password"):
        return {"password": "a-new-password-1"}
    if url.startswith("/admin/users/"):
        return {"display_name": "东城镇柳树村村委会联络员", "roles": "liaison", "unit_id": "", "active": "1"}
    return {}


def _page_failures(client: Any, world: dict[str, int], user: str | None) -> list[str]:
    failures = []
    for _, method, url, expected in [row for row in PAGES if row[0] == user]:
        path = url.format(**world)
        form = _form_for(url, world)
        if path.startswith("/admin/users/") and method == "POST" and not path.endswith("/password"):
            from app.org.models import Unit

            unit = db.session.scalars(db.select(Unit).where(Unit.kind == "village_committee")).first()
            form |= {"unit_id": str(unit.id)}  # type: ignore[union-attr]
        resp = client.get(path) if method == "GET" else client.post(path, data=form)
        body = "" if resp.mimetype == "application/pdf" else resp.get_data(as_text=True)
        resp.close()
        if resp.status_code != expected:
            failures.append(f"{method} {url}: {resp.status_code} != {expected}")
        elif expected == 302 and user is None and "/login" not in resp.headers["Location"]:
            failures.append(f"{method} {url}: not sent to the login page")
        elif expected == 403 and "403" not in body:
            failures.append(f"{method} {url}: no 403 page")
    return failures


def _api_failures(app: Flask, as_user: Any, world: dict[str, int], user: str | None) -> list[str]:
    from helpers import report_payload

    failures = []
    for _, method, url, expected in [row for row in API if row[0] == user]:
        path = url.format(**world)
        body: Any = {"data": {}} if path.endswith("/complete") else None
        if path.endswith("/reports"):
            body = report_payload()
        if user is None:
            client = app.test_client()
            resp = client.get(path) if method == "GET" else client.post(path, json=body)
        else:
            api = as_user(user)
            resp = api.get(path) if method == "GET" else api.post(path, json=body)
        if resp.status_code != expected:
            failures.append(f"{method} {url}: {resp.status_code} != {expected}")
        elif expected >= 400 and not (resp.is_json and resp.get_json().get("message")):
            failures.append(f"{method} {url}: no JSON message")
    return failures


@pytest.mark.parametrize("user", list(dict.fromkeys(u for u, _, _, _ in PAGES + API)), ids=lambda u: u or "anon")
def test_access(app: Flask, page: Any, as_user: Any, world: dict[str, int], user: str | None) -> None:
    """Each user's rows of both tables, pages first then API, in order (one database per user)."""
    failures = _page_failures(page(user), world, user) + _api_failures(app, as_user, world, user)
    assert failures == []


def test_every_page_endpoint_is_in_the_table(app: Flask) -> None:
    mine = ("auth.", "admin.", "inbox.", "workspace.", "alerts.", "conferencing.", "absence.", "service_pages.")
    covered = {url.split("?")[0] for _, _, url, _ in PAGES}
    covered |= {"/logout", "/locale", "/inbox/views", "/inbox/views/{view_id}/delete", "/notifications/read",
                "/tasks/{task_id}/complete"}  # exercised in test_web_pages.py
    covered |= {"/admin/users/{user}/sessions/end",
                "/admin/users/{user}/tokens/{token_id}/revoke"}  # exercised in tests/org/test_tokens.py
    covered |= {"/admin/service-accounts/{account_id}/rotate",
                "/admin/service-accounts/{account_id}/revoke"}  # exercised in tests/org/test_service_accounts.py
    covered |= {"/children/merges/{merge_id}/undo"}  # rows above with an unknown id; the undo itself: tests/cases
    covered |= {"/findings/{finding_id}", "/findings/{finding_id}/answer"}  # unknown ids above; tests/cases too
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(mine):
            continue
        shape = rule.rule
        for arg in rule.arguments:
            shape = shape.replace(f"<int:{arg}>", f"{{{arg}}}")
        names = {"{task_id}": "{task}", "{case_id}": "{case}", "{instance_id}": "{instance}",
                 "{attachment_id}": "{attachment}", "{note_id}": "{note}", "{user_id}": "{user}",
                 "{conference_id}": "{conference}", "{child_id}": "{child}"}
        normal = shape
        for a, b in names.items():
            normal = normal.replace(a, b)
        if normal not in covered and shape not in covered:
            missing.append(rule.rule)
    assert missing == []


def test_csrf_is_required_on_pages_but_not_on_the_api(page: Any, world: dict[str, int], as_user: Any) -> None:
    resp = page(POLICE).post(f"/tasks/{world['task']}/claim", csrf=False)
    assert resp.status_code == 400
    assert as_user(POLICE).post(f"/api/v1/tasks/{world['task']}/claim").status_code == 200
