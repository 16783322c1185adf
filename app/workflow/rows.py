"""A step's own rows written by Core statements instead of the unit of work (issue 17 part 1).

A completion writes the case (when a receiver copied a grade or closed it), the instance, the completed task and
the tasks it opened, and reads none of them back. The unit of work spent ~1.7 ms of a completion's ~9 ms CPU on
those three or four rows (dependency sort, per-mapper bookkeeping, post-fetch, history), several times what the
statements cost to build and send. ``write`` sends them as Core UPDATEs and INSERTs built once per set of columns,
with the same values, the same mapper events (``Task``'s version bump is a ``before_update`` listener), the same
optimistic check on a ``version_id_col`` (a stale instance is ``StaleDataError``, as from the unit of work), in
the unit of work's order (parents first), and leaves the objects in the session as if the unit of work had written
them: persistent, clean, every column loaded. Whatever it cannot write that way (another kind of row, a relationship
changed without its column, a deletion, a new row of another table) is left to the unit of work, which the caller
runs right after.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstanceState, Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.interfaces import MANYTOONE

from app.cases.models import Case
from app.common import bulk
from app.extensions import db
from app.processes.models import ProcessInstance
from app.tasks.models import Task

WRITTEN = (Case, ProcessInstance, Task)
"""The classes written here, parents first (the unit of work's order: a task row names its instance and case)."""


def write(defer: bool = False) -> list[bulk.Statement]:
    """Write the session's changed and new rows of ``WRITTEN`` by Core, then mark them as written.

    New rows only when every new object in the session is a ``Task`` with its id (``workflow.projection`` gives
    them theirs): anything else new may be a row they name or that names them, so the unit of work orders it all.
    ``defer`` (PostgreSQL): build the statements and return them instead of sending them, the rows marked as written
    all the same; the caller sends them in the ``WITH`` of the step's next INSERT (``common.bulk.insert_many``'s
    ``along``: one round trip for the step's writes) before anything reads them, or on their own
    (``common.bulk.execute``) before the unit of work writes anything else."""
    session = db.session()
    if session.deleted:
        return []
    new = list(session.new)
    inserts = new if all(isinstance(o, Task) and o.id is not None for o in new) else []
    connection = session.connection()
    dirty = [o for o in session.dirty if isinstance(o, WRITTEN)]
    deferred: list[bulk.Statement] | None = [] if defer else None
    for cls in WRITTEN:
        for obj in dirty:
            if type(obj) is cls:
                _update(connection, obj, deferred)
    if inserts and all(_plain(sa.inspect(task)) for task in inserts):
        _insert(session, connection, inserts, deferred)
    return deferred or []


def _plain(state: InstanceState[Any]) -> bool:
    """Whether every changed relationship of the object is a many-to-one whose column already says the same (a task
    built with ``unit=unit`` and ``unit_id=unit.id``): then its columns are the whole row."""
    for key in _relationship_keys(state.mapper).intersection(state.committed_state):
        rel = state.mapper.relationships[key]
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        if rel.direction is not MANYTOONE or len(history.added) != 1:
            return False
        target = history.added[0]
        if target is not None and sa.inspect(target).key is None:
            return False
        for local, remote in rel.local_remote_pairs:
            if state.dict.get(str(local.key)) != (None if target is None else getattr(target, str(remote.key))):
                return False
    return True


def _changes(state: InstanceState[Any]) -> dict[str, Any]:
    """The columns set to another value than the one loaded: those the attributes' ``committed_state`` names (where
    SQLAlchemy keeps what a changed attribute held, as its unit of work reads it), compared as it compares them."""
    changed: dict[str, Any] = {}
    committed = state.committed_state
    for key in _column_set(state.mapper).intersection(committed):
        value = state.dict.get(key, NO_VALUE)
        if value is not NO_VALUE and (committed[key] is NO_VALUE or value != committed[key]):
            changed[key] = value
    return changed


def _update(connection: sa.Connection, obj: Any, deferred: list[bulk.Statement] | None) -> None:
    state = sa.inspect(obj)
    mapper = state.mapper
    if not _plain(state):
        return
    values = _changes(state)
    if not values:  # set to what it was (a receiver copying a grade again): nothing to write
        state._commit_all(state.dict, db.session().identity_map)
        return
    version = mapper.version_id_col
    pk = mapper.primary_key[0].key
    if pk in values or (version is not None and version.key in values) or any(
            isinstance(v, sa.ClauseElement) or hasattr(v, "__clause_element__") for v in values.values()):
        return  # a new key or version, or a SQL expression for a value: the unit of work's business
    mapper.dispatch.before_update(mapper, connection, state)  # (Task's version bump)
    values = _changes(state)
    params = {**values, "_pk": getattr(obj, pk)}
    if version is not None:
        old = getattr(obj, version.key)
        values[version.key] = params[version.key] = mapper.version_id_generator(old)  # type: ignore[operator]
        params["_version"] = old
    if deferred is not None:
        columns = dict(_columns(mapper))
        deferred.append(bulk.update_statement(
            f"w{len(deferred)}", _table(mapper), (mapper.primary_key[0].key, params["_pk"]),
            {columns[key].key: value for key, value in values.items()},
            (version.key, params["_version"]) if version is not None else None))
    else:
        result = connection.execute(_update_statement(mapper, tuple(sorted(values))), params)
        if version is not None and result.rowcount != 1:
            raise StaleDataError(f"UPDATE statement on table '{mapper.local_table}' expected to update 1 row(s); "
                                 f"{result.rowcount} were matched.")
    for key, value in values.items():
        state.dict[key] = value
    state._commit_all(state.dict, db.session().identity_map)  # what the unit of work does after its UPDATE
    mapper.dispatch.after_update(mapper, connection, state)


def _insert(session: Any, connection: sa.Connection, tasks: list[Task], deferred: list[bulk.Statement] | None) -> None:
    """The new task rows in one INSERT. A column the object was not given is written as the unit of work writes it:
    its scalar default, else left out (NULL; a JSON column's NULL, not JSON ``null``) and known as None; a column
    with another kind of default leaves the rows to the unit of work."""
    mapper = sa.inspect(Task)
    defaults: dict[str, Any] = {}
    unset: list[str] = []
    for key, column in _columns(mapper):
        if key in tasks[0].__dict__:
            continue
        if column.server_default is not None or (column.default is not None and not column.default.is_scalar):
            return
        if column.default is not None:
            defaults[key] = column.default.arg  # type: ignore[attr-defined]
        else:
            unset.append(key)
    given = [key for key in _column_keys(mapper) if key not in defaults and key not in unset]
    if any(any(key not in task.__dict__ for key in given) for task in tasks[1:]):
        return
    for task in tasks:
        mapper.dispatch.before_insert(mapper, connection, sa.inspect(task))
        for key, value in defaults.items():
            if key not in task.__dict__:
                setattr(task, key, value)
    keys = given + list(defaults)
    values = [{key: task.__dict__[key] for key in keys} for task in tasks]
    if deferred is not None:
        columns = dict(_columns(mapper))
        deferred.append(bulk.insert_statement(f"w{len(deferred)}", _table(mapper),
                                              [{columns[key].key: row[key] for key in keys} for row in values]))
    else:
        connection.execute(_insert_statement(mapper), values)
    for task in tasks:
        session.expunge(task)
        make_transient_to_detached(task)  # persistent as if loaded: no history
        session.add(task)
        for key in unset:
            set_committed_value(task, key, None)
        mapper.dispatch.after_insert(mapper, connection, sa.inspect(task))


@functools.cache
def _column_set(mapper: Mapper[Any]) -> frozenset[str]:
    return frozenset(_column_keys(mapper))


@functools.cache
def _relationship_keys(mapper: Mapper[Any]) -> frozenset[str]:
    return frozenset(mapper.relationships.keys())


@functools.cache
def _insert_statement(mapper: Mapper[Any]) -> sa.Insert:
    return sa.insert(_table(mapper))


@functools.cache
def _column_keys(mapper: Mapper[Any]) -> tuple[str, ...]:
    return tuple(key for key, _ in _columns(mapper))


@functools.cache
def _columns(mapper: Mapper[Any]) -> tuple[tuple[str, sa.Column[Any]], ...]:
    table = _table(mapper)
    return tuple((prop.key, table.c[prop.columns[0].key]) for prop in mapper.column_attrs)


def _table(mapper: Mapper[Any]) -> sa.Table:
    table = mapper.local_table
    assert isinstance(table, sa.Table)  # the classes of ``WRITTEN`` map one table each
    return table


@functools.cache
def _update_statement(mapper: Mapper[Any], keys: tuple[str, ...]) -> sa.Update:
    """Built once per table and set of columns (a completion changes the same few every time)."""
    table = _table(mapper)
    where = [mapper.primary_key[0] == sa.bindparam("_pk")]
    if mapper.version_id_col is not None:
        where.append(mapper.version_id_col == sa.bindparam("_version"))
    columns = dict(_columns(mapper))
    return sa.update(table).where(*where).values({columns[key]: sa.bindparam(key) for key in keys})
