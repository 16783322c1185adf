"""Saved inbox views: a user's named filters ("overdue police triage"), shared with their unit or with their
county's coordinators, and how many tasks each matches for the person looking at it.

Not ``saved_views.py``: a module named ``*_views`` is an entry point to the layering contract and the audit
rule, and these are operations (they flush and audit the change they make).

The owner alone renames, refilters, reshares or deletes a view: anyone else who sees it is refused (403); who
does not see it learns nothing (404). A shared view means the same filters for each viewer, over the viewer's
own queue ("mine" is the viewer's tasks), so its count is the viewer's.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from app.audit.operations import audit
from app.cases.access import lists_tasks, oversees_tasks, works_tasks
from app.common.clock import now
from app.common.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.org.models import User
from app.org.queries import county_of

from .inbox import InboxQuery, matching
from .models import SavedView, Sharing, Task, TaskState
from .queries import task_scope

MAX_VIEWS = 100
"""Views one person sees (their own and those shared with them): one count column each."""


def parse(query: str) -> InboxQuery:
    return InboxQuery.from_args(MultiDict(parse_qsl(query[:1000], keep_blank_values=False)))


def normalised(query: str) -> str:
    """The inbox query string as the inbox writes it: known parameters only, defaults and the page left out."""
    return parse(query).query_string(page=1)


def county_id(user: User) -> int | None:
    """The user's county: of their jurisdiction (a coordinator), else of their unit."""
    region = user.region if user.region_id is not None else (user.unit.region if user.unit is not None else None)
    county = county_of(region)
    return county.id if county is not None else None


def _seen_by(user: User) -> sa.ColumnElement[bool]:
    parts: list[sa.ColumnElement[bool]] = [SavedView.user_id == user.id]
    if works_tasks(user):
        parts.append(sa.and_(SavedView.shared_with == Sharing.UNIT, SavedView.unit_id == user.unit_id))
    if oversees_tasks(user) and (county := county_id(user)) is not None:
        parts.append(sa.and_(SavedView.shared_with == Sharing.COORDINATORS, SavedView.county_id == county))
    return sa.or_(*parts)


def views_of(user: User) -> list[SavedView]:
    """The user's own views, then those shared with them, by name; each with its owner, in one statement."""
    own_first = sa.case((SavedView.user_id == user.id, 0), else_=1)
    return list(db.session.scalars(
        sa.select(SavedView).where(_seen_by(user))
        .options(sa.orm.joinedload(SavedView.owner).options(sa.orm.load_only(User.id, User.display_name),
                                                            sa.orm.lazyload(User.role_rows)))
        .order_by(own_first, SavedView.name, SavedView.id).limit(MAX_VIEWS)))


def get_view(user: User, view_id: int) -> SavedView:
    """A view the user sees (404 otherwise)."""
    view = db.session.scalar(sa.select(SavedView).where(SavedView.id == view_id, _seen_by(user)))
    if view is None:
        raise NotFound("no such saved view")
    return view


def owned_view(user: User, view_id: int) -> SavedView:
    """A view the user may change: 404 unseen, 403 seen but someone else's."""
    view = get_view(user, view_id)
    if view.user_id != user.id:
        raise Forbidden("only the owner of a shared view changes or deletes it")
    return view


def view_counts(user: User, views: list[SavedView], at: datetime) -> dict[int, int]:
    """How many of the user's open tasks each view matches, in ONE statement whatever the number of views:
    a single pass over the user's open tasks with one conditional count per view (not a COUNT per view)."""
    if not views or not lists_tasks(user):
        return {view.id: 0 for view in views}
    columns = []
    for view in views:
        conditions = matching(user, parse(view.query), at)
        columns.append(sa.func.count(sa.case((sa.and_(*conditions), 1))) if conditions else sa.func.count())
    row = db.session.execute(sa.select(*columns).select_from(Task)
                             .where(task_scope(user), Task.state == TaskState.OPEN)).one()
    return {view.id: int(n) for view, n in zip(views, row, strict=True)}


def _audience(owner: User, shared_with: str) -> tuple[int | None, int | None]:
    """(unit_id, county_id) a view shared ``shared_with`` by ``owner`` is seen in; 422 where there is none.
    Worked out before anything changes, so a refusal leaves the view as it was."""
    if shared_with == Sharing.UNIT:
        if not works_tasks(owner):
            raise Invalid("you work in no unit's queue to share with", {"shared_with": ["you have no unit queue"]})
        return owner.unit_id, None
    if shared_with == Sharing.COORDINATORS:
        if not lists_tasks(owner):  # a reporter, designer or admin has no queue: nothing to share, no one to tell
            raise Invalid("you work or oversee no queue to share from", {"shared_with": ["you have no task queue"]})
        county = county_id(owner)
        if county is None:
            raise Invalid("you belong to no county", {"shared_with": ["you belong to no county"]})
        return None, county
    if shared_with != Sharing.PRIVATE:
        raise Invalid("unknown sharing", {"shared_with": [f"one of {', '.join(s.value for s in Sharing)}"]})
    return None, None


def _share(view: SavedView, shared_with: str, audience: tuple[int | None, int | None]) -> None:
    view.shared_with = shared_with
    view.unit_id, view.county_id = audience


def _name(name: str) -> str:
    name = name.strip()[:80]
    if not name:
        raise Invalid("a saved view needs a name", {"name": ["required"]})
    return name


def _detail(view: SavedView) -> dict[str, str]:
    return {"view": view.name, "shared_with": view.shared_with}


def save_view(user: User, name: str, query: str, shared_with: str | None = None, *,
              replace: bool = True) -> SavedView:
    """Create the user's view called ``name``, or (``replace``) overwrite theirs of that name (409 without).
    ``shared_with`` None keeps an overwritten view's sharing. Audited; flushes."""
    name = _name(name)
    audience = _audience(user, shared_with) if shared_with is not None else None
    view = db.session.scalar(sa.select(SavedView).where(SavedView.user_id == user.id, SavedView.name == name))
    if view is not None and not replace:
        raise Conflict("you have a saved view of that name; change that one")
    created = view is None
    if view is None:
        view = SavedView(user_id=user.id, name=name, created_at=now(), shared_with=Sharing.PRIVATE)
        db.session.add(view)
    else:
        view.updated_at = now()
    view.query = normalised(query)
    if shared_with is not None and audience is not None:
        _share(view, shared_with, audience)
    db.session.flush()
    audit(user.id, "create" if created else "update", "saved_view", view.id, detail=_detail(view))
    return view


def update_view(user: User, view: SavedView, *, name: str | None = None, query: str | None = None,
                shared_with: str | None = None) -> SavedView:
    """Change the owner's view (``owned_view`` first): what is given changes. Audited; flushes."""
    audience = _audience(user, shared_with) if shared_with is not None else None
    if name is not None and (name := _name(name)) != view.name:
        if db.session.scalar(sa.select(sa.exists().where(SavedView.user_id == user.id, SavedView.name == name))):
            raise Conflict("you have a saved view of that name")
        view.name = name
    if query is not None:
        view.query = normalised(query)
    if shared_with is not None and audience is not None:
        _share(view, shared_with, audience)
    view.updated_at = now()
    db.session.flush()
    audit(user.id, "update", "saved_view", view.id, detail=_detail(view))
    return view


def delete_view(user: User, view_id: int) -> None:
    """Delete the owner's view (404 unseen, 403 someone else's). Audited; flushes."""
    view = owned_view(user, view_id)
    audit(user.id, "delete", "saved_view", view.id, detail=_detail(view))
    db.session.delete(view)
    db.session.flush()
