"""Idempotency keys: a command sent again with the same key returns its first result, never runs twice.

A client (the API, an offline app, the hidden field of a rendered form) names one submission with a
key. ``take`` inserts the key *first*, before the command locks or writes anything, with
``INSERT … ON CONFLICT DO NOTHING``: of two requests with the same key exactly one inserts. On
PostgreSQL the second waits on the unique index until the first commits (then it replays the first
result) or rolls back (then it goes ahead itself); on SQLite writers are serialised anyway. The row
is written in the command's own transaction, so only a success is remembered: a refused or failed
attempt leaves no key behind and may be retried as it was.

A key belongs to one user and one request: the same key from someone else is refused (409, so nobody
learns another user's result) and the same key with a different body is refused (422).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa

from app.common.clock import now
from app.common.dialect import insert_ignore
from app.common.errors import Conflict, Invalid
from app.extensions import db

from .models import CommandKey

KEY_LENGTH = (8, 80)
"""A key's length bounds (a UUID, ``hotline-20260310-0001``, …); the API documents and checks them."""

KEY_DESCRIPTION = ("Names this submission (8–80 characters, e.g. a UUID made when the form or call was "
                   "opened). Sending the same request again with the same key returns the first result "
                   "(200) and changes nothing, also while the first is still running; the same key from "
                   "another user is 409, with a different body 422. Only successes are remembered.")


def fingerprint(request: Any) -> str:
    """A stable hash of a request body (keys sorted; dates and other values as text)."""
    text = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _insert(values: dict[str, Any]) -> bool:
    stmt = insert_ignore(CommandKey, values, ["scope", "key"]).returning(CommandKey.id)
    return db.session.execute(stmt).first() is not None


def take(scope: str, key: str, user_id: int | None, request: Any) -> int | None:
    """Claim ``key`` for this request: None when it is ours now (do the work, then ``settle``), else
    the result id of the first success, to replay.

    Raises ``Conflict`` when another user sent the key and ``Invalid`` when it came with a different
    request.
    """
    mark = fingerprint(request)
    if _insert({"scope": scope, "key": key, "user_id": user_id, "fingerprint": mark, "created_at": now()}):
        return None
    earlier = db.session.scalar(sa.select(CommandKey).where(CommandKey.scope == scope, CommandKey.key == key)
                                .execution_options(populate_existing=True))
    if earlier is None:  # pragma: no cover - the conflicting row was committed; it cannot vanish
        raise Conflict("this idempotency key is being used; try again")
    if earlier.user_id is not None and earlier.user_id != user_id:
        raise Conflict("this idempotency key was used by another user")
    if earlier.fingerprint is not None and earlier.fingerprint != mark:
        raise Invalid("this idempotency key was already used for a different request",
                      {"idempotency_key": ["already used for a different request; use a new key"]})
    if earlier.result_id is None:  # pragma: no cover - take and settle share one transaction
        raise Conflict("the first request with this idempotency key did not finish; try again")
    return earlier.result_id


def settle(scope: str, key: str, result_id: int) -> None:
    """Remember what the request that took ``key`` produced (same transaction as the work)."""
    db.session.execute(sa.update(CommandKey).where(CommandKey.scope == scope, CommandKey.key == key)
                       .values(result_id=result_id).execution_options(synchronize_session=False))


def release(scope: str, key: str) -> None:
    """Give ``key`` back when the request that took it ends up doing nothing (it may be sent again)."""
    db.session.execute(sa.delete(CommandKey).where(CommandKey.scope == scope, CommandKey.key == key)
                       .execution_options(synchronize_session=False))
