"""Bearer tokens to users for the REST API (``app.common.api`` calls this through ``create_app``)."""

from __future__ import annotations

from flask import g, request

from app.common.api import abort

from .models import User
from .queries import live_token
from .sessions import note_token_use
from .throttle import refused_token_wait


def bearer_user() -> User:
    """The user of the request's ``Authorization: Bearer`` token; 401 without a live one, 429 after too many
    refused tokens from one address (``throttle``). A token's use is noted at most once a minute."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    token = live_token(raw.strip()) if scheme.lower() == "bearer" and raw.strip() else None
    if token is None:
        wait = refused_token_wait()
        if wait is not None:
            abort(429, message="too many refused tokens from this address; wait and try again",
                  headers={"Retry-After": str(wait)})
        if scheme.lower() != "bearer" or not raw.strip():
            abort(401, message="missing bearer token (Authorization: Bearer <token>)")
        abort(401, message="invalid, expired or revoked token")
    note_token_use(token)
    g.api_token = token
    g.api_scopes = frozenset(token.scopes.split()) if token.scopes is not None else None  # common/scopes.py
    return token.user
