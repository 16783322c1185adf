"""Lookups for other systems (issue 16, part 4): department kinds, regions as a tree, units by kind and region.

A hotline's call system, a school's system or the provincial platform names a village, a unit or a lane by
code; these answer what the codes are. The organisation is not children's data, so any signed-in caller
may read it and nothing is audited (children and cases are looked up through ``/children`` and ``/cases``,
under the need-to-know rule, audited). Lists are paged (``per_page`` up to 500).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Page
from marshmallow import Schema, fields, validate

from app.common.endpoints import ApiBlueprint, ObjectOut, SelectPage, page_of
from app.common.errors import Invalid, NotFound
from app.extensions import db
from app.org.directory import ancestors, regions, units
from app.org.kinds import DEPARTMENT_KINDS, RegionLevel
from app.org.models import Region
from app.org.queries import region_by_code

blp = ApiBlueprint("lookups", __name__, url_prefix="/api/v1",
                   description="Lookups for other systems: department kinds, regions, units")

LEVELS = [level.value for level in RegionLevel]


class DepartmentKindOut(ObjectOut):
    """A department kind (a BPMN lane's name): its code, names and the level its units usually sit at."""

    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    level = fields.String(metadata={"description": "where its units usually sit: " + ", ".join(LEVELS)})


DepartmentKindPage = page_of(DepartmentKindOut, "DepartmentKindPage")


class RegionRefOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    level = fields.String()


class RegionOut(ObjectOut):
    """A region (province > city > county > township > village) and its parent's code."""

    computed = {"parent": lambda region: region.parent.code if region.parent else None}

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    level = fields.String(metadata={"description": ", ".join(LEVELS)})
    parent = fields.String(allow_none=True, metadata={"description": "the parent region's code (none at the top)"})


RegionPage = page_of(RegionOut, "RegionPage")


class RegionDetailOut(RegionOut):
    """One region with the way up (top first) and its regions one level down."""

    computed = {**RegionOut.computed, "path": ancestors,
                "children": lambda region: list(db.session.scalars(regions(parent=region)))}

    path = fields.List(fields.Nested(RegionRefOut), metadata={"description": "the regions above, top first"})
    children = fields.List(fields.Nested(RegionRefOut), metadata={"description": "the regions directly below"})


class RegionArgs(Schema):
    parent = fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "a region's code: its regions one level down (`top=true`: the top of the tree)"})
    top = fields.Boolean(load_default=False, metadata={"description": "only the regions at the top of the tree"})
    level = fields.String(load_default="", validate=validate.OneOf(["", *LEVELS]))
    q = fields.String(load_default="", validate=validate.Length(max=100),
                      metadata={"description": "a part of the name or code"})


class OrgUnitOut(ObjectOut):
    """A department unit: the one of its kind at its region (routing sends a lane's tasks to it)."""

    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "a department kind's code (`GET /department-kinds`)"})
    region = fields.Nested(RegionRefOut)


OrgUnitPage = page_of(OrgUnitOut, "OrgUnitPage")


class UnitArgs(Schema):
    kind = fields.String(load_default="", validate=validate.OneOf(["", *sorted(DEPARTMENT_KINDS)]))
    region = fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "a region's code: the units at it and anywhere below it"})
    q = fields.String(load_default="", validate=validate.Length(max=100), metadata={"description": "a part of the name"})


def _region(code: str, field: str) -> Region:
    found = region_by_code(code)
    if found is None:
        raise Invalid(f"no region with code {code!r}", {field: [f"no region with code {code!r}"]}, location="query")
    return found


@blp.route("/department-kinds")
class DepartmentKinds(MethodView):
    @blp.endpoint(writes=False, scope="lookups:read")
    @blp.response(200, DepartmentKindPage)
    @blp.paginate(Page)
    def get(self) -> Any:
        """The department kinds (BPMN lane names, units' kinds), with their Chinese and English names."""
        return [{"code": k.code, "name_zh": k.name_zh, "name_en": k.name_en, "level": k.level.value}
                for k in DEPARTMENT_KINDS.values()]


@blp.route("/regions")
class Regions(MethodView):
    @blp.endpoint(writes=False, scope="lookups:read")
    @blp.arguments(RegionArgs, location="query")
    @blp.response(200, RegionPage)
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Regions by code: one level of the tree (`parent`, or `top`), by `level` and a part of the name or
        code. Walk the tree down with `parent`, up with `GET /regions/<code>` (its `path`)."""
        parent = _region(args["parent"], "parent") if "parent" in args else None
        return regions(parent=parent, top=args["top"], level=args["level"], q=args["q"])


@blp.route("/regions/<code>")
class RegionResource(MethodView):
    @blp.endpoint(writes=False, scope="lookups:read")
    @blp.response(200, RegionDetailOut)
    def get(self, code: str) -> Any:
        """One region by code, with the regions above it (top first) and those directly below."""
        found = region_by_code(code)
        if found is None:
            raise NotFound(f"no region with code {code!r}")
        return found


@blp.route("/units")
class Units(MethodView):
    @blp.endpoint(writes=False, scope="lookups:read")
    @blp.arguments(UnitArgs, location="query")
    @blp.response(200, OrgUnitPage)
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Department units by `kind` and `region` (at it or anywhere below: a county's code gives every
        unit of the county), and a part of the name."""
        within = _region(args["region"], "region") if "region" in args else None
        return units(kind=args["kind"], within=within, q=args["q"])
