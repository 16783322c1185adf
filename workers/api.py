"""``GET /api/v1/jobs/failed``: failed background jobs, for an administrator over every county.

A failed job names no county (its arguments are ids of any county, a sweep's of all of them, and its error may
quote any), so there is nothing to check a county's administrator against: the list is for an administrator
whose jurisdiction holds every county (a province's; a one-county deployment's own), and refused to others
(403, audited as ``admin_refused``; docs/security.md). ``flask jobs failed`` is the operator's and not bound."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields

from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, current_api_user
from app.common.errors import Unavailable
from app.org.jurisdiction import check_every_county
from app.org.roles import Role

from .failed import failed_jobs
from .queues import REDIS_ERRORS, redis_connection

blp = ApiBlueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Background jobs (administrators over every county)")


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
    @blp.endpoint(roles=[Role.ADMIN], refusal="only admins can see background jobs", scope=PEOPLE_ONLY)
    @blp.response(200, FailedJobsOut)
    def get(self) -> Any:
        """Failed jobs of every queue, newest first (administrators over every county only)."""
        check_every_county(current_api_user(), "failed_jobs")
        if not current_app.config["LIANDONG"].redis_url:
            return {"redis": False, "items": []}

        try:
            return {"redis": True, "items": [j.as_dict() for j in failed_jobs(redis_connection(timeout=2.0))]}
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unavailable: the failed-job registry cannot be read now; "
                              "jobs meanwhile run from the database sweep") from exc
