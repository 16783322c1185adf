"""What completing a step costs the database, pinned as statement and flush counts (never as timings).

A completion used to select its instance twice, each time joined with the whole ``process_spec``
row (~160 KB of JSON for four-in-one: BPMN sources, forms, parsed spec, user tasks), to read the
calendar and the escalation rules even when no task opened, and to walk the region tree one query
per level for every routed task. Then (issue 17) it still read the task a second time and the open
tasks a third, deleted the timer rows of instances that had none, and flushed five times. A step that
opens no task is now: the lock, one read of the task with the instance's open tasks and the case, and
one write of each table it touches (Core statements, no unit-of-work flush). bench/README.md has the latency this bought; these tests
keep it, on whichever database the suite runs (SQLite, or PostgreSQL with DATABASE_URL).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS, Step
from helpers import report_payload, unit_user
from sqlalchemy.orm import Session

from app.cases.models import Case
from app.cases.operations import accept_report
from app.cases.schemas import ReportIn
from app.engine import isolation_pool, serialization
from app.extensions import db
from app.notifications.models import Notification
from app.org.queries import user_by_username
from app.processes import queries as process_queries
from app.processes.models import ProcessInstance
from app.tasks.conflicts import Submission
from app.tasks.models import Task
from app.workflow import commands as operations

SCENARIO = SCENARIOS["living_alone_parents_reached_good_caring"]
"""The benchmark's main path: 9 steps, some opening one task, one opening three, some none."""
VILLAGE = "t01v01"
SPEC_CONTENT = {"files", "forms", "spec_json", "user_tasks"}
CONTENT_READ = re.compile(r"process_spec(_\d+)?\.(files|forms|spec_json|user_tasks)\b")

STEP_STATEMENTS = {
    "police_triage": (8, 4),
    "police_living_alone": (8, 4),
    "police_legal_disposition": (13, 9),
    "education_assessment_input": (5, 3),
    "civil_affairs_assessment_input": (5, 3),
    "village_home_visit": (8, 4),
    "township_assessment": (9, 4),
    "village_caring_help": (8, 4),
    "township_case_closure": (6, 3),
}
"""Statements of each step of the main path on (SQLite, PostgreSQL), exactly; a read of the spec's content on a cold
cache is not counted (``test_a_cold_cache_reads_the_parsed_spec_and_the_forms_once``). 70 / 38 in all (7.8 / 4.2 a
step) where they were 140 / 119, then 106 / 93, then 94 / 81, then 72 / 72, then 70 / 70, then 70 / 64 (issue 17 part
1, bench/README.md): on PostgreSQL a step's writes are one statement, the parts of one data-modifying ``WITH``: its
rows (the instance, the completed task, the new tasks), its timeline entries and its notifications (``saving.flush``;
``common.bulk.insert_many``'s ``along``: 64 -> 38), the township
told of the police's handling: who may be told decided at once (``cases.access.told_of_case``: 4 statements, not ~5
per person), and told in the step's one notification INSERT after the flush (``notify(..., held=True)``: 14 -> 13),
the closing step learns whether another instance of the case runs with the lock's read (7 -> 6), the receivers and the closing step read without flushing, new tasks are routed and their units' workers read in one
statement, on SQLite the lock's one read takes the instance too, the calendar overrides and the ladders are
kept by the process while the digest the routing statement carries stays (``deadlines.stored_settings``; the case's
start, which opened its first task, kept them), the audit row goes out with the lock (PostgreSQL: an INSERT in a
``WITH`` of the locking statement; SQLite: the write that makes the transaction the writer, where a no-op UPDATE
was), and the step's timeline entries are one INSERT (SQLite too, where the ORM sent one per entry to read its id
back). A step that opens tasks is: the lock with the audit row; one read of the instance, the task, the instance's
other open tasks and the case; the routing with the workers, the settings' digests and the new tasks' ids; the
step's rows (the instance, the completed task, the new tasks: Core statements, every value given, no RETURNING); then one
INSERT of the step's timeline entries and one of the new tasks' notifications (on PostgreSQL the rows, the timeline
entries and the notifications are one statement)."""
STEP_FLUSHES = 0
"""Unit-of-work flushes per step, every step: none. The step's rows (the case, the instance, the completed task, the
new tasks) are Core statements written at once (``workflow.rows``, marked ``"ROWS"`` below) with the ids the routing
statement gave the new tasks, so their timeline entries and notifications go out right after them (on PostgreSQL
with them). It was one flush (the unit of work writing the same rows, ~1.7 ms of a completion's CPU on SQLite), two
before the new tasks took their ids with the routing."""
AFTER_THE_FLUSH = ("INSERT INTO timeline_entry", "INSERT INTO notification", "WITH w0 AS (UPDATE ")
"""All that may follow the step's rows (``"ROWS"``: built, and on SQLite sent): the step's timeline entries (one
INSERT) and the new tasks' notifications, which name the rows written before them (``workflow.saving.flush``); on
PostgreSQL one statement of the step's rows, the entries and the notifications."""
AFTER_OPENING = {"sqlite": ["INSERT INTO timeline_entry", "INSERT INTO notification"],
                 "postgresql": [["UPDATE process_instance", "UPDATE task", "INSERT INTO task", "INSERT INTO timeline_entry",
                                 "INSERT INTO notification"]]}
"""What follows the rows of a step that opens tasks: the timeline entries and the notifications, one INSERT each;
on PostgreSQL one statement whose parts write the instance, the completed task, the new tasks, the timeline entries
and the notifications."""
WITH_PART = re.compile(r"\b(?:w\d+|along_\d+|main) AS \((UPDATE \w+|INSERT INTO \w+)")


def _after_kinds(after: list[str]) -> list[Any]:
    """The statements after the step's rows, named as ``AFTER_OPENING`` names them."""
    return [_parts(statement) if statement.startswith("WITH w0 AS (") else statement.split(" (")[0]
            for statement in after]


def _parts(statement: str) -> list[str]:
    """What each part of a step's one write statement (PostgreSQL) writes, in order."""
    return WITH_PART.findall(statement)


def _writes(statements: list[str]) -> list[str]:
    """What the statements after the lock and its read write, in order: each statement's, or each of its parts'."""
    return [part for s in statements
            for part in (_parts(s) if s.startswith("WITH w0 AS (") else [next(p for p in PLAIN_STEP_WRITES
                                                                             if s.startswith(p))])]


PLAIN_STEP = {"sqlite": 5, "postgresql": 3}
"""education_assessment_input (its parallel siblings stay open; opens nothing, no timer): exactly these
statements, no flush. It was 10 / 9 with 2 flushes (12 before the spec columns were deferred), then 7 / 6, then 6,
then 5 / 5 (on PostgreSQL the three writes are now one statement)."""
PLAIN_STEP_STATEMENTS = {
    "sqlite": ["INSERT INTO audit_event",  # the writer lock: the audit row is the transaction's first write
               "SELECT task"],  # then one read: the task, the instance, its other open tasks and the case
    "postgresql": ["WITH sent_with_lock AS (INSERT INTO audit_event",  # the lock, FOR NO KEY UPDATE, with the row
                   "SELECT task"],  # the task again, the instance's other open tasks and the case
}
PLAIN_STEP_WRITES = ["UPDATE process_instance", "UPDATE task", "INSERT INTO timeline_entry"]
"""What they write, in order (a table is written once: the flush batches each table's rows; the timeline's after the
unit of work, whose task rows an entry may name): three statements on SQLite, three parts of one on PostgreSQL."""
OPENING_THREE_TASKS = {"sqlite": 1, "postgresql": 1}
"""Opening the education, civil affairs and village tasks (police_legal_disposition; measured inside
``_open_tasks``), exactly: one routing query for the three with their units' workers, the settings' digests and
the three tasks' ids. It was that, the calendar and the ladders (two statements, before
``deadlines.stored_settings``), a flush for the tasks' ids and the notification INSERT, which now follows the
command's flush (7 / 5 statements on SQLite / PostgreSQL); 24 statements and 5 flushes before that (an autoflush
per task before its unit's workers were read, a worker SELECT and a notification INSERT per task)."""


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement the DB-API cursor executes inside the block, ``"FLUSH"`` after each unit-of-work flush and
    ``"ROWS"`` after the step's rows (``workflow.rows.write``)."""
    from app.workflow import rows

    seen: list[str] = []
    write = rows.write

    def written(**kw: Any) -> list[Any]:
        deferred = write(**kw)
        seen.append("ROWS")
        return deferred

    def count(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):  # the test harness's, not the app's
            seen.append(statement)

    def flushed(session: Any, context: Any) -> None:
        seen.append("FLUSH")

    sa.event.listen(db.engine, "before_cursor_execute", count)
    sa.event.listen(Session, "after_flush", flushed)
    rows.write = written  # type: ignore[assignment]
    try:
        yield seen
    finally:
        rows.write = write  # type: ignore[assignment]
        sa.event.remove(db.engine, "before_cursor_execute", count)
        sa.event.remove(Session, "after_flush", flushed)


def sql(seen: list[str]) -> list[str]:
    return [s for s in seen if s not in ("FLUSH", "ROWS")]


def _open_case() -> int:
    payload = report_payload(SCENARIO.start["situation"], VILLAGE)
    payload["report"]["reporter_type"] = SCENARIO.start["reporter_type"]
    case, created = accept_report(ReportIn().load(payload), user_by_username("reporter_school"))
    assert created
    db.session.commit()
    case_id = case.id
    db.session.remove()
    return case_id


def _complete(case_id: int, step: Step, check: Any = None, versioned: bool = False) -> list[str]:
    """complete + commit in a fresh session, as one request does once routing loaded the task and the user.

    ``check(task)`` runs after the completion and before the commit (which expires everything);
    ``versioned``: sent as an offline phone sends it, naming the task version its form was rendered from.
    """
    task = db.session.scalar(sa.select(Task).where(Task.case_id == case_id, Task.bpmn_id == step.bpmn_id,
                                                   Task.state == "open"))
    assert task is not None, step.bpmn_id
    user = user_by_username(unit_user(step.lane, VILLAGE))
    sent = Submission(task.version) if versioned else None
    with statements() as seen:
        operations.complete(task, user, dict(step.data), sent)
        if check is not None:
            check(task)
        db.session.commit()
    db.session.remove()
    return seen


def _clear_spec_caches() -> None:
    isolation_pool.retire_idle_workers()  # restored specs live in the engine workers too (the backstop)
    with serialization._spec_lock:
        serialization._spec_cache.clear()
    with process_queries._forms_lock:
        process_queries._forms_cache.clear()


def test_each_step_of_the_main_path_costs_its_pinned_statements_and_flushes(demo: Any) -> None:
    case_id = _open_case()
    seen = {step.bpmn_id: _complete(case_id, step) for step in SCENARIO.steps}
    column = 0 if db.engine.dialect.name == "sqlite" else 1
    counts = {bpmn_id: len([s for s in sql(s) if not CONTENT_READ.search(s)]) for bpmn_id, s in seen.items()}
    flushes = {bpmn_id: s.count("FLUSH") for bpmn_id, s in seen.items()}

    assert counts == {bpmn_id: pinned[column] for bpmn_id, pinned in STEP_STATEMENTS.items()}, counts
    assert flushes == dict.fromkeys(STEP_STATEMENTS, STEP_FLUSHES), flushes
    assert all(s.count("ROWS") == 1 for s in seen.values()), seen
    after = {bpmn_id: s[s.index("ROWS") + 1:] for bpmn_id, s in seen.items()}
    assert all(x.startswith(AFTER_THE_FLUSH) for rest in after.values() for x in rest), after
    assert db.session.get(Case, case_id).status == "closed"


def test_the_township_told_of_the_police_handling_costs_a_few_statements_whoever_is_told(demo: Any) -> None:
    """The need-to-know check of the township's people is one decision for all of them (``told_of_case``): the
    region chain, the people, their roles, the unit and conference facts, the absences; their notices go in the
    step's one notification INSERT, with the new tasks' workers'."""
    from app.org.models import User
    from app.org.operations import create_user
    from app.org.roles import Role

    supervisor = user_by_username("supervisor_t01")
    assert supervisor is not None
    for n in range(4):  # more supervisors and liaisons in the township: the cost stays the same
        create_user(f"supervisor_t01_{n}", f"儿童督导员{n}", None, {Role.CHILD_SUPERVISOR}, None, supervisor.region)
        create_user(f"township_t01_{n}", f"乡镇联络员{n}", None, {Role.LIAISON}, supervisor.unit, supervisor.region)
    db.session.commit()
    case_id = _open_case()
    for step in SCENARIO.steps:
        seen = _complete(case_id, step)
        if step.bpmn_id == "police_legal_disposition":
            break
    facts = re.compile(r"SELECT (\?|%\(\w+\)s::INTEGER) IN \(")  # ``:case IN (<a basis's SELECT>) OR ...``
    told = [s for s in sql(seen) if "police_handled" in s or s.startswith("SELECT user_role") or facts.match(s)]
    column = 0 if db.engine.dialect.name == "sqlite" else 1
    assert len([s for s in sql(seen) if not CONTENT_READ.search(s)]) == STEP_STATEMENTS[step.bpmn_id][column]
    assert len([s for s in told if s.startswith("SELECT user_role")]) == 1, told  # every person's roles at once
    assert len([s for s in told if facts.match(s)]) == 1, told  # every person's facts at once
    inserts = [s for s in sql(seen) if "INSERT INTO notification (" in s]
    assert len(inserts) == 1 and seen[-1] == inserts[0], seen  # with the new tasks' notices, after the flush
    names = {db.session.get(User, n.user_id).username for n in db.session.scalars(  # type: ignore[union-attr]
        sa.select(Notification).where(Notification.kind == "police_handled"))}
    assert names == {"supervisor_t01", *(f"supervisor_t01_{n}" for n in range(4))}  # the liaisons have no basis yet


def test_a_step_that_opens_nothing_is_no_flush_and_one_write_per_table(demo: Any) -> None:
    case_id = _open_case()
    for step in SCENARIO.steps:
        seen = _complete(case_id, step)
        if step.bpmn_id == "education_assessment_input":
            break
    statements = sql(seen)
    dialect = db.engine.dialect.name

    assert len(statements) == PLAIN_STEP[dialect], statements
    assert seen.count("FLUSH") == 0 and seen[-2:] == ["ROWS", seen[-1]], seen  # the step's rows, then the last write
    if dialect == "postgresql":
        assert "FOR NO KEY UPDATE" in statements[0]
        assert _parts(seen[-1]) == PLAIN_STEP_WRITES, seen[-1]  # all three, in one statement
    else:
        assert seen[-1].startswith("INSERT INTO timeline_entry"), seen  # the rows sent, then the timeline entries
    lock = PLAIN_STEP_STATEMENTS[dialect]
    assert [" ".join(s.split())[:len(p)] for s, p in zip(statements[:2], lock, strict=True)] == lock
    assert _writes(statements[2:]) == PLAIN_STEP_WRITES
    assert not [s for s in statements if "timer" in s.split("WHERE")[0]], "no timer rows to rewrite: none read or deleted"


def test_a_version_checked_completion_costs_no_statement_more(demo: Any) -> None:
    """The offline phone's version check reads the row the lock already read; the bump rides in the task's UPDATE."""
    case_id = _open_case()
    for step in SCENARIO.steps:
        seen = _complete(case_id, step, versioned=step.bpmn_id == "education_assessment_input")
        if step.bpmn_id == "education_assessment_input":
            break
    statements = sql(seen)
    assert len(statements) == PLAIN_STEP[db.engine.dialect.name], statements
    assert _writes(statements[2:]) == PLAIN_STEP_WRITES
    task_update = next(s for s in statements if s.startswith("UPDATE task") or "UPDATE task SET" in s)
    assert re.search(r'\bversion"?=', task_update.split("UPDATE task SET")[-1].replace(" ", "")), task_update


def test_a_completion_reads_no_process_spec_content_once_the_version_is_cached(demo: Any) -> None:
    case_id = _open_case()
    _complete(case_id, SCENARIO.steps[0])  # caches this version's parsed spec and forms, if no test did yet

    def spec_content_left_unloaded(task: Task) -> None:
        instance = db.session.get(ProcessInstance, task.instance_id)
        assert set(sa.inspect(instance.spec).unloaded) >= SPEC_CONTENT, task.bpmn_id

    for step in SCENARIO.steps[1:4]:
        seen = _complete(case_id, step, spec_content_left_unloaded)
        assert not [s for s in seen if CONTENT_READ.search(s)], step.bpmn_id


def test_a_cold_cache_reads_the_parsed_spec_and_the_forms_once(demo: Any) -> None:
    """Another worker process, or a version this one has not run yet: the deferred columns load on demand."""
    case_id = _open_case()
    _clear_spec_caches()
    first = [m.group(2) for s in _complete(case_id, SCENARIO.steps[0]) for m in [CONTENT_READ.search(s)] if m]
    second = [s for s in _complete(case_id, SCENARIO.steps[1]) if CONTENT_READ.search(s)]

    assert sorted(first) == ["forms", "spec_json"]
    assert second == []
    [task] = db.session.scalars(sa.select(Task).where(Task.case_id == case_id, Task.state == "open"))
    assert task.bpmn_id == SCENARIO.steps[2].bpmn_id


@pytest.mark.parametrize("form", [None, "four_in_one/police_triage.json"])
def test_form_schemas_are_the_stored_ones_and_each_caller_gets_a_copy(demo: Any, form: str | None) -> None:
    from app.processes.queries import current_spec, form_schema

    spec = current_spec("four_in_one")
    assert spec is not None
    stored = spec.forms.get(form) if form else None
    first = form_schema(spec, form)
    assert first == stored
    if first is not None:
        first["properties"] = {}
        assert form_schema(spec, form) == stored


def test_a_step_opening_parallel_tasks_routes_them_with_their_workers_once_and_tells_them_in_one_insert(
        demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three units told of three parallel tasks: one SELECT of the units and their workers (and the tasks' ids), the
    timeline entries with the command's flush (no autoflush per task), one notification INSERT after it.

    Counted inside ``projection._open_tasks`` only, so what ``task_completed`` receivers do on the same step
    (tests/tasks) is theirs to pin."""
    from app.workflow import projection

    marks: list[list[str]] = []
    original = projection._open_tasks

    def observed(*args: Any, **kw: Any) -> Any:
        with statements() as seen:
            created = original(*args, **kw)
        marks.append(seen)
        return created

    monkeypatch.setattr(projection, "_open_tasks", observed)
    case_id = _open_case()
    for step in SCENARIO.steps:
        marks.clear()
        whole = _complete(case_id, step)
        opened = db.session.scalar(sa.select(sa.func.count(Task.id)).where(Task.case_id == case_id, Task.state == "open"))
        if opened == 3:
            break
    else:
        pytest.fail("the main path has no step opening three tasks")
    [seen] = marks
    inside = sql(seen)

    assert seen.count("FLUSH") == 0, seen  # the ids came with the routing
    after = whole[whole.index("ROWS") + 1:]
    # the step's four timeline entries in one INSERT, the three units told at once in one more
    assert _after_kinds(after) == AFTER_OPENING[db.engine.dialect.name], after
    routing = [s for s in inside if s.startswith("WITH RECURSIVE region_chain")]
    assert len(routing) == 1 and "user_account" in routing[0], inside  # three units and their workers, one read
    assert not [s for s in inside if s.startswith("SELECT user_account.")], inside
    assert not [s for s in inside if s.startswith("INSERT INTO timeline_entry")], inside
    assert len(inside) == OPENING_THREE_TASKS[db.engine.dialect.name], inside
