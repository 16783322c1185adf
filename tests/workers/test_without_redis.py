"""Degrading, not failing (issue 11, part 4): with Redis configured but down or hung, every page and the
API answer (fast; the hung case is tests/workers/test_surviving_scheduler.py), commands work, and the job registry says 503 instead of failing with a 500."""

from __future__ import annotations

import time
from typing import Any

from deadline_helpers import free_port, open_case, tasks_of
from flows.scenarios import SCENARIOS
from helpers import report_payload
from webhelpers import PageClient

from app.extensions import db
from app.org.operations import create_user
from app.org.queries import region_by_code
from app.org.roles import Role

FIRST = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0]
PAGES = (("police_t01", "/inbox"), ("police_t01", "/notifications"), ("admin", "/cases/{case}"),
         ("admin", "/audit"), ("admin", "/admin/users"), ("coordinator", "/dashboard/"),
         ("designer", "/designer/"), ("police_t01", "/tasks/{task}"), ("reporter_school", "/reports/new"),
         ("police_t01", "/conferences"), (None, "/login"))


def test_every_page_and_command_works_with_redis_down(app: Any, county: Any, api: Any, monkeypatch: Any) -> None:
    case = open_case("four_in_one", "t01v01")
    [task] = tasks_of(case.id)
    monkeypatch.setattr(app.config["LIANDONG"], "redis_url", f"redis://127.0.0.1:{free_port()}/0")
    slow = []
    for username, path in PAGES:
        url = path.format(case=case.id, task=task.id)
        started = time.monotonic()
        resp = PageClient(app, username).get(url)
        took = time.monotonic() - started
        assert resp.status_code == 200, (username, url, resp.status_code)
        if took > 3.0:
            slow.append((url, round(took, 2)))
    assert slow == []

    liaison = api("police_t01")
    assert liaison.post(f"/api/v1/tasks/{task.id}/claim").status_code == 200
    resp = liaison.post(f"/api/v1/tasks/{task.id}/complete", json={"data": FIRST.data})
    assert resp.status_code == 200, resp.get_json()
    resp = api("hotline_12355").post("/api/v1/reports", json=report_payload("living_alone", "t01v02"))
    assert resp.status_code == 201, resp.get_json()

    province = region_by_code("p01")
    assert province is not None
    create_user("admin_p01", "省系统管理员", None, {Role.ADMIN}, None, province)  # failed jobs: over every county
    db.session.commit()
    jobs = api("admin_p01").get("/api/v1/jobs/failed")
    assert jobs.status_code == 503 and "Redis is unavailable" in jobs.get_json()["message"]
