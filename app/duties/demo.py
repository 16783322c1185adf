"""Demo children in the programme: a few per village, so recurring duties start in the demo county.

Idempotent: a child is found again by its ID number, and an enrolled child is not enrolled twice.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.cases.identity import check_digit
from app.cases.models import Child, Guardian
from app.common.clock import now
from app.extensions import db
from app.org.queries import region_by_code

from .files import active_enrolment
from .operations import enrol

DEMO_CHILDREN = [
    # (suffix, name, sex, birth date, tags, key reasons, guardian relation, guardian works away)
    ("01", "小明", "male", date(2015, 6, 1), ["left_behind"], [], "grandmother", True),
    ("02", "小红", "female", date(2013, 9, 12), ["left_behind"], ["psychological_or_behavioural"], "grandfather", True),
    ("03", "小军", "male", date(2017, 2, 20), ["severely_disabled", "low_income"], ["child_disabled"], "mother", False),
]
SURNAMES = {"t01v01": "柳", "t01v02": "杨", "t02v01": "何", "t02v02": "王", "t03v01": "石", "t03v02": "林"}


def load_demo_children() -> int:
    """Enrol three children in each demo village (one ordinary, two key children); returns how many enrolled."""
    enrolled = 0
    for v_code, surname in SURNAMES.items():
        village = region_by_code(v_code)
        if village is None:
            continue
        for suffix, name, sex, birth, tags, key_reasons, relation, away in DEMO_CHILDREN:
            # a valid ID number (GB 11643: area, birth date, serial, sex digit, check digit), so the demo's roster
            # exports and imports as it is; the invalid one earlier demos made is still found (idempotent)
            first17 = f"37{v_code[1:3]}{v_code[4:6]}{birth:%Y%m%d}{suffix}{1 if sex == 'male' else 2}"
            id_number = first17 + check_digit(first17)
            legacy = f"3700{v_code[1:3]}{v_code[4:6]}{birth:%Y%m%d}{suffix}9"
            child = db.session.scalar(sa.select(Child).where(Child.id_number.in_([id_number, legacy])))
            if child is None:
                child = Child(name=surname + name, sex=sex, birth_date=birth, id_number=id_number, village=village,
                              address=f"{village.name}{suffix}号", tags=tags, created_at=now())
                child.guardians = [Guardian(name=f"{surname}{'奶奶' if relation == 'grandmother' else '家长'}",
                                            relation=relation, phone=f"1380000{v_code[1:3]}{suffix}",
                                            working_away=False, lives_with_child=True),
                                   Guardian(name=f"{surname}父", relation="father", phone="", working_away=away,
                                            lives_with_child=not away)]
                db.session.add(child)
                db.session.flush()
            if active_enrolment(child.id) is None:
                enrol(child, None, tags=tags, key_reasons=key_reasons, start_reason="survey",
                      started_on=date(now().year, 1, 1), note="演示数据")
                enrolled += 1
    return enrolled
