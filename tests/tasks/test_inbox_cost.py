"""What an inbox page costs the database, pinned as statement counts (never as timings).

A page used to run one query per row for its case (and its village, township and assignee) and to
count every open task of the unit: ~55 statements for a page of 50. Now the rows come with their case
and process in one statement, the total is counted up to ``TOTAL_CAP``, and a page of 1 row and a
page of 50 cost the same. bench/inbox.py has the latency at a million open tasks.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from deadline_helpers import open_case
from sqlcount import statements_sent
from webhelpers import PageClient

from app.common.clock import now
from app.extensions import db
from app.org.queries import user_by_username
from app.tasks import queries
from app.tasks.inbox import InboxQuery, inbox_page

VILLAGES = ("t01v01", "t01v02")
"""Both villages of township t01: every first step lands in the one police station's queue."""
INBOX_PAGE_STATEMENTS = 5
"""inbox_page: rows with cases and processes, the capped total, steps, townships, processes."""

HTML_PAGE_STATEMENTS = 10
"""GET /inbox: the signed-in user and roles, inbox_page, the unit's members and roles, saved views."""
API_LIST_STATEMENTS = 2
"""GET /api/v1/tasks: the token (with its user), the rows with their case numbers and the capped total beside
each (issue 17 part 3: the total was a statement of its own)."""


def _costs(app: Any, as_user: Any) -> tuple[int, int, int, int]:
    """(statements of inbox_page, of GET /inbox, of GET /api/v1/tasks, rows on the page)."""
    db.session.expire_all()
    user = user_by_username("police_t01")
    with statements_sent() as seen:
        page = inbox_page(user, InboxQuery(per_page=50), now())
    direct = len(seen)
    db.session.remove()
    web = PageClient(app, "police_t01")
    web.get("/inbox")  # the session's own bookkeeping (last seen) is not the page's cost
    with statements_sent() as seen:
        html = web.get("/inbox?per_page=50").get_data(as_text=True)
    html_count = len(seen)
    api = as_user("police_t01")
    api.get("/api/v1/tasks")  # nor is the token's (last used)
    with statements_sent() as seen:
        body = api.get("/api/v1/tasks?per_page=50").json
    api_count = len(seen)
    rows = len(re.findall(r'<tr id="task-\d+"', html))
    assert rows == len(page.tasks) == len(body["items"]) == body["total"]
    return direct, html_count, api_count, rows


def test_an_inbox_page_costs_the_same_at_1_and_at_50_rows(app: Any, as_user: Any) -> None:
    open_case(village=VILLAGES[0])
    one = _costs(app, as_user)
    for n in range(49):
        open_case(village=VILLAGES[n % 2])
    fifty = _costs(app, as_user)
    assert (one[3], fifty[3]) == (1, 50)
    assert one[0] == fifty[0] <= INBOX_PAGE_STATEMENTS
    assert one[1] == fifty[1] <= HTML_PAGE_STATEMENTS, "the HTML page runs a query per row"
    assert one[2] == fifty[2] == API_LIST_STATEMENTS, "the API list runs a query per row"
    print(f"statements: inbox_page {fifty[0]}, GET /inbox {fifty[1]}, GET /api/v1/tasks {fifty[2]}")


def test_rows_come_soonest_due_first_with_their_case(app: Any, as_user: Any) -> None:
    cases = [open_case(village=v) for v in VILLAGES]
    page = inbox_page(user_by_username("police_t01"), InboxQuery(), now())
    dues = [t.due_at for t in page.tasks]
    assert dues == sorted(dues) and len(page.tasks) == 2
    assert {page.cases[t.case_id].number for t in page.tasks} == {c.number for c in cases}
    assert all(page.cases[t.case_id].region.parent is not None for t in page.tasks)  # village / township
    assert [code for code, _ in page.step_options] == sorted({t.bpmn_id for t in page.tasks})


def test_the_total_is_counted_up_to_the_cap(app: Any, as_user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(4):
        open_case(village=VILLAGES[n % 2])
    monkeypatch.setattr(queries, "TOTAL_CAP", 3)
    page = inbox_page(user_by_username("police_t01"), InboxQuery(), now())
    assert (page.total, page.more, page.total_label, len(page.tasks)) == (3, True, "3+", 4)  # page 1 of the capped total still shows its 25 rows
    html = PageClient(app, "police_t01").get("/inbox").get_data(as_text=True)
    assert "3+" in html
    body = as_user("police_t01").get("/api/v1/tasks").json
    assert (body["total"], body["more"], len(body["items"])) == (3, True, 4)
    monkeypatch.setattr(queries, "TOTAL_CAP", 4)
    body = as_user("police_t01").get("/api/v1/tasks").json
    assert (body["total"], body["more"]) == (4, False)


def test_the_plain_api_inbox_lists_what_the_filtered_query_lists(app: Any, as_user: Any) -> None:
    """``GET /api/v1/tasks`` without filters runs selects built once (issue 17 part 3): the same rows in the same
    order, the same total, page by page and in another state, as the general query of the same filter."""
    from app.tasks.queries import TaskFilter, _unit_inbox_statements, task_query, task_scope

    for n in range(5):
        open_case(village=VILLAGES[n % 2])
    api = as_user("police_t01")
    user = user_by_username("police_t01")
    [claimed, *_] = api.get("/api/v1/tasks").json["items"]
    answer = api.post(f"/api/v1/tasks/{claimed['id']}/claim").json
    built = _unit_inbox_statements.cache_info().misses
    for state in ("open", "completed"):
        expected = list(db.session.scalars(task_query(TaskFilter(state=state), now()).where(task_scope(user))))
        pages = [api.get(f"/api/v1/tasks?state={state}&per_page=2&page={p}").json for p in (1, 2, 3)]
        assert [t["id"] for page in pages for t in page["items"]] == [t.id for t in expected]
        assert all(page["total"] == len(expected) and page["more"] is False for page in pages)
    assert len(expected) == 0 and pages[0]["items"] == []
    past = api.get("/api/v1/tasks?per_page=2&page=4").json  # past the last row: counted on its own
    assert (past["items"], past["total"], past["more"]) == ([], 5, False)
    mine = [t for t in api.get("/api/v1/tasks").json["items"] if t["id"] == claimed["id"]]
    assert mine[0]["assignee"] == answer["assignee"] and mine[0]["assignee"]
    assert mine[0]["case_number"] == claimed["case_number"]
    assert _unit_inbox_statements.cache_info().misses == built  # nothing built per request
