"""The coordinator's dashboard: where work is stuck, how late, who was told, on-time rates, exports."""

from __future__ import annotations

import csv
import io
from typing import Any

from deadline_helpers import open_case, sweep, tasks_of
from flows.scenarios import SCENARIOS
from openpyxl import load_workbook

from app.audit.models import AuditEvent
from app.extensions import db

FIRST = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0]


def _scene(api: Any, clock: Any) -> dict[str, Any]:
    """Five police triage tasks: one done on time, one done late, three left open in two townships.

    The two completed cases move on to a second police step (PT2H) that is left open too.
    """
    cases = {name: open_case("four_in_one", village) for name, village in
             (("on_time", "t01v01"), ("late", "t01v02"), ("open_a", "t01v01"), ("open_b", "t02v01"),
              ("open_c", "t02v02"))}
    task = {name: tasks_of(c.id)[0] for name, c in cases.items()}
    ok = api("police_t01").post(f"/api/v1/tasks/{task['on_time'].id}/complete", json={"data": FIRST.data})
    assert ok.status_code == 200
    clock.advance(hours=2)
    late = api("police_t01").post(f"/api/v1/tasks/{task['late'].id}/complete", json={"data": FIRST.data})
    assert late.status_code == 200
    clock.advance(days=2)  # the open three are now 2 days overdue
    sweep()
    return task


def test_panels_count_overdue_ageing_escalations_and_on_time(county: Any, clock: Any, api: Any) -> None:
    task = _scene(api, clock)
    body = api("coordinator").get("/api/v1/dashboard").get_json()
    panels = body["panels"]

    overdue = {row["kind_code"]: row for row in panels["overdue"]["rows"]}
    labels = {c["key"]: c["label"] for c in panels["overdue"]["columns"]}
    police = overdue["police"]
    by_township = {labels[k]: v for k, v in police.items() if k.startswith("t") and k[1:].isdigit()}
    assert by_township == {"东城镇": 1 + 2, "西河乡": 2, "南山镇": 0} and police["total"] == 5
    assert panels["overdue"]["rows"][-1]["kind"] == "合计"
    assert sum(r["total"] for r in panels["overdue"]["rows"][:-1]) == 5

    [ageing] = [r for r in panels["ageing"]["rows"] if r["kind_code"] == "police"]
    assert (ageing["1_3d"], ageing["le_1d"], ageing["total"]) == (5, 0, 5)

    steps = {r["step_code"]: r for r in panels["escalations"]["rows"]}
    assert steps["overdue"]["week"] == 5 and steps["coordinator"]["today"] == 5
    assert "remind" not in steps  # the late sweep skipped the reminders: the overdue notice replaced them

    [rate] = [r for r in panels["on_time"]["rows"] if r["kind_code"] == "police"]
    assert (rate["completed"], rate["on_time"], rate["late"], rate["rate"]) == (2, 1, 1, 50.0)
    [step] = panels["on_time_step"]["rows"]
    assert step["step_code"] == task["on_time"].bpmn_id and step["rate"] == 50.0
    trend = {r["day"]: r for r in panels["trend"]["rows"]}
    assert len(trend) == 30 and trend["2026-03-10"]["on_time"] == 1 and trend["2026-03-10"]["late"] == 1
    assert trend["2026-03-12"]["escalations"] == 10  # overdue + coordinator for five tasks

    drill = api("coordinator").get("/api/v1/dashboard/tasks", query_string={
        "kind": "police", "township": int(next(k for k, v in labels.items() if v == "西河乡")[1:])}).get_json()
    assert drill["total"] == 2 and {r["task_id"] for r in drill["rows"]} == {task["open_b"].id, task["open_c"].id}
    assert all(r["escalation_level"] == 3 and r["overdue_days"] >= 2 for r in drill["rows"])
    bucket = api("coordinator").get("/api/v1/dashboard/tasks", query_string={"bucket": "gt_7d"}).get_json()
    assert bucket["total"] == 0


def test_exports_show_what_the_panel_shows_and_are_audited(county: Any, clock: Any, api: Any) -> None:
    _scene(api, clock)
    coordinator = api("coordinator")
    shown = coordinator.get("/api/v1/dashboard/overdue").get_json()
    resp = coordinator.get("/api/v1/dashboard/export/overdue.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == [c["label"] for c in shown["columns"]]
    assert len(rows) == 1 + len(shown["rows"]) and rows[-1][0] == "合计"

    resp = coordinator.get("/api/v1/dashboard/export/on_time.xlsx", query_string={"start": "2026-03-01"})
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.data)).active
    values = list(sheet.values)
    assert values[0] == ("部门", "办结", "按期", "逾期办结", "按期率%") and values[1][1:] == (2, 1, 1, 50.0)

    db.session.expire_all()
    events = db.session.query(AuditEvent).filter_by(action="export", object_type="dashboard").all()
    assert sorted(e.object_id for e in events) == ["on_time", "overdue"]
    assert {e.detail["format"] for e in events} == {"csv", "xlsx"}
    assert coordinator.get("/api/v1/dashboard/export/overdue.pdf").status_code == 404
    assert coordinator.get("/api/v1/dashboard/nonsense").status_code == 404


def test_only_coordinators_and_admins(county: Any, client: Any, api: Any) -> None:
    assert client.get("/api/v1/dashboard").status_code == 401
    for username in ("police_t01", "police_t01_head", "supervisor_t01"):
        resp = api(username).get("/api/v1/dashboard")
        assert resp.status_code == 403 and "coordinators" in resp.get_json()["message"]
        assert api(username).get("/api/v1/dashboard/export/overdue.csv").status_code == 403
    assert api("admin").get("/api/v1/dashboard/overdue").status_code == 200
    assert db.session.query(AuditEvent).filter_by(action="export").count() == 0


def test_pages_need_a_login_and_a_coordinator(county: Any, app: Any, clock: Any, api: Any) -> None:
    from webhelpers import PageClient

    _scene(api, clock)
    anonymous = PageClient(app, None).get("/dashboard/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert PageClient(app, "police_t01").get("/dashboard/").status_code == 403
    coordinator = PageClient(app, "coordinator")
    page = coordinator.get("/dashboard/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "逾期未办" in html and "trend-chart" in html and "chart.umd.min.js" in html
    assert "/dashboard/tasks?kind=police" in html
    listing = coordinator.get("/dashboard/tasks?kind=police").get_data(as_text=True)
    assert listing.count('href="/tasks/') == 2 * 5  # case number and step link to each overdue police task
    export = coordinator.get("/dashboard/export/ageing.xlsx")
    assert export.status_code == 200 and export.data[:2] == b"PK"
    assert db.session.query(AuditEvent).filter_by(action="export", object_id="ageing").count() == 1


def test_the_dashboard_speaks_the_viewers_language(county: Any, app: Any, clock: Any, api: Any) -> None:
    """Titles, columns, department and step labels follow the viewer's language on the page, in the JSON
    and in the exports; Chinese is the county's default."""
    from webhelpers import PageClient

    _scene(api, clock)
    coordinator_api = api("coordinator")
    english = coordinator_api.client.get("/api/v1/dashboard", headers={
        **coordinator_api.headers, "Accept-Language": "en"}).get_json()
    panels = english["panels"]
    overdue = panels["overdue"]
    assert overdue["title"] == "Open and overdue (department × township)"
    assert overdue["columns"][0]["label"] == "Department" and overdue["rows"][-1]["kind"] == "Total"
    police = next(r for r in overdue["rows"] if r["kind_code"] == "police")
    assert police["kind"].isascii() and "olice" in police["kind"]
    steps = {r["step"] for r in panels["escalations"]["rows"]}
    assert steps and steps <= {"Deadline approaching", "Overdue", "Reported to the county coordinator",
                               "Escalated further"}

    coordinator = PageClient(app, "coordinator")
    coordinator.post("/locale", {"locale": "en"})
    html = coordinator.get("/dashboard/").get_data(as_text=True)
    assert "County coordination dashboard" in html and "逾期未办" not in html
    rows = list(csv.reader(io.StringIO(coordinator.get("/dashboard/export/on_time.csv").data.decode("utf-8-sig"))))
    assert rows[0] == ["Department", "Completed", "On time", "Completed late", "On-time rate %"]


def test_every_dashboard_answer_keeps_its_keys(county: Any, clock: Any, api: Any) -> None:
    """Pinned: a panel is ``{key, title, columns: [{key, label}], rows}``; the whole dashboard and the county
    table add the period, the drill-down its page."""
    _scene(api, clock)
    coordinator = api("coordinator")
    body = coordinator.get("/api/v1/dashboard").get_json()
    assert set(body) == {"at", "start", "end", "panels"}
    overdue = coordinator.get("/api/v1/dashboard/overdue").get_json()
    assert body["panels"]["overdue"] == overdue
    assert set(overdue) == {"key", "title", "columns", "rows"} and overdue["key"] == "overdue"
    assert all(set(column) == {"key", "label"} for column in overdue["columns"])
    assert [c["key"] for c in overdue["columns"]][0] == "kind"
    drill = coordinator.get("/api/v1/dashboard/tasks", query_string={"per_page": 1}).get_json()
    assert set(drill) == {"key", "title", "columns", "rows", "total", "page", "per_page"}
    assert (drill["key"], drill["page"], drill["per_page"], len(drill["rows"])) == ("tasks", 1, 1, 1)
    counties = coordinator.get("/api/v1/dashboard/counties").get_json()
    assert set(counties) == {"at", "start", "end", "key", "title", "columns", "rows"}
    assert (counties["at"], counties["start"], counties["end"]) == (body["at"], body["start"], body["end"])
