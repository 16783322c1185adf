"""REST endpoints for the caller's own notifications: list (paged, unread filter), mark one or all read.

Only the caller's own notes, and of those only the ones the notifications page shows: a note about a case the
caller no longer has need to know of (a role change, a cancelled conference) is neither listed nor counted, by
the same rule as the page (``may_be_told``), here in SQL (``Visibility.cases``) so the pages stay exact.
Another user's note, or a hidden one, is 404 (its existence is itself a fact).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from app.cases.access import visibility
from app.cases.models import Case
from app.common.endpoints import ApiBlueprint, SelectPage, current_api_user
from app.common.errors import NotFound
from app.extensions import db
from app.org.models import User

from .models import Notification
from .operations import mark_read
from .schemas import MarkedOut, NotificationArgs, NotificationOut, NotificationPage

blp = ApiBlueprint("notifications", __name__, url_prefix="/api/v1/notifications",
                   description="Your own notifications")


def told(user: User) -> sa.Select[Notification]:
    """The user's notes the notifications page would show, newest first."""
    cases = sa.select(Case.id).where(visibility(user).cases())
    return (sa.select(Notification)
            .where(Notification.user_id == user.id,
                   sa.or_(Notification.case_id.is_(None), Notification.case_id.in_(cases)))
            .order_by(Notification.created_at.desc(), Notification.id.desc()))


@blp.route("")
class Notifications(MethodView):
    @blp.endpoint(writes=False, scope="notifications:read")
    @blp.arguments(NotificationArgs, location="query")
    @blp.response(200, NotificationPage)
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Your notifications, newest first; `unread=true` for the unread ones only."""
        stmt = told(current_api_user())
        if args.get("unread") is True:
            stmt = stmt.where(Notification.read_at.is_(None))
        elif args.get("unread") is False:
            stmt = stmt.where(Notification.read_at.is_not(None))
        return stmt


@blp.route("/<int:note_id>/read")
class ReadOne(MethodView):
    @blp.endpoint(scope="notifications:read")
    @blp.response(200, NotificationOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, note_id: int) -> Any:
        """Mark one of your notifications read (already read: unchanged); 404 for any other id."""
        user = current_api_user()
        note = db.session.scalar(told(user).where(Notification.id == note_id))
        if note is None:
            raise NotFound("no such notification")
        mark_read(user, [note.id])
        db.session.refresh(note)
        return note


@blp.route("/read")
class ReadAll(MethodView):
    @blp.endpoint(scope="notifications:read")
    @blp.response(200, MarkedOut)
    def post(self) -> Any:
        """Mark all your unread notifications read."""
        return {"marked": mark_read(current_api_user())}
