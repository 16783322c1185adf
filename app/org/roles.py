"""Roles a user can hold; a user may hold several (a unit head is also a liaison)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    LIAISON = "liaison"
    UNIT_HEAD = "unit_head"
    CHILD_DIRECTOR = "child_director"
    CHILD_SUPERVISOR = "child_supervisor"
    COUNTY_COORDINATOR = "county_coordinator"
    PROCESS_DESIGNER = "process_designer"
    ADMIN = "admin"
    REPORTER = "reporter"
    REGIONAL_SUPERVISOR = "regional_supervisor"
    """A city or province official: on-time rates and overdue counts per county beneath their region,
    aggregates only; no child's identity without a case basis (``app.cases.access``)."""


ROLE_LABELS_ZH = {
    Role.LIAISON: "部门联络员",
    Role.UNIT_HEAD: "单位负责人",
    Role.CHILD_DIRECTOR: "儿童主任",
    Role.CHILD_SUPERVISOR: "儿童督导员",
    Role.COUNTY_COORDINATOR: "县级协调员",
    Role.PROCESS_DESIGNER: "流程设计员",
    Role.ADMIN: "系统管理员",
    Role.REPORTER: "报告人",
    Role.REGIONAL_SUPERVISOR: "市/省级督导",
}
