"""What a machine client's token may do: OAuth2 scopes, each named on the endpoints it opens.

A person's bearer token carries no scope list: their roles and the need-to-know rule decide, as on the
pages. A service account's token (``POST /api/v1/oauth/token``, ``app/org/oauth_api.py``) carries the
scopes an administrator gave the account, and ``@blp.endpoint(scope=...)`` refuses it with 403 on every
operation whose scope it lacks, and on every operation that names no scope (those are for people only):
a hotline client that may only file reports can do nothing else, even if a later endpoint forgets to
think about machine clients. The scope check comes before the role and need-to-know checks, which still
apply to the account's own user row (the unit it acts for).
"""

from __future__ import annotations

from flask import g

from app.common.errors import Forbidden

SCOPES: dict[str, str] = {
    "reports:file": "file mandatory reports and hotline calls (POST /api/v1/reports)",
    "reports:read": "what became of the reports this client filed (GET /api/v1/me/reports)",
    "lookups:read": "look up units, regions and department kinds",
    "cases:read": "find children and cases and read the ones the account's unit has a basis on",
    "notifications:read": "read and mark read the account's notifications",
    "webhooks:manage": "subscribe to and manage webhooks",
}
"""Every scope there is, with the words the OpenAPI document shows for it (RFC 6749 3.3 syntax)."""

SERVICE_SECURITY_SCHEME = "serviceAccount"
"""The OpenAPI security scheme of service accounts' tokens (OAuth2 client credentials)."""

TOKEN_URL = "/api/v1/oauth/token"


def security_scheme() -> dict[str, object]:
    """The OpenAPI ``oauth2`` scheme with the client-credentials flow and every scope."""
    return {"type": "oauth2", "description": "a service account's short-lived token (client credentials)",
            "flows": {"clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": dict(SCOPES)}}}


def check_known(scope: str | None) -> None:
    """At import: a typo in an endpoint's scope fails the app's start, not a client's call."""
    if scope is not None and scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; add it to app.common.scopes.SCOPES")


def token_scopes() -> frozenset[str] | None:
    """The request's token's scopes: ``None`` for a person's token (no scope list applies)."""
    scopes: frozenset[str] | None = g.get("api_scopes")
    return scopes


def require_scope(scope: str | None) -> None:
    """403 unless the token is a person's or carries ``scope`` (an operation with no scope: people only)."""
    held = token_scopes()
    if held is None:
        return
    if scope is None:
        raise Forbidden("a service account's token cannot use this operation (it is for people only)")
    if scope not in held:
        raise Forbidden(f"this token's scopes do not include {scope}")


def parse_scopes(text: str) -> list[str]:
    """``"a b"`` (RFC 6749 3.3: space-separated) to a sorted list without repeats."""
    return sorted({part for part in text.split(" ") if part})
