"""Writes about the organisation. Operations flush; the caller commits."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from argon2.profiles import CHEAPEST
from flask import current_app, has_app_context

from app.common.clock import now
from app.common.errors import Invalid
from app.extensions import db

from .kinds import DEPARTMENT_KINDS
from .models import ApiToken, Region, Unit, User, UserRole
from .queries import user_by_username
from .roles import Role
from .sessions import cut_off

STRONG_HASHER = PasswordHasher()
"""argon2-cffi's defaults (RFC 9106's low-memory profile: 3 passes over 64 MiB, 4 lanes): every county's."""
TEST_HASHER = PasswordHasher.from_parameters(CHEAPEST)
"""argon2-cffi's profile for tests, used only by an app created with ``testing``: the suite signs in
hundreds of times, and one strong hash costs 0.1-0.4 s of CPU. The parameters travel inside each hash, so
verifying works whichever profile made it; tests/org/test_password_hashing.py pins the strong one."""


def _hasher() -> PasswordHasher:
    testing = has_app_context() and bool(current_app.config.get("TESTING"))
    return TEST_HASHER if testing else STRONG_HASHER


def password_hasher() -> PasswordHasher:
    """The hasher this app hashes and verifies passwords with."""
    return _hasher()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise Invalid("password too short", {"password": ["at least 8 characters"]})
    return _hasher().hash(password)


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    return _verify(user.password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _dummy_hash() -> str:
    """A hash with the same parameters as real ones, verified when there is no real one to verify."""
    return _dummy_hash_of(_hasher())


@functools.cache
def _dummy_hash_of(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def authenticate(username: str, password: str) -> User | None:
    """The active user with this name and password, or None.

    Exactly one argon2 verification runs whatever the outcome (unknown name, inactive user, no
    password, wrong password), so the answer's timing does not tell which names exist.
    """

    user = user_by_username(username) if username else None
    real = user.password_hash if user is not None and user.password_hash else None
    ok = _verify(real or _dummy_hash(), password)
    if ok and real is not None and user is not None and user.active:
        return user
    return None


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


def issue_token(user: User, name: str = "cli", ttl_days: int | None = None) -> str:
    """Create a bearer token and return it; only its hash is stored, so it is shown once.

    Every token expires: ``ttl_days`` defaults to ``Settings.token_ttl_days`` and is capped at
    ``Settings.token_max_days``.
    """
    from flask import current_app

    settings = current_app.config["LIANDONG"]
    days = settings.token_ttl_days if ttl_days is None else ttl_days
    if not 1 <= days <= settings.token_max_days:
        raise Invalid("bad token lifetime", {"days": [f"between 1 and {settings.token_max_days}"]})
    raw = "ld_" + secrets.token_urlsafe(32)
    at = now()
    db.session.add(ApiToken(
        user_id=user.id, token_hash=hashlib.sha256(raw.encode()).hexdigest(), name=name[:80], created_at=at,
        expires_at=at + timedelta(days=days),
    ))
    db.session.flush()
    return raw


def update_user(user: User, *, display_name: str, roles: set[Role], unit: Unit | None, region: Region | None,
                active: bool) -> User:
    """An administrator sets a user's name, roles, unit, jurisdiction and whether they may sign in.

    A change of roles, unit, jurisdiction or active ends the user's sessions and tokens: whatever
    they were trusted with before is re-decided at their next sign-in.
    """
    if not display_name.strip():
        raise Invalid("a name is required", {"display_name": ["required"]})
    if not roles:
        raise Invalid("a user needs at least one role", {"roles": ["choose at least one role"]})
    if roles & {Role.LIAISON, Role.UNIT_HEAD} and unit is None:
        raise Invalid("liaisons and unit heads belong to a unit", {"unit": ["required for this role"]})
    before = (user.active, {r.role for r in user.role_rows}, user.unit_id, user.region_id)
    user.display_name = display_name.strip()[:120]
    user.unit = unit
    user.region = region
    user.active = active
    current = {r.role for r in user.role_rows}
    wanted = {r.value for r in roles}
    user.role_rows = [r for r in user.role_rows if r.role in wanted] + [
        UserRole(role=r) for r in sorted(wanted - current)]
    db.session.flush()
    if user.id is not None and before != (active, wanted, user.unit_id, user.region_id):
        cut_off(user, "deactivated" if before[0] and not active else "access_changed")
    return user


def set_password(user: User, password: str) -> None:
    """Reset a password (argon2); the old one, every session and every token stop working at once."""
    user.password_hash = hash_password(password)
    db.session.flush()
    cut_off(user, "password_reset")
