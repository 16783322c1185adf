"""Issue 14, part 5: the coordinator's dashboard is in the menu and opens on headline counts (overdue, due within
7 days, by department x township) that link to exactly the matching tasks, each due time in words and as a
date and time."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

from deadline_helpers import open_case, tasks_of

from app.org.queries import region_by_code


def _scene(clock: Any) -> dict[str, Any]:
    """Three police triage tasks left open past their deadline, then one opened later and not yet due."""
    late = [open_case("four_in_one", v) for v in ("t01v01", "t01v02", "t02v01")]
    clock.advance(days=2)
    fresh = open_case("four_in_one", "t02v01")
    return {"late": [tasks_of(c.id)[0] for c in late], "fresh": tasks_of(fresh.id)[0]}


def _numbers(html: str, css: str) -> int:
    match = re.search(rf'<a class="count {css}" href="([^"]+)"><strong>(\d+)</strong>', html)
    assert match, css
    return int(match.group(2))


def _task_ids(html: str) -> set[int]:
    return {int(t) for t in re.findall(r'href="/tasks/(\d+)"', html)}


def test_the_menu_opens_the_dashboard_for_coordinators_only(page: Any) -> None:
    assert 'href="/dashboard/">看板</a>' in page("coordinator").get("/inbox").get_data(as_text=True)
    assert 'href="/dashboard/"' in page("admin").get("/admin/users").get_data(as_text=True)
    for user in ("police_t01", "director_t01v01", "city_supervisor"):
        start = "/dashboard/counties" if user == "city_supervisor" else "/inbox"
        assert 'href="/dashboard/"' not in page(user).get(start).get_data(as_text=True), user


def test_headline_counts_open_the_matching_tasks(page: Any, clock: Any) -> None:
    scene = _scene(clock)
    coordinator = page("coordinator")
    html = coordinator.get("/dashboard/").get_data(as_text=True)
    assert _numbers(html, "overdue") == 3 and _numbers(html, "due-soon") == 1
    assert 'href="/dashboard/tasks"' in html and 'href="/dashboard/tasks?due=soon"' in html

    overdue = coordinator.get("/dashboard/tasks").get_data(as_text=True)
    assert _task_ids(overdue) == {t.id for t in scene["late"]}
    soon = coordinator.get("/dashboard/tasks?due=soon").get_data(as_text=True)
    assert _task_ids(soon) == {scene["fresh"].id}
    assert "7 天内到期" in htmllib.unescape(soon)
    # due in words and as a county date and time, both visible (no title attribute)
    assert re.search(r'<span class="rel-due">[^<]+</span> <time class="abs-due" datetime="[^"]+">\d{4}-\d{2}-\d{2} '
                     r'\d{2}:\d{2}</time>', soon)

    # the department x township cell of the due-soon matrix opens that township's task only
    t02 = region_by_code("t02")
    assert t02 is not None
    cell = f'/dashboard/tasks?due=soon&amp;kind=police&amp;township={t02.id}'
    assert cell in html
    one = coordinator.get(htmllib.unescape(cell)).get_data(as_text=True)
    assert _task_ids(one) == {scene["fresh"].id} and "东城镇" not in one.split("<table", 1)[0]
    t01 = region_by_code("t01")
    assert t01 is not None
    overdue_cell = coordinator.get(f"/dashboard/tasks?kind=police&township={t01.id}").get_data(as_text=True)
    assert _task_ids(overdue_cell) == {t.id for t in scene["late"][:2]}


def test_the_due_soon_panel_is_in_the_api_and_exports(api: Any, clock: Any) -> None:
    _scene(clock)
    body = api("coordinator").get("/api/v1/dashboard/due_soon").get_json()
    assert body["key"] == "due_soon" and body["rows"][-1]["total"] == 1, body
    listed = api("coordinator").get("/api/v1/dashboard/tasks?due=soon").get_json()
    assert listed["total"] == 1, listed
    assert api("coordinator").get("/api/v1/dashboard/tasks?due=later").status_code == 422
    csv = api("coordinator").get("/api/v1/dashboard/export/due_soon.csv")
    assert csv.status_code == 200 and "合计" in csv.get_data(as_text=True)
