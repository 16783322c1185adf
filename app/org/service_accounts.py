"""Service accounts: machine clients that exchange client credentials for short-lived scoped tokens.

An administrator creates one (name, the unit it acts for, scopes) and is shown its client id and secret
once; the secret can be rotated (the old one and every token issued with it stop at once) and the account
revoked (its user is deactivated, its tokens revoked). The client then asks ``POST /api/v1/oauth/token``
(RFC 6749 4.4, ``oauth_api.py``) for a bearer token that lives ``TOKEN_LIFETIME`` and carries the account's
scopes (or the subset asked for); ``@blp.endpoint(scope=...)`` checks them (``app/common/scopes.py``).

Why a user row per account: the audit log, the need-to-know rule and every operation already speak of
users, so the account's calls are audited as the account and see exactly what its unit's liaison would,
without a second kind of caller threading through every check. Its user has no password (it cannot sign
in to pages) and no e-mail. Each change here writes its audit row in the same flush, like
``administration.py``; the CLI passes ``actor=None``.

Why SHA-256 and not argon2 for the secret: it is 256 random bits (``secrets.token_urlsafe(32)``), so a
slow hash buys nothing against guessing, and every token exchange would pay for it; the stored digest is
compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext

from app.audit.operations import audit
from app.common.clock import now
from app.common.errors import Conflict, Invalid, NotFound
from app.common.scopes import SCOPES
from app.extensions import db

from .jurisdiction import accounts_managed, check_choice, unknown
from .models import ApiToken, ServiceAccount, Unit, User
from .operations import create_user
from .roles import Role
from .sessions import revoke_tokens

TOKEN_LIFETIME = timedelta(hours=1)
"""How long a token from the token endpoint works; clients ask again when it ends (``expires_in``)."""

UNIT_SCOPES = frozenset({"cases:read", "notifications:read", "findings:read"})
"""Scopes that read what the unit's liaison reads: an account with one acts as a liaison of its unit."""

_DUMMY_DIGEST = hashlib.sha256(b"no such client").hexdigest()


class OAuthError(Exception):
    """An RFC 6749 5.2 error: ``error`` is the standard code, ``status`` 400 or 401 (``invalid_client``), or 429
    with ``retry_after`` seconds (too many refused credentials from the address)."""

    def __init__(self, error: str, description: str, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error, self.description, self.status, self.retry_after = error, description, status, retry_after


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    scopes: list[str]
    expires_in: int
    account: ServiceAccount


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return "lds_" + secrets.token_urlsafe(32)


def account_state(account: ServiceAccount) -> str:
    return "revoked" if account.revoked_at is not None else "active"


def service_accounts(by: User | None = None) -> list[ServiceAccount]:
    """The accounts acting for units in ``by``'s jurisdiction (None, the CLI: every one)."""
    stmt = sa.select(ServiceAccount).order_by(ServiceAccount.name).limit(1000)
    return list(db.session.scalars(stmt if by is None else stmt.where(accounts_managed(by))))


def account_for(by: User | None, account_id: int) -> ServiceAccount:
    """The account, when ``by``'s jurisdiction (None: the CLI) holds its unit; else 404 as for an unknown id."""
    account = db.session.get(ServiceAccount, account_id)
    message = gettext("No such service account.")
    if account is None:
        raise NotFound(message)
    if by is not None and db.session.scalar(sa.select(sa.exists().where(
            ServiceAccount.id == account.id, accounts_managed(by)))) is not True:
        raise unknown(by, "service_account", account.id, message)
    return account


def _check(name: str, unit: Unit | None, scopes: list[str]) -> None:
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 80:
        errors["name"] = [gettext("Required, at most 80 characters.")]
    elif db.session.scalar(sa.select(ServiceAccount.id).where(ServiceAccount.name == name)) is not None:
        errors["name"] = [gettext("This name is taken.")]
    if unit is None:
        errors["unit_id"] = [gettext("Choose the unit the account acts for.")]
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        errors["scopes"] = [gettext("Choose at least one of: %(scopes)s.", scopes=", ".join(SCOPES))]
    if errors:
        raise Invalid("bad service account", errors)


def create_account(actor: User | None, name: str, unit: Unit | None, scopes: list[str]) -> tuple[ServiceAccount, str]:
    """Create the account and its user; returns it with its secret (shown once, never stored). Flushes."""
    name = name.strip()
    scopes = sorted(set(scopes))
    check_choice(actor, unit=unit)  # 403: a unit outside the administrator's jurisdiction
    _check(name, unit, scopes)
    assert unit is not None
    client_id = "svc_" + secrets.token_hex(8)
    roles = {Role.REPORTER} | ({Role.LIAISON} if UNIT_SCOPES.intersection(scopes) else set())
    user = create_user(f"svc:{client_id}", name, None, roles, unit, unit.region)
    secret = _new_secret()
    account = ServiceAccount(user_id=user.id, user=user, name=name, client_id=client_id, secret_hash=_digest(secret),
                             scopes=" ".join(scopes), created_at=now(), created_by_id=actor.id if actor else None)
    db.session.add(account)
    db.session.flush()
    audit(actor.id if actor else None, "service_account_create", "service_account", account.id,
          detail={"account": name, "client_id": client_id, "unit_id": unit.id, "scopes": scopes})
    return account, secret


def rotate_secret(actor: User | None, account: ServiceAccount) -> str:
    """A new secret (returned once); the old one and every token issued with it stop working now."""
    if account.revoked_at is not None:
        raise Conflict("this service account is revoked; create a new one")
    secret = _new_secret()
    account.secret_hash = _digest(secret)
    account.rotated_at = now()
    ended = revoke_tokens(account.user, "rotated")
    audit(actor.id if actor else None, "service_account_rotate", "service_account", account.id,
          detail={"client_id": account.client_id, "tokens_revoked": ended})
    db.session.flush()
    return secret


def revoke_account(actor: User | None, account: ServiceAccount) -> ServiceAccount:
    """The account stops for good: its user is deactivated and its tokens revoked (idempotent)."""
    if account.revoked_at is not None:
        return account
    account.revoked_at = now()
    account.user.active = False
    ended = revoke_tokens(account.user, "revoked")
    audit(actor.id if actor else None, "service_account_revoke", "service_account", account.id,
          detail={"client_id": account.client_id, "tokens_revoked": ended})
    db.session.flush()
    return account


def authenticate_client(client_id: str, secret: str) -> ServiceAccount:
    """The live account with these credentials, else ``invalid_client`` (401), saying nothing of which was wrong."""
    account = db.session.scalar(sa.select(ServiceAccount).where(ServiceAccount.client_id == client_id[:40]))
    digest = account.secret_hash if account is not None else _DUMMY_DIGEST
    matches = hmac.compare_digest(digest, _digest(secret))
    if account is None or not matches or account.revoked_at is not None or not account.user.active:
        raise OAuthError("invalid_client", "unknown client, wrong secret, or a revoked account", 401)
    return account


def issue_client_token(account: ServiceAccount, requested: list[str] | None) -> IssuedToken:
    """A bearer token carrying ``requested`` (default: every scope of the account). Flushes."""
    held = account.scope_list
    scopes = requested or held
    refused = [s for s in scopes if s not in held]
    if refused:
        raise OAuthError("invalid_scope", f"not granted to this client: {' '.join(refused)}")
    raw = "ld_" + secrets.token_urlsafe(32)
    at = now()
    db.session.add(ApiToken(user_id=account.user_id, token_hash=_digest(raw), name="client_credentials",
                            created_at=at, expires_at=at + TOKEN_LIFETIME, scopes=" ".join(scopes)))
    audit(account.user_id, "token_issue", "service_account", account.id, detail={"scopes": scopes})
    db.session.flush()
    return IssuedToken(raw, scopes, int(TOKEN_LIFETIME.total_seconds()), account)
