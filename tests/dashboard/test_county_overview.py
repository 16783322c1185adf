"""Two counties in one deployment: each coordinator sees only their county; a city or province supervisor sees
each county's on-time rate and overdue counts, and no child (issue 13)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flows.scenarios import SCENARIOS
from helpers import open_tasks, submit_report

FIRST = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0]
A_CHILD, B_CHILD = "李小明", "赵小北"
A_ID, B_ID = "37000020150601001", "370000201402020022"
"""County A's three children get ID numbers A_ID + 0, 1, 2."""


def _scene(as_user: Any, clock: Any) -> dict[str, Any]:
    """County A (c01): three police triage tasks, one done on time, two left open. County B (c02): one, open.
    Two days later every open one is overdue."""
    reporter = as_user("reporter_school")
    a = [submit_report(reporter, village=v, name=A_CHILD, id_number=A_ID[:-1] + str(n))
         for n, v in enumerate(("t01v01", "t01v02", "t02v01"))]
    b = submit_report(reporter, village="t21v01", name=B_CHILD, id_number=B_ID)
    [task] = open_tasks(as_user("police_t01"))[:1]
    done = as_user("police_t01").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": FIRST.data})
    assert done.status_code == 200, done.get_json()
    clock.advance(days=2)
    return {"a": [c["case_id"] for c in a], "a_numbers": [c["case_number"] for c in a], "b": b["case_id"],
            "b_number": b["case_number"], "a_task": task["id"]}


def _rows(resp: Any) -> dict[str, dict[str, Any]]:
    assert resp.status_code == 200, resp.get_json()
    return {row["county_code"]: row for row in resp.get_json()["rows"]}


def test_supervisors_see_counts_per_county_and_no_child(as_user: Any, page: Any, clock: Any) -> None:
    scene = _scene(as_user, clock)
    for supervisor in ("city_supervisor", "province_supervisor"):
        resp = as_user(supervisor).get("/api/v1/dashboard/counties")
        rows = _rows(resp)
        assert set(rows) == {"c01", "c02"}
        a, b = rows["c01"], rows["c02"]
        # A: the done triage opened its next police step, so three open, the two untouched ones overdue.
        assert (a["county"], a["completed"], a["on_time"], a["rate"]) == ("示范县", 1, 1, 100.0)
        assert a["overdue"] >= 2 and a["open"] >= a["overdue"]
        assert (b["county"], b["open"], b["overdue"], b["completed"], b["rate"]) == ("邻县", 1, 1, 0, None)
        text = resp.get_data(as_text=True)
        for private in (A_CHILD, B_CHILD, A_ID, B_ID, scene["b_number"], *scene["a_numbers"]):
            assert private not in text
        # No basis on any case: not the file, not a task, not the coordinator's panels or drill-down.
        api = as_user(supervisor)
        assert api.get(f"/api/v1/cases/{scene['a'][0]}").status_code == 403
        assert api.get(f"/api/v1/cases/{scene['b']}").status_code == 403
        assert api.get(f"/api/v1/tasks/{scene['a_task']}").status_code == 403
        assert api.get("/api/v1/tasks").status_code == 403  # no task list: the role works and oversees none
        for path in ("/api/v1/dashboard", "/api/v1/dashboard/tasks", "/api/v1/dashboard/overdue",
                     "/api/v1/dashboard/export/tasks.csv"):
            assert api.get(path).status_code == 403, path
        html = page(supervisor).get("/dashboard/counties")
        assert html.status_code == 200
        body = html.get_data(as_text=True)
        assert "示范县" in body and "邻县" in body and A_CHILD not in body and scene["b_number"] not in body
        assert page(supervisor).get(f"/cases/{scene['b']}").status_code == 403
        assert page(supervisor).get("/dashboard/").status_code == 403
        exported = page(supervisor).get("/dashboard/export/counties.csv")
        assert exported.status_code == 200
        table = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
        assert [row[0] for row in table[1:]] == ["示范县", "邻县"]


def test_each_coordinator_sees_only_their_county(as_user: Any, page: Any, clock: Any) -> None:
    scene = _scene(as_user, clock)
    first, second = as_user("coordinator"), as_user("coordinator_c02")
    assert set(_rows(first.get("/api/v1/dashboard/counties"))) == {"c01"}
    assert set(_rows(second.get("/api/v1/dashboard/counties"))) == {"c02"}
    # Files: the other county's answer 403, as any case without a basis.
    assert second.get(f"/api/v1/cases/{scene['a'][0]}").status_code == 403
    assert first.get(f"/api/v1/cases/{scene['b']}").status_code == 403
    assert second.get(f"/api/v1/cases/{scene['b']}").status_code == 200
    assert second.get(f"/api/v1/tasks/{scene['a_task']}").status_code == 403
    assert page("coordinator_c02").get(f"/cases/{scene['a'][0]}").status_code == 403
    # Task lists, dashboards, drill-down and exports count and list only their own county's.
    assert {t["case_id"] for t in open_tasks(second)} == {scene["b"]}
    assert scene["b"] not in {t["case_id"] for t in open_tasks(first)}
    overdue = second.get("/api/v1/dashboard/overdue").get_json()
    assert overdue["rows"][-1]["total"] == 1
    labels = {c["label"] for c in overdue["columns"]}
    assert "北岭镇" in labels and "东城镇" not in labels
    drill = second.get("/api/v1/dashboard/tasks").get_json()
    assert drill["total"] == 1 and [r["case_number"] for r in drill["rows"]] == [scene["b_number"]]
    exported = second.get("/api/v1/dashboard/export/tasks.csv").get_data(as_text=True)
    assert scene["b_number"] in exported and not any(n in exported for n in scene["a_numbers"])
    inbox = page("coordinator_c02").get("/inbox").get_data(as_text=True)
    assert scene["b_number"] in inbox and not any(n in inbox for n in scene["a_numbers"])
    assert "东城镇" not in inbox  # the township filter offers the county's own townships
    # Audit: county A's case views and A's users' own actions are not in B's log.
    assert first.get(f"/api/v1/cases/{scene['a'][0]}").status_code == 200
    log_a = page("coordinator").get("/audit").get_data(as_text=True)  # the search itself is audited, no case
    assert scene["a_numbers"][0] in log_a
    log = page("coordinator_c02").get("/audit").get_data(as_text=True)
    assert scene["a_numbers"][0] not in log and ">coordinator<" not in log and ">coordinator_c02<" in log


def test_a_city_or_province_is_no_jurisdiction_over_a_child(as_user: Any, clock: Any) -> None:
    """A coordinator or admin placed at the city by mistake gets the supervisors' view, not every county's files."""
    from app.extensions import db
    from app.org.demo import DEMO_PASSWORD
    from app.org.operations import create_user
    from app.org.queries import region_by_code
    from app.org.roles import Role

    scene = _scene(as_user, clock)
    city = region_by_code("m01")
    create_user("coordinator_m01", "市协调员", DEMO_PASSWORD, {Role.COUNTY_COORDINATOR}, None, city)
    create_user("admin_p01", "省管理员", DEMO_PASSWORD, {Role.ADMIN}, None, region_by_code("p01"))
    db.session.commit()
    for username in ("coordinator_m01", "admin_p01"):
        api = as_user(username)
        assert api.get(f"/api/v1/cases/{scene['a'][0]}").status_code == 403
        assert api.get(f"/api/v1/cases/{scene['b']}").status_code == 403
        assert api.get(f"/api/v1/tasks/{scene['a_task']}").status_code == 403
        assert set(_rows(api.get("/api/v1/dashboard/counties"))) == {"c01", "c02"}  # numbers, as a supervisor
    assert as_user("coordinator_m01").get("/api/v1/tasks").status_code == 403


def test_a_supervisor_signs_in_onto_the_county_numbers(page: Any) -> None:
    browser = page(None)
    signed_in = browser.post("/login", data={"username": "city_supervisor", "password": "liandong-demo"})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/dashboard/counties")
    other = page(None)
    signed_in = other.post("/login", data={"username": "coordinator_c02", "password": "liandong-demo"})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/inbox")
