"""Changes one person makes to another's account (an administrator, or the ``flask users`` CLI).

Each function makes the change and writes its audit row in the same flush (the rule of
``app.audit.operations``): who changed whom, and what. The building blocks below them
(``operations.create_user``, ``sessions.revoke_token`` ...) also serve the demo loader and sign-in,
which are not administration and write no row.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from app.audit.operations import audit
from app.common.errors import Conflict, Invalid

from .jurisdiction import check_choice, check_user
from .models import ApiToken, Region, Unit, User
from .operations import create_user, set_password, update_user
from .queries import is_service_account, user_by_username
from .roles import Role
from .sessions import end_sessions, revoke_token, revoke_tokens


def _access(user: User) -> dict[str, Any]:
    return {"roles": sorted(r.value for r in user.roles), "unit_id": user.unit_id, "region_id": user.region_id,
            "active": user.active}


def add_user(actor: User, username: str, password: str, *, display_name: str, roles: set[Role],
             unit: Unit | None, region: Region | None, active: bool) -> User:
    """Create an account with its roles, unit, jurisdiction and first password, inside ``actor``'s jurisdiction
    (``org.jurisdiction``: 403 outside). Flushes."""
    check_choice(actor, unit=unit, region=region, placed=True)
    if not username or len(username) > 80:
        raise Invalid("bad user name", {"username": [gettext("Required, at most 80 characters.")]})
    if user_by_username(username) is not None:
        raise Invalid("taken", {"username": [gettext("This user name is taken.")]})
    user = create_user(username, display_name or username, None, roles or {Role.LIAISON}, unit, region)
    update_user(user, display_name=display_name, roles=roles, unit=unit, region=region, active=active)
    set_password(user, password)
    audit(actor.id, "user_create", "user", user.id,
          detail={"username": username, "roles": sorted(r.value for r in roles),
                  "unit_id": user.unit_id, "region_id": user.region_id})
    return user


def add_first_admin(username: str, password: str, region: Region, *, display_name: str = "") -> User:
    """An administrator for ``region`` made from the shell (``flask users create-admin``), with no acting user:
    the first account of an installation, which no existing admin can create. Flushes; the audit row has no
    actor."""
    if not username or len(username) > 80:
        raise Invalid("bad user name", {"username": [gettext("Required, at most 80 characters.")]})
    if user_by_username(username) is not None:
        raise Invalid("taken", {"username": [gettext("This user name is taken.")]})
    user = create_user(username, display_name or username, password, {Role.ADMIN}, None, region)
    audit(None, "user_create", "user", user.id,
          detail={"username": username, "roles": [Role.ADMIN.value], "unit_id": None, "region_id": region.id})
    return user


def _a_person(user: User) -> None:
    """409 for a service account's user: a password would let someone sign in to pages under the machine's name,
    and a role or unit changed here would widen what its scoped tokens read (``service_accounts.py`` fixes both
    at creation; rotate or revoke it there)."""
    if is_service_account(user):
        raise Conflict(gettext("This is a service account's user: manage it on the service accounts page."))


def change_user(actor: User, user: User, *, display_name: str, roles: set[Role], unit: Unit | None,
                region: Region | None, active: bool) -> User:
    """Set a user's name, roles, unit, jurisdiction and whether they may sign in; both the user and what they
    are given inside ``actor``'s jurisdiction (404 / 403). Flushes."""
    check_user(actor, user)
    check_choice(actor, unit=unit, region=region, placed=True)
    _a_person(user)
    before = _access(user)
    update_user(user, display_name=display_name, roles=roles, unit=unit, region=region, active=active)
    audit(actor.id, "user_update", "user", user.id, detail={"before": before, "after": _access(user)})
    return user


def reset_password(actor: User, user: User, password: str) -> None:
    check_user(actor, user)
    _a_person(user)
    set_password(user, password)
    audit(actor.id, "password_reset", "user", user.id)


def end_user_sessions(actor: User, user: User) -> None:
    """Sign the user out everywhere (a lost phone, a shared computer); tokens stay."""
    check_user(actor, user)
    end_sessions(user)
    audit(actor.id, "sessions_end", "user", user.id)


def revoke_user_token(actor: User | None, token: ApiToken) -> ApiToken:
    """Revoke one token (idempotent): one's own, or an administrator's within their jurisdiction (else 404 as an
    unknown token); ``actor`` None is the CLI."""
    if actor is not None and token.user_id != actor.id:
        check_user(actor, token.user, gettext("No such token."))
    revoke_token(token)
    audit(actor.id if actor else None, "token_revoke", "api_token", token.id, detail={"user_id": token.user_id})
    return token


def revoke_user_tokens(actor: User | None, user: User) -> int:
    """Revoke every live token of ``user``; returns how many. ``actor`` None is the CLI."""
    if actor is not None and user.id != actor.id:
        check_user(actor, user)
    revoked = revoke_tokens(user, "revoked")
    audit(actor.id if actor else None, "tokens_revoke", "user", user.id, detail={"count": revoked})
    return revoked
