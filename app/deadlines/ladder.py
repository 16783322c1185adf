"""Escalation ladders as data: who is told what, and when, about a task that is not done.

A ladder is an ordered list of steps. Each step fires at an *anchor* of the
task (its reminder time or its due time) plus an optional *delay* (``PT2H``,
``1WD``: the same syntax as a task deadline, working days on the county's
calendar) and notifies one or more *audiences*. Ladders are rows of
``escalation_rule`` keyed by process and department kind, ``*`` meaning any;
the most specific key that has rows wins as a whole:

    (process, kind) > (process, *) > (*, kind) > (*, *) > built-in default for kind > built-in (*)

so a county can give one process (or one department) its own ladder without
touching the others, and a fresh database with no rows still escalates. Rows
carry a ``county`` too: a county's own rows (its region code) are searched in
that order first, then the deployment's (``*``), for the tasks of its cases.

Above all of these, a user task may carry its own ladder in its BPMN
``escalation`` property (set in the designer's side panel, copied onto the
task row when the task opens): a step that needs a faster or wider ladder than
its department's gets one, and it is versioned with the process like its deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Protocol

import sqlalchemy as sa

from app.extensions import db

from .arithmetic import Deadline, DeadlineSyntaxError, WorkingCalendar, due_at, parse_deadline
from .models import ANY, EscalationRule

OWN = "task"
"""``Ladder.key[0]`` of a ladder read from the task's own ``escalation`` property."""
ANCHORS = ("remind", "due")
AUDIENCES = ("holder", "unit_head", "supervisor", "coordinator", "conference_team")
"""holder: the assignee, else every member of the task's unit; unit_head: the unit's heads;
supervisor: the child supervisors (儿童督导员) of the case's township; coordinator: the county
coordinators; conference_team: the case's conference team (filled in by the conferences module)."""


@dataclass(frozen=True)
class LadderStep:
    level: int
    name: str
    """remind, overdue, coordinator ... (also the notification kind)."""
    anchor: str
    delay: str = ""
    audiences: tuple[str, ...] = ()
    marks_overdue: bool = False
    _delay: Deadline | None = field(default=None, init=False, repr=False, compare=False)
    """``delay`` parsed once: the sweep asks ``time_for`` of every due task (10,000 parses a batch before)."""

    def __post_init__(self) -> None:
        if self.level < 1:
            raise ValueError("ladder levels start at 1")
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}, not {self.anchor!r}")
        unknown = set(self.audiences) - set(AUDIENCES)
        if unknown:
            raise ValueError(f"unknown audience(s) {sorted(unknown)}; known: {AUDIENCES}")
        if self.delay:
            object.__setattr__(self, "_delay", parse_deadline(self.delay))

    def time_for(self, remind: datetime | None, due: datetime | None, tz: tzinfo,
                 calendar: WorkingCalendar) -> datetime | None:
        """When this step fires for a task with these reminder and due times (None: never)."""
        base = remind if self.anchor == "remind" else due
        if base is None:
            return None
        if self._delay is None:
            return base
        return due_at(base, self._delay, tz, calendar)

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "name": self.name, "anchor": self.anchor, "delay": self.delay,
                "audiences": list(self.audiences), "marks_overdue": self.marks_overdue}


@dataclass(frozen=True)
class Ladder:
    key: tuple[str, str]
    """(process_key, department_kind) it was found under; ("builtin", kind) for code defaults."""
    steps: tuple[LadderStep, ...] = field(default_factory=tuple)
    county: str = ANY
    """The county whose own stored ladder this is; ``*`` for the deployment's (and built-in and own ladders)."""

    def step(self, level: int) -> LadderStep | None:
        return next((s for s in self.steps if s.level == level), None)

    def after(self, level: int) -> LadderStep | None:
        """The first step above ``level``."""
        return next((s for s in self.steps if s.level > level), None)


def _steps(*steps: LadderStep) -> tuple[LadderStep, ...]:
    return tuple(sorted(steps, key=lambda s: s.level))


_REMIND = LadderStep(1, "remind", "remind", audiences=("holder",))
_OVERDUE = LadderStep(2, "overdue", "due", audiences=("holder", "unit_head"), marks_overdue=True)

DEFAULT_LADDERS: dict[str, tuple[LadderStep, ...]] = {
    ANY: _steps(_REMIND, _OVERDUE,
                LadderStep(3, "coordinator", "due", "1WD", ("coordinator", "conference_team"))),
    # "At the first moment" police steps are measured in hours; a working day of grace is far too long.
    "police": _steps(_REMIND, _OVERDUE,
                     LadderStep(3, "coordinator", "due", "PT2H", ("coordinator", "conference_team"))),
    # Child directors answer to the township's child supervisor (DOMAIN.md 2): tell them at due.
    "village_committee": _steps(
        _REMIND, LadderStep(2, "overdue", "due", audiences=("holder", "unit_head", "supervisor"), marks_overdue=True),
        LadderStep(3, "coordinator", "due", "1WD", ("coordinator", "conference_team"))),
}
"""Built-in ladders, also what ``flask demo load`` / ``flask ladders seed`` store as rows."""


class RuleRow(Protocol):
    """What a ladder is built from: an ``EscalationRule`` row, or the same columns read as plain values."""

    @property
    def county(self) -> str: ...
    @property
    def process_key(self) -> str: ...
    @property
    def department_kind(self) -> str: ...
    @property
    def level(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def anchor(self) -> str: ...
    @property
    def delay(self) -> str: ...
    @property
    def audiences(self) -> list[str]: ...
    @property
    def marks_overdue(self) -> bool: ...


def _from_rows(rows: Iterable[RuleRow]) -> tuple[LadderStep, ...]:
    return _steps(*(LadderStep(r.level, r.name, r.anchor, r.delay or "", tuple(r.audiences or ()),
                               bool(r.marks_overdue)) for r in rows))


ESCALATION_EXAMPLE = "holder@remind; unit_head@due; coordinator+supervisor@due+1WD"
MAX_ESCALATION_TEXT = 500
"""What ``task.escalation`` holds: a longer ladder is refused at save and deploy, never cut short."""


def parse_escalation(text: str) -> list[LadderStep]:
    """Parse a task's own ladder, the BPMN ``escalation`` property, into ``LadderStep`` values.

    ``<audience>[+<audience>...]@<remind|due>[+<delay>]``, steps separated by ``;``, e.g.
    ``holder@remind; unit_head@due; coordinator+supervisor@due+1WD``. The first step at
    ``due`` marks the task overdue. Raises ``ValueError`` naming the bad part (the designer
    shows it against the element).
    """
    if len(text) > MAX_ESCALATION_TEXT:
        raise ValueError(f"the escalation ladder is longer than {MAX_ESCALATION_TEXT} characters")
    steps: list[LadderStep] = []
    overdue_marked = False
    for raw in text.replace("；", ";").split(";"):
        part = raw.strip()
        if not part:
            continue
        who, at, when = part.partition("@")
        audiences = tuple(a.strip() for a in who.split("+") if a.strip())
        anchor, plus, delay = (x.strip() for x in when.strip().partition("+"))
        if not at or not audiences:
            raise ValueError(f"escalation step {part!r}: expected <who>@<when>, e.g. {ESCALATION_EXAMPLE}")
        unknown = [a for a in audiences if a not in AUDIENCES]
        if unknown:
            raise ValueError(f"escalation step {part!r}: unknown audience {unknown[0]!r}; who one of "
                             f"{', '.join(AUDIENCES)}")
        if anchor not in ANCHORS:
            raise ValueError(f"escalation step {part!r}: <when> must be remind, due or due+<deadline>")
        if plus:
            try:
                parse_deadline(delay)
            except DeadlineSyntaxError as exc:
                raise ValueError(f"escalation step {part!r}: {exc}") from exc
        marks_overdue = anchor == "due" and not overdue_marked
        overdue_marked = overdue_marked or marks_overdue
        name = "remind" if anchor == "remind" else ("overdue" if marks_overdue else "escalation")
        steps.append(LadderStep(level=len(steps) + 1, name=name, anchor=anchor, delay=delay,
                                audiences=audiences, marks_overdue=marks_overdue))
    if not steps:
        raise ValueError("the escalation ladder is empty")
    return steps


class LadderBook:
    """Resolves ladders for many tasks with one query (a sweep, a chunk of tasks)."""

    def __init__(self, rows: Iterable[RuleRow] | None = None) -> None:
        """``rows``: the stored steps, when the caller read them already (``deadlines.stored_settings``); else
        read here."""
        if rows is None:
            rows = db.session.scalars(sa.select(EscalationRule).order_by(EscalationRule.level)).all()
        grouped: dict[tuple[str, str, str], list[RuleRow]] = {}
        for row in rows:
            grouped.setdefault((row.county or ANY, row.process_key, row.department_kind), []).append(row)
        self._stored = {key: _from_rows(group) for key, group in grouped.items()}
        self.counties = frozenset(county for county, _, _ in grouped if county != ANY)
        """Counties with stored ladders of their own (which county a task is in matters only for them)."""
        self.processes = frozenset(process for _, process, _ in grouped if process != ANY)
        """Process keys with stored ladders of their own: a task's process decides its ladder only for them
        (with none, the sweep does not read each due task's instance to learn it)."""
        self._cache: dict[tuple[str, str, str], Ladder] = {}
        self._own: dict[str, Ladder | None] = {}

    def for_task(self, process_key: str | None, department_kind: str | None, own: str | None = None,
                 county: str = ANY) -> Ladder:
        """The task's own ladder (its ``escalation`` property) if it has a valid one, else the stored one.

        An own ladder that no longer parses (deployed before a rule was tightened)
        never leaves a task without escalation: the stored ladder applies instead.
        A county's stored ladders (``county``, a region code) come before the deployment's, most
        specific first in each: a county that stores a police ladder has it for every process.
        """
        if own:
            if own not in self._own:
                try:
                    self._own[own] = Ladder((OWN, own), _steps(*parse_escalation(own)))
                except ValueError:
                    self._own[own] = None
            found = self._own[own]
            if found is not None:
                return found
        process, kind = process_key or ANY, department_kind or ANY
        cached = self._cache.get((county, process, kind))
        if cached is not None:
            return cached
        scopes = (county, ANY) if county != ANY else (ANY,)
        for where, key in ((c, k) for c in scopes for k in ((process, kind), (process, ANY), (ANY, kind), (ANY, ANY))):
            if (where, *key) in self._stored:
                ladder = Ladder(key, self._stored[(where, *key)], county=where)
                break
        else:
            builtin = kind if kind in DEFAULT_LADDERS else ANY
            ladder = Ladder(("builtin", builtin), DEFAULT_LADDERS[builtin])
        self._cache[(county, process, kind)] = ladder
        return ladder


def replace_ladder(process_key: str, department_kind: str, steps: Sequence[LadderStep],
                   county: str = ANY) -> list[EscalationRule]:
    """Store ``steps`` as the ladder for (process_key, department_kind), replacing its rows. Flushes.

    ``county`` (a region code) stores that county's own ladder; ``*`` the deployment's.

    Tasks already waiting for a step keep the time computed for it; the new
    ladder decides which step comes after.
    """
    levels = [s.level for s in steps]
    if len(set(levels)) != len(levels):
        raise ValueError("each level may appear once in a ladder")
    db.session.execute(sa.delete(EscalationRule).where(
        EscalationRule.county == county, EscalationRule.process_key == process_key,
        EscalationRule.department_kind == department_kind))
    rows = [EscalationRule(county=county, process_key=process_key, department_kind=department_kind, level=s.level,
                           name=s.name,
                           anchor=s.anchor, delay=s.delay, audiences=list(s.audiences),
                           marks_overdue=s.marks_overdue) for s in steps]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def seed_default_ladders() -> list[tuple[str, str]]:
    """Store the built-in ladders as rows where no row exists yet (idempotent). Returns keys created."""
    created = []
    for kind, steps in DEFAULT_LADDERS.items():
        exists = db.session.scalar(sa.select(sa.exists().where(
            EscalationRule.county == ANY, EscalationRule.process_key == ANY, EscalationRule.department_kind == kind)))
        if not exists:
            replace_ladder(ANY, kind, steps)
            created.append((ANY, kind))
    return created


def steps_from_json(items: Sequence[dict[str, Any]]) -> list[LadderStep]:
    """Parse ladder steps from a JSON document (``flask ladders load``); raises ValueError naming the step."""
    steps = []
    for n, item in enumerate(items, 1):
        try:
            steps.append(LadderStep(
                level=int(item["level"]), name=str(item["name"]), anchor=str(item["anchor"]),
                delay=str(item.get("delay") or ""), audiences=tuple(item.get("audiences") or ()),
                marks_overdue=bool(item.get("marks_overdue", False))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"step {n}: {exc}") from exc
    return steps
