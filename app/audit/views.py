"""The audit log page (``/audit``): admins and county coordinators search who saw or changed what.

Case files live above this package, so the page reaches them through the ``CaseIndex`` that
``init_app`` is given at app creation (``app.cases.queries.CASE_INDEX``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.common.clock import county_zone
from app.common.errors import Invalid
from app.common.inputs import FIRST_DAY, LAST_DAY, MAX_COUNT, bounded_int
from app.common.pages import committed_page, roles_required
from app.org.jurisdiction import jurisdiction
from app.org.models import User
from app.org.queries import people_within
from app.org.roles import Role

from .describe import action_words, detail_lines, record_words
from .models import AuditEvent
from .operations import audit
from .queries import AuditSearch, CaseIndex, actions, search
from .views_names import names_for, readable_cases

blp = Blueprint("audit", __name__, template_folder="templates")

_CASES = "liandong.audit_cases"


@dataclass(frozen=True)
class Line:
    """One audit row as the page shows it: who by name, the action in words, the record by name, the
    detail as (field, value) lines."""

    row: AuditEvent
    who: tuple[str, str]
    """(display name, user name)."""
    action: str
    record: str
    details: list[tuple[str, str]]


def init_app(app: Flask, cases: CaseIndex) -> None:
    """Register the page and the way it reaches case files."""
    app.extensions[_CASES] = cases
    app.register_blueprint(blp)


def _day(value: str, tz: ZoneInfo, end: bool = False) -> datetime | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise Invalid(gettext("Dates must be between %(first)s and %(last)s.", first=FIRST_DAY, last=LAST_DAY))
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start + timedelta(days=1) if end else start


@blp.get("/audit")
@roles_required(Role.ADMIN, Role.COUNTY_COORDINATOR)
@committed_page
def audit_log() -> Any:
    """Search the audit log by user, case, action and date range (county days)."""
    args = request.args
    tz = county_zone()

    def given(name: str) -> str | None:
        return args[name].strip() if args.get(name) else None

    terms = AuditSearch(
        user_ids=sa.select(User.id).where(User.username == name) if (name := given("user")) is not None else None,
        case=given("case"), action=given("action"),
        # Several counties share the log: a coordinator or administrator watches their own county's people, not a
        # neighbour's; only an administrator over every county reads every no-case row (``org.jurisdiction``).
        no_case_by=None if current_user.has_role(Role.ADMIN) and jurisdiction(current_user).everything
        else people_within(current_user.region_id),
        start=_day(args["from"], tz) if args.get("from") else None,
        end=_day(args["to"], tz, end=True) if args.get("to") else None,
    )
    page = max(1, bounded_int(args.get("page"), MAX_COUNT) or 1)
    found = search(current_app.extensions[_CASES], current_user.region_id, terms, page)
    readable = readable_cases(current_user, found.rows)
    names = names_for(found.rows, readable)
    lines = [Line(r, names.people.get(r.user_id or 0, ("—", "")), action_words(r.action),
                  record_words(r.object_type, r.object_id, names),
                  detail_lines(r.detail, names, free_text=r.case_id is None or r.case_id in readable))
             for r in found.rows]
    known_actions = [(a, action_words(a)) for a in actions()]
    audit(current_user.id, "search", "audit", "-", detail={k: v for k, v in args.items() if v})

    def page_url(p: int) -> str:
        values: dict[str, Any] = args.to_dict() | {"page": p}
        return url_for("audit.audit_log", **values)

    return render_template("audit/audit.html", lines=lines, more=found.more, page=page,
                           case_numbers=found.case_numbers, actions=known_actions, args=args, page_url=page_url)
