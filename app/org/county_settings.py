"""Settings a county overrides for its own cases: the environment's value unless the county has a row.

Only the settings named in ``OVERRIDABLE`` may be overridden; a county's value is checked against the same
constraints as the variable (the field of ``app.config.Settings``), so a county cannot store a value the
process would refuse at start. ``flask settings county`` reads and writes them; docs/settings.md lists them.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from flask import current_app
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticError

from app.audit.operations import audit
from app.common.clock import now
from app.common.errors import Invalid
from app.config import COUNTY_OVERRIDABLE, Settings
from app.extensions import db

from .kinds import RegionLevel
from .models import CountySetting, Region

OVERRIDABLE = COUNTY_OVERRIDABLE


def _adapter(name: str) -> TypeAdapter[Any]:
    if name not in OVERRIDABLE:
        raise Invalid(f"{name!r} is not a county setting", {"name": [f"one of {', '.join(OVERRIDABLE)}"]})
    info = Settings.model_fields[name]
    return TypeAdapter(Annotated[info.annotation, *info.metadata])  # type: ignore[name-defined,arg-type]  # a runtime-built Annotated


def parse(name: str, raw: str) -> Any:
    """``raw`` as the setting's type within its bounds (``Invalid`` naming the setting otherwise)."""
    try:
        return _adapter(name).validate_python(raw, strict=False)
    except PydanticError as exc:
        raise Invalid(f"bad value for {name}", {name: [e["msg"] for e in exc.errors()]}) from None


def county_value(name: str, county_id: int | None) -> Any:
    """The setting in force for the county's cases: its own row, else the deployment's value."""
    default = getattr(current_app.config["LIANDONG"], name)
    if county_id is None:
        return default
    raw = db.session.scalar(sa.select(CountySetting.value).join(Region, Region.code == CountySetting.county)
                            .where(Region.id == county_id, CountySetting.name == name))
    return default if raw is None else parse(name, raw)


def set_county_value(name: str, county_code: str, raw: str | None, actor_id: int | None = None) -> Any:
    """Store (or with ``raw`` None remove) a county's own value, audited as ``actor_id``'s change (None: the
    server's shell). Flushes; the caller commits."""
    county = db.session.scalar(sa.select(Region).where(Region.code == county_code, Region.level == RegionLevel.COUNTY.value))
    if county is None:
        raise Invalid(f"no county with code {county_code!r}", {"county": ["unknown county"]})
    row = db.session.get(CountySetting, (county_code, name))
    if raw is None:
        _adapter(name)
        if row is not None:
            db.session.delete(row)
        _audited(actor_id, county_code, name, None)
        return None
    value = parse(name, raw)
    if row is None:
        row = CountySetting(county=county_code, name=name, value=str(value), updated_at=now())
        db.session.add(row)
    else:
        row.value, row.updated_at = str(value), now()
    _audited(actor_id, county_code, name, value)
    return value


def _audited(actor_id: int | None, county_code: str, name: str, value: Any) -> None:
    audit(actor_id, "update", "county_setting", f"{county_code}:{name}",
          detail={"county": county_code, "setting": name, "value": value})
    db.session.flush()


def overrides() -> list[CountySetting]:
    return list(db.session.scalars(sa.select(CountySetting).order_by(CountySetting.county, CountySetting.name)))
