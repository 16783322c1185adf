"""Late reports (issue 15, part 5): a report says when the reporter learned of the situation; a mandatory
reporter's report filed past the county's ``late_report_hours`` is flagged, on the case, its timeline and the
court-ready record."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from helpers import report_payload


def _file(api: Any, learned_hours_ago: float | None, clock: Any, reporter_type: str = "school",
          **child: Any) -> Any:
    body = report_payload(**child)
    body["report"]["reporter_type"] = reporter_type
    if learned_hours_ago is not None:
        body["report"]["learned_at"] = (clock.now() - timedelta(hours=learned_hours_ago)).isoformat()
    return api.post("/api/v1/reports", json=body)


def _report(api: Any, case_id: int) -> dict[str, Any]:
    case = api.get(f"/api/v1/cases/{case_id}").get_json()
    [report] = case["reports"]
    return {**report, "timeline": [e for e in case["timeline"] if e["kind"] == "report_received"]}


def test_a_school_reporting_a_day_and_a_half_later_is_flagged_late(as_user: Any, clock: Any) -> None:
    school, coordinator = as_user("reporter_school"), as_user("coordinator")
    resp = _file(school, 36, clock)
    assert resp.status_code == 201, resp.get_json()
    report = _report(coordinator, resp.get_json()["case_id"])
    assert report["late"] is True
    assert report["learned_at"].startswith((clock.now() - timedelta(hours=36)).date().isoformat())
    [entry] = report["timeline"]
    assert entry["detail"]["late"] is True and entry["detail"]["late_report_hours"] == 24
    assert entry["detail"]["hours_to_report"] == 36.0


@pytest.mark.parametrize(("reporter_type", "hours", "late"), [
    ("school", 2, False),            # within the day
    ("medical", 24.5, True),         # every mandatory reporter is held to it
    ("hotline_12355", 100, False),   # a caller to the hotline is not a mandatory reporter
    ("other", 100, False),
])
def test_who_is_held_to_the_limit(as_user: Any, clock: Any, reporter_type: str, hours: float, late: bool) -> None:
    resp = _file(as_user("reporter_school"), hours, clock, reporter_type)
    assert resp.status_code == 201, resp.get_json()
    assert _report(as_user("coordinator"), resp.get_json()["case_id"])["late"] is late


def test_without_learned_at_the_api_files_the_report_unflagged(as_user: Any, clock: Any) -> None:
    resp = _file(as_user("reporter_school"), None, clock)
    assert resp.status_code == 201
    report = _report(as_user("coordinator"), resp.get_json()["case_id"])
    assert report["learned_at"] is None and report["late"] is False


def test_a_county_sets_its_own_limit(as_user: Any, clock: Any) -> None:
    from app.extensions import db
    from app.org.county_settings import set_county_value

    set_county_value("late_report_hours", "c01", "6")
    db.session.commit()
    here = _file(as_user("reporter_school"), 8, clock)                      # c01: 8 h > 6 h
    there = _file(as_user("reporter_school"), 8, clock, village="t21v01")   # c02 keeps the default 24 h
    assert _report(as_user("coordinator"), here.get_json()["case_id"])["late"] is True
    assert _report(as_user("coordinator_c02"), there.get_json()["case_id"])["late"] is False
    [entry] = _report(as_user("coordinator"), here.get_json()["case_id"])["timeline"]
    assert entry["detail"]["late_report_hours"] == 6


@pytest.mark.parametrize(("value", "why"), [
    ("2026-01-01T08:00:00", "aware"),                  # naive: whose clock?
    ("2100-01-01T08:00:00+08:00", "future"),          # in the future
    ("0001-01-01T00:00:00+00:00", "between"),          # outside the years we take
    ("yesterday", "Not a valid datetime"),
])
def test_a_bad_learned_at_is_refused_and_files_nothing(as_user: Any, value: str, why: str) -> None:
    from app.cases.models import Report
    from app.extensions import db

    body = report_payload()
    body["report"]["learned_at"] = value
    resp = as_user("reporter_school").post("/api/v1/reports", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert why.lower() in str(resp.get_json()["errors"]).lower()
    assert db.session.query(Report).count() == 0


def test_the_report_page_asks_a_mandatory_reporter_when_they_learned_of_it(page: Any, clock: Any) -> None:
    from app.cases.models import Report
    from app.common.clock import local
    from app.extensions import db

    desk = page("reporter_school")
    form_page = desk.get("/reports/new").get_data(as_text=True)
    assert f'value="{local(clock.now()):%Y-%m-%dT%H:%M}"' in form_page  # prefilled with now, to correct
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form_page).group(1)  # type: ignore[union-attr]
    form = {"idempotency_key": key, "situation": "living_alone", "reporter_type": "school", "name": "周小雨",
            "sex": "female", "village": "t01v01", "birth_date": "2016-03-02"}
    refused = desk.post("/reports/new", form)
    assert refused.status_code == 422 and "强制报告主体须填写知悉情况的时间" in refused.get_data(as_text=True)
    assert db.session.query(Report).count() == 0
    learned = local(clock.now() - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M")
    filed = desk.post("/reports/new", form | {"learned_at": learned})
    assert filed.status_code == 302
    report = db.session.query(Report).one()
    assert report.late is True and report.learned_at == clock.now().replace(second=0, microsecond=0) - \
        timedelta(hours=30)
    case_page = page("coordinator").get(filed.headers["Location"]).get_data(as_text=True)
    assert "迟报" in case_page and "报告人知悉时间" in case_page


def test_the_county_limit_is_set_by_the_cli_within_the_variables_bounds_and_audited(app: Any, demo: Any) -> None:
    from app.audit.models import AuditEvent
    from app.extensions import db

    runner = app.test_cli_runner()
    assert runner.invoke(args=["settings", "county", "late_report_hours", "--county", "c01"]).output.strip() \
        == "c01 late_report_hours=24"
    out = runner.invoke(args=["settings", "county", "late_report_hours", "12", "--county", "c01"])
    assert out.exit_code == 0 and out.output.strip() == "c01 late_report_hours=12"
    for bad in (["0"], ["many"], ["100000"]):  # the variable's own bounds (1..720 hours)
        refused = runner.invoke(args=["settings", "county", "late_report_hours", *bad, "--county", "c01"])
        assert refused.exit_code == 2, refused.output
    assert runner.invoke(args=["settings", "county", "late_report_hours", "6", "--county", "t01"]).exit_code == 2
    assert runner.invoke(args=["settings", "county", "late_report_hours", "--county", "c01"]).output.strip() \
        == "c01 late_report_hours=12"
    assert runner.invoke(args=["settings", "county", "late_report_hours", "--unset", "--county", "c01"]).output \
        .strip() == "c01 late_report_hours=24"
    rows = db.session.query(AuditEvent).filter_by(object_type="county_setting").order_by(AuditEvent.id).all()
    assert [r.detail["value"] for r in rows] == [12, None]
