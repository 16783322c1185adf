"""``GET /api/v1/jobs/failed``: failed background jobs, for admins."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.common.api import BEARER_SECURITY, current_api_user, token_required
from app.common.errors import Forbidden, Unavailable
from app.org.roles import Role

from .failed import failed_jobs
from .queues import REDIS_ERRORS, redis_connection

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Background jobs (admins)")


class FailedJobOut(Schema):
    id = fields.String()
    queue = fields.String()
    func = fields.String()
    args = fields.String()
    ended_at = fields.DateTime(allow_none=True)
    error = fields.String()


class FailedJobsOut(Schema):
    redis = fields.Boolean(metadata={"description": "false: no REDIS_URL, jobs run inline (nothing can fail here)"})
    items = fields.List(fields.Nested(FailedJobOut))


@blp.route("/failed")
class FailedJobs(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, FailedJobsOut)
    @token_required
    def get(self) -> Any:
        """Failed jobs of every queue, newest first (admins only)."""
        if not current_api_user().has_role(Role.ADMIN):
            raise Forbidden("only admins can see background jobs")
        if not current_app.config["LIANDONG"].redis_url:
            return {"redis": False, "items": []}

        try:
            return {"redis": True, "items": [j.as_dict() for j in failed_jobs(redis_connection(timeout=2.0))]}
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unavailable: the failed-job registry cannot be read now; "
                              "jobs meanwhile run from the database sweep") from exc
