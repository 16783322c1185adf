"""A real county's regions and department units from one CSV file (``flask org import``; docs/organisation.md).

Before this, only ``flask demo load`` made regions and units, and ``flask users create-admin --region`` needs
the region to exist. The file is what a county's office keeps in a spreadsheet: one row per province, city,
county, township or village (its code, name and the region above it) and one per department unit (its kind,
which is a BPMN lane's name, and the region it serves).

Three rules an operator can rely on:

- **The whole file is checked before anything is written**, against itself and the database; any problem
  refuses the file and changes nothing, and every problem is reported with its line.
- **Running it again changes nothing**: a region is known by its code, a unit by its kind and region; a row
  equal to what is stored is left alone and writes no audit row. A changed name is updated.
- **Nothing is deleted or moved**: a region already stored under another parent or at another level is a
  problem, not a move (moving a township would move its children's cases to another county's people).

Each region and unit created or renamed is an audit row written here, with no acting user (the CLI).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.audit.operations import audit
from app.common.errors import WHOLE, Invalid
from app.extensions import db

from .kinds import DEPARTMENT_KINDS, LEVEL_ORDER, RegionLevel
from .models import Region, Unit

COLUMNS = ("type", "code", "name", "parent", "kind")
"""The header row (any order). ``parent``: a region's region above it; a unit's region."""
UNIT = "unit"
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
"""A region's code: what ``--region``, the lookups API and report bodies name it by (``region.code`` holds 32)."""
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ROWS = 200_000
"""A province's villages with their committees fit many times over; a larger file is a wrong file."""
REGION_NAME_MAX, UNIT_NAME_MAX = 100, 200
PARENT_LEVELS: dict[RegionLevel, tuple[RegionLevel, ...]] = {
    RegionLevel.PROVINCE: (),
    RegionLevel.CITY: (RegionLevel.PROVINCE,),
    RegionLevel.COUNTY: (RegionLevel.CITY, RegionLevel.PROVINCE),
    RegionLevel.TOWNSHIP: (RegionLevel.COUNTY,),
    RegionLevel.VILLAGE: (RegionLevel.TOWNSHIP,),
}
"""Where each level may sit. A province, a city or a county may stand alone (a one-county pilot); a township
needs its county and a village its township, since routing walks up from the child's village."""
UNIT_LEVELS = (RegionLevel.COUNTY, RegionLevel.TOWNSHIP, RegionLevel.VILLAGE)
"""Province and city regions only group counties: no task is routed to a unit above a county."""
_CHUNK = 500


@dataclass(frozen=True)
class RegionRow:
    line: int
    code: str
    name: str
    level: RegionLevel
    parent: str | None


@dataclass(frozen=True)
class UnitRow:
    line: int
    kind: str
    name: str
    """Empty: the region's name and the kind's Chinese name, as the demo names its units."""
    region: str


@dataclass(frozen=True)
class Change:
    line: int
    action: str
    """create, rename."""
    what: str
    """What the row is, for the operator: ``county c03 某县``, ``unit police at t05``."""


@dataclass
class Plan:
    """A checked file and what applying it changes; built by ``plan_import``, written by ``apply_import``."""

    regions: list[RegionRow]
    units: list[UnitRow]
    stored: dict[str, Region]
    """Regions the file names (rows and parents) that are already stored, by code."""
    stored_units: dict[tuple[str, str], Unit]
    """Units already stored at the regions the file's units name, by (kind, region code)."""
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0


class OrgFileRejected(Invalid):
    """A file that cannot be imported; ``problems`` are ``line N: ...`` sentences, every one the file has."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("organisation file refused: " + "; ".join(problems[:5]), {WHOLE: problems})


# -- reading -----------------------------------------------------------------------------------------------


def _rows(text: str, problems: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, cells by column) of each data row; blank rows and rows starting with ``#`` are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    try:
        for cells in reader:
            if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                missing = [c for c in COLUMNS if c not in header]
                unknown = [c for c in header if c not in COLUMNS]
                if missing or unknown or len(set(header)) != len(header):
                    problems.append(f"line {reader.line_num}: the header must name the columns "
                                    f"{', '.join(COLUMNS)} once each (missing: {', '.join(missing) or '-'}; "
                                    f"unknown: {', '.join(unknown) or '-'})")
                    return
                continue
            if len(cells) > len(header):
                problems.append(f"line {reader.line_num}: {len(cells)} cells, the header has {len(header)}")
                continue
            yield reader.line_num, {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)}
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: not CSV ({exc})")
    if header is None and not problems:
        problems.append(f"line 1: the file has no header row ({','.join(COLUMNS)})")


def _text(line: int, column: str, value: str, longest: int, problems: list[str], *, required: bool = True) -> str:
    if required and not value:
        problems.append(f"line {line}: {column} is empty")
    elif len(value) > longest:
        problems.append(f"line {line}: {column} is longer than {longest} characters")
    elif CONTROL.search(value):
        problems.append(f"line {line}: {column} holds a control character")
    return value


def _code(line: int, column: str, value: str, problems: list[str]) -> str:
    if not CODE.fullmatch(value):
        problems.append(f"line {line}: {column} {value!r} is not a code (letters, digits, '_', '-', '.'; "
                        "at most 32, starting with a letter or digit)")
    return value


@dataclass
class Rows:
    """The file's rows that passed the checks of their own, and the problems of the others."""

    regions: list[RegionRow] = field(default_factory=list)
    units: list[UnitRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)
    """Codes of region rows with a problem: a row under one is not told its parent is missing too."""


def read_rows(data: bytes) -> Rows:
    """The file's rows, each checked on its own and against the other rows. Reads no database."""
    rows = Rows()
    problems = rows.problems
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise OrgFileRejected([f"line {line}: the file is not UTF-8 text (byte {exc.start}): save it as 'CSV UTF-8'"
                               ]) from exc
    region_lines: dict[str, int] = {}
    unit_lines: dict[tuple[str, str], int] = {}
    levels = {level.value: level for level in RegionLevel}
    for count, (line, cells) in enumerate(_rows(text, problems), 1):
        if count > MAX_ROWS:
            problems.append(f"line {line}: more than {MAX_ROWS} rows")
            break
        kind, code, name, parent = cells["type"].lower(), cells["code"], cells["name"], cells["parent"]
        before = len(problems)
        if kind in levels:
            level = levels[kind]
            code = _code(line, "code", code, problems)
            name = _text(line, "name", name, REGION_NAME_MAX, problems)
            if cells["kind"]:
                problems.append(f"line {line}: a region has no kind (that column is a unit's)")
            if parent:
                _code(line, "parent", parent, problems)
            elif level in (RegionLevel.TOWNSHIP, RegionLevel.VILLAGE):
                problems.append(f"line {line}: a {level.value} needs its parent "
                                f"({' or '.join(p.value for p in PARENT_LEVELS[level])})")
            if code in region_lines:
                problems.append(f"line {line}: region {code} is already on line {region_lines[code]}")
            region_lines.setdefault(code, line)
            if len(problems) == before:
                rows.regions.append(RegionRow(line, code, name, level, parent or None))
            else:
                rows.broken.add(code)
        elif kind == UNIT:
            if cells["kind"] not in DEPARTMENT_KINDS:
                problems.append(f"line {line}: kind {cells['kind']!r} is not a department kind "
                                f"({', '.join(sorted(DEPARTMENT_KINDS))})")
            if code:
                problems.append(f"line {line}: a unit has no code (leave it empty; it is known by kind and region)")
            name = _text(line, "name", name, UNIT_NAME_MAX, problems, required=False)
            if not parent:
                problems.append(f"line {line}: a unit needs its region in the parent column")
            else:
                _code(line, "parent", parent, problems)
            key = (cells["kind"], parent)
            if key in unit_lines:
                problems.append(f"line {line}: unit {key[0]} at {parent} is already on line {unit_lines[key]}")
            unit_lines.setdefault(key, line)
            if len(problems) == before:
                rows.units.append(UnitRow(line, cells["kind"], name, parent))
        else:
            problems.append(f"line {line}: type {cells['type']!r} is not one of "
                            f"{', '.join([*levels, UNIT])}")
    return rows


# -- checking against the database and planning -------------------------------------------------------------


def _chunks(values: Iterable[str | int]) -> Iterator[list[str | int]]:
    items = sorted(set(values), key=str)
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _stored_regions(codes: Iterable[str]) -> dict[str, Region]:
    found: dict[str, Region] = {}
    for chunk in _chunks(codes):
        found.update((r.code, r) for r in db.session.scalars(sa.select(Region).where(Region.code.in_(chunk))))
    return found


def _stored_units(regions: Iterable[Region]) -> dict[tuple[str, str], Unit]:
    by_id = {r.id: r.code for r in regions}
    found: dict[tuple[str, str], Unit] = {}
    for chunk in _chunks(by_id):
        for unit in db.session.scalars(sa.select(Unit).where(Unit.region_id.in_(chunk))):
            found[(unit.kind, by_id[unit.region_id])] = unit
    return found


def plan_import(data: bytes) -> Plan:
    """The file checked as a whole (``read_rows``, then each parent, level and stored region) and the changes it
    makes; ``OrgFileRejected`` with every problem otherwise. Reads only."""
    rows = read_rows(data)
    regions, units, problems = rows.regions, rows.units, list(rows.problems)
    in_file = {row.code: row for row in regions}
    stored = _stored_regions([*in_file, *(r.parent for r in regions if r.parent), *(u.region for u in units)])

    def level_of(code: str) -> RegionLevel | None:
        if code in in_file:
            return in_file[code].level
        return RegionLevel(stored[code].level) if code in stored else None

    plan = Plan(regions, units, stored, _stored_units(stored.values()))
    for row in regions:
        if row.parent is not None:
            above = level_of(row.parent)
            if above is None:
                if row.parent not in rows.broken:
                    problems.append(f"line {row.line}: parent {row.parent} is neither in the file nor stored")
            elif above not in PARENT_LEVELS[row.level]:
                problems.append(f"line {row.line}: a {row.level.value} cannot sit under {row.parent}, a "
                                f"{above.value} (its parent is a {' or '.join(p.value for p in PARENT_LEVELS[row.level])})")
        old = stored.get(row.code)
        if old is None:
            plan.changes.append(Change(row.line, "create", f"{row.level.value} {row.code} {row.name}"))
            continue
        old_parent = old.parent.code if old.parent is not None else None
        if old.level != row.level.value:
            problems.append(f"line {row.line}: region {row.code} is stored as a {old.level}, not a "
                            f"{row.level.value} (an import changes no level)")
        elif old_parent != row.parent:
            problems.append(f"line {row.line}: region {row.code} is stored under {old_parent or 'no parent'}, "
                            f"not {row.parent or 'no parent'} (an import moves no region)")
        elif old.name != row.name:
            plan.changes.append(Change(row.line, "rename", f"{row.level.value} {row.code} {old.name} → {row.name}"))
        else:
            plan.unchanged += 1
    for unit in units:
        at = level_of(unit.region)
        if at is None:
            if unit.region not in rows.broken:
                problems.append(f"line {unit.line}: region {unit.region} is neither in the file nor stored")
            continue
        if at not in UNIT_LEVELS:
            problems.append(f"line {unit.line}: units sit in a county, township or village; {unit.region} is a "
                            f"{at.value}")
            continue
        name = unit_name(unit, in_file, stored)
        old_unit = plan.stored_units.get((unit.kind, unit.region))
        if old_unit is None:
            plan.changes.append(Change(unit.line, "create", f"unit {unit.kind} at {unit.region} {name}"))
        elif old_unit.name != name:
            plan.changes.append(Change(unit.line, "rename", f"unit {unit.kind} at {unit.region} "
                                                            f"{old_unit.name} → {name}"))
        else:
            plan.unchanged += 1
    if problems:
        raise OrgFileRejected(sorted(problems, key=_line_of))
    return plan


def _line_of(problem: str) -> int:
    match = re.match(r"line (\d+):", problem)
    return int(match.group(1)) if match else 0


def unit_name(unit: UnitRow, in_file: dict[str, RegionRow], stored: dict[str, Region]) -> str:
    """The unit's name as given, else its region's name (as the file has it) and its kind's."""
    if unit.name:
        return unit.name
    region = in_file[unit.region].name if unit.region in in_file else stored[unit.region].name
    return f"{region}{DEPARTMENT_KINDS[unit.kind].name_zh}"


# -- writing ------------------------------------------------------------------------------------------------


def apply_import(plan: Plan) -> list[Change]:
    """Create and rename what ``plan`` says, parents before children, and audit each change (no acting user:
    the CLI). Flushes once per level and once for the units; the caller commits. Returns the changes made."""
    in_file = {row.code: row for row in plan.regions}
    regions = dict(plan.stored)
    for level in sorted(RegionLevel, key=LEVEL_ORDER.__getitem__):
        made: list[tuple[RegionRow, Region]] = []
        for row in (r for r in plan.regions if r.level == level):
            old = regions.get(row.code)
            if old is None:
                region = Region(code=row.code, name=row.name, level=row.level.value,
                                parent=regions[row.parent] if row.parent else None)
                db.session.add(region)
                regions[row.code] = region
                made.append((row, region))
            elif old.name != row.name:
                audit(None, "region_update", "region", old.id,
                      detail={"code": row.code, "before": {"title": old.name}, "after": {"title": row.name}})
                old.name = row.name
        db.session.flush()
        for row, region in made:
            audit(None, "region_create", "region", region.id,
                  detail={"code": row.code, "level": row.level.value, "parent": row.parent, "title": row.name})
    made_units: list[Unit] = []
    for unit in plan.units:
        name = unit_name(unit, in_file, regions)
        old_unit = plan.stored_units.get((unit.kind, unit.region))
        if old_unit is None:
            new = Unit(kind=unit.kind, name=name, region=regions[unit.region])
            db.session.add(new)
            made_units.append(new)
        elif old_unit.name != name:
            audit(None, "unit_update", "unit", old_unit.id, detail={
                "kind": unit.kind, "region_id": old_unit.region_id, "before": {"title": old_unit.name},
                "after": {"title": name}})
            old_unit.name = name
    db.session.flush()
    for new in made_units:
        audit(None, "unit_create", "unit", new.id, detail={"kind": new.kind, "region_id": new.region_id,
                                                           "title": new.name})
    db.session.flush()
    return plan.changes
