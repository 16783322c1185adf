"""``POST /api/v1/tasks/<id>/complete``: the completion command over REST, on the tasks blueprint.

It lives here, not in ``app.tasks.api``, because completing a step is a workflow command and
``app.tasks`` imports nothing of the workflow. ``create_app`` imports this module before it
registers the tasks blueprint, so the route is in the same OpenAPI tag as the other task routes.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from app.common.endpoints import PEOPLE_ONLY, current_api_user
from app.common.errors import Invalid
from app.common.idempotency import KEY_LENGTH
from app.tasks import operations
from app.tasks.api import blp
from app.tasks.conflicts import StaleSubmission, Submission
from app.tasks.forms import FormInvalid
from app.tasks.schemas import IDEMPOTENCY_HEADER, CompleteIn, TaskOut

from . import commands
from .views import record_conflict_view


@blp.route("/<int:task_id>/complete")
class Complete(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @blp.arguments(CompleteIn)
    @blp.response(200, TaskOut)
    def post(self, payload: dict[str, Any], task_id: int) -> Any:
        """Submit the step's form: 422 with field errors when invalid, 409 when already done.

        With an idempotency key, a retry of a completion that went through answers 200 with the task,
        as the first did. With `task_version`, a task that moved since is 409 with both versions in
        `conflict` (docs/web.md, "Offline submissions").
        """
        key = payload.get("idempotency_key") or _header_key()
        sent = Submission(payload.get("task_version"), tuple(payload.get("attachment_ids") or ()))
        task = operations.get_task(task_id)
        try:
            done, _first = commands.complete_once(task, current_api_user(), payload["data"], key, sent)
        except StaleSubmission as exc:
            record_conflict_view(task, current_api_user().id, exc)  # the 409 shows the step's other version
            raise
        except FormInvalid as exc:  # its paths are inside the form data: name them as the body has them
            raise exc.within("data") from exc
        return done


def _header_key() -> str | None:
    """The ``Idempotency-Key`` header, checked like the body field (422 when malformed)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    low, high = KEY_LENGTH
    if not low <= len(key) <= high:
        raise Invalid("bad Idempotency-Key header", {"Idempotency-Key": [f"{low} to {high} characters"]},
                      location="headers")
    return key
