"""Several counties in one deployment: the region tree, routing that never leaves a county, and who is told
when a county lacks a unit (issue 13)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from deadline_helpers import open_case, tasks_of

from app.cases.models import TimelineEntry
from app.extensions import db
from app.notifications.models import Notification
from app.org.demo import load_demo
from app.org.models import Region, Unit, User
from app.org.operations import create_region, create_unit
from app.org.queries import (
    counties_under,
    county_of,
    nearest_unit,
    region_by_code,
    unit_for,
    user_by_username,
)


def _region(code: str) -> Region:
    region = region_by_code(code)
    assert region is not None, code
    return region


def test_the_demo_is_a_province_a_city_and_two_counties(county: Any) -> None:
    province, city, first, second = (_region(c) for c in ("p01", "m01", "c01", "c02"))
    assert (province.level, city.level, first.level, second.level) == ("province", "city", "county", "county")
    assert [r.code for r in _region("t21v01").ancestry()] == ["t21v01", "t21", "c02", "m01", "p01"]
    assert [c.code for c in counties_under(province)] == ["c01", "c02"] == [c.code for c in counties_under(city)]
    assert counties_under(first) == [first]
    assert county_of(_region("t01v02")) == first and county_of(_region("t21")) == second
    assert county_of(city) is None
    supervisor, coordinator = user_by_username("city_supervisor"), user_by_username("coordinator_c02")
    assert supervisor is not None and supervisor.region == city and supervisor.roles == {"regional_supervisor"}
    assert coordinator is not None and coordinator.region == second
    # The first county is the one it always was: its rows were made first, so their ids did not move.
    assert first.id == 1 and user_by_username("coordinator").region == first  # type: ignore[union-attr]
    counts = [db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in (Region, Unit, User)]
    load_demo()  # idempotent
    assert [db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in (Region, Unit, User)] == counts


def test_a_county_without_a_parent_stays_valid(ctx: Any) -> None:
    """Databases made before provinces and cities: a root county routes and is its own county."""
    county = create_region("x01", "独立县", "county")
    village = create_region("x01v", "独立村", "village", create_region("x01t", "独立镇", "township", county))
    unit = create_unit("civil_affairs", county, "独立县民政局")
    assert unit_for("civil_affairs", village) == unit and county_of(village) == county
    assert counties_under(county) == [county]


def test_routing_never_walks_past_the_county(county: Any) -> None:
    """The second county has no child welfare institution: neither the first county's nor one the city
    keeps gets its tasks."""
    village = _region("t21v01")
    assert unit_for("police", village).region.code == "t21"  # type: ignore[union-attr]
    assert unit_for("civil_affairs", village).region.code == "c02"  # type: ignore[union-attr]
    assert nearest_unit("welfare_institution", _region("t01v01").id) is not None
    create_unit("welfare_institution", _region("m01"), "示范市儿童福利院")
    assert unit_for("welfare_institution", village) is None
    assert nearest_unit("welfare_institution", village.id) is None


def test_a_task_the_county_cannot_route_stays_in_it_and_its_coordinator_is_told(county: Any) -> None:
    """A police step for a case in the second county whose police units are gone: it is not sent to the
    first county's stations nor the city's bureau; the case records it and only that county's coordinator
    hears of it at once."""
    second = _region("c02")
    db.session.execute(sa.update(Unit).where(Unit.kind == "police", Unit.region_id.in_(
        [r.id for r in db.session.scalars(sa.select(Region).where(Region.code.in_(["c02", "t21"])))]))
        .values(kind="police_gone"))
    city_police = create_unit("police", _region("m01"), "示范市公安局")
    db.session.commit()
    case = open_case("four_in_one", "t21v01")
    [task] = tasks_of(case.id)
    assert task.department_kind == "police" and task.unit_id is None
    assert case.region.parent.parent == second
    entry = db.session.scalar(sa.select(TimelineEntry).where(TimelineEntry.case_id == case.id,
                                                             TimelineEntry.kind == "task_unrouted"))
    assert entry is not None and entry.detail["department_kind"] == "police"
    told = db.session.execute(sa.select(User.username, Notification.task_id).join(
        Notification, Notification.user_id == User.id).where(Notification.kind == "task_unrouted")).all()
    assert told == [("coordinator_c02", task.id)]
    assert db.session.scalar(sa.select(sa.func.count(Notification.id)).where(
        Notification.case_id == case.id, Notification.user_id.in_(
            sa.select(User.id).where(User.unit_id == city_police.id)))) == 0
    # The same step in the first county is routed to its own township's station, as ever.
    other = open_case("four_in_one", "t01v01")
    [routed] = tasks_of(other.id)
    assert routed.unit.region.code == "t01"
