"""REST endpoints about the caller and the organisation, and the caller's bearer tokens."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.common.api import BEARER_SECURITY, abort, committed, current_api_user, token_required
from app.common.inputs import Id
from app.extensions import db
from app.org.administration import revoke_user_token
from app.org.models import ApiToken
from app.org.queries import token_state, tokens_of
from app.org.roles import Role

blp = Blueprint("org", __name__, url_prefix="/api/v1", description="Who am I, my unit, my tokens")


class MeOut(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    unit = fields.Dict(allow_none=True)
    region = fields.String(allow_none=True)


@blp.route("/me")
class Me(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, MeOut)
    @token_required
    def get(self) -> Any:
        """The token's user, roles and unit."""
        user = current_api_user()
        return {
            "id": user.id, "username": user.username, "display_name": user.display_name,
            "roles": sorted(r.value for r in user.roles),
            "unit": {"id": user.unit.id, "name": user.unit.name, "kind": user.unit.kind} if user.unit else None,
            "region": user.region.code if user.region else None,
        }


class TokenOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    username = fields.String()
    name = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "recorded at most once a minute"})
    revoked_at = fields.DateTime(allow_none=True)
    state = fields.String(metadata={"description": "active, expired, revoked, password_reset, deactivated, "
                                                   "access_changed"})


class TokenListOut(Schema):
    items = fields.List(fields.Nested(TokenOut))


class TokenQuery(Schema):
    user_id = Id(metadata={"description": "administrators: another user's tokens"})


def _token_out(token: Any) -> dict[str, Any]:
    return {"id": token.id, "user_id": token.user_id, "username": token.user.username, "name": token.name,
            "created_at": token.created_at, "expires_at": token.expires_at, "last_used_at": token.last_used_at,
            "revoked_at": token.revoked_at, "state": token_state(token)}


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(TokenQuery, location="query")
    @blp.response(200, TokenListOut)
    @token_required
    def get(self, args: dict[str, Any]) -> Any:
        """Your bearer tokens (never the token itself); administrators may ask for another user's."""

        user = current_api_user()
        user_id = args.get("user_id", user.id)
        if user_id != user.id and not user.has_role(Role.ADMIN):
            abort(403, message="only administrators list other users' tokens")
        return {"items": [_token_out(t) for t in tokens_of(user_id)]}


@blp.route("/tokens/<int:token_id>/revoke")
class RevokeToken(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, TokenOut)
    @token_required
    @committed
    def post(self, token_id: int) -> Any:
        """Revoke a token: it stops working at once (idempotent). Yours, or anyone's for administrators."""

        user = current_api_user()
        token = db.session.get(ApiToken, token_id)
        if token is None or (token.user_id != user.id and not user.has_role(Role.ADMIN)):
            abort(404, message="no such token")
        revoke_user_token(user, token)
        return _token_out(token)
