"""The calendar overrides and escalation ladders a step that opens tasks needs, kept by the process while unchanged.

Every step that opens a task needs both (its due time, its ladder), and they change a few times a year; they were
read with two statements on every such step. Now the statement that routes the new tasks carries a digest of both
tables (``digest_columns``), and the process keeps what it built from the rows under that digest. The digest is of
the rows themselves (their JSON on SQLite, its md5 on PostgreSQL), not a counter someone must remember to bump: a
change by any writer in any process (a CLI command, a migration, a rolled-back test) gives another digest, and the
rows are read again, with their digest, in one statement (``read``).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import sqlalchemy as sa

from app.extensions import db

from .calendar import CountyCalendars
from .ladder import LadderBook

KEPT = 4
"""Digests kept per process: the current settings and a few before (a test suite flips between datasets); the
one used longest ago goes first, so a change that is rolled back does not push out the settings in use."""

_CALENDAR = ("calendar_day", ("county", "day", "is_workday"), "county, day")
_LADDERS = ("escalation_rule", ("county", "process_key", "department_kind", "level", "name", "anchor", "delay",
                                "audiences", "marks_overdue"), "county, process_key, department_kind, level, id")


class _Rule(NamedTuple):
    county: str
    process_key: str
    department_kind: str
    level: int
    name: str
    anchor: str
    delay: str
    audiences: list[str]
    marks_overdue: bool


@dataclass(frozen=True)
class DeadlineSettings:
    """Every county's working calendar and every stored ladder, as of one digest (shared between requests:
    neither is changed after it is built)."""

    calendars: CountyCalendars
    book: LadderBook


_kept: OrderedDict[tuple[str, str], DeadlineSettings] = OrderedDict()
_lock = threading.Lock()


def _rows_json(dialect: str, table: tuple[str, tuple[str, ...], str]) -> str:
    """SQL for one text value: the table's rows as a JSON array of arrays, in a fixed order."""
    name, columns, order = table
    if dialect == "postgresql":
        return (f"SELECT coalesce(json_agg(json_build_array({', '.join(columns)}) ORDER BY {order})::text, '[]') "
                f"FROM {name}")
    values = ", ".join("json(audiences)" if c == "audiences" else c for c in columns)  # the JSON column as JSON
    return f"SELECT json_group_array(json_array({values})) FROM (SELECT * FROM {name} ORDER BY {order})"


def _digest(dialect: str, text: str) -> str:
    """The digest of a JSON text expression: its md5 on PostgreSQL (32 characters over the wire); on SQLite, in
    the process, the text itself."""
    return f"md5({text})" if dialect == "postgresql" else text


def digest_columns(dialect: str) -> list[sa.ColumnElement[str]]:
    """Two columns for a statement the step sends anyway: the digests of the calendar overrides and the ladders."""
    return [sa.literal_column(f"({_digest(dialect, f'({_rows_json(dialect, table)})')})").label(label)
            for table, label in ((_CALENDAR, "calendar_digest"), (_LADDERS, "ladder_digest"))]


def settings_for(digests: tuple[str, str] | None) -> DeadlineSettings:
    """The settings the digests (from ``digest_columns``) name: kept ones, else read (one statement).

    ``None`` (the statement that carries the digests returned no row): read."""
    if digests is not None:
        with _lock:
            kept = _kept.get(digests)
            if kept is not None:
                _kept.move_to_end(digests)
                return kept
    return read()


def read() -> DeadlineSettings:
    """Both tables and their digests in one statement, consistent with each other (one snapshot), kept under
    those digests: a change committed after the routing read its digests is read here and kept under its own."""
    dialect = db.session.get_bind().dialect.name
    cal, lad = (f"({_rows_json(dialect, table)})" for table in (_CALENDAR, _LADDERS))
    row = db.session.execute(sa.text(
        f"SELECT c.j, {_digest(dialect, 'c.j')}, l.j, {_digest(dialect, 'l.j')} "
        f"FROM (SELECT {cal} AS j) AS c, (SELECT {lad} AS j) AS l")).one()
    calendar_json, calendar_digest, ladder_json, ladder_digest = row
    settings = DeadlineSettings(
        CountyCalendars((county, date.fromisoformat(day), bool(working))
                        for county, day, working in json.loads(calendar_json)),
        LadderBook([_rule(values) for values in json.loads(ladder_json)]))
    with _lock:
        _kept[(calendar_digest, ladder_digest)] = settings
        _kept.move_to_end((calendar_digest, ladder_digest))
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
    return settings


def _rule(values: list[Any]) -> _Rule:
    county, process_key, kind, level, name, anchor, delay, audiences, marks_overdue = values
    return _Rule(county, process_key, kind, int(level), name, anchor, delay or "", list(audiences or ()),
                 bool(marks_overdue))
