"""Domain events: sent by the workflow inside the command's transaction, received by the packages above
and below it without imports; the import rules of the workflow redesign (issue 12) hold."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import report_payload, submit_report, unit_user

from app.cases.models import Case, Report, TimelineEntry
from app.cases.operations import accept_report
from app.cases.schemas import ReportIn
from app.common import events
from app.common.errors import Conflict
from app.extensions import db
from app.org.queries import user_by_username
from app.processes.models import ProcessInstance
from app.tasks.models import Task

APP = Path(__file__).resolve().parents[2] / "app"
TRIAGE = SCENARIOS["living_alone_parents_reached_good_caring"].steps[0]


def _open(case_id: int, bpmn_id: str) -> Task:
    db.session.expire_all()
    task = db.session.scalar(sa.select(Task).where(Task.case_id == case_id, Task.bpmn_id == bpmn_id,
                                                   Task.state == "open"))
    assert task is not None, bpmn_id
    return task


def test_a_completion_sends_its_events_in_order_inside_the_transaction(as_user: Any) -> None:
    case = submit_report(as_user("reporter_school"))
    triage = _open(case["case_id"], TRIAGE.bpmn_id)
    seen: list[tuple[str, Any, dict[str, Any]]] = []

    def listen(name: str) -> Any:
        def receiver(sender: Any, **kw: Any) -> None:
            assert db.session().in_transaction()  # not committed yet: the command's own transaction
            seen.append((name, sender, kw))
        return receiver

    receivers = {name: listen(name) for name in ("instance_saved", "task_completed", "task_opened")}
    with events.instance_saved.connected_to(receivers["instance_saved"]), \
            events.task_completed.connected_to(receivers["task_completed"]), \
            events.task_opened.connected_to(receivers["task_opened"]):
        resp = as_user("police_t01").post(f"/api/v1/tasks/{triage.id}/complete", json={"data": TRIAGE.data})
    assert resp.status_code == 200, resp.get_json()
    names = [name for name, _, _ in seen]
    assert names[:2] == ["instance_saved", "task_completed"] and set(names[2:]) == {"task_opened"}, names
    saved, completed, opened = seen[0], seen[1], seen[2:]
    assert isinstance(saved[1], ProcessInstance) and saved[2]["case"].id == case["case_id"]
    assert completed[1].id == triage.id and completed[2]["data"]["situation"] == TRIAGE.data["situation"]
    assert completed[2]["actor"].username == "police_t01"
    assert opened and all(isinstance(t, Task) and t.id is not None and t.state == "open" for _, t, _ in opened)
    assert all(_open(case["case_id"], t.bpmn_id).id == t.id for _, t, _ in opened)


def test_a_receiver_that_raises_rolls_the_completion_back(as_user: Any) -> None:
    case = submit_report(as_user("reporter_school"))
    triage = _open(case["case_id"], TRIAGE.bpmn_id)
    before = db.session.get(ProcessInstance, triage.instance_id)
    assert before is not None
    version, entries = before.version, db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)))

    def refuse(sender: Any, **_: Any) -> None:
        raise Conflict("a subscriber refused")

    with events.task_completed.connected_to(refuse):
        resp = as_user("police_t01").post(f"/api/v1/tasks/{triage.id}/complete", json={"data": TRIAGE.data})
    assert resp.status_code == 409 and "a subscriber refused" in resp.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(Task, triage.id).state == "open"  # type: ignore[union-attr]
    assert db.session.get(ProcessInstance, triage.instance_id).version == version  # type: ignore[union-attr]
    assert db.session.scalar(sa.select(sa.func.count(TimelineEntry.id))) == entries


def test_the_last_instance_ending_closes_a_protection_case_once(demo: Any) -> None:
    """``instance_completed`` → cases closes the case and sends ``case_closed`` (the flows walk the whole path)."""
    from app.workflow import commands

    scenario = SCENARIOS["living_alone_parents_reached_good_caring"]
    payload = report_payload(scenario.start["situation"])
    payload["report"]["reporter_type"] = scenario.start["reporter_type"]
    case, created = accept_report(ReportIn().load(payload), user_by_username("reporter_school"))
    assert created
    closed: list[Any] = []
    with events.case_closed.connected_to(lambda sender, **kw: closed.append((sender, kw))):
        for step in scenario.steps:
            task = _open(case.id, step.bpmn_id)
            commands.complete(task, user_by_username(unit_user(step.lane, "t01v01")), dict(step.data))
    db.session.commit()
    assert [c.id for c, _ in closed] == [case.id]
    assert closed[0][1]["instance"].status == "completed"
    assert db.session.get(Case, case.id).status == "closed"  # type: ignore[union-attr]


def test_a_report_for_a_process_not_deployed_is_refused_and_files_nothing(demo: Any) -> None:
    reporter = user_by_username("reporter_school")
    with pytest.raises(Conflict, match="'no_such_process' is not deployed"):
        accept_report(ReportIn().load(report_payload()), reporter, process_key="no_such_process")
    db.session.rollback()  # as every view and job does on an error
    assert db.session.scalar(sa.select(sa.func.count(Report.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 0


def test_every_signal_is_declared_once_with_a_docstring_saying_when_and_in_which_transaction() -> None:
    tree = ast.parse((APP / "common" / "events.py").read_text(encoding="utf-8"))
    body = tree.body
    declared = {}
    for i, node in enumerate(body):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                getattr(node.value.func, "attr", "") == "signal":
            doc = body[i + 1] if i + 1 < len(body) else None
            assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant), ast.unparse(node)
            text = str(doc.value.value)
            assert "Sent" in text or "sent" in text, ast.unparse(node)
            declared[node.targets[0].id] = text  # type: ignore[attr-defined]
    assert set(declared) >= {"report_accepted", "instance_saved", "instance_completed", "case_closed",
                             "task_opened", "task_completed", "task_overdue"}
    module_doc = ast.get_docstring(tree) or ""
    assert "inside the command's transaction, before commit" in module_doc
    others = [p for p in APP.rglob("*.py") if p.name != "events.py" and "Namespace(" in p.read_text(encoding="utf-8")]
    assert others == []


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize(("package", "forbidden"), [
    ("tasks", ("app.workflow", "app.processes.runtime")),
    ("workflow", ("app.conferences", "app.duties", "app.dashboard", "app.designer")),
    ("cases", ("app.workflow", "app.processes.runtime", "app.tasks.operations")),
])
def test_the_workflow_import_rules_hold(package: str, forbidden: tuple[str, ...]) -> None:
    bad = sorted(f"{path.relative_to(APP.parent)} imports {name}" for path in (APP / package).rglob("*.py")
                 for name in _imports(path) if name.startswith(forbidden))
    assert bad == []


def test_the_sweep_sends_task_overdue_once_per_task_and_a_reassignment_restarts_the_ladder(
        county: Any, clock: Any) -> None:
    from deadline_helpers import open_case, sweep, tasks_of

    from app.tasks.operations import reassign

    case = open_case("four_in_one", "t01v01")
    [task] = tasks_of(case.id)
    overdue: list[tuple[int, int, set[str]]] = []
    with events.task_overdue.connected_to(
            lambda sender, **kw: overdue.append((sender.id, kw["level"], {u.username for u in kw["recipients"]}))):
        clock.advance(minutes=46)
        sweep()  # the reminder: not overdue yet
        assert overdue == []
        clock.advance(minutes=15)
        sweep()
        sweep()
    assert overdue == [(task.id, 2, {"police_t01", "police_t01_head"})]

    reassigned: list[Any] = []
    head, liaison = user_by_username("police_t01_head"), user_by_username("police_t01")
    held = db.session.get(Task, task.id)
    assert held is not None and held.next_escalation_at is not None
    scheduled = held.next_escalation_at  # the coordinator step, still ahead
    held.next_escalation_at = scheduled + timedelta(days=30)  # a stale schedule the restart must replace
    db.session.commit()
    with events.task_reassigned.connected_to(lambda sender, **kw: reassigned.append((sender.id, kw))):
        reassign(db.session.get(Task, task.id), liaison, head)  # type: ignore[arg-type]
    db.session.commit()
    assert [(tid, kw["by"].username, kw["previous"]) for tid, kw in reassigned] == [(task.id, "police_t01_head", None)]
    moved = db.session.get(Task, task.id)
    assert moved is not None and moved.next_escalation_at == scheduled  # deadlines restarted the ladder
