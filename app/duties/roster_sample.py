"""A generated county ledger in the import's layout: good rows and the kinds of bad rows bureaus send.

For the demo (``flask duties roster-sample``: what a ledger must look like), the tests and
``bench/roster_import.py``. Every ``bad_every``-th row is bad in one of ``BAD_KINDS`` ways, in turn; the
good rows have valid ID numbers (checksum, birth date and sex agreeing) and live in the county's villages.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from app.cases.id_number import make
from app.extensions import db
from app.org.kinds import RegionLevel
from app.org.models import Region

from .roster_rows import Places

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "明华强伟芳娜敏静丽军杰涛超勇艳秀英玉兰桂平刚建国"
SCHOOLS = ("{t}中心小学", "{t}初级中学", "{t}中心幼儿园", "{v}小学")

BAD_KINDS: tuple[str, ...] = (
    "id_checksum", "birth_date_mismatch", "sex_mismatch", "unknown_village", "outside_county", "missing_name",
    "unknown_category", "needs_sub_type", "unknown_sub_type", "duplicate_in_file", "too_old", "bad_phone",
    "unknown_relation", "needs_agreement", "bad_date", "id_as_number",
)
"""The kinds of bad rows generated; each is refused with the reason of the same name (``duplicate_in_file``
refuses the copy and the row it copies, ``missing_name`` is ``missing_value``)."""


def _outside(county: Region) -> tuple[str, str]:
    """A township and village of another county (the demo has ``c02``), or names nobody has."""
    township = sa.orm.aliased(Region)
    for village, parent, county_id in db.session.execute(
            sa.select(Region.name, township.name, township.parent_id).join(township, Region.parent_id == township.id)
            .where(Region.level == RegionLevel.VILLAGE)):
        if county_id != county.id:
            return parent, village
    return "外县镇", "外县村"


def good_row(i: int, places: Places, today: date, rng: random.Random) -> dict[str, Any]:
    township, village = list(places.names.values())[i % len(places.names)]
    sex = "male" if i % 2 else "female"
    born = today - timedelta(days=365 * 3 + rng.randrange(365 * 11))
    number = make(f"37{i % 10000:04d}", born, i // 10000 % 100, sex)
    difficulty = i % 5 == 0
    row: dict[str, Any] = {
        "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN), "sex": "男" if sex == "male" else "女",
        "id_number": number, "birth_date": born.isoformat(), "township": township, "village": village,
        "category": "农村留守儿童、困境儿童" if difficulty else "农村留守儿童",
        "sub_types": rng.choice(["孤儿", "重病儿童", "低收入家庭儿童", "重残儿童"]) if difficulty else "",
        "guardian1_name": rng.choice(SURNAMES) + "大" + rng.choice(GIVEN), "guardian1_relation": "父亲",
        "guardian1_phone": f"138{i:08d}", "guardian1_away": "是",
        "guardian2_name": rng.choice(SURNAMES) + "秀" + rng.choice(GIVEN), "guardian2_relation": "母亲",
        "guardian2_phone": f"139{i:08d}", "guardian2_away": "是" if i % 3 else "否",
        "school": rng.choice(SCHOOLS).format(t=township, v=village),
    }
    if i % 2 == 0:
        row.update({"caregiver_name": rng.choice(SURNAMES) + "奶奶", "caregiver_relation": "祖母",
                    "caregiver_phone": f"137{i:08d}"})
    return row


def spoil(row: dict[str, Any], kind: str, previous: dict[str, Any], outside: tuple[str, str]) -> dict[str, Any]:
    """``row`` made bad in the way ``kind`` names."""
    bad = dict(row)
    if kind == "id_checksum":
        bad["id_number"] = row["id_number"][:17] + ("1" if row["id_number"][17] != "1" else "2")
    elif kind == "birth_date_mismatch":
        bad["birth_date"] = (date.fromisoformat(row["birth_date"]) + timedelta(days=1)).isoformat()
    elif kind == "sex_mismatch":
        bad["sex"] = "女" if row["sex"] == "男" else "男"
    elif kind == "unknown_village":
        bad["village"] = "不存在村"
    elif kind == "outside_county":
        bad["township"], bad["village"] = outside
    elif kind == "missing_name":
        bad["name"] = ""
    elif kind == "unknown_category":
        bad["category"] = "其他儿童"
    elif kind == "needs_sub_type":
        bad["category"], bad["sub_types"] = "困境儿童", ""
    elif kind == "unknown_sub_type":
        bad["category"], bad["sub_types"] = "困境儿童", "特困"
    elif kind == "duplicate_in_file":
        bad = dict(previous)
    elif kind == "too_old":
        bad["id_number"], bad["birth_date"] = make("370000", date(2001, 3, 4), 7, "male"), "2001-03-04"
        bad["sex"] = "男"
    elif kind == "bad_phone":
        bad["guardian1_phone"] = "打不通"
    elif kind == "unknown_relation":
        bad["guardian1_relation"] = "舅舅"
    elif kind == "needs_agreement":
        bad.update({"caregiver_name": "赵邻居", "caregiver_relation": "邻居", "caregiver_phone": "13700000000",
                    "caregiver_agreement": ""})
    elif kind == "bad_date":
        bad["birth_date"] = "2015年13月45日"
    elif kind == "id_as_number":
        bad["id_number"] = float(row["id_number"][:17] + "0")
    return bad


def sample_rows(county: Region, rows: int, *, bad_every: int = 50, today: date | None = None,
                seed: int = 15) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``rows`` ledger rows for ``county`` and how many of each bad kind are among them."""
    rng = random.Random(seed)
    places = Places(county)
    outside = _outside(county)
    today = today or date.today()
    out: list[dict[str, Any]] = []
    bad_counts: dict[str, int] = {}
    for i in range(rows):
        row = good_row(i, places, today, rng)
        if bad_every and i % bad_every == bad_every - 1 and out:
            kind = BAD_KINDS[(i // bad_every) % len(BAD_KINDS)]
            row = spoil(row, kind, out[-1], outside)
            bad_counts[kind] = bad_counts.get(kind, 0) + 1
        out.append(row)
    return out, bad_counts
