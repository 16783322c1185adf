"""What a machine client's token may do: OAuth2 scopes, each named on the endpoints it opens.

A person's bearer token carries no scope list: their roles and the need-to-know rule decide, as on the
pages. A service account's token (``POST /api/v1/oauth/token``, ``app/org/oauth_api.py``) carries the
scopes an administrator gave the account, and ``@blp.endpoint(scope=...)`` refuses it with 403 on every
operation whose scope it lacks, and on every operation declared ``scope=PEOPLE_ONLY``. Every endpoint
declares one or the other (the argument has no default): an endpoint added later cannot open to machine
clients, or close to them, without someone deciding which; the OpenAPI document marks people-only
operations with ``x-people-only`` (``PEOPLE_ONLY_EXTENSION``). The scope check comes before the role and
need-to-know checks, which still apply to the account's own user row (the unit it acts for).
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
    "findings:read": "read the findings about mandatory reporters routed to the account's unit",
}
"""Every scope there is, with the words the OpenAPI document shows for it (RFC 6749 3.3 syntax)."""

PEOPLE_ONLY = "people-only"
"""``@blp.endpoint(scope=PEOPLE_ONLY)``: an operation no service account's token may call (403)."""

PEOPLE_ONLY_EXTENSION = "x-people-only"
"""The OpenAPI operation key (``true``) that says an operation is for people's tokens only."""

SERVICE_SECURITY_SCHEME = "serviceAccount"
"""The OpenAPI security scheme of service accounts' tokens (OAuth2 client credentials)."""

TOKEN_URL = "/api/v1/oauth/token"


def security_scheme() -> dict[str, object]:
    """The OpenAPI ``oauth2`` scheme with the client-credentials flow and every scope."""
    return {"type": "oauth2", "description": "a service account's short-lived token (client credentials)",
            "flows": {"clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": dict(SCOPES)}}}


def check_known(scope: str) -> None:
    """At import: a typo in an endpoint's scope fails the app's start, not a client's call."""
    if scope != PEOPLE_ONLY and scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: name one of app.common.scopes.SCOPES or PEOPLE_ONLY")


def token_scopes() -> frozenset[str] | None:
    """The request's token's scopes: ``None`` for a person's token (no scope list applies)."""
    scopes: frozenset[str] | None = g.get("api_scopes")
    return scopes


def require_scope(scope: str | None) -> None:
    """403 unless the token is a person's or carries ``scope`` (``PEOPLE_ONLY``, or ``None`` for a view that
    is no endpoint: people only)."""
    held = token_scopes()
    if held is None:
        return
    if scope is None or scope == PEOPLE_ONLY:
        raise Forbidden("a service account's token cannot use this operation (it is for people only)")
    if scope not in held:
        raise Forbidden(f"this token's scopes do not include {scope}")


def parse_scopes(text: str) -> list[str]:
    """``"a b"`` (RFC 6749 3.3: space-separated) to a sorted list without repeats."""
    return sorted({part for part in text.split(" ") if part})
