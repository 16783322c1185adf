"""Routing: a lane's department kind goes to the nearest unit walking up from the child's village."""

from __future__ import annotations

from typing import Any

from app.org.models import Region
from app.org.operations import create_region, create_unit
from app.org.queries import region_by_code, unit_for


def test_village_township_and_county_units_are_found_walking_up(demo: Any) -> None:
    village = region_by_code("t02v02")
    assert village is not None
    assert unit_for("village_committee", village).region.code == "t02v02"
    assert unit_for("police", village).region.code == "t02"
    assert unit_for("township", village).region.code == "t02"
    assert unit_for("civil_affairs", village).region.code == "c01"
    assert unit_for("court", village).region.code == "c01"


def test_a_nearer_unit_wins_over_the_county_one(demo: Any) -> None:
    township: Region = region_by_code("t03")
    special = create_unit("civil_affairs", township, "南山镇民政所")
    village = region_by_code("t03v01")
    assert unit_for("civil_affairs", village).id == special.id
    assert unit_for("civil_affairs", region_by_code("t01v01")).region.code == "c01"


def test_no_unit_of_the_kind_anywhere_up_the_tree_is_none(ctx: Any) -> None:
    county = create_region("x01", "空县", "county")
    village = create_region("x01v", "空村", "village", create_region("x01t", "空镇", "township", county))
    assert unit_for("police", village) is None
