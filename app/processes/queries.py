"""Reads about process specs and instances."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db

from .models import ProcessInstance, ProcessSpec


def latest_spec(process_key: str) -> ProcessSpec | None:
    return db.session.scalar(
        sa.select(ProcessSpec).where(ProcessSpec.process_key == process_key)
        .order_by(ProcessSpec.version.desc()).limit(1))


def all_specs() -> list[ProcessSpec]:
    return list(db.session.scalars(sa.select(ProcessSpec).order_by(ProcessSpec.process_key, ProcessSpec.version)))


def instances_of_case(case_id: int) -> list[ProcessInstance]:
    return list(db.session.scalars(
        sa.select(ProcessInstance).where(ProcessInstance.case_id == case_id).order_by(ProcessInstance.id)))


def lock_instance(instance_id: int) -> ProcessInstance | None:
    """Load an instance for a command: ``FOR UPDATE`` on PostgreSQL, plain read on SQLite.

    SQLite serialises writers itself; the optimistic ``version`` check catches
    any stale save on either backend.
    """
    stmt = sa.select(ProcessInstance).where(ProcessInstance.id == instance_id)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=ProcessInstance)
    return db.session.scalar(stmt.execution_options(populate_existing=True))
