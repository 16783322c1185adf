"""Late reports (issue 15, part 5): a mandatory reporter must report "at the first moment" (第一时间, 001 二（一）6,
004 三（二）2) and "failing to report is held to account" (上级机关和有关部门要严肃追责).

The policy gives no number of hours, so the limit is the setting ``late_report_hours`` (24 by default: a day
is the longest that can still be called the first moment), which a county may override for its own cases
(``org.county_settings``). A report is late when its reporter is a mandatory reporter, said when they learned
of the situation, and filed more than that many hours later. A report without ``learned_at`` is not
flagged: the API keeps it optional (the report page asks every mandatory reporter for it), and a report is
never refused for being late: it is the report the child needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.org.county_settings import county_value

from .models import MANDATORY_REPORTERS

SETTING = "late_report_hours"


@dataclass(frozen=True)
class Lateness:
    late: bool
    hours_allowed: int
    """The limit in force for the child's county when the report was filed."""
    hours_taken: float | None
    """From learning of the situation to filing; None when not stated."""


def lateness(reporter_type: str, learned_at: datetime | None, received_at: datetime,
             county_id: int | None) -> Lateness:
    allowed = int(county_value(SETTING, county_id))
    if learned_at is None:
        return Lateness(False, allowed, None)
    taken = (received_at - learned_at) / timedelta(hours=1)
    return Lateness(reporter_type in MANDATORY_REPORTERS and taken > allowed, allowed, round(taken, 1))
