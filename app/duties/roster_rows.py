"""One ledger row on its own: reading and checking it (the reasons a row is refused, the county's places).

``roster.py`` then holds the rows against the database (duplicates, updates) and builds the plan; this module
reads nothing but the county's villages (``Places``). The reasons, in words: ``roster.py``'s docstring.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from app.cases import id_number
from app.cases.access import regions_within
from app.cases.models import ChildTag
from app.extensions import db
from app.org.kinds import RegionLevel
from app.org.models import Region

from .roster_layout import (
    CATEGORY_WORDS,
    GUARDIAN_SLOTS,
    HEADERS,
    NO,
    NON_RELATIVES,
    RELATION_WORDS,
    SEX_WORDS,
    SUB_TYPE_WORDS,
    YES,
    parse_date,
    text,
    words,
)

PHONE = frozenset("0123456789-+ ")


class Reason(StrEnum):
    """Why a row is refused (the page shows each in words, ``label('roster_reason', code)``)."""

    MISSING_VALUE = "missing_value"
    BAD_SEX = "bad_sex"
    BAD_DATE = "bad_date"
    ID_AS_NUMBER = "id_as_number"
    ID_FORMAT = "id_format"
    ID_CHECKSUM = "id_checksum"
    BIRTH_DATE_MISMATCH = "birth_date_mismatch"
    SEX_MISMATCH = "sex_mismatch"
    TOO_OLD = "too_old"
    UNKNOWN_CATEGORY = "unknown_category"
    NEEDS_SUB_TYPE = "needs_sub_type"
    UNKNOWN_SUB_TYPE = "unknown_sub_type"
    UNKNOWN_VILLAGE = "unknown_village"
    OUTSIDE_COUNTY = "outside_county"
    BAD_PHONE = "bad_phone"
    UNKNOWN_RELATION = "unknown_relation"
    GUARDIAN_INCOMPLETE = "guardian_incomplete"
    NEEDS_AGREEMENT = "needs_agreement"
    DUPLICATE_IN_FILE = "duplicate_in_file"
    ID_IN_OTHER_COUNTY = "id_in_other_county"
    LIKELY_DUPLICATE = "likely_duplicate"
    AMBIGUOUS_MATCH = "ambiguous_match"


@dataclass(frozen=True)
class Problem:
    code: Reason
    column: str
    """The key of the column (``HEADERS`` names it), or ``""`` for the row as a whole."""
    detail: str = ""


@dataclass(frozen=True)
class GuardianRow:
    name: str
    relation: str
    phone: str
    working_away: bool


@dataclass(frozen=True)
class CaregiverRow:
    name: str
    relation: str
    phone: str
    agreement_signed_on: date | None

    @property
    def is_relative(self) -> bool:
        return self.relation not in NON_RELATIVES


@dataclass
class LedgerChild:
    """One child as the ledger states them (codes, not words)."""

    name: str
    sex: str
    id_number: str | None
    birth_date: date | None
    village_id: int
    tags: list[str]
    school: str
    guardians: list[GuardianRow]
    caregiver: CaregiverRow | None

    def key(self) -> tuple[str, date | None, int]:
        return (self.name, self.birth_date, self.village_id)



class Places:
    """The county's villages by (township name, village name) and by code; villages elsewhere, to tell
    "outside your county" from "unknown"."""

    def __init__(self, county: Region) -> None:
        inside = set(db.session.scalars(regions_within(county.id)))
        self.inside: dict[tuple[str, str], int] = {}
        self.codes: dict[str, int] = {}
        self.elsewhere: set[tuple[str, str]] = set()
        self.names: dict[int, tuple[str, str]] = {}
        township = sa.orm.aliased(Region)
        rows = db.session.execute(sa.select(Region.id, Region.code, Region.name, township.name)
                                  .join(township, Region.parent_id == township.id)
                                  .where(Region.level == RegionLevel.VILLAGE))
        for vid, code, name, township_name in rows:
            if vid in inside:
                self.inside[(township_name, name)] = vid
                self.codes[code] = vid
                self.names[vid] = (township_name, name)
            else:
                self.elsewhere.add((township_name, name))
                self.codes.setdefault(code, -1)

    def village(self, township: str, village: str) -> int | Reason:
        found = self.inside.get((township, village))
        if found is None and village in self.codes:
            found = self.codes[village]
            if found == -1:
                return Reason.OUTSIDE_COUNTY
        if found is not None:
            return found
        return Reason.OUTSIDE_COUNTY if (township, village) in self.elsewhere else Reason.UNKNOWN_VILLAGE


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _tags(raw: dict[str, Any], problems: list[Problem]) -> list[str]:
    categories, tags = set(), set()
    for word in words(raw.get("category")):
        if word in CATEGORY_WORDS:
            categories.add(CATEGORY_WORDS[word])
        else:
            problems.append(Problem(Reason.UNKNOWN_CATEGORY, "category", word))
    for word in words(raw.get("sub_types")):
        if word in SUB_TYPE_WORDS:
            tags.add(SUB_TYPE_WORDS[word])
        else:
            problems.append(Problem(Reason.UNKNOWN_SUB_TYPE, "sub_types", word))
    if not categories and not any(p.code == Reason.UNKNOWN_CATEGORY for p in problems):
        problems.append(Problem(Reason.MISSING_VALUE, "category"))
    if "difficulty" in categories and not tags and not any(p.code == Reason.UNKNOWN_SUB_TYPE for p in problems):
        problems.append(Problem(Reason.NEEDS_SUB_TYPE, "sub_types"))
    if "left_behind" in categories:
        tags.add(ChildTag.LEFT_BEHIND.value)
    return sorted(tags)


def _phone(raw: Any, column: str, problems: list[Problem]) -> str:
    value = unicodedata.normalize("NFKC", text(raw))  # full-width digits from a Chinese input method
    if value and (not set(value) <= PHONE or not 7 <= sum(ch.isdigit() for ch in value) <= 15):
        problems.append(Problem(Reason.BAD_PHONE, column, value[:40]))
    return value[:40]


def _guardians(raw: dict[str, Any], problems: list[Problem]) -> list[GuardianRow]:
    out = []
    for slot in GUARDIAN_SLOTS:
        name, relation = text(raw.get(f"{slot}_name")), text(raw.get(f"{slot}_relation"))
        phone = _phone(raw.get(f"{slot}_phone"), f"{slot}_phone", problems)
        away = text(raw.get(f"{slot}_away")).lower()
        if not name:
            if relation or phone:
                problems.append(Problem(Reason.GUARDIAN_INCOMPLETE, f"{slot}_name"))
            continue
        code = RELATION_WORDS.get(relation)
        if code is None:
            problems.append(Problem(Reason.UNKNOWN_RELATION, f"{slot}_relation", relation))
            continue
        if away not in YES and away not in NO:
            problems.append(Problem(Reason.MISSING_VALUE, f"{slot}_away", away))
        out.append(GuardianRow(name[:100], code, phone, away in YES))
    return out


def _caregiver(raw: dict[str, Any], problems: list[Problem]) -> CaregiverRow | None:
    name, relation = text(raw.get("caregiver_name")), text(raw.get("caregiver_relation"))
    phone = _phone(raw.get("caregiver_phone"), "caregiver_phone", problems)
    if not name:
        if relation or phone:
            problems.append(Problem(Reason.GUARDIAN_INCOMPLETE, "caregiver_name"))
        return None
    if not relation:
        problems.append(Problem(Reason.MISSING_VALUE, "caregiver_relation"))
    try:
        agreement = parse_date(raw.get("caregiver_agreement"))
    except ValueError:
        problems.append(Problem(Reason.BAD_DATE, "caregiver_agreement", text(raw.get("caregiver_agreement"))[:20]))
        agreement = None
    caregiver = CaregiverRow(name[:100], relation[:40], phone, agreement)
    if not caregiver.is_relative and agreement is None and relation:
        problems.append(Problem(Reason.NEEDS_AGREEMENT, "caregiver_agreement"))
    return caregiver


def check_row(raw: dict[str, Any], places: Places, today: date) -> tuple[LedgerChild | None, list[Problem]]:
    """One row on its own (nothing about other rows or existing children)."""
    problems: list[Problem] = []
    name = text(raw.get("name"))[:100]
    for key in ("name", "sex", "township", "village"):
        if not text(raw.get(key)):
            problems.append(Problem(Reason.MISSING_VALUE, key))
    sex = SEX_WORDS.get(text(raw.get("sex")).lower())
    if sex is None and text(raw.get("sex")):
        problems.append(Problem(Reason.BAD_SEX, "sex", text(raw.get("sex"))[:10]))
    try:
        born = parse_date(raw.get("birth_date"))
    except ValueError:
        problems.append(Problem(Reason.BAD_DATE, "birth_date", text(raw.get("birth_date"))[:20]))
        born = None
    number: str | None = None
    raw_id = raw.get("id_number")
    if isinstance(raw_id, float) or (isinstance(raw_id, int) and raw_id > 10**15):
        problems.append(Problem(Reason.ID_AS_NUMBER, "id_number"))
    elif text(raw_id):
        try:
            parsed = id_number.parse(text(raw_id))
        except id_number.BadIdNumber as exc:
            problems.append(Problem(Reason.ID_CHECKSUM if exc.code == "checksum" else Reason.ID_FORMAT, "id_number"))
        else:
            number = parsed.value
            if born is not None and born != parsed.birth_date:
                problems.append(Problem(Reason.BIRTH_DATE_MISMATCH, "birth_date", parsed.birth_date.isoformat()))
            born = born or parsed.birth_date
            if sex is not None and sex != parsed.sex:
                problems.append(Problem(Reason.SEX_MISMATCH, "sex"))
    elif born is None and not any(p.column == "birth_date" for p in problems):
        problems.append(Problem(Reason.MISSING_VALUE, "birth_date"))
    tags = _tags(raw, problems)
    if born is not None:
        age = _age(born, today)
        if age >= 18 or age < 0 or (age >= 16 and tags == [ChildTag.LEFT_BEHIND.value]):
            problems.append(Problem(Reason.TOO_OLD, "birth_date", str(age)))
    village: int | Reason = Reason.MISSING_VALUE
    if text(raw.get("township")) and text(raw.get("village")):
        village = places.village(text(raw.get("township")), text(raw.get("village")))
        if isinstance(village, Reason):
            problems.append(Problem(village, "village", f"{text(raw.get('township'))} {text(raw.get('village'))}"[:60]))
    guardians = _guardians(raw, problems)
    caregiver = _caregiver(raw, problems)
    if problems or sex is None or isinstance(village, Reason):
        return None, problems
    return LedgerChild(name=name, sex=sex, id_number=number, birth_date=born, village_id=village, tags=tags,
                       school=text(raw.get("school"))[:200], guardians=guardians, caregiver=caregiver), []


# -- existing children -------------------------------------------------------------------------------------


def describe(problem: Problem) -> str:
    """The column's name for a problem (the page and the API say which column)."""
    return HEADERS.get(problem.column, "")
