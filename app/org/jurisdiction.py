"""Where an administrator may act: the one rule for the pages and API that manage users, tokens, service
accounts and webhook subscribers, and that list users' deliveries and failed background jobs (docs/security.md,
"Administrators and their jurisdiction").

An administrator's jurisdiction is their region (``User.region``) and everything under it, as a county
coordinator's basis is their county: a county's administrator manages the users whose unit and jurisdiction
lie in the county, the service accounts acting for its units and the webhook subscribers of the county. What
belongs to no county (a user with neither unit nor jurisdiction, a subscriber of every county ``*``) is for an
administrator whose region holds every county of the deployment (a province's, in a one-province deployment).
An administrator without a region manages nothing here. The CLI, run by the operator on the server, passes
no actor and is not bound.

Refusals say nothing of what exists: an object outside the jurisdiction is answered as an unknown one (404);
choosing a unit, region or county outside it (which the lookups API lists to anyone) is 403. Each refusal is
audited (``admin_refused``), in a transaction of its own after the request's has rolled back (``init_app``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, has_request_context, request
from flask_babel import gettext
from sqlalchemy.exc import SQLAlchemyError

from app.audit.operations import audit
from app.common.errors import Forbidden, NotFound
from app.extensions import db

from .kinds import EVERY_COUNTY, RegionLevel
from .models import Region, ServiceAccount, Unit, User

log = logging.getLogger(__name__)
_CACHE = "liandong_jurisdictions"
_REFUSED = "liandong_jurisdiction_refusals"


@dataclass(frozen=True)
class Jurisdiction:
    """The regions an administrator manages (their region and every one below it) and whether they hold every
    county of the deployment (then also what belongs to none)."""

    regions: frozenset[int]
    everything: bool

    def holds(self, region_id: int | None) -> bool:
        return region_id is not None and (self.everything or region_id in self.regions)


def jurisdiction(admin: User) -> Jurisdiction:
    """``admin``'s jurisdiction, read once per request (two statements)."""
    cache: dict[tuple[int, int | None], Jurisdiction] = {}
    if has_request_context():  # on the request, not ``g``: a test's app context outlives its requests
        cache = getattr(request, _CACHE, None) or cache
        setattr(request, _CACHE, cache)
    key = (admin.id, admin.region_id)
    if key not in cache:
        cache[key] = _read(admin.region_id)
    return cache[key]


def _read(region_id: int | None) -> Jurisdiction:
    if region_id is None:
        return Jurisdiction(frozenset(), False)
    tree = sa.select(Region.id).where(Region.id == region_id).cte("jurisdiction", recursive=True)
    tree = tree.union_all(sa.select(Region.id).join(tree, Region.parent_id == tree.c.id))
    regions = frozenset(db.session.scalars(sa.select(tree.c.id)))
    outside = db.session.scalar(sa.select(sa.exists().where(
        Region.level == RegionLevel.COUNTY.value, Region.id.not_in(sorted(regions)))))
    return Jurisdiction(regions, not outside)


def manages_user(admin: User, user: User) -> bool:
    """Whether ``user``'s unit and jurisdiction both lie in ``admin``'s (a user with neither: ``everything``)."""
    within = jurisdiction(admin)
    places = [p for p in (user.region_id, user.unit.region_id if user.unit is not None else None) if p is not None]
    return all(within.holds(p) for p in places) if places else within.everything


def users_managed(admin: User) -> sa.ColumnElement[bool]:
    """``manages_user`` as a condition on ``User`` (the users page lists no one else)."""
    within = jurisdiction(admin)
    if within.everything:
        return sa.true()
    regions = sorted(within.regions)
    units = sa.select(Unit.id).where(Unit.region_id.in_(regions))
    return sa.and_(sa.or_(User.region_id.is_not(None), User.unit_id.is_not(None)),
                   sa.or_(User.region_id.is_(None), User.region_id.in_(regions)),
                   sa.or_(User.unit_id.is_(None), User.unit_id.in_(units)))


def units_managed(admin: User) -> sa.ColumnElement[bool]:
    """A condition on ``Unit``: the units ``admin`` may give a user or a service account."""
    within = jurisdiction(admin)
    return sa.true() if within.everything else Unit.region_id.in_(sorted(within.regions))


def regions_managed(admin: User) -> sa.ColumnElement[bool]:
    """A condition on ``Region``: the jurisdictions ``admin`` may give a user."""
    within = jurisdiction(admin)
    return sa.true() if within.everything else Region.id.in_(sorted(within.regions))


def accounts_managed(admin: User) -> sa.ColumnElement[bool]:
    """A condition on ``ServiceAccount``: the accounts acting for a unit in ``admin``'s jurisdiction."""
    within = jurisdiction(admin)
    if within.everything:
        return sa.true()
    units = sa.select(Unit.id).where(Unit.region_id.in_(sorted(within.regions)))
    return ServiceAccount.user_id.in_(sa.select(User.id).where(User.unit_id.in_(units)))


def county_codes(admin: User) -> list[str] | None:
    """The county codes ``admin`` may give a webhook subscriber; None: every one, and ``*``."""
    within = jurisdiction(admin)
    if within.everything:
        return None
    return list(db.session.scalars(sa.select(Region.code).where(
        Region.level == RegionLevel.COUNTY.value, Region.id.in_(sorted(within.regions))).order_by(Region.code)))


def check_every_county(admin: User, what: str) -> None:
    """403 unless ``admin``'s jurisdiction holds every county: for what carries no county to check. Failed
    background jobs are such: a job's arguments are ids of any county (a sweep's, of all) and its error may
    quote any of them, so a county's administrator would read other counties' work in them."""
    if not jurisdiction(admin).everything:
        _refused(admin, what, EVERY_COUNTY)
        raise Forbidden(gettext("Only an administrator over every county sees this."))


def manages_county(admin: User, code: str) -> bool:
    codes = county_codes(admin)
    return codes is None or (code != EVERY_COUNTY and code in codes)


# -- refusals -------------------------------------------------------------------------------------------------


def unknown(admin: User, what: str, object_id: Any, message: str) -> NotFound:
    """The 404 for an existing ``what`` outside ``admin``'s jurisdiction: the same words as an unknown id."""
    _refused(admin, what, object_id)
    return NotFound(message)


def check_user(admin: User | None, user: User | None, message: str | None = None) -> User:
    """``user`` when ``admin`` (None: the CLI) manages them; 404 when unknown or outside."""
    message = message or gettext("No such user.")
    if user is None:
        raise NotFound(message)
    if admin is not None and not manages_user(admin, user):
        raise unknown(admin, "user", user.id, message)
    return user


def check_choice(admin: User | None, *, unit: Unit | None = None, region: Region | None = None,
                 county: str | None = None, placed: bool = False) -> None:
    """403 when ``admin`` (None: the CLI) gives a unit, a jurisdiction or a county outside theirs; with
    ``placed``, also a user with neither unit nor jurisdiction (what belongs to no county)."""
    if admin is None:
        return
    within = jurisdiction(admin)
    outside = [f"{kind} {value}" for kind, value, ok in (
        ("unit", unit.id if unit else None, unit is None or within.holds(unit.region_id)),
        ("region", region.id if region else None, region is None or within.holds(region.id)),
        ("county", county, county is None or manages_county(admin, county)),
        ("placement", "none", not placed or unit is not None or region is not None or within.everything),
    ) if not ok]
    if outside:
        _refused(admin, "choice", ", ".join(outside))
        raise Forbidden(gettext("That is outside your jurisdiction as an administrator."))


def _refused(admin: User, what: str, object_id: Any) -> None:
    if has_request_context():
        setattr(request, _REFUSED, [*getattr(request, _REFUSED, []), (admin.id, what, str(object_id))])


def _audit_refusals(response: Response) -> Response:
    """``after_request``: write the request's refusals in a transaction of their own (its own rolled back)."""
    refusals = getattr(request, _REFUSED, None)
    setattr(request, _REFUSED, None)
    if not refusals:
        return response
    try:
        for admin_id, what, object_id in refusals:
            audit(admin_id, "admin_refused", what, object_id, detail={"status": response.status_code})
        db.session.commit()
    except SQLAlchemyError as exc:  # the answer stands; the log says what was not recorded
        db.session.rollback()
        log.warning("could not audit %d refused administrator requests: %s", len(refusals), type(exc).__name__)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_audit_refusals)
