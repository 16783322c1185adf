"""Reads about the organisation, including routing a lane to a unit."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from app.common.clock import now
from app.extensions import db

from .models import ApiToken, Region, Unit, User


def unit_for(kind: str, region: Region) -> Unit | None:
    """The unit of ``kind`` nearest to ``region`` walking up the tree.

    A village task goes to that village's committee, a police task to the
    township's station, a civil-affairs task to the county bureau.
    """
    chain = region.ancestry()
    ids = [r.id for r in chain]
    units = db.session.scalars(sa.select(Unit).where(Unit.kind == kind, Unit.region_id.in_(ids))).all()
    by_region = {u.region_id: u for u in units}
    for r in chain:
        if r.id in by_region:
            return by_region[r.id]
    return None


def user_by_username(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


def user_for_token(raw_token: str) -> User | None:
    """The active user a bearer token belongs to, or None (unknown, revoked, expired)."""
    digest = hashlib.sha256(raw_token.encode()).hexdigest()
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or token.revoked_at is not None:
        return None
    at = now()
    if token.expires_at is not None and token.expires_at <= at:
        return None
    if not token.user.active:
        return None
    return token.user


def region_by_code(code: str) -> Region | None:
    return db.session.scalar(sa.select(Region).where(Region.code == code))


def unit_members(unit_id: int) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.unit_id == unit_id, User.active.is_(True))))


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: only active users keep a session."""
    try:
        user = db.session.get(User, int(user_id))
    except ValueError:
        return None
    return user if user is not None and user.active else None
