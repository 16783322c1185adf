"""Findings that a mandatory reporter failed or delayed reporting (issue 15, part 5): recorded by the county's
coordinator, routed to the unit that supervises the reporter, read on a need-to-know basis, answered, audited,
counted on the dashboard (each number opening exactly its rows)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from helpers import report_payload


def _late_case(as_user: Any, clock: Any, village: str = "t01v01", hours: float = 40) -> dict[str, Any]:
    body = report_payload(village=village)
    body["report"]["learned_at"] = (clock.now() - timedelta(hours=hours)).isoformat()
    resp = as_user("reporter_school").post("/api/v1/reports", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _unit_id(kind: str, region: str) -> int:
    from app.extensions import db
    from app.org.models import Region, Unit

    return db.session.query(Unit.id).join(Region, Region.id == Unit.region_id) \
        .filter(Unit.kind == kind, Region.code == region).scalar()


def _finding(case: dict[str, Any], clock: Any, **over: Any) -> dict[str, Any]:
    return {"case_id": case["case_id"], "report_id": case["report_id"], "kind": "delayed", "person": "班主任 王老师",
            "knew_since": (clock.now() - timedelta(hours=40)).isoformat(),
            "facts": "班主任周一得知孩子独自在家，周三才报告。", **over}


def _told() -> set[str]:
    from app.extensions import db
    from app.notifications.models import Notification
    from app.org.models import User

    return {u for (u,) in db.session.query(User.username).join(Notification, Notification.user_id == User.id)
            .filter(Notification.kind == "reporting_finding")}


def _seen(api: Any, path: str = "/api/v1/findings", **query: Any) -> list[int]:
    resp = api.get(path, query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return [row.get("id", row.get("report_id")) for row in resp.get_json()["items"]]


def test_a_finding_on_a_late_school_report_goes_to_the_education_bureau(as_user: Any, clock: Any) -> None:
    from app.audit.models import AuditEvent
    from app.extensions import db
    from app.org.models import User

    case = _late_case(as_user, clock)
    coordinator = as_user("coordinator")
    assert _seen(coordinator, "/api/v1/reports/late") == [case["report_id"]]
    resp = coordinator.post("/api/v1/findings", json=_finding(case, clock))
    assert resp.status_code == 201, resp.get_json()
    finding = resp.get_json()
    assert finding["reporter_unit"]["kind"] == "school" and finding["supervising_unit"]["kind"] == "education"
    assert finding["case_number"] == case["case_number"] and finding["response"] is None
    assert _told() == {"education_c01", "education_c01_head"}
    assert db.session.query(AuditEvent).filter_by(action="create", object_type="finding",
                                                  object_id=str(finding["id"])).count() == 1

    bureau = as_user("education_c01")
    assert _seen(bureau) == [finding["id"]]
    assert bureau.get(f"/api/v1/findings/{finding['id']}").get_json()["facts"].startswith("班主任")
    assert bureau.get(f"/api/v1/cases/{case['case_id']}").status_code == 403  # the finding, not the child's file
    answered = bureau.post(f"/api/v1/findings/{finding['id']}/answer", json={"response": "已约谈校长，通报批评。"})
    assert answered.status_code == 200 and answered.get_json()["responded_by"]
    again = bureau.post(f"/api/v1/findings/{finding['id']}/answer", json={"response": "再次"})
    assert again.status_code == 422
    assert _seen(coordinator, unanswered="true") == [] and _seen(coordinator) == [finding["id"]]
    views = db.session.query(AuditEvent).filter_by(object_type="finding").order_by(AuditEvent.id).all()
    names = {u.id: u.username for u in db.session.query(User)}
    assert [(v.action, names[v.user_id]) for v in views] == [
        ("create", "coordinator"), ("list", "education_c01"), ("view", "education_c01"),
        ("update", "education_c01"), ("list", "coordinator"), ("list", "coordinator")]
    assert views[1].detail["ids"] == [finding["id"]]


@pytest.mark.parametrize(("reporter", "supervisor", "told"), [
    (("village_committee", "t01v01"), ("township", "t01"), {"township_t01", "township_t01_head", "supervisor_t01"}),
    (("clinic", "t01"), ("health", "c01"), {"health_c01", "health_c01_head"}),
])
def test_the_supervising_unit_follows_the_reporters_kind(as_user: Any, clock: Any, reporter: tuple[str, str],
                                                         supervisor: tuple[str, str], told: set[str]) -> None:

    case = _late_case(as_user, clock)
    body = _finding(case, clock, kind="failed", reporter_unit_id=_unit_id(*reporter))
    del body["report_id"]  # a failure to report: no report of theirs
    resp = as_user("coordinator").post("/api/v1/findings", json=body)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["supervising_unit"]["id"] == _unit_id(*supervisor)
    assert _told() == told


def test_only_the_county_and_the_supervising_unit_read_a_finding(as_user: Any, clock: Any) -> None:
    case = _late_case(as_user, clock)
    finding = as_user("coordinator").post("/api/v1/findings", json=_finding(case, clock)).get_json()
    for outsider in ("health_c01", "police_t01", "school_t01", "reporter_school", "coordinator_c02", "township_t01",
                     "admin"):
        api = as_user(outsider)
        assert _seen(api) == [], outsider
        assert api.get(f"/api/v1/findings/{finding['id']}").status_code == 404, outsider
    assert as_user("health_c01").post(f"/api/v1/findings/{finding['id']}/answer",
                                      json={"response": "x"}).status_code == 404
    assert as_user("coordinator_c02").get("/api/v1/reports/late").get_json()["items"] == []
    assert as_user("education_c01").get("/api/v1/reports/late").status_code == 403


def test_hostile_findings_are_refused_and_change_nothing(as_user: Any, clock: Any) -> None:
    from app.cases.models import ReportingFinding
    from app.extensions import db
    from app.notifications.models import Notification

    case = _late_case(as_user, clock)
    other = _late_case(as_user, clock)
    far = _late_case(as_user, clock, village="t21v01")
    coordinator = as_user("coordinator")
    cases: list[tuple[dict[str, Any], int]] = [
        ({"kind": "lazy"}, 422),
        ({"report_id": other["report_id"]}, 422),                                        # another case's report
        ({"report_id": None, "reporter_unit_id": _unit_id("police", "t01")}, 422),       # not a mandatory reporter
        ({"report_id": None, "reporter_unit_id": _unit_id("school", "t21")}, 422),       # another county's school
        ({"report_id": None, "reporter_unit_id": 999_999}, 422),
        ({"knew_since": (clock.now() + timedelta(days=3)).isoformat()}, 422),
        ({"knew_since": "2026-01-01T08:00:00"}, 422),                                    # no offset
        ({"person": ""}, 422), ({"facts": "x" * 4001}, 422),
        ({"case_id": far["case_id"], "report_id": far["report_id"]}, 403),               # another county's case
        ({"case_id": 2_147_483_647}, 404),
    ]
    for change, status in cases:
        body = {k: v for k, v in _finding(case, clock, **change).items() if v is not None}
        resp = coordinator.post("/api/v1/findings", json=body)
        assert resp.status_code == status, (change, resp.get_json())
    assert as_user("education_c01").post("/api/v1/findings", json=_finding(case, clock)).status_code == 403
    assert db.session.query(ReportingFinding).count() == 0
    assert db.session.query(Notification).filter_by(kind="reporting_finding").count() == 0


def test_the_dashboard_counts_link_to_exactly_those_rows(as_user: Any, page: Any, clock: Any) -> None:
    first = _late_case(as_user, clock)
    clock.advance(days=40)  # outside the dashboard's default 30 days
    second, third = _late_case(as_user, clock), _late_case(as_user, clock)
    on_time = report_payload()
    on_time["report"]["learned_at"] = (clock.now() - timedelta(hours=2)).isoformat()
    assert as_user("reporter_school").post("/api/v1/reports", json=on_time).status_code == 201
    _late_case(as_user, clock, village="t21v01")  # the other county's
    coordinator = as_user("coordinator")
    finding = coordinator.post("/api/v1/findings", json=_finding(second, clock)).get_json()

    desk = page("coordinator")
    board = desk.get("/dashboard/").get_data(as_text=True)
    counts = {cls: (int(n), href.replace("&amp;", "&")) for cls, href, n in re.findall(
        r'<a class="count ([\w-]+)" href="([^"]+)"><strong>(\d+)</strong>', board)}
    assert counts["late-reports"][0] == 2 and counts["findings"][0] == 1 and counts["findings-unanswered"][0] == 1
    late_page = desk.get(counts["late-reports"][1]).get_data(as_text=True)
    assert re.findall(r"LD\d+", late_page.split('id="late-reports"')[1]) == [third["case_number"],
                                                                           second["case_number"]]
    assert first["case_number"] not in late_page
    findings_page = desk.get(counts["findings-unanswered"][1]).get_data(as_text=True)
    assert f'finding_id={finding["id"]}' in findings_page or f'/findings/{finding["id"]}"' in findings_page
    query = dict(part.split("=") for part in counts["late-reports"][1].split("?")[1].split("&"))
    assert _seen(coordinator, "/api/v1/reports/late", **query) == [third["report_id"], second["report_id"]]


def test_the_pages_record_and_answer_a_finding(as_user: Any, page: Any, clock: Any) -> None:
    from app.cases.models import ReportingFinding
    from app.extensions import db

    case = _late_case(as_user, clock)
    desk = page("coordinator")
    form = desk.get(f"/findings/new?case_id={case['case_id']}&report_id={case['report_id']}")
    assert form.status_code == 200 and 'name="knew_since"' in form.get_data(as_text=True)
    bad = desk.post("/findings/new", {"case_id": case["case_id"], "kind": "delayed", "person": "王老师",
                                      "knew_since": "", "facts": "x", "reporter_unit_id": _unit_id("school", "t01")})
    assert bad.status_code == 422 and db.session.query(ReportingFinding).count() == 0
    from app.common.clock import local

    knew = local(clock.now() - timedelta(hours=40)).strftime("%Y-%m-%dT%H:%M")
    done = desk.post("/findings/new", {"case_id": case["case_id"], "report_id": case["report_id"],
                                       "kind": "delayed", "person": "王老师", "knew_since": knew, "facts": "迟报两天。",
                                       "reporter_unit_id": _unit_id("school", "t01")})
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    finding = db.session.query(ReportingFinding).one()
    bureau = page("education_c01")
    shown = bureau.get(f"/findings/{finding.id}").get_data(as_text=True)
    assert "迟报两天。" in shown and 'id="answer-form"' in shown and "李小明" not in shown
    assert bureau.post(f"/findings/{finding.id}/answer", {"response": ""}).status_code == 422
    assert bureau.post(f"/findings/{finding.id}/answer", {"response": "已通报。"}).status_code == 302
    assert "已通报。" in desk.get(f"/findings/{finding.id}").get_data(as_text=True)
    assert page("health_c01").get(f"/findings/{finding.id}").status_code == 404
    assert page("police_t01").get("/findings").status_code == 403
    assert page("education_c01").get("/reports/late").status_code == 403
