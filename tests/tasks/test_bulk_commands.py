"""A unit head's bulk reassign and bulk claim (issue 16, part 1): all rows or none, each audited and bumped."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from helpers import open_tasks, submit_report

from app.audit.models import AuditEvent
from app.extensions import db
from app.org.queries import user_by_username

HEAD, LIAISON, OTHER = "police_t01_head", "police_t01", "police_t02"


def _three_tasks(as_user: Any) -> list[dict[str, Any]]:
    for _ in range(3):
        submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    return open_tasks(as_user(HEAD))


def _actions(username: str, action: str) -> list[str]:
    user = user_by_username(username)
    assert user is not None
    return list(db.session.scalars(sa.select(AuditEvent.object_id).where(
        AuditEvent.user_id == user.id, AuditEvent.action == action).order_by(AuditEvent.object_id)))


def test_bulk_reassign_moves_every_row_audits_each_and_bumps_versions(as_user: Any) -> None:
    tasks = _three_tasks(as_user)
    liaison = user_by_username(LIAISON)
    assert liaison is not None
    rows = [{"id": t["id"], "version": t["version"]} for t in tasks]
    resp = as_user(HEAD).post("/api/v1/tasks/bulk/reassign", json={"tasks": rows, "to_user_id": liaison.id})
    assert resp.status_code == 200, resp.get_json()
    items = resp.get_json()["items"]
    assert [i["assignee"] for i in items] == [liaison.display_name] * 3
    assert [i["version"] for i in items] == [t["version"] + 1 for t in tasks]
    assert sorted(str(t["id"]) for t in tasks) == sorted(_actions(HEAD, "reassign"))
    mine = open_tasks(as_user(LIAISON), assignee="me")
    assert {t["id"] for t in mine} == {t["id"] for t in tasks}


def test_one_stale_or_foreign_row_refuses_the_whole_command(as_user: Any) -> None:
    tasks = _three_tasks(as_user)
    head, liaison = as_user(HEAD), user_by_username(LIAISON)
    assert liaison is not None
    assert as_user(LIAISON).post(f"/api/v1/tasks/{tasks[1]['id']}/claim").status_code == 200  # the head's list is stale
    rows = [{"id": t["id"], "version": t["version"]} for t in tasks]
    stale = head.post("/api/v1/tasks/bulk/reassign", json={"tasks": rows, "to_user_id": liaison.id})
    assert stale.status_code == 409
    assert list(stale.get_json()["errors"]["json"]) == [f"tasks.{tasks[1]['id']}"]
    claim = head.post("/api/v1/tasks/bulk/claim", json={"tasks": rows})
    assert claim.status_code == 409
    after = {t["id"]: t for t in open_tasks(head)}
    assert after[tasks[0]["id"]]["assignee"] is None and after[tasks[2]["id"]]["assignee"] is None  # nothing changed
    assert _actions(HEAD, "reassign") == [] and _actions(HEAD, "claim") == []
    # another township's station: its task is not this head's to move
    submit_report(as_user("reporter_school"), "living_alone", "t02v01")
    [foreign] = open_tasks(as_user(OTHER))
    rows = [{"id": tasks[0]["id"]}, {"id": foreign["id"]}]
    refused = head.post("/api/v1/tasks/bulk/claim", json={"tasks": rows})
    assert refused.status_code == 403 and list(refused.get_json()["errors"]["json"]) == [f"tasks.{foreign['id']}"]
    assert head.post("/api/v1/tasks/bulk/claim", json={"tasks": [{"id": 2**31 - 1}]}).status_code == 404
    assert head.post("/api/v1/tasks/bulk/claim", json={"tasks": []}).status_code == 422
    other = user_by_username(OTHER)
    assert other is not None
    wrong = head.post("/api/v1/tasks/bulk/reassign", json={"tasks": [{"id": tasks[0]["id"]}], "to_user_id": other.id})
    assert wrong.status_code == 403
    assert as_user(LIAISON).post("/api/v1/tasks/bulk/claim", json={"tasks": [{"id": tasks[0]["id"]}]}).status_code == 403
    assert {t["id"]: t for t in open_tasks(head)}[tasks[0]["id"]]["assignee"] is None


def test_bulk_claim_takes_the_free_rows(as_user: Any) -> None:
    tasks = _three_tasks(as_user)
    head = as_user(HEAD)
    resp = head.post("/api/v1/tasks/bulk/claim", json={"tasks": [{"id": t["id"], "version": t["version"]} for t in tasks]})
    assert resp.status_code == 200, resp.get_json()
    me = user_by_username(HEAD)
    assert me is not None
    assert {i["assignee"] for i in resp.get_json()["items"]} == {me.display_name}
    assert len(_actions(HEAD, "claim")) == 3


def test_inbox_page_claims_and_reassigns_selected_rows_with_their_versions(as_user: Any, page: Any) -> None:
    tasks = _three_tasks(as_user)
    head = page(HEAD)
    html = head.get("/inbox").get_data(as_text=True)
    assert f'name="version.{tasks[0]["id"]}" value="{tasks[0]["version"]}"' in html
    form = [("task_ids", str(t["id"])) for t in tasks[:2]] + [(f"version.{t['id']}", str(t["version"])) for t in tasks]
    assert head.post("/inbox/claim", form).status_code == 302
    liaison = user_by_username(LIAISON)
    assert liaison is not None
    stale = head.post("/inbox/reassign", form + [("to_user_id", str(liaison.id))])  # versions moved with the claim
    assert stale.status_code == 409
    fresh = {t["id"]: t for t in open_tasks(as_user(HEAD))}
    form = [("task_ids", str(i)) for i in fresh] + [(f"version.{i}", str(t["version"])) for i, t in fresh.items()]
    assert head.post("/inbox/reassign", form + [("to_user_id", str(liaison.id))]).status_code == 302
    assert {t["assignee"] for t in open_tasks(as_user(HEAD))} == {liaison.display_name}
