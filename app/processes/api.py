"""REST endpoints for deployed process versions."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.common.api import BEARER_SECURITY, token_required

from .queries import all_specs

blp = Blueprint("processes", __name__, url_prefix="/api/v1/processes", description="Process versions")


class SpecOut(Schema):
    id = fields.Integer()
    process_key = fields.String()
    version = fields.Integer()
    name = fields.String()
    content_hash = fields.String()
    deployed_at = fields.DateTime()
    note = fields.String()
    user_tasks = fields.List(fields.Dict())


@blp.route("")
class Specs(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, SpecOut(many=True))
    @token_required
    def get(self) -> Any:
        """Every deployed version, oldest first; new cases take the latest of each process."""
        return all_specs()
