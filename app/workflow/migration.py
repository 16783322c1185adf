"""Move running cases to a new version of their process: dry run, migrate, roll back.

A dry run asks the engine, for every running instance on another version,
whether its state can be carried over and why not (``engine.migrate_state``).
Migrating re-points the instance to the new version and stores its new state,
with an ``instance_migration`` row holding the previous spec and state, so a
rollback restores exactly what was there, as long as nobody has worked on the
case since. Projections (task and timer rows) are rebuilt in the same
transaction; open tasks keep their unit and due time, and take the new
version's name, form and instructions. Every move and rollback is audited and
appears on the case timeline. Operations flush; the caller commits once, so
a batch either moves together or not at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from app import engine
from app.audit.operations import audit
from app.cases.models import Case
from app.cases.timeline import record
from app.common.clock import now
from app.common.errors import Conflict, NotFound
from app.engine import properties as P
from app.extensions import db
from app.org.models import User
from app.processes.designers import require_designer
from app.processes.models import InstanceMigration, ProcessInstance, ProcessSpec
from app.processes.queries import lock_instance
from app.tasks.models import Task, TaskState

from .projection import sync_projections, write_waiting


@dataclass
class PlanRow:
    instance_id: int
    case_id: int
    case_number: str
    from_version: int
    lock_version: int
    """The instance's optimistic-lock version seen by the dry run; pass it back to migrate."""
    can_move: bool
    reasons: list[str] = field(default_factory=list)
    open_steps: list[str] = field(default_factory=list)
    migration_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def running_elsewhere(target: ProcessSpec) -> list[ProcessInstance]:
    """Running instances of the target's process that are on another version."""
    return list(db.session.scalars(
        sa.select(ProcessInstance).join(ProcessSpec, ProcessInstance.spec_id == ProcessSpec.id)
        .where(ProcessSpec.process_key == target.process_key, ProcessInstance.spec_id != target.id,
               ProcessInstance.status == "running")
        .order_by(ProcessInstance.id)))


def _open_tasks(instance: ProcessInstance) -> list[Task]:
    return list(db.session.scalars(sa.select(Task).where(
        Task.instance_id == instance.id, Task.state == TaskState.OPEN).order_by(Task.id)))


def _check(instance: ProcessInstance, target: ProcessSpec) -> engine.MigrationCheck:
    old = instance.spec
    return engine.migrate_state(old.content_hash, lambda: old.spec_json, instance.state,
                                target.content_hash, lambda: target.spec_json)


def _row(instance: ProcessInstance, check: engine.MigrationCheck) -> PlanRow:
    case = db.session.get(Case, instance.case_id)
    return PlanRow(
        instance_id=instance.id, case_id=instance.case_id, case_number=(case.number or "") if case else "",
        from_version=instance.spec.version, lock_version=instance.version, can_move=check.can_move,
        reasons=list(check.reasons), open_steps=[t.bpmn_id for t in _open_tasks(instance)],
    )


def dry_run(target: ProcessSpec, actor: User) -> list[PlanRow]:
    """Which running instances can move to ``target`` and, for the others, why not. Writes nothing."""
    require_designer(actor)
    return [_row(instance, _check(instance, target)) for instance in running_elsewhere(target)]


def _migrate_one(instance: ProcessInstance, target: ProcessSpec, check: engine.MigrationCheck,
                 actor: User) -> InstanceMigration:
    snap = check.snapshot
    assert snap is not None
    case = db.session.get(Case, instance.case_id)
    assert case is not None
    old = instance.spec
    open_rows = _open_tasks(instance)
    migration = InstanceMigration(
        instance_id=instance.id, case_id=instance.case_id, from_spec_id=old.id, to_spec_id=target.id,
        previous_state=instance.state, previous_serializer_version=instance.serializer_version,
        previous_data=dict(instance.data or {}),
        previous_tasks=[{"id": t.id, "name": t.name, "form": t.form, "instructions": t.instructions}
                        for t in open_rows],
        instance_version_after=0, migrated_by_id=actor.id, migrated_at=now(),
    )
    instance.spec_id = target.id
    instance.spec = target
    instance.state = snap.state
    instance.serializer_version = snap.serializer_version
    instance.updated_at = now()
    sync_projections(instance, case, snap)
    ready = {r.id: r for r in snap.ready_tasks}
    for row in open_rows:
        fresh = ready.get(row.engine_task_id)
        if fresh is not None:
            row.name = fresh.name
            row.form = fresh.form
            row.instructions = fresh.properties.get(P.INSTRUCTIONS, "")
    db.session.add(migration)
    db.session.flush()
    write_waiting()  # the notifications of the tasks the new version opened
    migration.instance_version_after = instance.version
    summary = f"{old.name} v{old.version} → v{target.version}"
    record(case, "process_migrated", summary, actor=actor, instance=instance,
           detail={"from_spec_id": old.id, "to_spec_id": target.id, "migration_id": migration.id})
    audit(actor.id, "process_migrate", "process_instance", instance.id, case_id=case.id, detail={
        "migration_id": migration.id, "process_key": target.process_key, "from_version": old.version,
        "to_version": target.version, "from_spec_id": old.id, "to_spec_id": target.id})
    db.session.flush()
    return migration


def migrate(target: ProcessSpec, actor: User, instance_ids: list[int] | None = None,
            expected_versions: dict[int, int] | None = None) -> list[PlanRow]:
    """Move the given running instances (all that can move when ``instance_ids`` is None) to ``target``.

    ``expected_versions`` (instance id -> lock version from the dry run) makes the
    move refuse an instance that changed since the designer looked at the plan.
    Instances that cannot move are skipped and reported with their reasons.
    """
    require_designer(actor)
    candidates = {i.id: i for i in running_elsewhere(target)}
    # Ascending ids: two commands locking several instances take them in the same order (no deadlock).
    wanted = sorted(candidates) if instance_ids is None else sorted(dict.fromkeys(instance_ids))
    results: list[PlanRow] = []
    for instance_id in wanted:
        if instance_id not in candidates:
            results.append(PlanRow(instance_id, 0, "", 0, 0, False,
                                   [f"instance {instance_id} is not a running case of {target.process_key} "
                                    f"on another version"]))
            continue
        instance = lock_instance(instance_id)
        assert instance is not None
        check = _check(instance, target)
        row = _row(instance, check)
        if expected_versions is not None and expected_versions.get(instance_id) not in (None, instance.version):
            row.can_move = False
            row.reasons = ["the case changed since the dry run; run the dry run again"]
        if row.can_move:
            row.migration_id = _migrate_one(instance, target, check, actor).id
            row.lock_version = instance.version
        results.append(row)
    return results


def get_migration(migration_id: int) -> InstanceMigration:
    migration = db.session.get(InstanceMigration, migration_id)
    if migration is None:
        raise NotFound(f"no migration {migration_id}")
    return migration


def migrations_of(target: ProcessSpec) -> list[InstanceMigration]:
    return list(db.session.scalars(sa.select(InstanceMigration).where(
        sa.or_(InstanceMigration.to_spec_id == target.id, InstanceMigration.from_spec_id == target.id))
        .order_by(InstanceMigration.id.desc())))


def rollback(migration: InstanceMigration, actor: User) -> ProcessInstance:
    """Put the instance back on its previous version with exactly its previous state."""
    require_designer(actor)
    if migration.rolled_back_at is not None:
        raise Conflict(f"migration {migration.id} was already rolled back")
    instance = lock_instance(migration.instance_id)
    if instance is None:
        raise NotFound(f"no instance {migration.instance_id}")
    if instance.spec_id != migration.to_spec_id or instance.version != migration.instance_version_after:
        raise Conflict("the case has moved on since the migration (a step was completed or it was moved "
                       "again); rolling back would lose that work")
    previous = db.session.get(ProcessSpec, migration.from_spec_id)
    assert previous is not None
    case = db.session.get(Case, instance.case_id)
    assert case is not None
    snap = engine.snapshot(previous.content_hash, lambda: previous.spec_json, migration.previous_state)
    instance.spec_id = previous.id
    instance.spec = previous
    instance.state = migration.previous_state
    instance.serializer_version = migration.previous_serializer_version
    instance.data = dict(migration.previous_data or {})
    instance.updated_at = now()
    sync_projections(instance, case, snap)
    for saved in migration.previous_tasks or []:
        row = db.session.get(Task, saved["id"])
        if row is not None and row.state == TaskState.OPEN:
            row.name, row.form, row.instructions = saved["name"], saved["form"], saved["instructions"]
    migration.rolled_back_at = now()
    migration.rolled_back_by_id = actor.id
    target = migration.to_spec
    record(case, "process_migration_rolled_back", f"{previous.name} v{target.version} → v{previous.version}",
           actor=actor, instance=instance, detail={"migration_id": migration.id})
    audit(actor.id, "process_migration_rollback", "process_instance", instance.id, case_id=case.id, detail={
        "migration_id": migration.id, "process_key": previous.process_key, "from_version": target.version,
        "to_version": previous.version})
    db.session.flush()
    write_waiting()
    return instance
