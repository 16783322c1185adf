"""Lookups for other systems (issue 16, part 4): department kinds, the region tree, units by kind and region,
and one child by id under the need-to-know rule (audited), all paged and in the OpenAPI document."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from helpers import submit_report

from app.audit.models import AuditEvent
from app.extensions import db
from app.org.kinds import DEPARTMENT_KINDS


def test_department_kinds_are_every_lane_name_with_both_names_paged(as_user: Any) -> None:
    api = as_user("reporter_school")  # not children's data: any signed-in caller
    first = api.get("/api/v1/department-kinds", query_string={"per_page": 5}).get_json()
    assert first["total"] == len(DEPARTMENT_KINDS) and len(first["items"]) == 5
    every = api.get("/api/v1/department-kinds", query_string={"per_page": 500}).get_json()["items"]
    police = next(k for k in every if k["code"] == "police")
    assert police == {"code": "police", "name_zh": "公安派出所", "name_en": "Police station", "level": "township"}
    assert {k["code"] for k in every} == set(DEPARTMENT_KINDS)


def test_the_region_tree_walks_down_by_parent_and_up_by_path(as_user: Any) -> None:
    api = as_user("hotline_12355")
    top = api.get("/api/v1/regions", query_string={"top": "true"}).get_json()
    assert [r["code"] for r in top["items"]] == ["p01"] and top["items"][0]["parent"] is None
    townships = api.get("/api/v1/regions", query_string={"parent": "c01"}).get_json()
    assert [r["code"] for r in townships["items"]] == ["t01", "t02", "t03"]
    assert {r["level"] for r in townships["items"]} == {"township"} and townships["total"] == 3
    village = api.get("/api/v1/regions/t01v01").get_json()
    assert [r["code"] for r in village["path"]] == ["p01", "m01", "c01", "t01"] and village["parent"] == "t01"
    assert village["children"] == [] and village["level"] == "village"
    county = api.get("/api/v1/regions/c01").get_json()
    assert [r["code"] for r in county["children"]] == ["t01", "t02", "t03"]
    villages = api.get("/api/v1/regions", query_string={"level": "village", "q": "岭"}).get_json()
    assert [r["code"] for r in villages["items"]] == ["t21v01", "t21v02"]


def test_units_by_kind_and_region_include_those_below_it(as_user: Any) -> None:
    api = as_user("hotline_12355")
    police = api.get("/api/v1/units", query_string={"kind": "police", "region": "c01"}).get_json()
    assert [u["region"]["code"] for u in police["items"]] == ["c01", "t01", "t02", "t03"]  # not the other county's
    assert all(u["kind"] == "police" for u in police["items"]) and police["total"] == 4
    other = api.get("/api/v1/units", query_string={"kind": "police", "region": "c02"}).get_json()
    assert {u["region"]["code"] for u in other["items"]} <= {"c02", "t21"} and other["total"] >= 1
    whole_city = api.get("/api/v1/units", query_string={"kind": "police", "region": "m01"}).get_json()
    assert whole_city["total"] == police["total"] + other["total"]
    at_village = api.get("/api/v1/units", query_string={"region": "t01v01"}).get_json()["items"]
    assert [u["kind"] for u in at_village] == ["village_committee"]
    named = api.get("/api/v1/units", query_string={"q": "东城镇", "kind": "school"}).get_json()["items"]
    assert len(named) == 1 and named[0]["region"]["code"] == "t01"


def test_unknown_codes_and_kinds_are_4xx_naming_the_parameter(as_user: Any) -> None:
    api = as_user("hotline_12355")
    for path, query, field in (("/api/v1/units", {"region": "nowhere"}, "region"),
                               ("/api/v1/units", {"kind": "bakery"}, "kind"),
                               ("/api/v1/regions", {"parent": "nowhere"}, "parent"),
                               ("/api/v1/regions", {"level": "planet"}, "level"),
                               ("/api/v1/units", {"per_page": 501}, "per_page")):
        resp = api.get(path, query_string=query)
        assert resp.status_code == 422, (path, query)
        assert list(resp.get_json()["errors"]["query"]) == [field]
    assert api.get("/api/v1/regions/nowhere").status_code == 404
    assert api.client.get("/api/v1/units").status_code == 401


def _audited(user_id: int, child_id: int) -> int:
    return int(db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.user_id == user_id, AuditEvent.action == "view", AuditEvent.object_type == "child",
        AuditEvent.object_id == str(child_id))) or 0)


def test_one_child_by_id_only_with_a_basis_and_audited(as_user: Any) -> None:
    accepted = submit_report(as_user("reporter_school"), id_number="379999201506010019")
    coordinator, other_county = as_user("coordinator"), as_user("coordinator_c02")
    found = coordinator.get("/api/v1/children", query_string={"id_number": "379999201506010019"}).get_json()
    [row] = found["items"]
    resp = coordinator.get(f"/api/v1/children/{row['id']}")
    assert resp.status_code == 200 and resp.get_json() == row
    assert [c["id"] for c in resp.get_json()["cases"]] == [accepted["case_id"]]
    me = coordinator.get("/api/v1/me").get_json()["id"]
    assert _audited(me, row["id"]) == 1
    refused = other_county.get(f"/api/v1/children/{row['id']}")  # no basis: as if there were no such child
    assert refused.status_code == 404 and refused.get_json()["code"] == 404
    assert other_county.get("/api/v1/children/2147483647").status_code == 404
    assert _audited(other_county.get("/api/v1/me").get_json()["id"], row["id"]) == 0


def test_the_document_describes_the_lookups(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/department-kinds", "/api/v1/regions", "/api/v1/units"):
        names = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert {"page", "per_page"} <= names, path
    assert {p["name"] for p in paths["/api/v1/units"]["get"]["parameters"]} >= {"kind", "region", "q"}
    assert "404" in paths["/api/v1/regions/{code}"]["get"]["responses"]
    assert "404" in paths["/api/v1/children/{child_id}"]["get"]["responses"]
