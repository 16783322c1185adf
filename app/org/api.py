"""REST endpoints about the caller and the organisation."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.common.api import BEARER_SECURITY, current_api_user, token_required

blp = Blueprint("org", __name__, url_prefix="/api/v1", description="Who am I, and my unit")


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
