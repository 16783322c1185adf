"""Moving running four-in-one cases to a modified copy: dry run, batch migration, rollback, audit."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import open_tasks, submit_report

from app.audit.models import AuditEvent
from app.cases.models import TimelineEntry
from app.extensions import db
from app.org.models import User
from app.processes.models import InstanceMigration, ProcessInstance, ProcessSpec
from app.tasks.models import Task

pytestmark = pytest.mark.dataset("four_in_one")
"""The demo county with only the four-in-one process: these tests are about it, not other bundles."""

P = "/api/v1/processes"
SCENARIO = SCENARIOS["living_alone_parents_reached_good_caring"]
TRIAGE, LIVING_ALONE = SCENARIO.steps[0], SCENARIO.steps[1]


def _instance(case_id: int) -> ProcessInstance:
    db.session.expire_all()
    return db.session.scalar(sa.select(ProcessInstance).where(ProcessInstance.case_id == case_id))


def _open(case_id: int) -> list[Task]:
    return list(db.session.scalars(sa.select(Task).where(Task.case_id == case_id, Task.state == "open")))


def _complete(api: Any, case_id: int, step: Any) -> None:
    [task] = [t for t in open_tasks(api, step=step.bpmn_id) if t["case_id"] == case_id]
    resp = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": step.data})
    assert resp.status_code == 200, resp.get_json()


def _deploy_v2(designer: Any) -> int:
    """v2: the triage step renamed, its deadline doubled, and the living-alone step re-keyed."""
    draft = designer.post(f"{P}/drafts", json={"process_key": "four_in_one"}).get_json()
    resp = designer.client.patch(f"{P}/drafts/{draft['id']}/elements/police_triage", headers=designer.headers,
                                 json={"name": "受理研判、出警", "properties": {"deadline": "PT2H"}})
    assert resp.get_json()["valid"], resp.get_json()["messages"]
    files = designer.get(f"{P}/drafts/{draft['id']}?content=1").get_json()["files"]
    bpmn = files["four_in_one.bpmn"].replace('"police_living_alone"', '"police_living_alone_v2"').replace(
        ">police_living_alone<", ">police_living_alone_v2<")
    saved = designer.client.put(f"{P}/drafts/{draft['id']}", headers=designer.headers,
                                json={"files": {**files, "four_in_one.bpmn": bpmn}}).get_json()
    assert saved["valid"], saved["messages"]
    deployed = designer.post(f"{P}/drafts/{draft['id']}/deploy", json={"note": "出警时限两小时"})
    assert deployed.status_code == 201, deployed.get_json()
    return int(deployed.get_json()["version"])


def _three_cases(as_user: Any) -> tuple[list[int], int]:
    """Two cases waiting at triage and one already at the living-alone step."""
    reporter, police = as_user("reporter_school"), as_user("police_t01")
    ids = [submit_report(reporter, "living_alone", "t01v01")["case_id"] for _ in range(3)]
    _complete(police, ids[2], TRIAGE)
    return ids, ids[2]


def test_dry_run_lists_who_can_move_and_why_the_others_cannot(as_user: Any) -> None:
    ids, advanced = _three_cases(as_user)
    designer = as_user("designer")
    version = _deploy_v2(designer)
    plan = designer.get(f"{P}/four_in_one/versions/{version}/migration-plan").get_json()
    rows = {r["case_id"]: r for r in plan["items"]}
    assert set(rows) == set(ids) and plan["movable"] == 2
    assert rows[ids[0]]["can_move"] and rows[ids[0]]["open_steps"] == ["police_triage"]
    assert not rows[advanced]["can_move"]
    assert rows[advanced]["reasons"] == ["the current step police_living_alone (单独居住：责令返回、确定受委托监护人、训诫) "
                                         "no longer exists in the new version (its place is taken by "
                                         "police_living_alone_v2)"]
    # a dry run writes nothing
    assert db.session.scalar(sa.select(sa.func.count(InstanceMigration.id))) == 0
    assert {_instance(i).spec.version for i in ids} == {1}
    assert as_user("coordinator").get(f"{P}/four_in_one/versions/{version}/migration-plan").status_code == 403


def test_batch_migration_moves_all_that_can_audits_each_and_keeps_open_tasks(as_user: Any) -> None:
    ids, advanced = _three_cases(as_user)
    designer = as_user("designer")
    version = _deploy_v2(designer)
    due_before = {i: _open(i)[0].due_at for i in ids}
    resp = designer.post(f"{P}/four_in_one/versions/{version}/migrate", json={})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["moved"] == 2
    skipped = next(r for r in body["items"] if r["case_id"] == advanced)
    assert skipped["migration_id"] is None and "police_living_alone" in skipped["reasons"][0]
    for case_id in ids[:2]:
        instance = _instance(case_id)
        assert instance.spec.version == version
        [task] = _open(case_id)
        assert (task.bpmn_id, task.name, task.unit.kind) == ("police_triage", "受理研判、出警", "police")
        assert task.due_at == due_before[case_id]  # the open task keeps the deadline it was given
    assert _instance(advanced).spec.version == 1
    audits = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "process_migrate")))
    assert sorted(a.case_id for a in audits) == sorted(ids[:2])
    assert {(a.detail["from_version"], a.detail["to_version"]) for a in audits} == {(1, version)}
    designer_id = db.session.scalar(sa.select(User.id).where(User.username == "designer"))
    assert {a.user_id for a in audits} == {designer_id}
    timeline = db.session.scalars(sa.select(TimelineEntry).where(TimelineEntry.kind == "process_migrated"))
    assert sorted(e.case_id for e in timeline) == sorted(ids[:2])
    # the moved case runs on in the new version: its next step is the re-keyed one
    police = as_user("police_t01")
    _complete(police, ids[0], TRIAGE)
    assert [t.bpmn_id for t in _open(ids[0])] == ["police_living_alone_v2"]


def test_rollback_restores_exactly_and_refuses_once_the_case_moved_on(as_user: Any) -> None:
    ids, _ = _three_cases(as_user)
    designer = as_user("designer")
    v1 = db.session.scalar(sa.select(ProcessSpec).where(ProcessSpec.version == 1))
    before = {i: (_instance(i).state, _instance(i).spec_id) for i in ids[:2]}
    version = _deploy_v2(designer)
    body = designer.post(f"{P}/four_in_one/versions/{version}/migrate", json={"instance_ids": [
        _instance(i).id for i in ids[:2]]}).get_json()
    migrations = {r["case_id"]: r["migration_id"] for r in body["items"]}
    # case 0: rolled back at once -> exactly the previous state, version and task name
    resp = designer.post(f"{P}/migrations/{migrations[ids[0]]}/rollback")
    assert resp.status_code == 200 and resp.get_json()["version"] == 1
    instance = _instance(ids[0])
    assert (instance.state, instance.spec_id) == before[ids[0]] and instance.spec_id == v1.id
    assert _open(ids[0])[0].name == "受理研判并出警"
    assert designer.post(f"{P}/migrations/{migrations[ids[0]]}/rollback").status_code == 409
    rollback_audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "process_migration_rollback"))
    assert rollback_audit.case_id == ids[0] and rollback_audit.detail["to_version"] == 1
    # case 1: worked on after the move -> rollback would lose that work
    _complete(as_user("police_t01"), ids[1], TRIAGE)
    late = designer.post(f"{P}/migrations/{migrations[ids[1]]}/rollback")
    assert late.status_code == 409 and "moved on" in late.get_json()["message"]
    assert _instance(ids[1]).spec.version == version
    assert as_user("admin").post(f"{P}/migrations/{migrations[ids[1]]}/rollback").status_code == 403


def test_a_case_that_changed_since_the_dry_run_is_not_moved(as_user: Any) -> None:
    ids, _ = _three_cases(as_user)
    designer = as_user("designer")
    version = _deploy_v2(designer)
    plan = designer.get(f"{P}/four_in_one/versions/{version}/migration-plan").get_json()
    seen = {str(r["instance_id"]): r["lock_version"] for r in plan["items"]}
    _complete(as_user("police_t01"), ids[0], TRIAGE)  # case 0 moves on after the dry run
    body = designer.post(f"{P}/four_in_one/versions/{version}/migrate",
                         json={"instance_ids": [_instance(ids[0]).id, _instance(ids[1]).id],
                               "expected_versions": seen}).get_json()
    rows = {r["case_id"]: r for r in body["items"]}
    assert not rows[ids[0]]["can_move"] and rows[ids[1]]["migration_id"] is not None
    assert _instance(ids[0]).spec.version == 1 and _instance(ids[1]).spec.version == version


def test_only_designers_migrate(as_user: Any) -> None:
    _three_cases(as_user)
    version = _deploy_v2(as_user("designer"))
    for username in ("coordinator", "admin", "police_t01"):
        assert as_user(username).post(f"{P}/four_in_one/versions/{version}/migrate", json={}).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(InstanceMigration.id))) == 0
