"""The demo: a province > city > two counties, every unit the main flow needs, and logins.

The first county (``c01`` 示范县, three townships of two villages) is the one the tests and the guide use;
the second (``c02`` 邻县, one township of two villages) is smaller, with its own units, logins and
coordinator, so that county boundaries can be seen and tested. A city and a province supervisor see both
counties' numbers, never a child. Loading is idempotent: running it twice creates nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher

from app.extensions import db

from .kinds import DEPARTMENT_KINDS, RegionLevel
from .models import Region, Unit, User
from .operations import create_region, create_unit, create_user, hash_password, password_hasher
from .queries import region_by_code, user_by_username
from .roles import Role

DEMO_PASSWORD = "liandong-demo"  # noqa: S105 - published demo credential, printed by `flask demo load`

PROVINCE = ("p01", "示范省")
CITY = ("m01", "示范市")
COUNTY = ("c01", "示范县")
SECOND_COUNTY = ("c02", "邻县")
SECOND_TOWNSHIPS = [("t21", "北岭镇", [("t21v01", "北岭村"), ("t21v02", "南岭村")])]
TOWNSHIPS = [
    ("t01", "东城镇", [("t01v01", "柳树村"), ("t01v02", "杨庄村")]),
    ("t02", "西河乡", [("t02v01", "河口村"), ("t02v02", "王家村")]),
    ("t03", "南山镇", [("t03v01", "石门村"), ("t03v02", "松林村")]),
]
COUNTY_UNITS = [
    "civil_affairs", "education", "justice", "court", "procuratorate", "rescue_center", "welfare_institution",
    "youth_league", "womens_federation", "health", "disabled_federation", "human_resources", "finance",
    "medical_insurance", "women_children_committee",
]
SECOND_COUNTY_UNITS = [kind for kind in COUNTY_UNITS if kind != "welfare_institution"]
"""The smaller county has no child welfare institution of its own (many do not): its welfare steps stay
unrouted and its coordinator is told, rather than handing them to another county's institution."""
TOWNSHIP_UNITS = ["township", "police", "school", "clinic"]
VILLAGE_UNITS = ["village_committee"]


_demo_hashes: dict[PasswordHasher, str] = {}
"""The shared demo password's hash, per hasher (an app created with ``testing`` uses a cheap one)."""


@dataclass
class DemoLogin:
    username: str
    display_name: str
    roles: str
    unit: str


def _region(code: str, name: str, level: RegionLevel, parent: Region | None) -> Region:
    return region_by_code(code) or create_region(code, name, level.value, parent)


def _unit(kind: str, region: Region) -> Unit:
    existing = db.session.query(Unit).filter_by(kind=kind, region_id=region.id).one_or_none()
    if existing is not None:
        return existing
    label = DEPARTMENT_KINDS[kind].name_zh
    return create_unit(kind, region, f"{region.name}{label}")


def _user(username: str, name: str, roles: set[Role], unit: Unit | None, region: Region | None,
          logins: list[DemoLogin]) -> User:
    user = user_by_username(username)
    if user is None:
        # One argon2 hash for the shared demo password: hashing ~90 times would take seconds.
        hasher = password_hasher()
        if hasher not in _demo_hashes:
            _demo_hashes[hasher] = hash_password(DEMO_PASSWORD)
        user = create_user(username, name, None, roles, unit, region, password_hash=_demo_hashes[hasher])
    logins.append(DemoLogin(username, name, ",".join(sorted(r.value for r in roles)), unit.name if unit else ""))
    return user


def load_demo() -> list[DemoLogin]:
    """Create (or find) the demo province, city and both counties; return every demo login."""
    logins: list[DemoLogin] = []
    county = _region(COUNTY[0], COUNTY[1], RegionLevel.COUNTY, None)
    _county(county, COUNTY_UNITS, TOWNSHIPS, logins)
    _user("coordinator", "县未成年人保护工作协调员", {Role.COUNTY_COORDINATOR}, None, county, logins)
    _user("designer", "流程设计员", {Role.PROCESS_DESIGNER}, None, county, logins)
    _user("admin", "系统管理员", {Role.ADMIN}, None, county, logins)
    school = _unit("school", region_by_code("t01") or county)
    _user("reporter_school", "东城镇中心小学 班主任", {Role.REPORTER}, school, None, logins)
    _user("hotline_12355", "12355 热线接线员", {Role.REPORTER, Role.LIAISON}, _unit("youth_league", county), county,
          logins)
    # Made after the first county's rows so their ids stay what they were with one county.
    province = _region(PROVINCE[0], PROVINCE[1], RegionLevel.PROVINCE, None)
    city = _region(CITY[0], CITY[1], RegionLevel.CITY, province)
    if county.parent_id is None:  # also a database loaded before counties had a city
        county.parent = city
    second = _region(SECOND_COUNTY[0], SECOND_COUNTY[1], RegionLevel.COUNTY, city)
    _county(second, SECOND_COUNTY_UNITS, SECOND_TOWNSHIPS, logins)
    _user(f"coordinator_{second.code}", f"{second.name}未成年人保护工作协调员", {Role.COUNTY_COORDINATOR}, None, second,
          logins)
    _user("city_supervisor", f"{city.name}民政局督导", {Role.REGIONAL_SUPERVISOR}, None, city, logins)
    _user("province_supervisor", f"{province.name}民政厅督导", {Role.REGIONAL_SUPERVISOR}, None, province, logins)
    db.session.flush()
    return logins


def _county(county: Region, units: list[str], townships: list[tuple[str, str, list[tuple[str, str]]]],
            logins: list[DemoLogin]) -> None:
    """A county's bureaus, townships, villages, their units and their liaisons, heads, supervisors, directors."""
    for kind in units:
        unit = _unit(kind, county)
        _user(f"{kind}_{county.code}", f"{unit.name}联络员", {Role.LIAISON}, unit, county, logins)
        _user(f"{kind}_{county.code}_head", f"{unit.name}负责人", {Role.LIAISON, Role.UNIT_HEAD}, unit, county,
              logins)
    for t_code, t_name, villages in townships:
        township = _region(t_code, t_name, RegionLevel.TOWNSHIP, county)
        for kind in TOWNSHIP_UNITS:
            unit = _unit(kind, township)
            _user(f"{kind}_{t_code}", f"{unit.name}联络员", {Role.LIAISON}, unit, township, logins)
            if kind in ("township", "police"):
                _user(f"{kind}_{t_code}_head", f"{unit.name}负责人", {Role.LIAISON, Role.UNIT_HEAD}, unit,
                      township, logins)
        township_unit = _unit("township", township)
        _user(f"supervisor_{t_code}", f"{t_name}儿童督导员", {Role.CHILD_SUPERVISOR, Role.LIAISON}, township_unit,
              township, logins)
        for v_code, v_name in villages:
            village = _region(v_code, v_name, RegionLevel.VILLAGE, township)
            unit = _unit("village_committee", village)
            _user(f"village_committee_{v_code}", f"{t_name}{v_name}村委会联络员", {Role.LIAISON}, unit, village, logins)
            _user(f"director_{v_code}", f"{t_name}{v_name}儿童主任", {Role.CHILD_DIRECTOR, Role.LIAISON}, unit,
                  village, logins)
    # The county public security bureau: the quarterly data comparison's police list (003 二（三）10).
    police = db.session.query(Unit).filter_by(kind="police", region_id=county.id).one_or_none() \
        or create_unit("police", county, f"{county.name}公安局")
    _user(f"police_{county.code}", f"{police.name}联络员", {Role.LIAISON}, police, county, logins)
