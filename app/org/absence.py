"""Absences and substitutes: who stands in for a liaison or unit head while they are away.

``StandIns`` is the one substitution rule. Every sender that addresses a person about their work asks it
(the escalation ladder's reminders and escalations, ``deadlines.escalation.recipients``; direct notes,
``notifications.operations.notify``): a person away at that moment is replaced by their substitute, or by
their unit's heads when they named none (a head away is replaced the same way; nobody is asked twice).
Moving the absent person's claimed tasks to the substitute and back is ``app.tasks.handover`` (tasks sit
above org). Operations flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.audit.operations import audit
from app.common.clock import now
from app.common.errors import Conflict, Forbidden, Invalid
from app.extensions import db

from .models import Absence, User, UserRole
from .queries import is_service_account
from .roles import Role

ON_RETURN = ("return", "stay")
MAX_DAYS = 366
"""The longest absence one entry sets (a year's leave); a longer one is entered again."""


def _open(at: datetime) -> sa.ColumnElement[bool]:
    """Absences under way at ``at``: begun, not yet over (a cancelled one ended when it was cancelled)."""
    return sa.and_(Absence.starts_at <= at, Absence.ends_at > at)


def away_now(at: datetime) -> sa.Select[int]:
    """The ids of the people away at ``at`` (a subquery): a unit told as a whole leaves them out."""
    return sa.select(Absence.user_id).where(_open(at))


def _works(user: User) -> bool:
    return user.active and user.unit_id is not None and user.has_role(Role.LIAISON, Role.UNIT_HEAD)


@dataclass
class StandIns:
    """Who is away at one moment and who stands in for them: read once (two statements), then asked per
    recipient list in Python, so a sweep batch of a thousand tasks reads absences once, not per task."""

    at: datetime
    away: dict[int, Absence] = field(default_factory=dict)
    heads: dict[int, list[User]] = field(default_factory=dict)
    """Unit id -> the unit's active heads (for people away without a substitute)."""

    @classmethod
    def load(cls, at: datetime | None = None) -> StandIns:
        at = at or now()
        rows = db.session.scalars(sa.select(Absence).where(_open(at))
                                  .options(sa.orm.joinedload(Absence.substitute))).unique().all()
        found = cls(at, {row.user_id: row for row in rows})
        units = {row.unit_id for row in rows}  # without a usable substitute, or a head away: the unit's heads
        if units:
            for head in db.session.scalars(
                    sa.select(User).join(UserRole, UserRole.user_id == User.id)
                    .where(UserRole.role == Role.UNIT_HEAD.value, User.unit_id.in_(units), User.active.is_(True))
                    .order_by(User.id)):
                found.heads.setdefault(head.unit_id or 0, []).append(head)
        return found

    def is_away(self, user_id: int) -> bool:
        return user_id in self.away

    def stand_in_for(self, user: User) -> list[User]:
        """The people who receive what is meant for ``user`` now: ``user`` when present; else the substitute
        (when present), else the unit's heads who are present; nobody when all of them are away."""
        absence = self.away.get(user.id)
        if absence is None:
            return [user]
        substitute = absence.substitute
        if substitute is not None and _usable(substitute) and substitute.id not in self.away:
            return [substitute]
        return [h for h in self.heads.get(absence.unit_id, []) if h.id not in self.away and h.id != user.id]

    def replace(self, users: Iterable[User]) -> list[User]:
        """``users`` with everyone away replaced by who stands in for them, each once, in order."""
        if not self.away:
            return list(users)
        found: dict[int, User] = {}
        for user in users:
            for person in self.stand_in_for(user):
                found.setdefault(person.id, person)
        return list(found.values())


def _usable(user: User | None) -> bool:
    return user is not None and _works(user)


def stand_ins(users: Iterable[User], at: datetime | None = None) -> list[User]:
    """The rule for one list of recipients (``StandIns.load(at).replace(users)``); free when nobody is away."""
    users = list(users)
    if not users:
        return users
    return StandIns.load(at).replace(users)


def current_or_next(user_id: int, at: datetime | None = None) -> Absence | None:
    """The user's absence under way, else the next one set (neither settled nor over): the one to show or edit."""
    at = at or now()
    return db.session.scalar(sa.select(Absence).where(
        Absence.user_id == user_id, Absence.settled_at.is_(None), Absence.cancelled_at.is_(None), Absence.ends_at > at)
        .order_by(Absence.starts_at).limit(1))


def may_set_for(by: User, user: User) -> bool:
    """The person themselves, or a head of their unit."""
    return by.id == user.id or (by.has_role(Role.UNIT_HEAD) and by.unit_id is not None and by.unit_id == user.unit_id)


@dataclass(frozen=True)
class AbsenceIn:
    starts_at: datetime
    ends_at: datetime
    substitute: User | None
    on_return: str = "return"


def _check(user: User, by: User, given: AbsenceIn, at: datetime, current: Absence | None) -> None:
    if not may_set_for(by, user):
        raise Forbidden("only the person or a head of their unit sets their absence")
    if not _works(user):
        raise Forbidden(f"{user.display_name} works no tasks of a unit")
    errors: dict[str, list[str]] = {}
    if given.on_return not in ON_RETURN:
        errors["on_return"] = ["return or stay"]
    if given.ends_at <= given.starts_at:
        errors["ends_at"] = ["the absence ends after it starts"]
    elif given.ends_at <= at:
        errors["ends_at"] = ["the absence ends in the future"]
    elif given.ends_at - given.starts_at > timedelta(days=MAX_DAYS):
        errors["ends_at"] = [f"at most {MAX_DAYS} days at once"]
    substitute = given.substitute
    if substitute is not None:
        if substitute.id == user.id:
            errors["substitute_id"] = ["someone other than the person away"]
        elif substitute.unit_id != user.unit_id or not _works(substitute) or is_service_account(substitute):
            errors["substitute_id"] = ["an active liaison or head of the same unit (a person, not a service account)"]
        elif db.session.scalar(sa.select(sa.exists().where(
                Absence.user_id == substitute.id, Absence.cancelled_at.is_(None),
                Absence.starts_at < given.ends_at, Absence.ends_at > given.starts_at))):
            errors["substitute_id"] = [f"{substitute.display_name} is away then too"]
    if errors:
        raise Invalid("the absence cannot be set", errors)
    if current is not None and current.handed_over_at is not None and given.starts_at > current.ends_at:
        # One open absence per person: a later, separate period would have stretched the one under way over
        # the days between (its start is kept), the tasks staying with the substitute all along.
        raise Conflict("an absence is under way: set the next one after it ends",
                       {"starts_at": [f"the absence under way ends {current.ends_at.isoformat()}"]})
    if current is not None and current.handed_over_at is not None and current.substitute_id != (
            substitute.id if substitute else None):
        raise Conflict("the absence has begun with another substitute: end it first, then set a new one",
                       {"substitute_id": ["end the absence under way first"]})


def set_absence(user: User, by: User, given: AbsenceIn) -> Absence:
    """Set (or change) ``user``'s absence; one open absence per person. Audited. Flushes.

    An absence not yet begun can be changed freely; one under way keeps its start and substitute (its
    tasks are with that substitute) and may change its end and what happens at the end."""
    at = now()
    current = current_or_next(user.id, at)
    _check(user, by, given, at, current)
    if current is None:
        current = Absence(user_id=user.id, unit_id=user.unit_id, created_at=at)
        db.session.add(current)
    if current.handed_over_at is None:
        current.starts_at = given.starts_at
        current.substitute_id = given.substitute.id if given.substitute else None
        current.substitute = given.substitute
    current.ends_at, current.on_return, current.set_by_id = given.ends_at, given.on_return, by.id
    db.session.flush()
    audit(by.id, "absence_set", "user", user.id, detail={
        "absence_id": current.id, "starts_at": current.starts_at.isoformat(), "ends_at": current.ends_at.isoformat(),
        "substitute_id": current.substitute_id, "on_return": current.on_return})
    return current


def end_absence(user: User, by: User) -> Absence | None:
    """End ``user``'s absence now (or withdraw one not yet begun); None when there is none. Audited. Flushes.

    The end's hand-over (tasks back or kept) runs with the caller's ``app.tasks.handover.settle_due``."""
    if not may_set_for(by, user):
        raise Forbidden("only the person or a head of their unit ends their absence")
    at = now()
    current = current_or_next(user.id, at)
    if current is None:
        return None
    current.ends_at = min(current.ends_at, at)  # one not yet begun ends before it starts: it never applies
    current.cancelled_at = at
    db.session.flush()
    audit(by.id, "absence_end", "user", user.id, detail={"absence_id": current.id, "ends_at": current.ends_at.isoformat()})
    return current


def absence_state(absence: Absence, at: datetime) -> str:
    """``scheduled`` (not begun), ``under_way``, or ``ended``."""
    if absence.ends_at <= at or absence.settled_at is not None:
        return "ended"
    return "under_way" if absence.starts_at <= at else "scheduled"
