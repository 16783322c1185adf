"""The case view is paged: opening a case costs the same statements at 10 timeline entries or 500.

Issue 17 part 6. The page (``/cases/<id>``) and ``GET /api/v1/cases/<id>`` used to read the whole timeline
and every task of the case, each entry's actor and unit one query at a time, and three queries per
process instance for the diagram markers: a care file with years of weekly contacts grew without bound.
Now every list is one COUNT and one LIMITed read (``bench/case_view.py`` has the latency).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from casegrowth import grow_case
from sqlcount import not_savepoint, statements_sent
from webhelpers import open_case

from app.audit.models import AuditEvent
from app.cases.models import TimelineEntry
from app.extensions import db

CASE_PAGE_STATEMENTS = 33  # 34 before the session's user came with its roles in one statement
"""``GET /cases/<id>`` as the county coordinator, measured on SQLite (the same at any history length)."""
CASE_API_STATEMENTS = 19
"""``GET /api/v1/cases/<id>`` as the coordinator (bearer token, user and roles, the case, ... the two lists)."""


def _counts(page: Any, as_user: Any, case_id: int) -> tuple[int, int]:
    coordinator, api = page("coordinator"), as_user("coordinator")
    db.session.expire_all()
    with statements_sent(not_savepoint) as seen:
        assert coordinator.get(f"/cases/{case_id}").status_code == 200
    on_page = len(seen)
    db.session.expire_all()
    with statements_sent(not_savepoint) as seen:
        assert api.get(f"/api/v1/cases/{case_id}").status_code == 200
    return on_page, len(seen)


def test_opening_a_case_costs_the_same_statements_whatever_its_history(page: Any, as_user: Any) -> None:
    """A fresh case reads less (no recorded steps, no other users to load roles for); past that,
    150 entries or 500, 20 tasks or 100, 4 processes or 26: the same statements."""
    fresh = open_case(as_user)["case_id"]
    medium = open_case(as_user, "missing")["case_id"]
    large = open_case(as_user, "domestic_violence")["case_id"]
    grow_case(medium, entries=150, tasks=20, instances=3)
    grow_case(large, entries=500, tasks=100, instances=25)
    fresh_counts, medium_counts, large_counts = (_counts(page, as_user, c) for c in (fresh, medium, large))
    assert medium_counts == large_counts
    assert fresh_counts[0] <= large_counts[0] and fresh_counts[1] <= large_counts[1]
    if db.engine.dialect.name == "sqlite":
        assert large_counts == (CASE_PAGE_STATEMENTS, CASE_API_STATEMENTS)


def test_the_timeline_opens_on_its_newest_page_and_pages_back(page: Any, as_user: Any) -> None:
    case_id = open_case(as_user)["case_id"]
    grow_case(case_id, entries=120, tasks=10)
    coordinator = page("coordinator")
    total = db.session.scalar(sa.select(sa.func.count()).select_from(TimelineEntry)
                              .where(TimelineEntry.case_id == case_id))
    assert total is not None and 100 < total <= 150  # three pages of 50
    newest = coordinator.get(f"/cases/{case_id}").text
    assert "走访记录 119" in newest and "走访记录 0<" not in newest
    assert f"{total}" in newest and "?timeline_page=2#timeline" in newest and "?timeline_page=4" not in newest
    oldest = coordinator.get(f"/cases/{case_id}?timeline_page=1").text
    assert "走访记录 0" in oldest and "走访记录 119" not in oldest and "?timeline_page=2#timeline" in oldest
    for bad in ("abc", "0", "-1", "99999999999999", "9" * 50):
        assert coordinator.get(f"/cases/{case_id}?timeline_page={bad}&tasks_page={bad}"
                               f"&processes_page={bad}").status_code == 200


def test_the_api_pages_the_timeline_and_the_tasks_with_the_shared_pagination(as_user: Any) -> None:
    case_id = open_case(as_user)["case_id"]
    grow_case(case_id, entries=230, tasks=60)
    api = as_user("coordinator")
    view = api.get(f"/api/v1/cases/{case_id}").get_json()
    assert len(view["timeline"]) == 100 and view["timeline_total"] > 230
    assert view["timeline"][-1]["at"] >= view["timeline"][0]["at"]  # the newest 100, oldest of them first
    first = api.get(f"/api/v1/cases/{case_id}/timeline?per_page=100").get_json()
    assert (first["total"], first["page"], first["per_page"]) == (view["timeline_total"], 1, 100)
    assert first["items"][0]["kind"] == "report_received" or first["items"][0]["at"] <= first["items"][-1]["at"]
    last = api.get(f"/api/v1/cases/{case_id}/timeline?per_page=100&page=3").get_json()
    assert [e["at"] for e in last["items"]] == [e["at"] for e in view["timeline"][-len(last["items"]):]]
    opened = api.get(f"/api/v1/cases/{case_id}/tasks?state=open&per_page=5").get_json()
    assert opened["total"] == len(view["open_tasks"]) == view["open_tasks_total"]
    assert len(opened["items"]) == 5 and {t["state"] for t in opened["items"]} == {"open"}
    done = api.get(f"/api/v1/cases/{case_id}/tasks?state=completed").get_json()
    assert done["total"] == 48 and "data" not in done["items"][0]
    assert done["items"][0]["completed_at"] >= done["items"][-1]["completed_at"]
    assert api.get(f"/api/v1/cases/{case_id}/tasks?state=nope").status_code == 422
    assert api.get(f"/api/v1/cases/{case_id}/timeline?per_page=501").status_code == 422
    assert api.get(f"/api/v1/cases/{case_id}/timeline?page=0").status_code == 422
    pages = db.session.scalars(sa.select(AuditEvent.detail).where(
        AuditEvent.action == "view", AuditEvent.case_id == case_id)).all()
    assert {"timeline", "tasks"} <= {d.get("page") for d in pages}


@pytest.mark.parametrize("who,status", [("reporter_school", 403), ("police_t02", 403), ("police_c02", 403)])
def test_the_paged_lists_keep_need_to_know(as_user: Any, who: str, status: int) -> None:
    case_id = open_case(as_user)["case_id"]
    for path in ("timeline", "tasks"):
        resp = as_user(who).get(f"/api/v1/cases/{case_id}/{path}")
        assert resp.status_code == status, (who, path)
    assert as_user("coordinator").get("/api/v1/cases/99999999/timeline").status_code == 404


def test_paging_one_list_keeps_the_other_lists_on_their_pages(page: Any, as_user: Any) -> None:
    """On the second page of the open tasks, the timeline's links keep ``tasks_page=2`` (and the reverse)."""
    case_id = open_case(as_user)["case_id"]
    grow_case(case_id, entries=120, tasks=60, open_share=1)  # every task open: two pages of 50
    shown = page("coordinator").get(f"/cases/{case_id}?tasks_page=2&timeline_page=1&other=x").text
    links = set(re.findall(r'href="\?([^"#]+)#(\w[\w-]*)" rel="(?:prev|next)"', shown))
    assert ("tasks_page=2&amp;timeline_page=2", "timeline") in links
    assert ("timeline_page=1&amp;tasks_page=1", "open-tasks") in links
    assert not any("other" in query for query, _ in links)
