"""The department kinds of DOMAIN.md section 2; BPMN lane names must be one of these codes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RegionLevel(StrEnum):
    """Province > city > county > township > village. The county is the unit of configuration and of data
    visibility; province and city regions only group counties (their supervisors see aggregates)."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


LEVEL_ORDER = {level: n for n, level in enumerate(RegionLevel)}
"""Depth of each level, province 0 .. village 4: a region's parent has a smaller number."""
ABOVE_COUNTY = (RegionLevel.PROVINCE, RegionLevel.CITY)
EVERY_COUNTY = "*"
"""The ``county`` of a deployment-wide setting (process version, calendar override, ladder); a county's own
setting names it by region code and wins over this one for its cases."""


@dataclass(frozen=True)
class DepartmentKind:
    code: str
    name_zh: str
    name_en: str
    level: RegionLevel
    """Where this kind's units usually sit; routing walks up from the case's village."""


_KINDS = [
    DepartmentKind("civil_affairs", "民政局", "Civil affairs bureau", RegionLevel.COUNTY),
    DepartmentKind("education", "教育局", "Education bureau", RegionLevel.COUNTY),
    DepartmentKind("police", "公安派出所", "Police station", RegionLevel.TOWNSHIP),
    DepartmentKind("justice", "司法局", "Justice bureau (legal aid)", RegionLevel.COUNTY),
    DepartmentKind("finance", "财政局", "Finance bureau", RegionLevel.COUNTY),
    DepartmentKind("human_resources", "人力资源和社会保障局", "Human resources & social security", RegionLevel.COUNTY),
    DepartmentKind("health", "卫生健康局", "Health commission", RegionLevel.COUNTY),
    DepartmentKind("medical_insurance", "医疗保障局", "Medical insurance bureau", RegionLevel.COUNTY),
    DepartmentKind("court", "人民法院", "People's court", RegionLevel.COUNTY),
    DepartmentKind("procuratorate", "人民检察院", "People's procuratorate", RegionLevel.COUNTY),
    DepartmentKind("women_children_committee", "妇儿工委办", "Women & children working committee office",
                   RegionLevel.COUNTY),
    DepartmentKind("youth_league", "团县委（12355）", "Communist Youth League (12355 hotline)", RegionLevel.COUNTY),
    DepartmentKind("womens_federation", "妇联", "Women's federation", RegionLevel.COUNTY),
    DepartmentKind("disabled_federation", "残联", "Disabled persons' federation", RegionLevel.COUNTY),
    DepartmentKind("cyberspace", "网信办", "Cyberspace office", RegionLevel.COUNTY),
    DepartmentKind("emergency_management", "应急管理局", "Emergency management bureau", RegionLevel.COUNTY),
    DepartmentKind("township", "乡镇人民政府", "Township government", RegionLevel.TOWNSHIP),
    DepartmentKind("village_committee", "村（居）民委员会", "Village / residents' committee", RegionLevel.VILLAGE),
    DepartmentKind("rescue_center", "未成年人救助保护中心", "Minor rescue & protection center", RegionLevel.COUNTY),
    DepartmentKind("welfare_institution", "儿童福利机构", "Child welfare institution", RegionLevel.COUNTY),
    DepartmentKind("school", "学校", "School", RegionLevel.TOWNSHIP),
    DepartmentKind("clinic", "卫生院", "Township clinic", RegionLevel.TOWNSHIP),
]

DEPARTMENT_KINDS: dict[str, DepartmentKind] = {k.code: k for k in _KINDS}


def is_department_kind(code: str | None) -> bool:
    return code in DEPARTMENT_KINDS


SUPERVISED_BY: dict[str, str] = {
    "school": "education",
    "clinic": "health",
    "village_committee": "township",
    "rescue_center": "civil_affairs",
    "welfare_institution": "civil_affairs",
}
"""Mandatory reporter unit kind -> the kind of the unit that supervises it (其上级机关, 001 二（一）6 and 004 三（二）2:
"强制报告主体未履行报告义务的，其上级机关和有关部门要严肃追责"): schools answer to the education bureau, township clinics
to the health commission, village committees to the township government (村民委员会 under 乡镇人民政府's guidance),
the rescue centre and the welfare institution to civil affairs. ``queries.supervising_unit`` finds the unit of
that kind nearest the reporter's region, as routing does for a case."""
