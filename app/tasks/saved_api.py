"""REST endpoints for saved inbox views: yours and those shared with you, each with its count; the owner alone
changes or deletes one (``app.tasks.saved``)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.common.clock import now
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, Beside, current_api_user
from app.org.models import User

from .models import SavedView
from .saved import delete_view, get_view, owned_view, save_view, update_view, view_counts, views_of
from .schemas import SavedViewIn, SavedViewList, SavedViewOut, SavedViewPatch

blp = ApiBlueprint("saved_views", __name__, url_prefix="/api/v1/saved-views",
                   description="Saved inbox views, shared with a unit or the county's coordinators")


def shown(view: SavedView, user: User, count: int) -> Beside:
    """The view as ``SavedViewOut`` dumps it: whether it is the caller's and how many open tasks it matches."""
    return Beside(view, mine=view.user_id == user.id, count=count)


def _one(view: SavedView, user: User) -> Beside:
    return shown(view, user, view_counts(user, [view], now())[view.id])


@blp.route("")
class SavedViews(MethodView):
    @blp.endpoint(writes=False, scope=PEOPLE_ONLY)
    @blp.response(200, SavedViewList)
    def get(self) -> Any:
        """Your saved views, then those your unit or your county's coordinators share with you, each with the
        number of your open tasks it matches (all counted in one statement)."""
        user = current_api_user()
        views = views_of(user)
        counts = view_counts(user, views, now())
        return {"items": [shown(v, user, counts[v.id]) for v in views]}

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(SavedViewIn)
    @blp.response(201, SavedViewOut)
    def post(self, payload: dict[str, Any]) -> Any:
        """Save a view (409 if you have one of that name); `shared_with` unit or coordinators shares it."""
        user = current_api_user()
        view = save_view(user, payload["name"], payload["query"], payload["shared_with"], replace=False)
        return _one(view, user), 201


@blp.route("/<int:view_id>")
class SavedViewResource(MethodView):
    @blp.endpoint(writes=False, scope=PEOPLE_ONLY)
    @blp.response(200, SavedViewOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, view_id: int) -> Any:
        """One view you see, with its count."""
        user = current_api_user()
        return _one(get_view(user, view_id), user)

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(SavedViewPatch)
    @blp.response(200, SavedViewOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, payload: dict[str, Any], view_id: int) -> Any:
        """Rename, refilter or reshare your view (403: someone else's; 409: you have one of the new name)."""
        user = current_api_user()
        view = update_view(user, owned_view(user, view_id), **payload)
        return _one(view, user)

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, view_id: int) -> None:
        """Delete your view (403: someone else's)."""
        delete_view(current_api_user(), view_id)
