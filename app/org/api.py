"""REST endpoints about the caller and the organisation, and the caller's bearer tokens."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from app.common.api import abort
from app.common.endpoints import ApiBlueprint, ObjectOut, current_api_user
from app.common.inputs import Id
from app.extensions import db
from app.org.administration import revoke_user_token
from app.org.models import ApiToken
from app.org.queries import token_state, tokens_of
from app.org.roles import Role

blp = ApiBlueprint("org", __name__, url_prefix="/api/v1", description="Who am I, my unit, my tokens")


class MeOut(ObjectOut):
    """The signed-in ``User`` dumped as it is."""

    computed = {
        "roles": lambda user: sorted(r.value for r in user.roles),
        "region": lambda user: user.region.code if user.region else None,
        "unit": lambda user: {"id": user.unit.id, "name": user.unit.name, "kind": user.unit.kind} if user.unit else None,
    }

    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    unit = fields.Dict(allow_none=True)
    region = fields.String(allow_none=True)


@blp.route("/me")
class Me(MethodView):
    @blp.endpoint()
    @blp.response(200, MeOut)
    def get(self) -> Any:
        """The token's user, roles and unit."""
        return current_api_user()


class TokenOut(ObjectOut):
    """An ``ApiToken`` dumped as it is (never the token itself: the row keeps only its hash)."""

    computed = {"username": lambda token: token.user.username, "state": token_state}

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


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.endpoint()
    @blp.arguments(TokenQuery, location="query")
    @blp.response(200, TokenListOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Your bearer tokens (never the token itself); administrators may ask for another user's."""

        user = current_api_user()
        user_id = args.get("user_id", user.id)
        if user_id != user.id and not user.has_role(Role.ADMIN):
            abort(403, message="only administrators list other users' tokens")
        return {"items": tokens_of(user_id)}


@blp.route("/tokens/<int:token_id>/revoke")
class RevokeToken(MethodView):
    @blp.endpoint()
    @blp.response(200, TokenOut)
    def post(self, token_id: int) -> Any:
        """Revoke a token: it stops working at once (idempotent). Yours, or anyone's for administrators."""

        user = current_api_user()
        token = db.session.get(ApiToken, token_id)
        if token is None or (token.user_id != user.id and not user.has_role(Role.ADMIN)):
            abort(404, message="no such token")
        revoke_user_token(user, token)
        return token
