"""Which cadence a child's duty runs at: defaults, the county's overrides, and key-child rules."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.common.clock import now
from app.common.errors import Invalid
from app.extensions import db
from app.org.models import User

from .catalog import CHILD_CALENDAR_DUTIES, DEFAULT_FREQUENCIES, KEY_TAGS
from .cycles import CADENCES, most_frequent
from .models import DutyFrequency, Enrolment

Table = dict[tuple[str, str], str]


def effective_frequencies() -> Table:
    """The defaults with the county's rows applied on top (a row replaces the default for its selector)."""
    table = dict(DEFAULT_FREQUENCIES)
    for row in db.session.scalars(sa.select(DutyFrequency)):
        table[(row.duty, row.selector)] = row.cadence
    return table


@dataclass(frozen=True)
class FrequencyRule:
    """A cadence rule in force: the catalogue's default, or the county's row that replaces or adds to it."""

    duty: str
    selector: str
    cadence: str
    source: str
    """``default`` or ``county``."""

    @classmethod
    def of(cls, row: DutyFrequency) -> FrequencyRule:
        return cls(row.duty, row.selector, row.cadence, "county")


def rules_in_force() -> list[FrequencyRule]:
    """Every rule in force, by duty and selector: the defaults with the county's rows applied on top."""
    county = {(row.duty, row.selector): row for row in db.session.scalars(sa.select(DutyFrequency))}
    defaults = [FrequencyRule(d, s, c, "default") for (d, s), c in DEFAULT_FREQUENCIES.items() if (d, s) not in county]
    rules = defaults + [FrequencyRule.of(row) for row in county.values()]
    return sorted(rules, key=lambda rule: (rule.duty, rule.selector))


def is_key_child(enrolment: Enrolment, grade: str | None) -> bool:
    """A key child (重点对象): a key reason, a key tag, or graded poor at the last assessment."""
    return bool(enrolment.key_reasons) or bool(set(enrolment.tags) & KEY_TAGS) or grade == "poor"


def selectors_for(enrolment: Enrolment, grade: str | None) -> list[str]:
    selectors = ["default"]
    if is_key_child(enrolment, grade):
        selectors.append("key")
    selectors += [f"tag:{t}" for t in enrolment.tags]
    if grade:
        selectors.append(f"grade:{grade}")
    return selectors


def cadence_for(duty: str, enrolment: Enrolment, grade: str | None, table: Table | None = None) -> str | None:
    """The most frequent cadence among the rules that apply to this child; None if the duty is off."""
    table = effective_frequencies() if table is None else table
    found = [table[(duty, s)] for s in selectors_for(enrolment, grade) if (duty, s) in table]
    return most_frequent([c for c in found if c != "none"])


def set_frequency(duty: str, selector: str, cadence: str, actor: User | None) -> DutyFrequency:
    """Create or replace the county's rule for (duty, selector)."""
    errors: dict[str, list[str]] = {}
    if duty not in CHILD_CALENDAR_DUTIES:
        errors["duty"] = [f"one of {', '.join(CHILD_CALENDAR_DUTIES)}"]
    if cadence not in (*CADENCES, "none"):
        errors["cadence"] = [f"one of {', '.join(CADENCES)}, none"]
    if not (selector in ("default", "key") or selector.startswith(("tag:", "grade:"))):
        errors["selector"] = ["default, key, tag:<child tag> or grade:<good|fair|poor>"]
    if errors:
        raise Invalid("frequency rule is not valid", errors)
    row = db.session.scalar(sa.select(DutyFrequency).where(DutyFrequency.duty == duty,
                                                           DutyFrequency.selector == selector))
    if row is None:
        row = DutyFrequency(duty=duty, selector=selector)
        db.session.add(row)
    row.cadence = cadence
    row.updated_by_id = actor.id if actor else None
    row.updated_at = now()
    db.session.flush()
    return row
