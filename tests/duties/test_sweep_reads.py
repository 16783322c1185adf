"""The Monday sweep reads whether its due cycles were done in a few statements, however many children are
enrolled (``duties.status.fulfilled_many``): a province's weekly contacts are one cycle per child."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from duty_helpers import complete_cycle, enrolled
from sqlcount import starting, statements_sent

from app.duties.models import CycleStatus, DutyCycle
from app.duties.scheduler import start_due_duties, sweep_cycles
from app.extensions import db

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # 09:00 county time


def _sweep_after_a_week(children: int, clock: Any) -> tuple[Counter[str], list[DutyCycle]]:
    for n in range(children):
        enrolled(f"周{n}")
    clock.at = MONDAY
    start_due_duties(MONDAY)
    cycles = db.session.scalars(sa.select(DutyCycle).where(DutyCycle.child_id.is_not(None),
                                                           DutyCycle.duty == "weekly_contact")).all()
    assert len(cycles) == children
    complete_cycle(cycles[0])  # one done, the rest missed
    db.session.flush()
    db.session.expunge_all()  # the sweep is a job of its own: nothing of the week is in its session
    later = MONDAY + timedelta(weeks=1)
    clock.at = later
    with statements_sent(starting("SELECT")) as reads:
        sweep_cycles(later)
    tables = Counter(match.group(1) for read in reads if (match := re.search(r"\bFROM\s+(\w+)", read)))
    return tables, [db.session.get(DutyCycle, c.id) for c in cycles]


@pytest.mark.parametrize("children", [2, 5])
def test_the_sweep_reads_its_cycles_in_a_few_statements(demo: Any, clock: Any, children: int) -> None:
    tables, cycles = _sweep_after_a_week(children, clock)
    assert [c.status for c in cycles] == [CycleStatus.DONE] + [CycleStatus.MISSED] * (children - 1)
    # Whether each due cycle's instance ended (or was cancelled): one read for all of them. Before, two reads of
    # process_instance per due cycle (2 children: 5 reads, 5 children: 11).
    assert tables["process_instance"] == 1, tables
    # What is left per cycle is the escalation of a missed one (its case file and its first task), pinned here so
    # that a change to it shows: missed cycles are the exception, done ones the rule.
    assert tables["case_file"] == children - 1 and tables["task"] == children, tables
    assert tables["duty_cycle"] == 2, tables
