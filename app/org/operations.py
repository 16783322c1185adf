"""Writes about the organisation. Operations flush; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from app.common.clock import now
from app.common.errors import Invalid
from app.extensions import db

from .kinds import DEPARTMENT_KINDS
from .models import ApiToken, Region, Unit, User, UserRole
from .roles import Role

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise Invalid("password too short", {"password": ["at least 8 characters"]})
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def create_region(code: str, name: str, level: str, parent: Region | None = None) -> Region:
    region = Region(code=code, name=name, level=level, parent=parent)
    db.session.add(region)
    db.session.flush()
    return region


def create_unit(kind: str, region: Region, name: str) -> Unit:
    if kind not in DEPARTMENT_KINDS:
        raise Invalid(f"unknown department kind {kind!r}", {"kind": ["not a department kind"]})
    unit = Unit(kind=kind, region=region, name=name)
    db.session.add(unit)
    db.session.flush()
    return unit


def create_user(username: str, display_name: str, password: str | None, roles: set[Role],
                unit: Unit | None = None, region: Region | None = None, *, password_hash: str | None = None) -> User:
    """Create a user; pass ``password_hash`` to reuse one already computed (bulk demo loads)."""
    user = User(
        username=username, display_name=display_name,
        password_hash=password_hash or (hash_password(password) if password else None),
        unit=unit, region=region, created_at=now(),
    )
    user.role_rows = [UserRole(role=r.value) for r in sorted(roles)]
    db.session.add(user)
    db.session.flush()
    return user


def issue_token(user: User, name: str = "cli", ttl_days: int | None = 365) -> str:
    """Create a bearer token and return it; only its hash is stored, so it is shown once."""
    raw = "ld_" + secrets.token_urlsafe(32)
    at = now()
    db.session.add(ApiToken(
        user_id=user.id, token_hash=hashlib.sha256(raw.encode()).hexdigest(), name=name, created_at=at,
        expires_at=at + timedelta(days=ttl_days) if ttl_days else None,
    ))
    db.session.flush()
    return raw


def update_user(user: User, *, display_name: str, roles: set[Role], unit: Unit | None, region: Region | None,
                active: bool) -> User:
    """An administrator sets a user's name, roles, unit, jurisdiction and whether they may sign in."""
    if not display_name.strip():
        raise Invalid("a name is required", {"display_name": ["required"]})
    if not roles:
        raise Invalid("a user needs at least one role", {"roles": ["choose at least one role"]})
    if roles & {Role.LIAISON, Role.UNIT_HEAD} and unit is None:
        raise Invalid("liaisons and unit heads belong to a unit", {"unit": ["required for this role"]})
    user.display_name = display_name.strip()[:120]
    user.unit = unit
    user.region = region
    user.active = active
    current = {r.role for r in user.role_rows}
    wanted = {r.value for r in roles}
    user.role_rows = [r for r in user.role_rows if r.role in wanted] + [
        UserRole(role=r) for r in sorted(wanted - current)]
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Reset a password (argon2); the old one stops working at once."""
    user.password_hash = hash_password(password)
    db.session.flush()
