"""The ``fuzz`` dataset (tests/test_api_fuzz.py): the demo county with one of each thing the API names by
id, made through the API itself, so generated requests reach real objects (and their 200 bodies get
checked), not only 404s."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask.testing import FlaskClient
from flows.scenarios import SCENARIOS
from helpers import report_payload

from app.extensions import db

ROLES: dict[str, str | None] = {
    "anonymous": None,
    "reporter": "reporter_school",
    "liaison": "police_t01",
    "coordinator": "coordinator",
    "admin": "admin",
    "designer": "designer",
}
"""One demo login per role; ``anonymous`` sends no token (every operation must answer 401, never 5xx)."""

SCENARIO = SCENARIOS["living_alone_parents_reached_good_caring"]


def load_fuzz_county() -> dict[str, Any]:
    """``{"tokens": token per role, "known": the values path parameters may take}``."""
    tokens, known = _seed_county(current_app.test_client())
    return {"tokens": tokens, "known": known}


def _seed_county(client: FlaskClient) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """The demo county with one of each thing the API names by id, so generated requests reach real
    objects (and their 200 bodies get checked), not only 404s. Returns tokens per role and the values
    that path parameters may take."""
    from app.cli import deploy_shipped
    from app.org.demo import load_demo
    from app.org.operations import issue_token
    from app.org.queries import user_by_username

    load_demo()
    deploy_shipped("fuzz")
    db.session.commit()
    tokens = {}
    for username in {*filter(None, ROLES.values()), "director_t01v01"}:
        user = user_by_username(username)
        assert user is not None, username
        tokens[username] = issue_token(user)
    db.session.commit()

    def post(username: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = client.post(path, json=body, headers={"Authorization": f"Bearer {tokens[username]}"})
        assert resp.status_code in (200, 201), (path, resp.get_json())
        return dict(resp.get_json())

    case_id = post("reporter_school", "/api/v1/reports", report_payload())["case_id"]
    rescue = user_by_username("rescue_center_c01")
    conference = post("coordinator", "/api/v1/conferences", {
        "case_id": case_id, "title": "个案会商", "scheduled_at": "2026-03-12T02:00:00+00:00", "mode": "in_person",
        "place": "会议室", "convening_unit_id": rescue.unit_id if rescue else None,
        "invited": [{"department_kind": "education"}, {"department_kind": "police"}]})
    enrolment = post("director_t01v01", "/api/v1/duties/enrolments", {
        "child": {"name": "新发现", "sex": "male", "village": "t01v01", "birth_date": "2016-01-01"},
        "tags": ["left_behind"], "start_reason": "new_child_found", "started_on": "2026-03-10"})
    draft = post("designer", "/api/v1/processes/drafts", {"process_key": "four_in_one"})
    run = post("designer", f"/api/v1/processes/drafts/{draft['id']}/test-runs", {"data": SCENARIO.start})
    from app.tasks.models import Task

    task_ids = sorted(db.session.scalars(sa.select(Task.id)).all())[:5]
    known: dict[str, list[Any]] = {
        "case_id": [case_id], "task_id": task_ids + [t["id"] for t in run.get("ready", [])],
        "conference_id": [conference["id"]], "enrolment_id": [enrolment["id"]],
        "child_id": [enrolment["child_id"]], "draft_id": [draft["id"]], "run_id": [run["id"]],
        "process_key": ["four_in_one"], "version": [1], "username": ["police_t01", "designer"],
        "name": sorted(draft.get("files", {}))[:2] or ["four_in_one.bpmn"],
        "element_id": ["police_triage"], "panel": ["overdue", "ageing", "trend"], "fmt": ["csv", "xlsx"],
        "migration_id": [1],
    }
    return {role: tokens[u] for role, u in ROLES.items() if u is not None}, known
