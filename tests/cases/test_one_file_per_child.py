"""One file per child at intake (issue 15, part 2): the same child is recognised, an open case takes the
new report, likely matches are the filer's choice, and two reports at once make one child."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import report_payload, submit_report
from races import run_threads

from app.cases.models import Case, Child, Report
from app.extensions import db
from app.notifications.models import Notification
from app.org.queries import user_by_username

ID = "370000201506010011"


def _count(model: Any) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(model.id))) or 0


def test_a_hotline_report_with_the_same_id_number_joins_the_first_case(as_user: Any) -> None:
    """The hold-out of issue 15: a second report from the 12355 hotline opened a second child and case."""
    first = submit_report(as_user("reporter_school"), "living_alone", id_number=ID)
    body = report_payload("domestic_violence", id_number="3700 0020 1506 0100 11") | {"report": {
        "reporter_type": "hotline_12355", "situation": "domestic_violence", "description": "邻居来电。"}}
    second = as_user("hotline_12355").post("/api/v1/reports", json=body)
    assert second.status_code == 201, second.get_json()
    answer = second.get_json()
    assert answer["case_id"] == first["case_id"] and answer["outcome"] == "added_to_open_case"
    assert (_count(Child), _count(Case), _count(Report)) == (1, 1, 2)
    case = as_user("coordinator").get(f"/api/v1/cases/{first['case_id']}").get_json()
    assert [r["reporter_type"] for r in case["reports"]] == ["school", "hotline_12355"]
    assert "report_added" in [e["kind"] for e in case["timeline"]]
    # one process only: the first police task is still the only open one
    assert len(case["open_tasks"]) == 1 and len(case["instances"]) == 1
    # the police station working the case is told, and nobody outside it
    told = db.session.scalars(sa.select(Notification.user_id).where(Notification.kind == "report_added")).all()
    assert user_by_username("police_t01").id in told
    assert user_by_username("police_t02").id not in told and user_by_username("reporter_school").id not in told
    # a retry of the same request replays, adding nothing
    again = as_user("hotline_12355").post("/api/v1/reports", json=body)
    assert again.status_code == 200 and again.get_json()["case_id"] == first["case_id"]
    assert _count(Report) == 2


def test_a_known_child_without_an_open_case_gets_a_new_case_on_the_same_file(as_user: Any) -> None:
    first = submit_report(as_user("reporter_school"), id_number=ID)
    db.session.get(Case, first["case_id"]).status = "closed"
    db.session.flush()
    second = as_user("hotline_12355").post("/api/v1/reports", json=report_payload("missing", id_number=ID))
    assert second.status_code == 201
    answer = second.get_json()
    assert answer["outcome"] == "new_case_known_child" and answer["case_id"] != first["case_id"]
    assert _count(Child) == 1
    assert db.session.get(Case, answer["case_id"]).child_id == db.session.get(Case, first["case_id"]).child_id


def test_likely_matches_are_shown_masked_and_the_filer_chooses(as_user: Any) -> None:
    first = submit_report(as_user("reporter_school"), id_number=ID, name="赵小花")
    no_id = report_payload("missing", name="赵小花", id_number="")
    held = as_user("hotline_12355").post("/api/v1/reports", json=no_id)
    assert held.status_code == 200
    answer = held.get_json()
    assert answer["outcome"] == "held_likely_matches" and answer["created"] is False and answer["case_id"] is None
    [match] = answer["likely_matches"]
    # the desk may not see the child: the name and ID number masked, no case number
    assert match["name"] == "赵*花" and match["id_number"] != ID and match["open_case_number"] is None
    assert match["has_open_case"] is True and match["village"]
    assert _count(Report) == 1
    # a coordinator sees who it is
    shown = as_user("coordinator").post("/api/v1/reports", json=report_payload("missing", name="赵小花", id_number=""))
    assert shown.get_json()["likely_matches"][0]["open_case_number"] == first["case_number"]
    # picking the match files into its open case
    picked = dict(no_id, child=dict(no_id["child"], id=match["child_id"]))
    filed = as_user("hotline_12355").post("/api/v1/reports", json=picked)
    assert filed.status_code == 201 and filed.get_json()["case_id"] == first["case_id"]
    # "another child" files a new child and case
    new = as_user("hotline_12355").post("/api/v1/reports", json=report_payload(
        "missing", name="赵小花", id_number="") | {"confirm_new_child": True})
    assert new.status_code == 201 and new.get_json()["outcome"] == "new_case"
    assert (_count(Child), _count(Case)) == (2, 2)


def test_an_id_is_not_a_key_to_other_children(as_user: Any) -> None:
    """Picking by id works only for a child that matches what the filer described."""
    submit_report(as_user("reporter_school"), id_number=ID, name="赵小花")
    other = submit_report(as_user("reporter_school"), village="t02v01", name="钱小二")
    other_child = db.session.get(Case, other["case_id"]).child_id
    body = report_payload("missing", name="赵小花", id_number="")
    body["child"]["id"] = other_child
    resp = as_user("hotline_12355").post("/api/v1/reports", json=body)
    assert resp.status_code == 404 and _count(Report) == 2


def test_the_report_page_offers_the_likely_matches(page: Any, as_user: Any) -> None:
    first = submit_report(as_user("reporter_school"), id_number=ID, name="赵小花")
    desk = page("hotline_12355")
    form = {"situation": "missing", "reporter_type": "hotline_12355", "name": "赵小花", "sex": "female",
            "birth_date": "2015-06-01", "village": "t01v01"}
    held = desk.post("/reports/new", form)
    assert held.status_code == 409
    text = held.get_data(as_text=True)
    assert 'id="likely-matches"' in text and "赵*花" in text and 'name="match" value="new"' in text
    child_id = db.session.get(Case, first["case_id"]).child_id
    assert f'name="match" value="{child_id}"' in text
    filed = desk.post("/reports/new", form | {"match": str(child_id)})
    assert filed.status_code == 302 and filed.headers["Location"].endswith(f"/cases/{first['case_id']}")
    assert (_count(Case), _count(Report)) == (1, 2)


@pytest.mark.postgres
@pytest.mark.committing  # two requests on threads at once
def test_two_reports_with_one_new_id_number_at_once_make_one_child_and_one_case(app: Any, as_user: Any) -> None:
    school, hotline = as_user("reporter_school"), as_user("hotline_12355")
    db.session.remove()
    start = threading.Barrier(2)

    def send(api: Any) -> Any:
        def go() -> tuple[int, str]:
            client = app.test_client()
            start.wait(timeout=5)
            resp = client.post("/api/v1/reports", json=report_payload(id_number="370000201801010022"),
                               headers=api.headers)
            return resp.status_code, resp.get_json()["outcome"]
        return go

    results = run_threads({"school": send(school), "hotline": send(hotline)})
    assert sorted(results.values()) == [(201, "added_to_open_case"), (201, "new_case")], results
    assert (_count(Child), _count(Case), _count(Report)) == (1, 1, 2)


def test_enrolling_a_child_by_an_id_number_on_file_uses_that_file(as_user: Any) -> None:
    """Programme enrolment of a 'newly found' child whose ID number is on file: the same child, not a 500."""
    first = submit_report(as_user("reporter_school"), id_number=ID)
    child = {"name": "李小明", "sex": "male", "birth_date": "2015-06-01", "id_number": "３７００００２０１５０６０１００１１",
             "village": "t01v01"}
    resp = as_user("coordinator").post("/api/v1/duties/enrolments", json={
        "child": child, "tags": ["left_behind"], "start_reason": "parents_left_to_work"})
    assert resp.status_code == 201, resp.get_json()
    assert _count(Child) == 1
    assert resp.get_json()["child_id"] == db.session.get(Case, first["case_id"]).child_id
