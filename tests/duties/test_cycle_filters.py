"""Duty cycles filtered by the days their period overlaps, by child and by unit, each period in words
(issue 16, part 4), in the API and on the page; the period labels in both languages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from duty_helpers import enrolled
from flask import g

from app.audit.models import AuditEvent
from app.duties.period_labels import period_label
from app.duties.scheduler import start_due_duties
from app.extensions import db
from app.org.queries import user_by_username

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
"""09:00 in the county on Monday of ISO week 11."""
NEXT_MONDAY = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
CYCLES = "/api/v1/duties/cycles"


def plain(text: str) -> str:
    """CLDR sets the range's dash between thin spaces."""
    return text.replace("\u2009", " ")


@pytest.mark.parametrize(("key", "zh", "en"), [
    ("2026-Q4", "2026年第4季度", "Q4 2026"),
    ("2026-11", "2026年11月", "Nov 2026"),
    ("2026-W48", "第48周 (11月23日至29日)", "Week 48 (Nov 23 – 29)"),
    ("2026-W53", "第53周 (12月28日至1月3日)", "Week 53 (Dec 28 – Jan 3)"),
    ("2026-03a", "2026年3月1日 – 15日", "Mar 1 – 15, 2026"),
    ("2026-02b", "2026年2月16日 – 28日", "Feb 16 – 28, 2026"),
    ("2026-H1", "2026年上半年", "First half of 2026"),
    ("2026-H2", "2026年下半年", "Second half of 2026"),
    ("2026", "2026年", "2026"),
    ("2025-W53", "2025-W53", "2025-W53"),  # no such week: the key as it is, never an error
    ("whatever", "whatever", "whatever"),
])
def test_periods_read_as_words_in_both_languages(app: Any, key: str, zh: str, en: str) -> None:
    for language, expected in (("zh-CN", zh), ("en", en)):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            assert plain(period_label(key)) == expected, language


def test_an_on_demand_cycle_reads_as_the_day_it_started(app: Any) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert period_label("adhoc:0123456789abcdef", datetime(2026, 3, 9, 18, 0, tzinfo=UTC)) == "按需，2026年3月10日"


def _two_weeks(clock: Any) -> tuple[int, int]:
    """Two enrolled children (t01v01, t01v02), their cycles of ISO weeks 11 and 12 started."""
    clock.at = MONDAY
    first, second = enrolled("一号", "t01v01"), enrolled("二号", "t01v02")
    db.session.commit()
    start_due_duties(MONDAY)
    db.session.commit()
    clock.at = NEXT_MONDAY
    start_due_duties(NEXT_MONDAY)
    db.session.commit()
    return first.child_id, second.child_id


def _cycles(api: Any, **query: Any) -> list[dict[str, Any]]:
    resp = api.get(CYCLES, query_string={"per_page": 500, **query})
    assert resp.status_code == 200, resp.get_json()
    return list(resp.get_json()["items"])


def test_the_api_filters_by_overlapping_days_child_and_unit(as_user: Any, clock: Any) -> None:
    first, second = _two_weeks(clock)
    coordinator = as_user("coordinator")
    ours = {first, second}
    everything = [c for c in _cycles(coordinator) if c["child_id"] in ours]
    assert {c["period"] for c in everything if c["duty"] == "weekly_contact"} == {"2026-W11", "2026-W12"}

    week12 = [c for c in _cycles(coordinator, **{"from": "2026-03-16", "to": "2026-03-16"}) if c["child_id"] in ours]
    periods = {(c["duty"], c["period"]) for c in week12}
    assert ("weekly_contact", "2026-W12") in periods and ("weekly_contact", "2026-W11") not in periods
    assert ("home_visit", "2026-03") in periods  # the month overlaps the day
    week11 = [c for c in _cycles(coordinator, to="2026-03-15") if c["child_id"] in ours]
    assert {c["period"] for c in week11 if c["duty"] == "weekly_contact"} == {"2026-W11"}
    later = _cycles(coordinator, **{"from": "2026-04-01"})
    assert all(c["period"] not in ("2026-W11", "2026-W12", "2026-03") for c in later)

    only_first = _cycles(coordinator, child_id=first)
    assert only_first and {c["child_id"] for c in only_first} == {first}
    committee = user_by_username("director_t01v02")
    assert committee is not None and committee.unit_id is not None
    by_unit = [c for c in _cycles(coordinator, unit_id=committee.unit_id) if c["child_id"] in ours]
    assert by_unit and {c["child_id"] for c in by_unit} == {second}

    labels = {c["period"]: c["period_label"] for c in everything}
    assert labels["2026-W12"] == "第12周 (3月16日至22日)" and labels["2026-03"] == "2026年3月"
    g.pop("_flask_babel", None)  # the test's app context outlives each request: forget the locale chosen before
    english = coordinator.client.get(CYCLES, query_string={"child_id": first, "duty": "weekly_contact"},
                                     headers={**coordinator.headers, "Accept-Language": "en"}).get_json()["items"]
    assert {plain(c["period_label"]) for c in english} == {"Week 11 (Mar 9 – 15)", "Week 12 (Mar 16 – 22)"}
    audited = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "duty_cycle")
                                 .order_by(AuditEvent.id.desc())).first()
    assert audited is not None and audited.action == "list"


@pytest.mark.parametrize(("query", "status"), [
    ({"from": "2026-03-20", "to": "2026-03-10"}, 422),
    ({"from": "last week"}, 422),
    ({"to": "2026-02-30"}, 422),
    ({"unit_id": 999999}, 404),
    ({"unit_id": -1}, 422),
])
def test_bad_filters_are_a_clear_4xx(as_user: Any, query: dict[str, Any], status: int) -> None:
    resp = as_user("coordinator").get(CYCLES, query_string=query)
    assert resp.status_code == status, resp.get_json()


def test_the_page_filters_and_names_each_period(page: Any, clock: Any) -> None:
    first, second = _two_weeks(clock)
    html = page("coordinator").get("/duties/cycles?from=2026-03-16&to=2026-03-16").get_data(as_text=True)
    assert "第12周 (3月16日至22日)" in html and "2026年3月" in html and "第11周" not in html
    assert "一号" in html and "二号" in html and "2026-W12" in html  # the key stays as the cell's title
    director = user_by_username("director_t01v02")
    assert director is not None
    mine = page("director_t01v02").get(f"/duties/cycles?unit_id={director.unit_id}").get_data(as_text=True)
    assert "二号" in mine and "一号" not in mine
    child = page("coordinator").get(f"/duties/cycles?child_id={first}&duty=weekly_contact").get_data(as_text=True)
    assert "一号" in child and "二号" not in child and "第11周" in child
    odd = page("coordinator").get("/duties/cycles?from=nonsense&unit_id=abc&page=-4&status=%3Cb%3E")
    assert odd.status_code == 200
    assert page("police_t01").get("/duties/cycles").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.object_type == "duty_cycle")) >= 4
