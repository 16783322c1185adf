"""Shared team views (issue 16, part 2): a saved inbox view shared with the unit or the county's coordinators;
the owner alone changes or deletes it; everyone who sees it sees their own count beside it, all views counted
in one statement; every change audited."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from deadline_helpers import open_case
from sqlcount import statements_sent
from webhelpers import PageClient

from app.audit.models import AuditEvent
from app.common.clock import now
from app.extensions import db
from app.org.queries import user_by_username
from app.tasks.models import SavedView, Task, TaskState
from app.tasks.saved import save_view, view_counts, views_of

OWNER, HEAD, OTHER_UNIT = "police_t01", "police_t01_head", "police_t02"
COORD, OTHER_COORD = "coordinator", "coordinator_c02"
VIEWS = "/api/v1/saved-views"
INBOX_WITH_VIEWS_STATEMENTS = 11
"""GET /inbox (tests/tasks/test_inbox_cost.py: 10) with saved views: + the views' counts, one statement."""


def _listed(api: Any) -> dict[str, dict[str, Any]]:
    resp = api.get(VIEWS)
    assert resp.status_code == 200, resp.get_json()
    return {v["name"]: v for v in resp.get_json()["items"]}


def _create(api: Any, name: str, query: str = "", shared_with: str = "private") -> dict[str, Any]:
    resp = api.post(VIEWS, json={"name": name, "query": query, "shared_with": shared_with})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_a_view_shared_with_the_unit_is_seen_by_its_members_and_changed_only_by_its_owner(as_user: Any) -> None:
    owner, head, other = as_user(OWNER), as_user(HEAD), as_user(OTHER_UNIT)
    view = _create(owner, "超期研判", "overdue=1&step=police_triage", "unit")
    assert (view["shared_with"], view["mine"], view["query"]) == ("unit", True, "overdue=1&step=police_triage")
    assert view["filters"]["overdue"] is True and view["filters"]["step"] == "police_triage"

    seen = _listed(head)["超期研判"]
    assert (seen["id"], seen["mine"], seen["owner"]["display_name"]) == (
        view["id"], False, user_by_username(OWNER).display_name)  # type: ignore[union-attr]
    assert head.get(f"{VIEWS}/{view['id']}").status_code == 200
    assert "超期研判" not in _listed(other) and other.get(f"{VIEWS}/{view['id']}").status_code == 404

    refused = head.patch(f"{VIEWS}/{view['id']}", json={"name": "改名", "shared_with": "private"})
    assert refused.status_code == 403 and "owner" in refused.get_json()["message"]
    assert head.delete(f"{VIEWS}/{view['id']}").status_code == 403
    assert other.patch(f"{VIEWS}/{view['id']}", json={"name": "改名"}).status_code == 404
    assert other.delete(f"{VIEWS}/{view['id']}").status_code == 404
    db.session.expire_all()
    kept = db.session.get(SavedView, view["id"])
    assert kept is not None and (kept.name, kept.shared_with) == ("超期研判", "unit")

    changed = owner.patch(f"{VIEWS}/{view['id']}", json={"name": "我的超期", "shared_with": "private"})
    assert changed.status_code == 200 and changed.get_json()["name"] == "我的超期"
    assert _listed(head) == {} and head.get(f"{VIEWS}/{view['id']}").status_code == 404
    assert owner.delete(f"{VIEWS}/{view['id']}").status_code == 204
    assert _listed(owner) == {}
    actions = list(db.session.execute(sa.select(AuditEvent.action, AuditEvent.detail).where(
        AuditEvent.object_type == "saved_view", AuditEvent.object_id == str(view["id"])).order_by(AuditEvent.id)))
    assert [a for a, _ in actions] == ["create", "update", "delete"]
    assert actions[0][1] == {"view": "超期研判", "shared_with": "unit"}
    assert actions[1][1] == {"view": "我的超期", "shared_with": "private"}


def test_a_view_shared_with_coordinators_reaches_the_owners_county_only(as_user: Any) -> None:
    view = _create(as_user(OWNER), "派出所待办", "", "coordinators")
    coordinator = _listed(as_user(COORD))
    assert coordinator["派出所待办"]["id"] == view["id"] and coordinator["派出所待办"]["mine"] is False
    assert _listed(as_user(OTHER_COORD)) == {}
    assert _listed(as_user(HEAD)) == {}  # shared with coordinators, not with the unit
    assert as_user(COORD).delete(f"{VIEWS}/{view['id']}").status_code == 403


def test_counts_are_each_viewers_own(as_user: Any, clock: Any) -> None:
    for n in range(3):
        open_case(village=("t01v01", "t01v02")[n % 2])
    owner, head = as_user(OWNER), as_user(HEAD)
    _create(owner, "全部", "", "unit")
    _create(owner, "我的", "scope=mine", "unit")
    _create(owner, "超期", "overdue=1", "unit")
    _create(owner, "东城镇", "township=t01", "unit")
    _create(owner, "别的镇", "township=t02", "unit")
    task = db.session.scalars(sa.select(Task).where(Task.state == TaskState.OPEN).order_by(Task.id)).first()
    assert task is not None
    assert head.post(f"/api/v1/tasks/{task.id}/claim").status_code == 200

    counts = {name: v["count"] for name, v in _listed(owner).items()}
    assert counts == {"全部": 3, "我的": 0, "超期": 0, "东城镇": 3, "别的镇": 0}
    head_counts = {name: v["count"] for name, v in _listed(head).items()}
    assert head_counts == {**counts, "我的": 1}
    clock.advance(days=30)  # every first step is due within days
    assert _listed(owner)["超期"]["count"] == 3
    assert {n: v["count"] for n, v in _listed(as_user(OTHER_UNIT)).items()} == {}
    assert as_user(OWNER).get(f"{VIEWS}/{_listed(owner)['全部']['id']}").get_json()["count"] == 3


def test_all_counts_take_one_statement_whatever_the_number_of_views(demo: Any) -> None:
    for n in range(2):
        open_case(village=("t01v01", "t01v02")[n])
    owner = user_by_username(OWNER)
    assert owner is not None
    save_view(owner, "一", "")
    db.session.flush()
    one = views_of(owner)
    with statements_sent() as seen:
        assert view_counts(owner, one, now()) == {one[0].id: 2}
    assert len(seen) == 1
    for name, query in (("二", "overdue=1"), ("三", "scope=mine"), ("四", "township=t01&process=four_in_one"),
                        ("五", "due_24h=1&step=police_triage"), ("六", "township=t02")):
        save_view(owner, name, query)
    db.session.flush()
    six = views_of(owner)
    with statements_sent() as seen:
        counts = view_counts(owner, six, now())
    assert len(seen) == 1, "a count per view"
    assert sorted(counts.values(), reverse=True)[:2] == [2, 2] and len(counts) == 6


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"name": "x", "shared_with": "everyone"}, 422, "shared_with"),
    ({"name": "", "query": ""}, 422, "name"),
    ({"name": "x" * 81}, 422, "name"),
    ({"name": "x", "query": "q" * 1001}, 422, "query"),
    ({"query": "overdue=1"}, 422, "name"),
])
def test_bad_bodies_are_422_and_save_nothing(as_user: Any, body: dict[str, Any], status: int, field: str) -> None:
    resp = as_user(OWNER).post(VIEWS, json=body)
    assert resp.status_code == status, resp.get_json()
    assert field in str(resp.get_json()) and db.session.scalar(sa.select(sa.func.count()).select_from(SavedView)) == 0


def test_hostile_queries_are_normalised_names_clash_and_a_reporter_cannot_share_with_a_unit(as_user: Any) -> None:
    owner = as_user(OWNER)
    view = _create(owner, "奇怪", "scope=mine&sort=DROP%20TABLE&page=99&x=%3Cscript%3E&overdue=1")
    assert view["query"] == "scope=mine&overdue=1"
    assert owner.post(VIEWS, json={"name": "奇怪"}).status_code == 409
    other = _create(owner, "另一个")
    assert owner.patch(f"{VIEWS}/{other['id']}", json={"name": "奇怪"}).status_code == 409
    refused = as_user("reporter_school").post(VIEWS, json={"name": "x", "shared_with": "unit"})
    assert refused.status_code == 422 and "shared_with" in str(refused.get_json())
    assert as_user("reporter_school").get(VIEWS).get_json() == {"items": []}


def test_only_people_with_a_queue_share_a_view_with_the_coordinators(as_user: Any) -> None:
    """Hostile review (docs/security.md): before, a teacher who only files reports, a designer or an admin could
    put a view named "紧急通知：请访问 http://…" in every coordinator's inbox of the county."""
    for who in ("reporter_school", "designer", "admin"):
        refused = as_user(who).post(VIEWS, json={"name": "紧急通知：请访问 http://evil.example", "shared_with": "coordinators"})
        assert refused.status_code == 422 and "shared_with" in str(refused.get_json()), who
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedView)) == 0
    _create(as_user(OWNER), "逾期的派出所任务", "overdue=1", shared_with="coordinators")  # a liaison has a queue
    assert list(_listed(as_user(COORD))) == ["逾期的派出所任务"]


def test_the_inbox_page_shows_shared_views_with_counts_and_no_controls_to_others(app: Any, as_user: Any) -> None:
    open_case(village="t01v01")
    view = _create(as_user(OWNER), "团队视图", "", "unit")
    html = PageClient(app, HEAD).get("/inbox").get_data(as_text=True)
    block = re.search(rf'<span class="saved-view" id="saved-view-{view["id"]}">(.*?)</span>\s*</span>', html, re.S)
    assert block, html
    assert "团队视图" in block.group(1) and ">1<" in block.group(1)
    assert "delete" not in block.group(1)
    head_page = PageClient(app, HEAD)
    assert head_page.post(f"/inbox/views/{view['id']}/delete").status_code == 403
    assert db.session.get(SavedView, view["id"]) is not None
    owner_html = PageClient(app, OWNER).get("/inbox").get_data(as_text=True)
    assert f'/inbox/views/{view["id"]}/delete' in owner_html

    saved = PageClient(app, HEAD).post("/inbox/views", data={"name": "给协调员", "query": "overdue=1",
                                                              "shared_with": "coordinators"})
    assert saved.status_code == 302
    assert "给协调员" in PageClient(app, COORD).get("/inbox").get_data(as_text=True)


def test_the_inbox_page_costs_the_same_with_one_view_and_with_six(app: Any, as_user: Any) -> None:
    """GET /inbox reads the views (with their owners' names) in one statement and counts them in one more."""
    open_case(village="t01v01")
    owner = as_user(OWNER)
    web = PageClient(app, HEAD)

    def cost() -> tuple[int, int, int]:
        """(statements, of them about saved views or their counts, views shown)."""
        web.get("/inbox")  # the session's own bookkeeping (last seen, the user) is not the page's cost
        with statements_sent() as seen:
            html = web.get("/inbox").get_data(as_text=True)
        views = [s for s in seen if "FROM saved_view" in s
                 or (s.startswith("SELECT count(") and "FROM (SELECT" not in s)]  # not the page's capped total
        return len(seen), len(views), len(re.findall(r'class="saved-view"', html))

    _create(owner, "一", "", "unit")
    with_one = cost()
    for name in ("二", "三", "四", "五"):
        _create(owner, name, "overdue=1&township=t01", "unit")
    _create(as_user(HEAD), "六", "scope=mine")
    with_six = cost()
    assert (with_one[1:], with_six[1:]) == ((2, 1), (2, 6)), "a statement per view"
    assert with_six[0] <= with_one[0] <= INBOX_WITH_VIEWS_STATEMENTS


def test_a_view_answers_the_same_body_listed_read_and_created(as_user: Any) -> None:
    """Pinned key by key: ``SavedViewOut`` dumps the view with ``mine`` and ``count`` beside it."""
    owner = as_user(OWNER)
    made = _create(owner, "全部字段", "scope=mine&overdue=1&township=t01&page=3", "unit")
    owner_user = user_by_username(OWNER)
    assert owner_user is not None
    assert made == {"id": made["id"], "name": "全部字段", "query": "scope=mine&overdue=1&township=t01",
                    "shared_with": "unit", "mine": True, "count": made["count"],
                    "owner": {"id": owner_user.id, "display_name": owner_user.display_name},
                    "filters": {"scope": "mine", "overdue": True, "due_24h": False, "step": "", "township": "t01",
                                "process": "", "sort": "due"},
                    "created_at": made["created_at"], "updated_at": None}
    assert isinstance(made["count"], int) and made["created_at"]
    assert owner.get(f"{VIEWS}/{made['id']}").get_json() == made
    assert _listed(owner)["全部字段"] == made
    assert _listed(as_user(HEAD))["全部字段"] == {**made, "mine": False, "count": _listed(as_user(HEAD))["全部字段"]["count"]}
