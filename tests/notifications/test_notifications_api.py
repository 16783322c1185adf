"""The notifications API (issue 16, part 4): your own notes only, paged like every list, `unread` filter, mark one
or all read; a note about a case you no longer have need to know of is neither listed nor markable."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from helpers import submit_report

from app.common.clock import now
from app.extensions import db
from app.notifications.models import Notification
from app.org.queries import user_by_username


def _notes(api: Any, **query: Any) -> dict[str, Any]:
    resp = api.get("/api/v1/notifications", query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _note(username: str, title: str, case_id: int | None = None) -> int:
    user = user_by_username(username)
    assert user is not None
    note = Notification(user_id=user.id, kind="conference", title=title, body="", case_id=case_id, created_at=now())
    db.session.add(note)
    db.session.commit()
    return note.id


def test_a_liaison_lists_pages_and_marks_their_own_notes(as_user: Any) -> None:
    police = as_user("police_t01")
    cases = [submit_report(as_user("reporter_school"), "living_alone", "t01v01", name=f"测试{n}") for n in range(3)]
    body = _notes(police)
    assert set(body) == {"items", "total", "page", "per_page"}
    assert body["total"] == 3 and {n["case_id"] for n in body["items"]} == {c["case_id"] for c in cases}
    assert all(n["kind"] == "new_task" and n["read_at"] is None and n["task_id"] for n in body["items"])
    second = _notes(police, per_page=1, page=2)
    assert (second["total"], second["per_page"], [n["id"] for n in second["items"]]) == (
        3, 1, [body["items"][1]["id"]])

    first = body["items"][0]["id"]
    resp = police.post(f"/api/v1/notifications/{first}/read")
    assert resp.status_code == 200 and resp.get_json()["read_at"] is not None
    assert [n["id"] for n in _notes(police, unread="true")["items"]] == [n["id"] for n in body["items"][1:]]
    assert [n["id"] for n in _notes(police, unread="false")["items"]] == [first]
    assert police.post(f"/api/v1/notifications/{first}/read").status_code == 200  # again: unchanged, no error

    assert police.post("/api/v1/notifications/read").get_json() == {"marked": 2}
    assert _notes(police, unread="true")["total"] == 0 and _notes(police)["total"] == 3
    assert police.post("/api/v1/notifications/read").get_json() == {"marked": 0}


def test_another_users_note_is_404_and_unchanged(as_user: Any) -> None:
    submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    note = _notes(as_user("police_t01"))["items"][0]["id"]
    other = as_user("police_t02")
    assert _notes(other)["total"] == 0
    resp = other.post(f"/api/v1/notifications/{note}/read")
    assert resp.status_code == 404 and "李" not in resp.get_data(as_text=True)
    assert other.post("/api/v1/notifications/999999/read").status_code == 404
    assert other.post("/api/v1/notifications/read").get_json() == {"marked": 0}
    assert db.session.get(Notification, note).read_at is None


def test_a_note_about_a_case_without_need_to_know_is_hidden(as_user: Any) -> None:
    case = submit_report(as_user("reporter_school"), "living_alone", "t01v01")["case_id"]
    hidden = _note("school_t01", "个案会商：已取消", case_id=case)  # the school has no basis on the case
    shown = _note("school_t01", "系统通知")
    school = as_user("school_t01")
    assert [n["id"] for n in _notes(school)["items"]] == [shown]
    assert school.post(f"/api/v1/notifications/{hidden}/read").status_code == 404
    assert school.post(f"/api/v1/notifications/{shown}/read").status_code == 200
    assert db.session.scalar(sa.select(Notification.read_at).where(Notification.id == hidden)) is None


def test_bad_queries_are_422_and_no_token_is_401(as_user: Any, client: Any) -> None:
    police = as_user("police_t01")
    for query in ({"unread": "perhaps"}, {"per_page": 0}, {"page": "x"}):
        resp = police.get("/api/v1/notifications", query_string=query)
        assert resp.status_code == 422, query
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.post("/api/v1/notifications/read").status_code == 401


def test_the_document_describes_the_three_operations(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    listing = doc["paths"]["/api/v1/notifications"]["get"]
    names = [p["name"] for p in listing["parameters"]]
    assert {"unread", "page", "per_page"} <= set(names)
    assert "post" in doc["paths"]["/api/v1/notifications/{note_id}/read"]
    assert "404" in doc["paths"]["/api/v1/notifications/{note_id}/read"]["post"]["responses"]
    assert "post" in doc["paths"]["/api/v1/notifications/read"]
