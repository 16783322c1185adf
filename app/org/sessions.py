"""Browser sessions and bearer tokens that can be cut off (docs/security.md: Sessions and tokens).

A session cookie is signed but lives in the browser, so the server cannot delete it. Instead each
session carries the user's ``session_epoch`` and two times (sign-in, last seen); Flask-Login's user
loader refuses the session when the epoch has moved on or either lifetime has passed. Signing out,
a password reset, deactivation or an access change raise the epoch, so every copy of every cookie of
that user stops working at its next request. Tokens are revoked by row (with the reason), so an
administrator sees why an integration stopped.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, session
from sqlalchemy.orm import joinedload

from app.common.clock import now
from app.extensions import db

from .models import ApiToken, User

EPOCH_KEY = "_epoch"
SINCE_KEY = "_since"
SEEN_KEY = "_seen"
SEEN_GRANULARITY = 60
"""Seconds: the last-seen time is rewritten at most once a minute (fewer Set-Cookie headers)."""
TOKEN_USE_GRANULARITY = timedelta(minutes=1)
"""A token's ``last_used_at`` is written at most once a minute, not on every request."""


def _stamp() -> int:
    return int(now().timestamp())


def stamp_session(user: User) -> None:
    """Mark the current session as signed in now, under the user's current epoch (after login_user)."""
    at = _stamp()
    session[EPOCH_KEY] = user.session_epoch
    session[SINCE_KEY] = at
    session[SEEN_KEY] = at


def session_problem(user: User | None, values: dict[str, object], at: int) -> str | None:
    """Why the session described by ``values`` may not continue at ``at`` (epoch seconds), or None."""
    settings = current_app.config["LIANDONG"]
    if user is None or not user.active:
        return "inactive"
    epoch, since, seen = values.get(EPOCH_KEY), values.get(SINCE_KEY), values.get(SEEN_KEY)
    if not isinstance(epoch, int) or not isinstance(since, int) or not isinstance(seen, int):
        return "unstamped"
    if epoch != user.session_epoch:
        return "ended"
    if at - since > settings.session_max_hours * 3600:
        return "expired"
    if at - seen > settings.session_idle_minutes * 60:
        return "idle"
    return None


_WITH_ROLES = (joinedload(User.role_rows),)
"""A page's user with their roles in one statement; built once (options cost CPU to build on every request)."""


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: only an active user, in a session of the current epoch and lifetime."""
    try:
        # the roles in the same statement (their selectin load was a second round trip on every page request)
        user = db.session.get(User, int(user_id), options=_WITH_ROLES)
    except ValueError:
        return None
    at = _stamp()
    problem = session_problem(user, dict(session), at)
    if problem is not None:
        session.clear()
        if problem in ("idle", "expired"):
            session["_ended"] = problem  # the login page says why
        return None
    if at - int(session[SEEN_KEY]) >= SEEN_GRANULARITY:
        session[SEEN_KEY] = at
    return user


def end_sessions(user: User) -> None:
    """End every browser session of ``user`` at its next request."""
    user.session_epoch = (user.session_epoch or 0) + 1
    db.session.flush()


def revoke_tokens(user: User, reason: str) -> int:
    """Revoke every live token of ``user``; returns how many. Flushes."""
    result = db.session.execute(
        sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now(), revoked_reason=reason).execution_options(synchronize_session="evaluate"))
    db.session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def cut_off(user: User, reason: str) -> None:
    """Password reset, deactivation or an access change: end sessions and tokens alike."""
    end_sessions(user)
    revoke_tokens(user, reason)


def revoke_token(token: ApiToken, reason: str = "revoked") -> ApiToken:
    """Revoke one token (idempotent: a revoked token keeps its first time and reason)."""
    if token.revoked_at is None:
        token.revoked_at = now()
        token.revoked_reason = reason
        db.session.flush()
    return token


def note_token_use(token: ApiToken) -> None:
    """Record when a token was used, at most once a minute, in its own short transaction.

    This is the one write an authenticated API request makes outside its own transaction, on
    purpose: a token was used even when the request then fails, and read-only endpoints never
    commit. Nothing else is pending yet when it runs (authentication comes first).
    """
    at = now()
    if token.last_used_at is not None and at - token.last_used_at < TOKEN_USE_GRANULARITY:
        return
    db.session.execute(
        sa.update(ApiToken).where(ApiToken.id == token.id, sa.or_(
            ApiToken.last_used_at.is_(None), ApiToken.last_used_at < at - TOKEN_USE_GRANULARITY))
        .values(last_used_at=at).execution_options(synchronize_session=False))
    db.session.commit()
    token.last_used_at = at
