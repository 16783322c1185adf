"""Reports are filed once: idempotency keys (also sent twice at once) and recent duplicates without a key.

Issue 11, part 2. A report about a child must never be lost, and never doubled silently: a second case
for the same child sends two police stations, two assessments, two sets of deadlines after one child.
"""

from __future__ import annotations

import contextlib
import re
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import report_payload
from races import run_threads, statement_hooks

from app.cases.models import Case, Report, TimelineEntry
from app.extensions import db


def _cases() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(Case.id))) or 0


def _keyless(**child: Any) -> dict[str, Any]:
    child.setdefault("id_number", "370000201506010011")
    body = report_payload("domestic_violence", **child)
    del body["idempotency_key"]
    return body


@pytest.mark.committing  # two requests on threads at once
def test_the_same_key_sent_twice_at_once_opens_one_case(app: Any, as_user: Any) -> None:
    """Both copies look for the key before either has written it; the old code then let both insert and
    the second hit the unique index: 500."""
    api = as_user("hotline_12355")
    body = report_payload("domestic_violence") | {"idempotency_key": "hotline-call-20260310-0042"}
    db.session.remove()
    both_looked = threading.Barrier(2)
    waited: set[str] = set()

    def before(thread: str, statement: str) -> None:
        s = statement.upper()
        if thread.startswith("copy-") and thread not in waited and ("IDEMPOTENCY_KEY" in s or "COMMAND_KEY" in s):
            waited.add(thread)
            with contextlib.suppress(threading.BrokenBarrierError):
                both_looked.wait(timeout=3)

    def send() -> Any:
        resp = app.test_client().post("/api/v1/reports", json=body, headers=api.headers)
        return resp.status_code, resp.get_json()

    with statement_hooks(db.engine, before=before):
        results = run_threads({"copy-a": send, "copy-b": send})
    assert all(isinstance(r, tuple) for r in results.values()), results
    assert sorted(code for code, _ in results.values()) == [200, 201], results
    assert len({body["case_id"] for _, body in results.values()}) == 1
    assert _cases() == 1
    assert db.session.scalar(sa.select(sa.func.count(Report.id))) == 1


def test_a_key_is_one_users_and_one_requests(as_user: Any) -> None:
    body = report_payload("domestic_violence") | {"idempotency_key": "hotline-call-20260310-0043"}
    assert as_user("hotline_12355").post("/api/v1/reports", json=body).status_code == 201
    other = as_user("reporter_school").post("/api/v1/reports", json=body)
    assert other.status_code == 409 and "another user" in other.get_json()["message"]
    changed = dict(body, report=dict(body["report"], situation="missing"))
    resp = as_user("hotline_12355").post("/api/v1/reports", json=changed)
    assert resp.status_code == 422 and "idempotency_key" in resp.get_json()["errors"]["json"]
    assert _cases() == 1


def test_a_keyless_repeat_of_a_recent_report_is_held_and_points_to_the_first(as_user: Any, clock: Any) -> None:
    """A client retrying after a dropped connection without a key used to open a second case."""
    api = as_user("reporter_school")
    first = api.post("/api/v1/reports", json=_keyless())
    assert first.status_code == 201 and first.get_json()["possible_duplicate_of"] is None
    clock.at += timedelta(minutes=4)
    again = api.post("/api/v1/reports", json=_keyless())
    assert again.status_code == 200, again.get_json()
    held = again.get_json()
    assert held["created"] is False and held["case_id"] == first.get_json()["case_id"]
    assert held["possible_duplicate_of"]["case_number"] == first.get_json()["case_number"]
    assert _cases() == 1

    confirmed = api.post("/api/v1/reports", json=_keyless() | {"confirm_duplicate": True})
    assert confirmed.status_code == 201
    flagged = confirmed.get_json()
    # one file per child (issue 15): the confirmed report joins the child's open case, flagged
    assert flagged["created"] and flagged["outcome"] == "added_to_open_case"
    assert flagged["case_id"] == first.get_json()["case_id"]
    assert flagged["possible_duplicate_of"]["case_id"] == first.get_json()["case_id"]
    assert _cases() == 1
    report = db.session.get(Report, flagged["report_id"])
    assert report.case_id == report.duplicate_of_case_id == first.get_json()["case_id"]
    entry = db.session.scalar(sa.select(TimelineEntry).where(TimelineEntry.case_id == flagged["case_id"],
                                                             TimelineEntry.kind == "report_added"))
    assert entry.detail["possible_duplicate_of"] == first.get_json()["case_number"]


def test_what_counts_as_the_same_child_reporter_and_minutes(as_user: Any, clock: Any) -> None:
    school = as_user("reporter_school")
    assert school.post("/api/v1/reports", json=_keyless()).status_code == 201
    # the same name and birth date without an ID number is the same child
    no_id = _keyless(id_number="")
    assert school.post("/api/v1/reports", json=no_id).status_code == 200
    # another child, another reporter: filed
    assert school.post("/api/v1/reports", json=_keyless(name="王小红", id_number="370000201601010022")) \
        .status_code == 201
    # another reporter: filed, into the child's open case (the same ID number is the same child, issue 15)
    hotline = as_user("hotline_12355").post("/api/v1/reports", json=_keyless())
    assert hotline.status_code == 201 and hotline.get_json()["outcome"] == "added_to_open_case"
    # past the window (10 minutes by default): filed, into the same case
    clock.at += timedelta(minutes=11)
    late = school.post("/api/v1/reports", json=_keyless())
    assert late.status_code == 201 and late.get_json()["possible_duplicate_of"] is None
    assert late.get_json()["case_id"] == hotline.get_json()["case_id"]
    assert _cases() == 2


@pytest.mark.postgres
@pytest.mark.committing  # two requests on threads at once
def test_two_keyless_copies_at_once_open_one_case(app: Any, as_user: Any) -> None:
    api = as_user("reporter_school")
    db.session.remove()
    start = threading.Barrier(2)

    def send() -> int:
        client = app.test_client()
        start.wait(timeout=5)
        return client.post("/api/v1/reports", json=_keyless(), headers=api.headers).status_code

    results = run_threads({"copy-a": send, "copy-b": send})
    assert sorted(results.values()) == [200, 201], results
    assert _cases() == 1


def test_the_report_page_shows_a_possible_duplicate_and_files_it_only_when_confirmed(page: Any) -> None:
    desk = page("hotline_12355")

    def form() -> dict[str, str]:
        key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', desk.get("/reports/new").get_data(
            as_text=True))
        assert key
        return {"idempotency_key": key.group(1), "situation": "domestic_violence", "reporter_type": "hotline_12355",
                "name": "赵小花", "sex": "female", "birth_date": "2016-02-03", "village": "t01v01"}

    first = desk.post("/reports/new", form())
    assert first.status_code == 302
    again = form()  # a second tab, a fresh form: another key, the same child
    held = desk.post("/reports/new", again)
    assert held.status_code == 409
    text = held.get_data(as_text=True)
    number = db.session.scalar(sa.select(Case.number))
    assert 'id="possible-duplicate"' in text and number in text and 'name="confirm_duplicate"' in text
    assert _cases() == 1
    filed = desk.post("/reports/new", again | {"confirm_duplicate": "1"})  # the same form, confirmed
    assert filed.status_code == 302
    # one file per child (issue 15): the confirmed report joins the child's open case, flagged
    assert _cases() == 1
    assert db.session.scalar(sa.select(sa.func.count(Report.id)).where(Report.duplicate_of_case_id.is_not(None))) == 1


def test_a_filed_form_sent_again_files_once_and_a_changed_one_is_explained(page: Any) -> None:
    desk = page("hotline_12355")
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"',
                    desk.get("/reports/new").get_data(as_text=True))
    assert key
    form = {"idempotency_key": key.group(1), "situation": "missing", "reporter_type": "hotline_12355",
            "name": "钱小东", "sex": "male", "birth_date": "2014-05-06", "village": "t01v01"}
    assert desk.post("/reports/new", form).status_code == 302
    assert desk.post("/reports/new", form).status_code == 302  # the resubmitted page: the same case
    assert _cases() == 1
    changed = desk.post("/reports/new", form | {"description": "补充：孩子已找到。"})
    assert changed.status_code == 422
    text = changed.get_data(as_text=True)
    assert 'id="form-already-sent"' in text and key.group(1) not in text  # a fresh key to file it anew
    assert _cases() == 1


def test_the_openapi_document_describes_the_keys(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    assert "first result" in schemas["ReportIn"]["properties"]["idempotency_key"]["description"]
    assert "possible_duplicate_of" in schemas["ReportAccepted"]["properties"]
    assert "confirm_duplicate" in schemas["ReportIn"]["properties"]
    assert "completed task" in schemas["CompleteIn"]["properties"]["idempotency_key"]["description"]
    complete = doc["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in complete["parameters"])
