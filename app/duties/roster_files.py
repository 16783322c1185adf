"""The roster's uploads and downloads: who may, where the file is kept, dry run, confirm, export.

The ledger is the county's: its coordinators and the county civil affairs bureau's liaisons and head keep
it (``roster_county``); anyone else is refused (403), including admins and township staff. It carries full
ID numbers and every sub-type (HIV too): that is what the bureau's ledger holds and what a round trip needs,
so only these roles see it. Uploaded files are kept under ``<instance>/rosters/`` by a random name, like
attachments, so the confirmation imports the very file that was checked.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from app.audit.operations import audit
from app.cases.access import regions_within
from app.cases.models import Child
from app.common.clock import now
from app.common.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.org.kinds import RegionLevel
from app.org.models import Region, User
from app.org.queries import county_of
from app.org.roles import Role

from . import roster, roster_rows
from .models import Enrolment, RosterImport, RosterImportStatus
from .roster_apply import import_plan
from .roster_layout import LayoutError, read_rows, write_xlsx


def roster_county(user: User) -> Region:
    """The county whose ledger ``user`` keeps, or 403."""
    if user.has_role(Role.COUNTY_COORDINATOR) and user.region is not None and user.region.level == RegionLevel.COUNTY:
        return user.region
    unit = user.unit
    if unit is not None and unit.kind == "civil_affairs" and user.has_role(Role.LIAISON, Role.UNIT_HEAD):
        county = county_of(unit.region)
        if county is not None and county.id == unit.region_id:
            return county
    raise Forbidden("the roster of children is kept by the county coordinator and the civil affairs bureau")


def _folder() -> Path:
    folder = Path(current_app.config["LIANDONG"].instance_dir) / "rosters"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _limits() -> tuple[int, int]:
    settings = current_app.config["LIANDONG"]
    return int(settings.roster_max_bytes), int(settings.roster_max_rows)


def _plan(county: Region, data: bytes) -> roster.Plan:
    max_bytes, max_rows = _limits()
    try:
        columns, rows = read_rows(data, max_bytes=max_bytes, max_rows=max_rows)
        return roster.plan(county, columns, rows)
    except LayoutError as exc:
        raise Invalid(str(exc), exc.errors, location="files") from exc


def check_upload(user: User, filename: str, data: bytes) -> tuple[RosterImport, roster.Plan]:
    """The dry run: check every row, write nothing but the upload's record (and the kept file)."""
    county = roster_county(user)
    if not data:
        raise Invalid("the file is empty", {"file": ["empty"]}, location="files")
    plan = _plan(county, data)
    stored = secrets.token_hex(16) + ".xlsx"
    (_folder() / stored).write_bytes(data)
    record = RosterImport(county_id=county.id, filename=Path(filename.replace("\\", "/")).name[-200:] or "roster.xlsx",
                          stored_name=stored, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                          status=RosterImportStatus.CHECKED.value, rows=len(plan.rows), counts=plan.counts(),
                          uploaded_by_id=user.id, uploaded_at=now())
    db.session.add(record)
    db.session.flush()
    audit(user.id, "create", "roster_check", record.id, detail={"counts": record.counts, "rows": record.rows})
    return record, plan


def get_import(user: User, import_id: int) -> RosterImport:
    county = roster_county(user)
    record = db.session.get(RosterImport, import_id)
    if record is None:
        raise NotFound(f"roster import {import_id} not found")
    if record.county_id != county.id:
        raise Forbidden("this roster belongs to another county")
    return record


def confirm_import(user: User, import_id: int) -> tuple[RosterImport, roster.Plan]:
    """Import the checked file: checked again now, then written in the caller's transaction."""
    record = get_import(user, import_id)
    locked = db.session.scalar(sa.update(RosterImport).where(
        RosterImport.id == record.id, RosterImport.status == RosterImportStatus.CHECKED.value)
        .values(status=RosterImportStatus.IMPORTED.value).returning(RosterImport.id))
    if locked is None:
        raise Conflict("this roster has already been imported")
    path = _folder() / record.stored_name
    data = path.read_bytes() if path.exists() else b""
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise Conflict("the checked file is no longer on the server; upload it again")
    county = db.session.get(Region, record.county_id)
    assert county is not None
    plan = _plan(county, data)
    import_plan(plan, user, record)
    return record, plan


def export_rows(user: User) -> tuple[Region, list[dict[str, str]]]:
    """Every child in the county's programme (an active enrolment), in the ledger's layout."""
    county = roster_county(user)
    places = roster_rows.Places(county)
    ids = list(db.session.scalars(
        sa.select(Child.id).join(Enrolment, sa.and_(Enrolment.child_id == Child.id, Enrolment.ended_on.is_(None)))
        .where(Child.village_id.in_(regions_within(county.id))).order_by(Child.village_id, Child.id)))
    children = roster.load_children(ids)
    entrusted = roster.active_entrustments(ids)
    return county, [roster.ledger_row(roster.ledger_of(children[cid], entrusted.get(cid)), places) for cid in ids]


def export_xlsx(user: User) -> tuple[Region, int, bytes]:
    county, rows = export_rows(user)
    return county, len(rows), write_xlsx(rows)
