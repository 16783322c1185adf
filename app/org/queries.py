"""Reads about the organisation, including routing a lane to a unit."""

from __future__ import annotations

import functools
import hashlib

import sqlalchemy as sa
from sqlalchemy.orm import aliased, lazyload

from app.common.clock import now
from app.extensions import db

from .models import ApiToken, Region, Unit, User

MAX_REGION_DEPTH = 16
"""Regions above a village (township, county, ...) that routing walks at most; a guard against a cycle."""


def unit_for(kind: str, region: Region) -> Unit | None:
    """The unit of ``kind`` nearest to ``region`` walking up the tree.

    A village task goes to that village's committee, a police task to the
    township's station, a civil-affairs task to the county bureau.
    """
    return nearest_unit(kind, region.id)


def nearest_unit(kind: str, region_id: int) -> Unit | None:
    """``unit_for`` by region id in one statement (a recursive walk up the tree), for the step path.

    Loading the region and each parent in turn cost one query per level on every routed task.
    """
    return db.session.scalar(_nearest_unit_statement(), {"kind": kind, "region_id": region_id})


@functools.cache
def _nearest_unit_statement() -> sa.Select[Unit]:
    """Built once: constructing the recursive CTE costs ~1.5 ms of Python, ten times running it."""
    chain = (sa.select(Region.id, Region.parent_id, sa.literal(0).label("depth"))
             .where(Region.id == sa.bindparam("region_id")).cte("region_chain", recursive=True))
    parent = aliased(Region)
    chain = chain.union_all(
        sa.select(parent.id, parent.parent_id, chain.c.depth + 1)
        .join(chain, parent.id == chain.c.parent_id).where(chain.c.depth < MAX_REGION_DEPTH))
    return (sa.select(Unit).join(chain, Unit.region_id == chain.c.id)
            .where(Unit.kind == sa.bindparam("kind")).order_by(chain.c.depth).limit(1))


def user_by_username(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


def live_token(raw_token: str) -> ApiToken | None:
    """The token row for a bearer token if it still works (known, not revoked, not expired, active user)."""
    digest = hashlib.sha256(raw_token.encode()).hexdigest()
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest))
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


def unit_members(unit_id: int, with_roles: bool = True) -> list[User]:
    """Active members of a unit; ``with_roles=False`` skips loading their roles (to notify them)."""
    stmt = sa.select(User).where(User.unit_id == unit_id, User.active.is_(True))
    if not with_roles:
        stmt = stmt.options(lazyload(User.role_rows))
    return list(db.session.scalars(stmt))
