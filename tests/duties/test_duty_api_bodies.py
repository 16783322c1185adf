"""The duties API's answers, pinned key by key (the schemas dump the objects; these bodies must not move)."""

from __future__ import annotations

import io
from typing import Any

from app.common.clock import local_today
from app.duties.catalog import DEFAULT_FREQUENCIES
from app.duties.roster_layout import write_xlsx
from app.duties.roster_sample import sample_rows
from app.org.queries import region_by_code


def test_an_enrolment_and_its_end_answer_the_same_fields(as_user: Any) -> None:
    body = {"child": {"name": "新发现", "sex": "male", "village": "t02v01", "birth_date": "2016-01-01"},
            "tags": ["left_behind"], "key_reasons": ["dropout"], "start_reason": "new_child_found",
            "started_on": "2026-03-10"}
    resp = as_user("director_t02v01").post("/api/v1/duties/enrolments", json=body)
    assert resp.status_code == 201, resp.get_json()
    made = resp.get_json()
    assert made == {"id": made["id"], "child_id": made["child_id"], "case_id": made["case_id"],
                    "tags": ["left_behind"], "key_reasons": ["dropout"], "started_on": "2026-03-10",
                    "start_reason": "new_child_found", "ended_on": None, "end_reason": None, "cycles_cancelled": 0}
    ended = as_user("director_t02v01").post(f"/api/v1/duties/enrolments/{made['id']}/end",
                                            json={"end_reason": "parent_returned"})
    assert ended.status_code == 200, ended.get_json()
    assert ended.get_json() == {**made, "ended_on": "2026-03-10", "end_reason": "parent_returned",
                                "cycles_cancelled": 0}


def test_the_frequency_rules_and_a_change(as_user: Any) -> None:
    rules = as_user("coordinator").get("/api/v1/duties/frequencies").get_json()
    assert rules == [{"duty": d, "selector": s, "cadence": c, "source": "default"}
                     for (d, s), c in sorted(DEFAULT_FREQUENCIES.items())]
    put = as_user("coordinator").put("/api/v1/duties/frequencies",
                                     json={"duty": "home_visit", "selector": "tag:low_income", "cadence": "weekly"})
    assert put.status_code == 200, put.get_json()
    assert put.get_json() == {"duty": "home_visit", "selector": "tag:low_income", "cadence": "weekly",
                              "source": "county"}
    after = as_user("coordinator").get("/api/v1/duties/frequencies").get_json()
    assert {"duty": "home_visit", "selector": "tag:low_income", "cadence": "weekly", "source": "county"} in after
    assert len(after) == len(rules) + 1


def test_a_roster_check_answers_the_import_and_each_row(as_user: Any) -> None:
    county = region_by_code("c01")
    assert county is not None
    rows, _ = sample_rows(county, 2, bad_every=0, today=local_today())
    rows[1] = dict(rows[1], id_number=rows[1]["id_number"][:-1] + ("0" if rows[1]["id_number"][-1] != "0" else "1"))
    api = as_user("coordinator")
    resp = api.client.post("/api/v1/roster/checks", headers=api.headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(write_xlsx(rows)), "台账.xlsx")})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"import", "rows"}
    record = body["import"]
    assert set(record) == {"id", "filename", "status", "rows", "counts", "uploaded_at", "imported_at"}
    assert (record["filename"], record["status"], record["rows"], record["imported_at"]) == ("台账.xlsx", "checked", 2, None)
    assert record["counts"] == {"create": 1, "update": 0, "unchanged": 0, "refused": 1}
    assert body["rows"] == [
        {"row": 2, "name": rows[0]["name"], "outcome": "create", "child_id": None, "changes": [], "problems": []},
        {"row": 3, "name": rows[1]["name"], "outcome": "refused", "child_id": None, "changes": [],
         "problems": [{"code": "id_checksum", "column": "公民身份号码", "detail": ""}]},
    ]
