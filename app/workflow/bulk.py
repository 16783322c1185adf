"""``start_many``: the start command for thousands of instances of one process version at once.

Recurring duties start one instance per enrolled child per cycle: a province's week is a hundred
thousand starts of the same version with start data that differs only in the case number and subject.
The per-instance command (``commands.start``) runs the engine, then writes the instance, its task,
timeline entries and notifications row by row: about a dozen statements per child. Here the engine
runs twice per version (``engine.prepare_start``: one start state stamped for every child, after
checking the stamp equals a real start) and each table is written once per batch, rows built from
per-batch caches (routing per region, due time and ladder per county). Instance and task ids come
from their sequences first (PostgreSQL), so the rows that name them need no read back.

Anything the stamp cannot do exactly as a start would (a process that ends or waits on a broken timer
before its first task, a varying value the process reads) goes through ``commands.start`` one by one,
inside the same call: the result is the same, only slower.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app import engine
from app.cases.access import task_workers
from app.cases.models import Case, TimelineEntry
from app.common import events
from app.common.bulk import copy_rows, next_ids
from app.common.clock import county_zone, now
from app.common.collector import collector_paused
from app.deadlines.calendar import CountyCalendars, compute_due
from app.deadlines.ladder import LadderBook
from app.engine import properties as P
from app.extensions import db
from app.notifications.bulk import notify_many
from app.org.models import Unit, User
from app.org.queries import county_code_for, county_coordinators, nearest_unit
from app.processes.models import ProcessInstance, ProcessSpec
from app.tasks.models import Task, TaskState, Timer

from .commands import ProcessFailed, start
from .projection import INTERESTING_STEPS


@dataclass(frozen=True)
class Start:
    """One instance to start: its case and the start data that is its own (the same keys for all)."""

    case_id: int
    region_id: int
    number: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Started:
    """What ``events.instances_started`` carries per instance."""

    instance_id: int
    case_id: int
    data: dict[str, Any]
    task_ids: tuple[int, ...]


def start_many(spec: ProcessSpec, common: dict[str, Any], starts: Sequence[Start], actor: User | None,
               routes: Routes | None = None) -> tuple[list[int], bool]:
    """Start ``spec`` once per item with ``common`` + its ``values``. Flushes.

    Returns the new instance ids, in order, and whether they were stamped (False: started one by one).
    ``routes``: caches to share between the batches of one process (made here when not given).

    The same rows as ``commands.start`` per item (instance, timeline, tasks routed with due time and
    ladder, timers, new-task notifications); subscribers get one ``events.instances_started`` for the
    batch instead of ``instance_saved`` / ``task_opened`` per instance.
    """
    if not starts:
        return [], True
    routes = routes or Routes(spec.process_key, now())
    template = routes.template(spec, common, starts)
    if template is None:
        return [_start_one(spec, common, item, actor) for item in starts], False
    db.session.flush()  # the caller's pending rows (duty cycles) before the batch's own statements
    with collector_paused():
        snaps = [template.stamp(item.values) for item in starts]
        base = _jsonable(template.snapshot.data)  # the shared data made JSON-safe once, not per instance
        datas = [{**base, **_jsonable({key: item.values[key] for key in template.varying})} for item in starts]
        return _write(spec, starts, snaps, datas, actor, routes), True


_PLAIN = (str, int, float, bool, type(None))


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as it reads back from a JSON column (dates become text), without a round trip when plain."""
    if all(type(value) in _PLAIN for value in data.values()):
        return dict(data)
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return result


def _template(spec: ProcessSpec, common: dict[str, Any], starts: Sequence[Start],
              at: datetime) -> engine.StartTemplate | None:
    """The version's stamped start, or None when stamping would not be exact for this batch."""
    if len(starts) < 2:
        return None
    try:
        found = engine.prepare_start(spec.content_hash, lambda: spec.spec_json, common,
                                     [starts[0].values, starts[1].values], now=at)
    except engine.ProcessScriptError as exc:
        raise ProcessFailed(f"the process failed{f' at {exc.bpmn_id}' if exc.bpmn_id else ''}: {exc}") from exc
    if found is None:
        return None
    snap = found.snapshot
    if snap.completed or any(timer.error for timer in snap.timers):
        return None  # an instance that ends at once, or a timer incident to open: the full command does it
    return found


def _start_one(spec: ProcessSpec, common: dict[str, Any], item: Start, actor: User | None) -> int:
    case = db.session.get(Case, item.case_id)
    assert case is not None
    return start(case, spec, {**common, **item.values}, actor).id


class Routes:
    """Caches for the batches of one process: a region's unit of each kind, a county's calendar, a deadline's due time and
    ladder, a unit's workers, a county's coordinators."""

    def __init__(self, process_key: str, at: datetime) -> None:
        self.at, self.process_key = at, process_key
        self.calendars, self.book = CountyCalendars(), LadderBook()
        self.per_county = bool(self.calendars.counties or self.book.counties)
        self._units: dict[tuple[str, int], Unit | None] = {}
        self._counties: dict[int, str] = {}
        self._due: dict[tuple[str | None, str, str | None, str | None], tuple[Any, Any, Any]] = {}
        self._workers: dict[int, list[User]] = {}
        self._coordinators: dict[int, list[User]] = {}
        self._templates: dict[tuple[int, str], engine.StartTemplate | None] = {}

    def template(self, spec: ProcessSpec, common: dict[str, Any],
                 starts: Sequence[Start]) -> engine.StartTemplate | None:
        """The version's stamped start for this start data, prepared once for all the batches that share
        them (it was checked against two real starts; every later instance is stamped from it alike)."""
        key = (spec.id, json.dumps(common, sort_keys=True, default=str))
        if key not in self._templates:
            if len(starts) < 2:
                return None  # two real starts check a template: a batch of one starts the usual way
            self._templates[key] = _template(spec, common, starts, self.at)
        return self._templates[key]

    def unit(self, kind: str | None, region_id: int) -> Unit | None:
        if not kind:
            return None
        if (kind, region_id) not in self._units:
            self._units[(kind, region_id)] = nearest_unit(kind, region_id)
        return self._units[(kind, region_id)]

    def county(self, region_id: int) -> str:
        if region_id not in self._counties:
            self._counties[region_id] = county_code_for(region_id) if self.per_county else "*"
        return self._counties[region_id]

    def due(self, deadline: str | None, county: str, kind: str | None,
            escalation: str | None) -> tuple[datetime | None, datetime | None, datetime | None]:
        """(due_at, remind_at, next_escalation_at) of a task opening now, as ``projection._open_tasks`` sets them."""
        key = (deadline, county, kind, escalation)
        if key not in self._due:
            calendar = self.calendars(county)
            due, remind = compute_due(self.at, deadline, calendar)
            first = self.book.for_task(self.process_key, kind, escalation, county).after(0)
            self._due[key] = (due, remind, first.time_for(remind, due, county_zone(), calendar) if first else None)
        return self._due[key]

    def workers(self, unit_id: int) -> list[User]:
        if unit_id not in self._workers:
            self._workers[unit_id] = list(db.session.scalars(task_workers(unit_id)))
        return self._workers[unit_id]

    def coordinators(self, region_id: int) -> list[User]:
        if region_id not in self._coordinators:
            self._coordinators[region_id] = county_coordinators(region_id)
        return self._coordinators[region_id]


def _write(spec: ProcessSpec, starts: Sequence[Start], snaps: list[engine.InstanceSnapshot],
           datas: list[dict[str, Any]], actor: User | None, routes: Routes) -> list[int]:
    """Every row of the batch: one INSERT per table (instances, tasks, timers, timeline, notifications)."""
    at = routes.at
    instance_ids = next_ids(ProcessInstance, len(starts))
    task_count = sum(len(snap.ready_tasks) for snap in snaps)
    task_ids = iter(next_ids(Task, task_count))
    tiers = _help_tiers(starts, snaps)
    actor_id = actor.id if actor else None
    instances: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    timers: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    users: dict[int, User] = {}
    started: list[Started] = []
    for item, snap, data, instance_id in zip(starts, snaps, datas, instance_ids, strict=True):
        instances.append({"id": instance_id, "case_id": item.case_id, "spec_id": spec.id, "state": snap.state,
                          "serializer_version": snap.serializer_version, "version": 1, "status": "running",
                          "data": data, "started_at": at, "updated_at": at})
        entry = _entry(item.case_id, at, actor_id, instance_id)
        entries.append(entry("process_started", f"{spec.name} v{spec.version}", None, None, {}))
        for step in snap.steps:
            if step.kind in INTERESTING_STEPS:
                summary = step.name
                if step.kind == "BusinessRuleTask" and tiers.get(item.case_id):
                    summary = f"{step.name}: {tiers[item.case_id]}"
                entries.append(entry("engine_step", summary, None, None, {"bpmn_id": step.bpmn_id, "kind": step.kind}))
        opened: list[int] = []
        for ready in snap.ready_tasks:
            task_id = next(task_ids)
            opened.append(task_id)
            kind = ready.department or ready.lane
            unit = routes.unit(kind, item.region_id)
            escalation = (ready.properties.get(P.ESCALATION) or "").strip() or None
            due, remind, next_at = routes.due(ready.deadline, routes.county(item.region_id), kind, escalation)
            tasks.append({
                "id": task_id, "instance_id": instance_id, "case_id": item.case_id, "engine_task_id": ready.id,
                "bpmn_id": ready.bpmn_id, "name": ready.name, "lane": ready.lane, "department_kind": kind,
                "unit_id": unit.id if unit else None, "state": TaskState.OPEN.value, "form": ready.form,
                "instructions": ready.properties.get(P.INSTRUCTIONS, ""), "deadline": ready.deadline,
                "created_at": at, "due_at": due, "remind_at": remind, "escalation": escalation,
                "escalation_level": 0, "next_escalation_at": next_at})
            told = routes.workers(unit.id) if unit else routes.coordinators(item.region_id)
            if unit is None:
                entries.append(entry("task_unrouted", f"{ready.name}: no {kind} unit serves this region", None,
                                     task_id, {"bpmn_id": ready.bpmn_id, "task": ready.name,
                                               "department_kind": kind}))
            else:
                entries.append(entry("task_created", f"{ready.name} → {unit.name}", unit.id, task_id,
                                     {"bpmn_id": ready.bpmn_id, "due_at": due.isoformat() if due else None}))
            notes.extend({"user_id": u.id, "kind": "new_task" if unit else "task_unrouted",
                          "title": f"{item.number}: {ready.name}"[:300], "body": "", "case_id": item.case_id,
                          "task_id": task_id, "dedupe_key": None, "created_at": at} for u in told)
            users.update((u.id, u) for u in told)
        timers.extend({"instance_id": instance_id, "engine_task_id": t.task_id, "bpmn_id": t.bpmn_id,
                       "name": t.name, "due_at": t.due_at, "attempts": 0} for t in snap.timers)
        started.append(Started(instance_id, item.case_id, data, tuple(opened)))
    copy_rows(ProcessInstance, instances)
    copy_rows(Task, tasks)
    copy_rows(Timer, timers)
    copy_rows(TimelineEntry, entries)
    notify_many(notes, users, at)
    events.instances_started.send(spec, started=started, actor=actor)
    return instance_ids


def _entry(case_id: int, at: datetime, actor_id: int | None,
           instance_id: int) -> Callable[[str, str, int | None, int | None, dict[str, Any]], dict[str, Any]]:
    """A timeline row of this instance (what ``cases.timeline.record`` adds, as a dict)."""
    def make(kind: str, summary: str, unit_id: int | None, task_id: int | None,
             detail: dict[str, Any]) -> dict[str, Any]:
        return {"case_id": case_id, "at": at, "kind": kind, "summary": summary[:500],
                "actor_id": actor_id if kind == "process_started" else None, "unit_id": unit_id,
                "task_id": task_id, "instance_id": instance_id, "detail": detail}
    return make


def _help_tiers(starts: Sequence[Start], snaps: list[engine.InstanceSnapshot]) -> dict[int, str | None]:
    """The cases' help tiers, read only when a decision ran before the first task (its timeline text)."""
    if not any(step.kind == "BusinessRuleTask" for snap in snaps[:1] for step in snap.steps):
        return {}
    ids = {item.case_id for item in starts}
    return dict(db.session.execute(sa.select(Case.id, Case.help_tier).where(Case.id.in_(ids))).all())  # type: ignore[arg-type]
