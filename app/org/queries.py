"""Reads about the organisation, including routing a lane to a unit."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload, lazyload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.common.clock import now
from app.common.dialect import among
from app.common.errors import Invalid
from app.extensions import db

from .kinds import EVERY_COUNTY, SUPERVISED_BY, RegionLevel
from .models import ApiToken, Region, ServiceAccount, Unit, User, UserRole
from .roles import Role

MAX_REGION_DEPTH = 16
"""Regions above a village (township, county, ...) that routing walks at most; a guard against a cycle."""


def unit_for(kind: str, region: Region) -> Unit | None:
    """The unit of ``kind`` nearest to ``region`` walking up the tree, never past the county.

    A village task goes to that village's committee, a police task to the
    township's station, a civil-affairs task to the county bureau. The walk stops
    at the county: a city's or another county's unit never gets a county's case
    (a county without the kind leaves the task unrouted, for its coordinator to fix).
    """
    return nearest_unit(kind, region.id)


def nearest_unit(kind: str, region_id: int) -> Unit | None:
    """``unit_for`` by region id in one statement (a recursive walk up the tree), for the step path.

    Loading the region and each parent in turn cost one query per level on every routed task.
    The walk does not go above a county (``RegionLevel.COUNTY``): routing never crosses a county.
    """
    return db.session.scalar(_nearest_unit_statement(), {"kind": kind, "region_id": region_id})


def units_and_members_statement(members: Any) -> sa.Select[Unit, User]:
    """``nearest_unit`` of each kind in ``:kinds`` above ``:region_id`` (a step opening parallel tasks of several
    units) with, in the same statement, each candidate unit's users matching ``members`` (a condition on ``User``
    the caller decides: who is told of a unit's new task), nearest first: the rows for
    ``nearest_units_and_members``. Built by the caller once, with bound parameters only, and reused."""
    chain = _region_chain_cte()
    return (sa.select(Unit, User).join(chain, Unit.region_id == chain.c.id)
            .outerjoin(User, sa.and_(User.unit_id == Unit.id, members))
            .where(Unit.kind.in_(sa.bindparam("kinds", expanding=True)))
            .order_by(chain.c.depth, Unit.id, User.id).options(lazyload(User.role_rows)))


def nearest_units_and_members(
        statement: sa.Select[Any], kinds: Collection[str], region_id: int, **params: Any,
) -> tuple[dict[str, Unit | None], dict[int, list[User]], tuple[Any, ...] | None]:
    """Run a ``units_and_members_statement``: kind -> its nearest unit (None where the county has none), unit
    id -> its members, for the units chosen, and the values of any columns the caller added after (Unit, User)
    to ride along, from the first row (None when no row came back)."""
    units: dict[str, Unit | None] = dict.fromkeys(kinds)
    members: dict[int, list[User]] = {}
    extra: tuple[Any, ...] | None = None
    if not units:
        return units, members, extra
    for row in db.session.execute(statement, {"kinds": list(units), "region_id": region_id, **params}):
        unit: Unit = row[0]
        user: User | None = row[1]
        if extra is None:
            extra = tuple(row[2:])
        if units[unit.kind] is None:  # nearest first
            units[unit.kind] = unit
            members[unit.id] = []
        if user is not None and units[unit.kind] is unit:
            members[unit.id].append(user)
    return units, members, extra


def _region_chain_cte() -> sa.CTE:
    chain = (sa.select(Region.id, Region.parent_id, Region.level, sa.literal(0).label("depth"))
             .where(Region.id == sa.bindparam("region_id")).cte("region_chain", recursive=True))
    parent = aliased(Region)
    return chain.union_all(
        sa.select(parent.id, parent.parent_id, parent.level, chain.c.depth + 1)
        .join(chain, parent.id == chain.c.parent_id)
        .where(chain.c.depth < MAX_REGION_DEPTH, chain.c.level != RegionLevel.COUNTY.value))


@functools.cache
def _nearest_unit_statement() -> sa.Select[Unit]:
    """Built once: constructing the recursive CTE costs ~1.5 ms of Python, ten times running it."""
    chain = _region_chain_cte()
    return (sa.select(Unit).join(chain, Unit.region_id == chain.c.id)
            .where(Unit.kind == sa.bindparam("kind")).order_by(chain.c.depth).limit(1))


def supervising_unit(unit: Unit) -> Unit | None:
    """The unit that supervises a mandatory reporter unit (``kinds.SUPERVISED_BY``), nearest its region within
    the county; None for a unit kind that is not a mandatory reporter, or where the county has no such unit."""
    kind = SUPERVISED_BY.get(unit.kind)
    return nearest_unit(kind, unit.region_id) if kind is not None else None


def user_by_username(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


@functools.cache
def _token_statement() -> sa.Select[Any]:
    """One statement for what every API request needs first: the token, its user and the user's roles.

    Built once per process with the digest as a parameter: building the select and its eager-load options
    anew cost about as much CPU as loading its row (bench/README.md, session 9). It reads the rows each time,
    so a revocation, a deactivation or a role change counts at the next request, in every process."""
    return sa.select(ApiToken).where(ApiToken.token_hash == sa.bindparam("digest")).options(
        joinedload(ApiToken.user).joinedload(User.role_rows))


def live_token(raw_token: str) -> ApiToken | None:
    """The token row for a bearer token if it still works (known, not revoked, not expired, active user)."""
    digest = hashlib.sha256(raw_token.encode()).hexdigest()
    token: ApiToken | None = db.session.scalars(_token_statement(), {"digest": digest}).unique().first()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now():
        return None
    if not token.user.active:
        return None
    return token


def user_for_token(raw_token: str) -> User | None:
    """The active user a bearer token belongs to, or None (unknown, revoked, expired)."""
    token = live_token(raw_token)
    return token.user if token is not None else None


def tokens_of(user_id: int | None = None) -> list[ApiToken]:
    """Tokens, newest first: one user's, or everyone's (administrators)."""
    stmt = sa.select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return list(db.session.scalars(stmt.limit(1000)))


def token_state(token: ApiToken) -> str:
    """active, expired, or the reason it was revoked."""
    if token.revoked_at is not None:
        return token.revoked_reason or "revoked"
    if token.expires_at is not None and token.expires_at <= now():
        return "expired"
    return "active"


def region_by_code(code: str) -> Region | None:
    return db.session.scalar(sa.select(Region).where(Region.code == code))


def county_of(region: Region | None) -> Region | None:
    """The county a region is in (itself for a county); None above a county or outside any.

    Walks up only as far as the county (the city and province above it are not loaded).
    """
    node, depth = region, 0
    while node is not None and depth <= MAX_REGION_DEPTH:
        if node.level == RegionLevel.COUNTY:
            return node
        node, depth = node.parent, depth + 1
    return None


def load_ancestries(region_ids: set[int]) -> list[Region]:
    """These regions and every region above them, loaded into the session by one statement (a recursive walk
    up): while the caller holds the list (the session keeps loaded objects only weakly), a ``db.session.get``
    of any of them or ``Region.ancestry()`` sends nothing. The escalation sweep asks the ancestry of each
    case region of a batch, which loaded one parent at a time."""
    if not region_ids:
        return []
    if len(region_ids) == 1:  # a report's village: the statement built once (constructing it took 0.6 ms)
        return list(db.session.scalars(_ancestry_statement(), {"region_id": next(iter(region_ids))}))
    up = (sa.select(Region.id, Region.parent_id, sa.literal(0).label("depth"))
          .where(among(Region.id, region_ids)).cte("up", recursive=True))
    parent = aliased(Region)
    up = up.union_all(sa.select(parent.id, parent.parent_id, up.c.depth + 1)
                      .join(up, parent.id == up.c.parent_id).where(up.c.depth < MAX_REGION_DEPTH))
    return list(db.session.scalars(sa.select(Region).where(Region.id.in_(sa.select(up.c.id)))))


@functools.cache
def _ancestry_statement() -> sa.Select[Region]:
    """``load_ancestries`` of one region (``:region_id``), built once: constructing the recursive walk cost more CPU
    than running it (a completion that tells the township asks it, ~0.1 ms each time)."""
    up = (sa.select(Region.id, Region.parent_id, sa.literal(0).label("depth"))
          .where(Region.id == sa.bindparam("region_id")).cte("up", recursive=True))
    parent = aliased(Region)
    up = up.union_all(sa.select(parent.id, parent.parent_id, up.c.depth + 1)
                      .join(up, parent.id == up.c.parent_id).where(up.c.depth < MAX_REGION_DEPTH))
    return sa.select(Region).where(Region.id.in_(sa.select(up.c.id)))


def county_id_of(region_id: int | None) -> int | None:
    """``county_of`` by id, for callers holding only a case's or a user's region id."""
    return None if region_id is None else getattr(county_of(db.session.get(Region, region_id)), "id", None)


def county_code_for(region_id: int | None) -> str:
    """The region code of the county holding ``region_id``, or ``*`` (no county): the key of county settings.

    One statement (a recursive walk up, stopping at the county): every task that opens asks it, and loading
    each parent in turn cost a query per level up to the province.
    """
    if region_id is None:
        return EVERY_COUNTY
    code = db.session.scalar(_county_code_statement(), {"region_id": region_id})
    return code if code is not None else EVERY_COUNTY


@functools.cache
def _county_code_statement() -> sa.Select[str]:
    chain = (sa.select(Region.id, Region.parent_id, Region.level, Region.code, sa.literal(0).label("depth"))
             .where(Region.id == sa.bindparam("region_id")).cte("county_chain", recursive=True))
    parent = aliased(Region)
    chain = chain.union_all(
        sa.select(parent.id, parent.parent_id, parent.level, parent.code, chain.c.depth + 1)
        .join(chain, parent.id == chain.c.parent_id)
        .where(chain.c.depth < MAX_REGION_DEPTH, chain.c.level != RegionLevel.COUNTY.value))
    return sa.select(chain.c.code).where(chain.c.level == RegionLevel.COUNTY.value).limit(1)


def county_code(code: str) -> str:
    """``*`` (the deployment) or the region code of a county, for a county setting; anything else 422."""
    if code == EVERY_COUNTY:
        return code
    region = region_by_code(code)
    if region is None or region.level != RegionLevel.COUNTY:
        raise Invalid(f"{code!r} is not a county's region code", {"county": ["a county's code, or * for every county"]})
    return code


def counties_under(region: Region) -> list[Region]:
    """The counties in a city or province (or the county itself), by code: what a supervisor oversees."""
    if region.level == RegionLevel.COUNTY:
        return [region]
    tree = sa.select(Region.id, Region.level).where(Region.id == region.id).cte("under", recursive=True)
    below = sa.select(Region.id, Region.level).join(tree, Region.parent_id == tree.c.id).where(
        tree.c.level != RegionLevel.COUNTY.value)
    ids = sa.select(tree.union_all(below).c.id)
    return list(db.session.scalars(sa.select(Region).where(
        Region.id.in_(ids), Region.level == RegionLevel.COUNTY.value).order_by(Region.code)))


def _machine() -> sa.Exists:
    return sa.exists().where(ServiceAccount.user_id == User.id)


def is_service_account(user: User) -> bool:
    """Whether ``user`` is a service account's (a machine client acting for its unit): no one to hand work to."""
    return bool(db.session.scalar(sa.select(sa.exists().where(ServiceAccount.user_id == user.id))))


def unit_members(unit_id: int, with_roles: bool = True) -> list[User]:
    """Active members of a unit who are people (the lists a task or an absence's work is handed to: never a
    service account, which can neither complete a step nor read a reminder); ``with_roles=False`` skips
    loading their roles (to notify them)."""
    stmt = sa.select(User).where(User.unit_id == unit_id, User.active.is_(True), ~_machine())
    if not with_roles:
        stmt = stmt.options(lazyload(User.role_rows))
    return list(db.session.scalars(stmt))


def county_coordinators(region_id: int) -> list[User]:
    """Active coordinators of the county holding ``region_id`` (a case's village): never another county's."""
    county = county_id_of(region_id)
    if county is None:
        return []
    coordinators = sa.select(UserRole.user_id).where(UserRole.role == Role.COUNTY_COORDINATOR.value)
    return list(db.session.scalars(sa.select(User).where(
        User.region_id == county, User.active.is_(True), User.id.in_(coordinators)).order_by(User.id)))


def people_within(region_id: int | None) -> sa.Select[int]:
    """Ids of the users of a region: whose jurisdiction or unit lies in it (a county's people, for its log)."""
    if region_id is None:
        return sa.select(User.id).where(sa.false())
    tree = sa.select(Region.id).where(Region.id == region_id).cte("people_regions", recursive=True)
    regions = list(db.session.scalars(sa.select(tree.union_all(
        sa.select(Region.id).join(tree, Region.parent_id == tree.c.id)).c.id)))  # a county's few hundred ids
    units = sa.select(Unit.id).where(Unit.region_id.in_(regions))
    return sa.select(User.id).where(sa.or_(User.region_id.in_(regions), User.unit_id.in_(units)))


def load_roles(users: list[User]) -> None:
    """Load the roles of the users whose roles are not loaded yet (a worker list skips them), in one SELECT."""
    missing = {u.id: u for u in users if "role_rows" in sa.inspect(u).unloaded}
    if not missing:
        return
    rows: dict[int, list[UserRole]] = {user_id: [] for user_id in missing}
    for row in db.session.scalars(sa.select(UserRole).where(UserRole.user_id.in_(list(missing)))):
        rows[row.user_id].append(row)
    for user_id, user in missing.items():
        set_committed_value(user, "role_rows", rows[user_id])


def region_chain(region_id: int) -> list[Region]:
    """A region and every region above it, nearest first: from the session when it holds them (a case's region
    usually is), else in one recursive SELECT (``load_ancestries``; ``Region.ancestry`` would read one parent at a
    time)."""
    chain: list[Region] = []
    next_id: int | None = region_id
    while next_id is not None:
        node = db.session.identity_map.get(identity_key(Region, next_id))
        if node is None:
            break
        chain.append(node)
        next_id = node.parent_id
    else:
        return chain
    found = {r.id: r for r in db.session.scalars(_ancestry_statement(), {"region_id": region_id})}
    chain, next_id = [], region_id
    while next_id is not None and next_id in found:
        chain.append(found[next_id])
        next_id = found[next_id].parent_id
    return chain
