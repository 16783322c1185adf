"""Reads about process specs and instances."""

from __future__ import annotations

import copy
import functools
import threading
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased, undefer

from app.common.dialect import for_update, is_postgresql
from app.extensions import db
from app.org.kinds import EVERY_COUNTY
from app.org.models import Region
from app.org.queries import county_of

from .models import ProcessCurrent, ProcessInstance, ProcessSpec

_FORMS_CACHE_SIZE = 64
_forms_cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
_forms_lock = threading.Lock()


def current_spec(process_key: str, region_id: int | None = None) -> ProcessSpec | None:
    """The version new cases start on: the one made current last, else the highest (``ProcessCurrent``).

    With ``region_id`` (the case's village, township or county), the version that county made its own
    wins; a county without one starts on the deployment's. One statement either way: each report asked the
    county's own and then the deployment's (issue 17 part 3).
    """
    county = county_of(db.session.get(Region, region_id)) if region_id is not None else None
    return db.session.scalar(_current_spec_statement(), {
        "process_key": process_key, "county": county.code if county is not None else EVERY_COUNTY})


@functools.cache
def _current_spec_statement() -> sa.Select[ProcessSpec]:
    """``current_spec``'s statement, built once: its two aliases and joins cost more CPU to construct than the
    statement takes to run (a new alias builds each attribute's proxy again, ~80 us apiece)."""
    own, every = aliased(ProcessCurrent), aliased(ProcessCurrent)
    key, county = sa.bindparam("process_key", type_=sa.String), sa.bindparam("county", type_=sa.String)
    return (sa.select(ProcessSpec)
            .outerjoin(own, sa.and_(own.spec_id == ProcessSpec.id, own.process_key == key, own.county == county))
            .outerjoin(every, sa.and_(every.spec_id == ProcessSpec.id, every.process_key == key,
                                      every.county == EVERY_COUNTY))
            .where(ProcessSpec.process_key == key)
            .order_by(sa.case((own.spec_id.is_not(None), 0), (every.spec_id.is_not(None), 1), else_=2),
                      ProcessSpec.version.desc()).limit(1))


def county_versions(process_key: str) -> dict[str, int]:
    """County code -> the id of the version that county runs instead of the deployment's."""
    return {county: spec_id for county, spec_id in db.session.execute(
        sa.select(ProcessCurrent.county, ProcessCurrent.spec_id).where(
            ProcessCurrent.process_key == process_key, ProcessCurrent.county != EVERY_COUNTY))}


def all_specs() -> list[ProcessSpec]:
    """Every version with its user tasks (the lists show how many steps each has)."""
    return list(db.session.scalars(sa.select(ProcessSpec).options(undefer(ProcessSpec.user_tasks))
                                   .order_by(ProcessSpec.process_key, ProcessSpec.version)))


def form_schema(spec: ProcessSpec, form: str | None) -> dict[str, Any] | None:
    """The JSON Schema of ``form`` in the version ``spec`` (None when the step has no form).

    A version's forms are part of its content hash and never change, so they are
    cached per hash: the deferred ``forms`` column is read once per process and
    version, not on every step. The caller gets its own copy.
    """
    if not form:
        return None
    with _forms_lock:
        forms = _forms_cache.get(spec.content_hash)
        if forms is not None:
            _forms_cache.move_to_end(spec.content_hash)
    if forms is None:
        forms = copy.deepcopy(spec.forms)
        with _forms_lock:
            _forms_cache[spec.content_hash] = forms
            while len(_forms_cache) > _FORMS_CACHE_SIZE:
                _forms_cache.popitem(last=False)
    schema = forms.get(form)
    return copy.deepcopy(schema) if schema is not None else None


def instances_of_case(case_id: int) -> list[ProcessInstance]:
    return list(db.session.scalars(
        sa.select(ProcessInstance).where(ProcessInstance.case_id == case_id).order_by(ProcessInstance.id)))


def lock_instance_for_one_read(instance_id: int,
                               write: tuple[sa.Insert, dict[str, Any]] | None = None) -> ProcessInstance | None | bool:
    """``lock_instance`` for a command that reads the instance together with the rows it guards, in one statement.

    On PostgreSQL the same as ``lock_instance`` (the lock is its own statement: a read joined to the locked row
    would see the other rows as they were before it waited). On SQLite the no-op write alone, which makes the
    transaction the writer, so one SELECT after it reads the latest of everything: True, or False when there is
    no such instance; the caller reads the instance in its own statement.

    ``write``: an INSERT the command makes anyway (its audit row) and its parameters, sent with the lock rather than
    on its own: on PostgreSQL in the locking statement (a data-modifying ``WITH``), on SQLite instead of the no-op
    write (any write makes the transaction the writer); then True on SQLite whether or not the instance exists, and
    the caller's read tells."""
    if is_postgresql():
        if write is None:
            return lock_instance(instance_id)
        insert, params = write
        return db.session.scalar(_lock_sending(insert), {"instance_id": instance_id, **params})
    if write is not None:
        db.session.execute(*write)
        return True
    result = db.session.execute(sa.update(ProcessInstance).where(ProcessInstance.id == instance_id)
                                .values(version=ProcessInstance.version)
                                .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


@functools.cache
def _lock_sending(insert: sa.Insert) -> sa.Select[ProcessInstance]:
    """PostgreSQL, built once per statement sent with it: the instance ``FOR NO KEY UPDATE`` (``lock_instance``) with
    ``insert`` in a ``WITH`` of the same statement."""
    stmt = for_update(sa.select(ProcessInstance).where(ProcessInstance.id == sa.bindparam("instance_id")),
                      of=ProcessInstance, key_share=True)
    return stmt.add_cte(insert.cte("sent_with_lock")).execution_options(populate_existing=True)


def lock_instance_row(instance_id: int) -> bool:
    """``lock_instance`` for a command that needs the lock but not the instance (a claim): False when there is no
    such instance. On PostgreSQL only the id comes back (``FOR NO KEY UPDATE``), not the row with its serialized
    engine state, which a claim never reads; on SQLite the same no-op write as ``lock_instance``."""
    if is_postgresql():
        return db.session.execute(_lock_row_statement(), {"instance_id": instance_id}).first() is not None
    result = db.session.execute(_sqlite_write_lock(), {"instance_id": instance_id})
    return bool(getattr(result, "rowcount", 0))


@functools.cache
def _lock_row_statement() -> sa.Select[int]:
    """Built once (PostgreSQL): the instance's id, locked as ``lock_instance`` locks it."""
    return (sa.select(ProcessInstance.id).where(ProcessInstance.id == sa.bindparam("instance_id"))
            .with_for_update(key_share=True))


@functools.cache
def _sqlite_write_lock() -> sa.Update:
    """Built once (SQLite): the no-op write that makes the transaction the writer (``lock_instance``)."""
    return (sa.update(ProcessInstance).where(ProcessInstance.id == sa.bindparam("instance_id"))
            .values(version=ProcessInstance.version).execution_options(synchronize_session=False))


def lock_instance(instance_id: int) -> ProcessInstance | None:
    """Load an instance for a command: ``FOR NO KEY UPDATE`` on PostgreSQL; on SQLite, the write lock first.

    SQLite has one writer lock for the whole file and no row locks. A command that only read the
    instance could act on a task another request changed meanwhile without touching the instance (a
    claim): a no-op write on the row makes this transaction the writer now, so everything it reads
    after this (the task rows) is the latest committed state. The optimistic ``version`` check still
    catches any stale save on either backend.
    """
    # NO KEY UPDATE: commands still queue behind each other, but the foreign-key checks of rows that
    # reference the instance (a task or timeline row written by the escalation sweep, which holds a
    # task row) take KEY SHARE and do not wait for a command holding the instance: no deadlock.
    stmt = for_update(sa.select(ProcessInstance).where(ProcessInstance.id == instance_id),
                      of=ProcessInstance, key_share=True,
                      sqlite_write=sa.update(ProcessInstance).where(ProcessInstance.id == instance_id)
                      .values(version=ProcessInstance.version))
    return db.session.scalar(stmt.execution_options(populate_existing=True))
