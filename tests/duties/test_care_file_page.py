"""The child's care file (一人一档) on the case page: duty visit and assessment records land in its sections."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from duty_helpers import complete_cycle, enrolled

from app.duties.models import DutyCycle
from app.duties.scheduler import start_due_duties
from app.extensions import db

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)


def _section(html: str, section_id: str) -> str:
    match = re.search(rf'<section class="card" id="{section_id}">(.*?)</section>', html, re.S)
    assert match, section_id
    return match.group(1)


def test_weekly_contact_home_visit_and_assessment_records_show_in_the_care_file(page: Any, clock: Any) -> None:
    clock.at = MONDAY
    enrolment = enrolled("留守丙")
    db.session.commit()
    start_due_duties(MONDAY)
    cycles = list(db.session.scalars(sa.select(DutyCycle).where(DutyCycle.child_id == enrolment.child_id)))
    for cycle in cycles:
        complete_cycle(cycle)
    db.session.commit()

    html = page("director_t01v01").get(f"/cases/{enrolment.case_id}").get_data(as_text=True)
    visits = _section(html, "visits")
    assert "儿童主任每周联系" in visits and "儿童主任入户走访" in visits and "评估协查" in visits
    assert "儿童评估定级" in _section(html, "problems") and "儿童评估定级" not in visits
