"""REST endpoints for service accounts: administrators manage them, clients exchange credentials for tokens.

``POST /api/v1/oauth/token`` is the one API operation that takes no bearer token (the client authenticates
with its credentials, RFC 6749 2.3.1: HTTP Basic or ``client_id``/``client_secret`` in the body), so it is
not behind ``@blp.endpoint``; its errors are the one error shape (``code``, ``status``, ``message``) with
RFC 6749 5.2's ``error`` and ``error_description`` beside it, so an OAuth client library and a client of the
rest of the API both read them; it owns its transaction like the decorator would.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

from flask import jsonify, request
from flask.views import MethodView
from marshmallow import Schema, fields
from werkzeug.http import HTTP_STATUS_CODES

from app.common.api_doc import ApiError
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, Beside, ObjectOut, current_api_user, list_of
from app.common.inputs import Id
from app.common.scopes import SCOPES, parse_scopes
from app.extensions import db
from app.org.models import ServiceAccount, Unit
from app.org.roles import Role
from app.org.service_accounts import (
    IssuedToken,
    OAuthError,
    account_for,
    account_state,
    authenticate_client,
    create_account,
    issue_client_token,
    revoke_account,
    rotate_secret,
    service_accounts,
)
from app.org.throttle import refused_credentials_wait, refused_token_wait

blp = ApiBlueprint("service_accounts", __name__, url_prefix="/api/v1",
                   description="Service accounts: machine clients with client credentials and scoped tokens")
oauth_blp = ApiBlueprint("oauth", __name__, url_prefix="/api/v1/oauth",
                         description="Client credentials for a short-lived bearer token (RFC 6749 4.4)")

ADMINS = (Role.ADMIN,)
ONLY_ADMINS = "only administrators manage service accounts"


class ServiceAccountOut(ObjectOut):
    """A ``ServiceAccount`` (never its secret: only its hash is kept)."""

    computed = {"scopes": lambda a: a.scope_list, "state": account_state, "unit_id": lambda a: a.user.unit_id,
                "username": lambda a: a.user.username}

    id = fields.Integer()
    name = fields.String()
    client_id = fields.String()
    username = fields.String(metadata={"description": "the account's user, named in audit rows"})
    unit_id = fields.Integer(allow_none=True)
    scopes = fields.List(fields.String())
    state = fields.String(metadata={"description": "active or revoked"})
    created_at = fields.DateTime()
    rotated_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ServiceAccountSecretOut(ServiceAccountOut):
    client_secret = fields.String(metadata={"description": "shown once: only its hash is stored"})


ServiceAccountListOut = list_of(ServiceAccountOut, "ServiceAccountListOut")


class ServiceAccountIn(Schema):
    name = fields.String(required=True, metadata={"description": "e.g. 12355 hotline call system"})
    unit_id = Id(required=True, metadata={"description": "the unit it acts for"})
    scopes = fields.List(fields.String(), required=True,
                         metadata={"description": "any of: " + ", ".join(SCOPES)})


def _account(account_id: int) -> ServiceAccount:
    return account_for(current_api_user(), account_id)


@blp.route("/service-accounts")
class ServiceAccounts(MethodView):
    @blp.endpoint(roles=ADMINS, refusal=ONLY_ADMINS, scope=PEOPLE_ONLY)
    @blp.response(200, ServiceAccountListOut)
    def get(self) -> Any:
        """Every service account acting for a unit in the administrator's jurisdiction."""
        return {"items": service_accounts(current_api_user())}

    @blp.endpoint(roles=ADMINS, refusal=ONLY_ADMINS, scope=PEOPLE_ONLY)
    @blp.arguments(ServiceAccountIn)
    @blp.response(201, ServiceAccountSecretOut)
    def post(self, payload: dict[str, Any]) -> Any:
        """Create a service account; the answer carries its client secret, shown this once."""
        unit = db.session.get(Unit, payload["unit_id"])
        account, secret = create_account(current_api_user(), payload["name"], unit, payload["scopes"])
        return Beside(account, client_secret=secret), 201


@blp.route("/service-accounts/<int:account_id>/rotate")
class RotateSecret(MethodView):
    @blp.endpoint(roles=ADMINS, refusal=ONLY_ADMINS, scope=PEOPLE_ONLY)
    @blp.response(200, ServiceAccountSecretOut)
    def post(self, account_id: int) -> Any:
        """A new client secret (shown once); the old one and every token issued with it stop now."""
        account = _account(account_id)
        return Beside(account, client_secret=rotate_secret(current_api_user(), account))


@blp.route("/service-accounts/<int:account_id>/revoke")
class RevokeAccount(MethodView):
    @blp.endpoint(roles=ADMINS, refusal=ONLY_ADMINS, scope=PEOPLE_ONLY)
    @blp.response(200, ServiceAccountOut)
    def post(self, account_id: int) -> Any:
        """Revoke the account for good: its credentials and tokens stop at once (idempotent)."""
        return revoke_account(current_api_user(), _account(account_id))


class TokenRequest(Schema):
    """RFC 6749 4.4.2, as a form (``application/x-www-form-urlencoded``) or a JSON object."""

    grant_type = fields.String(required=True, metadata={"description": "client_credentials"})
    scope = fields.String(metadata={"description": "space-separated; default every scope of the account"})
    client_id = fields.String(metadata={"description": "or HTTP Basic authentication"})
    client_secret = fields.String(metadata={"description": "or HTTP Basic authentication"})


class AccessTokenOut(ObjectOut):
    """An issued token (``service_accounts.issue_client_token``) as RFC 6749 5.1 answers it."""

    computed = {"token_type": lambda _: "Bearer", "scope": lambda issued: " ".join(issued.scopes)}

    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"description": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    scope = fields.String(required=True, metadata={"description": "the scopes the token carries"})


class TokenError(ApiError):
    """The token endpoint's 4xx: the one error shape with RFC 6749 5.2's ``error`` and ``error_description``
    beside it (absent only where the request guard refused the text before the endpoint ran)."""

    error = fields.String(metadata={"description": "invalid_request, invalid_client, unsupported_grant_type, "
                                                   "invalid_scope"})
    error_description = fields.String()


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_BODY = {"content": {kind: {"schema": TokenRequest} for kind in ("application/x-www-form-urlencoded",
                                                                  "application/json")}, "required": True}


def _parameters() -> dict[str, str]:
    """The request's parameters as strings: a JSON object or a form; anything else is ``invalid_request``."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise OAuthError("invalid_request", "the body must be a JSON object or a form")
        values = body
    else:
        values = request.form.to_dict()
    if any(not isinstance(v, str) for v in values.values()):
        raise OAuthError("invalid_request", "every parameter must be a string")
    return {str(k): v for k, v in values.items()}


def _basic_credentials() -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "authenticate the client with HTTP Basic or client_secret", 401)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "malformed HTTP Basic credentials", 401) from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "malformed HTTP Basic credentials", 401)
    return unquote_plus(client_id), unquote_plus(secret)  # RFC 6749 2.3.1: form-encoded before Basic


def _authenticated(client_id: str, secret: str) -> ServiceAccount:
    """The client's account; refused credentials count with refused bearer tokens per address (``throttle``), and
    an address over that limit is answered 429 before its credentials are checked."""
    wait = refused_credentials_wait()
    if wait is not None:
        raise OAuthError("invalid_client", "too many refused credentials from this address; wait and try again",
                         429, retry_after=wait)
    try:
        return authenticate_client(client_id, secret)
    except OAuthError:
        refused_token_wait()
        raise


def _exchange() -> IssuedToken:
    """Who asks comes first (a caller without credentials learns 401, as on every other operation), then
    what it asks for, then whether the credentials hold."""
    params = _parameters()
    basic = _basic_credentials()
    if basic is not None and ("client_secret" in params or "client_id" in params):
        raise OAuthError("invalid_request", "use one way of authenticating the client, not two")
    client_id, secret = basic or (params.get("client_id", ""), params.get("client_secret", ""))
    if not client_id or not secret:
        raise OAuthError("invalid_client", "client credentials are required", 401)
    grant = params.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
    account = _authenticated(client_id, secret)
    requested = parse_scopes(params["scope"]) if params.get("scope", "").strip() else None
    return issue_client_token(account, requested)


@oauth_blp.route("/token")
class Token(MethodView):
    client_authenticated = True
    """Read by the test that every other API operation is behind ``@blp.endpoint``."""

    @oauth_blp.doc(requestBody=_BODY, security=[])
    @oauth_blp.response(200, AccessTokenOut, headers={"Cache-Control": {"schema": {"type": "string"}}})
    @oauth_blp.alt_response(400, schema=TokenError, description="the one error shape with RFC 6749 5.2's `error` "
                            "(invalid_request, unsupported_grant_type, invalid_scope) and `error_description`")
    @oauth_blp.alt_response(401, schema=TokenError, description="the one error shape with `error`: invalid_client",
                            headers={"WWW-Authenticate": {"schema": {"type": "string"}}})
    @oauth_blp.alt_response(429, schema=TokenError, description="too many refused credentials or tokens from this "
                            "address (`error`: invalid_client); wait `Retry-After` seconds",
                            headers={"Retry-After": {"schema": {"type": "integer"}}})
    def post(self) -> Any:
        """Exchange a service account's client credentials for a bearer token (client credentials grant)."""
        try:
            answer = _exchange()
        except OAuthError as exc:
            db.session.rollback()
            body = {"error": exc.error, "error_description": exc.description,  # RFC 6749 5.2, and the one shape:
                    "code": exc.status, "status": HTTP_STATUS_CODES[exc.status], "message": exc.description}
            refused = jsonify(body)  # a Response: flask-smorest would dump a tuple with the 200 schema
            refused.status_code = exc.status
            refused.headers.update(_NO_STORE)
            if exc.status == 401:
                refused.headers["WWW-Authenticate"] = 'Basic realm="liandong"'
            if exc.retry_after is not None:
                refused.headers["Retry-After"] = str(exc.retry_after)
            return refused
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        return answer, 200, _NO_STORE
