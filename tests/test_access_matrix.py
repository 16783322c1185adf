"""Need-to-know, role × endpoint: every route that returns a child's data, pages and API, as every kind of
account; each answer's status AND what its body shows or hides (docs/security.md, "Need-to-know").

The world: one case about 李小明 in 东城镇柳树村 (t01v01), reported by the school teacher ``reporter_school``.
The police station (``police_t01``) did three steps (its triage notes, its warning number, a comment and a
scanned statement); the education bureau holds the open assessment-input step and attached a note; the
county rescue centre's conference invites the justice bureau and the police station. A second county (c02)
has its own coordinator and police liaison. The child is in the care programme (enrolled).

``test_every_route_is_in_the_matrix_or_says_why_not`` walks the app's ``url_map``: a new route fails until
it is put in ``ROWS`` or in ``NO_CHILD_DATA`` with the reason.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import report_payload
from pypdf import PdfReader

from app.extensions import db

NAME, MASKED, ID_FULL = "李小明", "李*明", "370000201506010011"
NARRATIVE = "孩子连续三天独自在家"
"""The report's narrative."""
TRIAGE_TEXT = "接学校报告后出警核实"
"""Free text of the police's first step (earlier steps on a task page, the timeline's data in the API)."""
WARNING_TEXT = "告字〔2025〕12号"
"""Free text of the police's legal disposition (a "solution" record on the case page)."""
COMMENT = "已电话联系监护人"
POLICE_FILE, EDU_FILE = "police-statement.pdf", "edu-note.txt"
NO_QUEUE = "您的角色不办理任务"
"""The inbox of a unit member whose role works no tasks says so."""
NUMBER = "{number}"
"""The case number, filled in from the world."""

ANON = None
REPORTER = "reporter_school"
"""Files reports; reported this case; a member of the township's school, which has no task on it."""
UNIT_REPORTER = "police_t01_reporter"
"""A reporter-only member of the police station that works the case: works no tasks, sees none."""
NO_BASIS = "school_t01"
"""Liaison of a unit with no task and no invitation on the case."""
POLICE, HEAD = "police_t01", "police_t01_head"
"""The unit that acts on harm and worked the case."""
EDU = "education_c01"
"""A unit with an open task on the case that does not act on harm: no narratives, its own step's text only."""
INVITED = "justice_c01"
"""Invited to the case conference (basis: conference), not a harm-acting unit."""
OTHER_TOWNSHIP, OTHER_COUNTY = "police_t02", "police_t21"
COORD, OTHER_COORD, ADMIN = "coordinator", "coordinator_c02", "admin"
DIRECTOR, OTHER_DIRECTOR = "director_t01v01", "director_t01v02"
DESIGNER = "designer"
CITY, PROVINCE = "city_supervisor", "province_supervisor"
"""Supervisors above the counties: per-county numbers, no child, no basis on any case."""
ROLES: list[str | None] = [ANON, REPORTER, UNIT_REPORTER, NO_BASIS, POLICE, HEAD, EDU, INVITED, OTHER_TOWNSHIP,
                           OTHER_COUNTY, COORD, OTHER_COORD, ADMIN, DIRECTOR, OTHER_DIRECTOR, DESIGNER, CITY, PROVINCE]
OVERSEERS = (COORD, OTHER_COORD, ADMIN, CITY, PROVINCE)
"""Who reads the per-county numbers (a coordinator: their own county's row)."""
MANAGERS = (COORD, ADMIN, DIRECTOR)
"""Who manages the child's programme membership (county, and the child's village director)."""
PRIVATE = (NAME, MASKED, NARRATIVE, TRIAGE_TEXT, WARNING_TEXT, COMMENT, POLICE_FILE, EDU_FILE, ID_FULL)
"""What a refusal must never carry (nor the case number)."""


@dataclass(frozen=True)
class Expect:
    status: int
    shows: tuple[str, ...] = ()
    hides: tuple[str, ...] = ()


def see(*shows: str, hides: tuple[str, ...] = ()) -> Expect:
    return Expect(200, shows, hides)


DENY, GONE, LOGIN, UNAUTH = Expect(403), Expect(404), Expect(302), Expect(401)
LIST_NOTHING = see(hides=(NAME, MASKED, NUMBER))
COUNTS_ONLY = see(hides=(NAME, MASKED, NUMBER))
"""The per-county numbers: counts, and nothing about any child or case."""


@dataclass(frozen=True)
class Row:
    method: str
    url: str
    expect: dict[str | None, Expect]
    default: Expect = DENY
    body: dict[str, Any] | None = None
    api: bool = False

    def for_role(self, role: str | None) -> Expect:
        if role is None and role not in self.expect:
            return UNAUTH if self.api else LOGIN
        return self.expect.get(role, self.default)


def each(roles: tuple[str | None, ...], expect: Expect) -> dict[str | None, Expect]:
    return dict.fromkeys(roles, expect)


FULL = (NAME, NARRATIVE, WARNING_TEXT, POLICE_FILE, EDU_FILE)
"""What the case page shows with every need to know (the triage is not one of its record sections)."""
NOT_HARM = (NARRATIVE, TRIAGE_TEXT, WARNING_TEXT, COMMENT, POLICE_FILE, ID_FULL)
DECISION = {"decisions-0-decision": "学校安排班主任结对帮扶", "decisions-0-department_kind": "education",
            "decisions-0-deadline": "5WD"}

PAGES = [
    Row("GET", "/inbox", {POLICE: see(MASKED, NUMBER, hides=(NAME,)), HEAD: see(MASKED, NUMBER, hides=(NAME,)),
                          EDU: see(MASKED, NUMBER, hides=(NAME,)), INVITED: see(MASKED, NUMBER, hides=(NAME,)),
                          DIRECTOR: see(NAME, NUMBER), COORD: see(NAME, NUMBER),
                          **each((REPORTER, UNIT_REPORTER), see(NO_QUEUE, hides=(NAME, MASKED, NUMBER)))},
        default=LIST_NOTHING),
    Row("GET", "/tasks/{edu_task}", {EDU: see(NAME, EDU_FILE, hides=(TRIAGE_TEXT, WARNING_TEXT, NARRATIVE)),
                                     COORD: see(NAME, TRIAGE_TEXT, WARNING_TEXT, EDU_FILE)}),
    Row("GET", "/tasks/{triage}", {POLICE: see(NAME, POLICE_FILE, COMMENT), HEAD: see(NAME, POLICE_FILE, COMMENT),
                                   COORD: see(NAME, POLICE_FILE, COMMENT)}),
    Row("GET", "/cases/{case}", {
        REPORTER: see(NUMBER, hides=PRIVATE), POLICE: see(*FULL, hides=(ID_FULL,)), HEAD: see(*FULL, hides=(ID_FULL,)),
        EDU: see(NAME, EDU_FILE, hides=NOT_HARM), INVITED: see(NAME, hides=(*NOT_HARM, EDU_FILE)),
        COORD: see(*FULL, ID_FULL), DIRECTOR: see(*FULL, ID_FULL), ADMIN: see(*FULL, hides=(ID_FULL,))}),
    *(Row("GET", url, {
        POLICE: see(*FULL, TRIAGE_TEXT, hides=(ID_FULL,)), HEAD: see(*FULL, TRIAGE_TEXT, hides=(ID_FULL,)),
        EDU: see(NAME, EDU_FILE, hides=NOT_HARM), INVITED: see(NAME, hides=(*NOT_HARM, EDU_FILE)),
        COORD: see(*FULL, TRIAGE_TEXT, ID_FULL), DIRECTOR: see(*FULL, TRIAGE_TEXT, ID_FULL),
        ADMIN: see(*FULL, TRIAGE_TEXT, hides=(ID_FULL,))})
      for url in ("/children/{child}/record", "/children/{child}/record.pdf")),
    # finding a child (issue 15): only those with a basis on the child find it, the ID number masked as on its file
    Row("GET", "/search?village=t01v01", {
        **each((POLICE, HEAD, EDU, INVITED, ADMIN), see(NAME, NUMBER, hides=(ID_FULL,))),
        **each((COORD, DIRECTOR), see(NAME, NUMBER, ID_FULL))}, default=LIST_NOTHING),
    Row("GET", "/reports/mine", {REPORTER: see(NUMBER, hides=PRIVATE)}, default=LIST_NOTHING),
    Row("GET", "/children/merges", each((COORD, ADMIN, OTHER_COORD), see(hides=PRIVATE))),
    Row("POST", "/children/merges", each((COORD, ADMIN, OTHER_COORD), Expect(422, hides=PRIVATE)),
        body={"kept_id": "999999", "merged_id": "999998", "reason": "重复"}),
    Row("POST", "/children/merges/999999/undo", each((COORD, ADMIN, OTHER_COORD), GONE)),
    # the county's roster (issue 15, part 8): its coordinator (and civil affairs); another county's coordinator
    # gets their own county's, which holds none of these children
    Row("GET", "/roster", {COORD: see(hides=(NAME,)), OTHER_COORD: see(hides=(NAME,))}),
    Row("GET", "/roster/export.xlsx", {COORD: Expect(200), OTHER_COORD: Expect(200)}),
    Row("POST", "/roster/checks", {COORD: Expect(422), OTHER_COORD: Expect(422)}),
    Row("POST", "/roster/imports/999999/confirm", {COORD: GONE, OTHER_COORD: GONE}),
    Row("GET", "/cases/{case}/instances/{instance}/diagram.bpmn",
        {REPORTER: GONE, **each((POLICE, HEAD, EDU, INVITED, COORD, ADMIN, DIRECTOR), see(hides=PRIVATE))}),
    Row("GET", "/attachments/{police_file}", each((POLICE, HEAD, COORD, ADMIN, DIRECTOR), Expect(200))),
    Row("GET", "/attachments/{edu_file}", each((EDU, POLICE, HEAD, COORD, ADMIN, DIRECTOR), Expect(200))),
    Row("GET", "/conferences", {**each((POLICE, HEAD, INVITED, COORD), see(NAME)),
                                **each((REPORTER, UNIT_REPORTER, ADMIN, DESIGNER, CITY, PROVINCE), DENY)},
        default=LIST_NOTHING),
    Row("GET", "/conferences/team", {**each((POLICE, HEAD, INVITED), see(MASKED)),
                                     **each((REPORTER, UNIT_REPORTER, ADMIN, DESIGNER, CITY, PROVINCE), DENY)},
        default=LIST_NOTHING),
    Row("GET", "/conferences/{conference}", each((POLICE, HEAD, EDU, INVITED, COORD, ADMIN, DIRECTOR), see(NAME))),
    Row("GET", "/cases/{case}/conferences/new", {COORD: see(NAME)}),
    Row("GET", "/notifications", each((POLICE, HEAD, EDU, INVITED, DIRECTOR), see(NUMBER)),
        default=see(hides=(NUMBER, NAME))),
    Row("GET", "/notifications/{note}", {POLICE: Expect(302)}, default=GONE),
    # duty cycles (issue 16): directors, supervisors, coordinators of the area; another area's see none of its children
    Row("GET", "/duties/cycles", {**each((COORD, ADMIN, DIRECTOR), Expect(200)),
                                  **each((OTHER_DIRECTOR, OTHER_COORD), see(hides=(NAME, NUMBER)))}),
    Row("GET", "/dashboard/", each((COORD, ADMIN, OTHER_COORD), Expect(200))),
    Row("GET", "/dashboard/tasks?overdue=0", {**each((COORD, ADMIN), see(NUMBER)), OTHER_COORD: see(hides=(NUMBER,))}),
    Row("GET", "/dashboard/export/tasks.csv?overdue=0", {**each((COORD, ADMIN), see(NUMBER)),
                                                         OTHER_COORD: see(hides=(NUMBER,))}),
    Row("GET", "/dashboard/counties", each(OVERSEERS, COUNTS_ONLY)),
    Row("GET", "/dashboard/export/counties.csv", each(OVERSEERS, COUNTS_ONLY)),
    Row("GET", "/audit", {**each((COORD, ADMIN), see(NUMBER)), OTHER_COORD: see(hides=(NUMBER, POLICE_FILE))}),
    # changes: the task's unit works it; the answer is a redirect (or the page again) and nothing else
    Row("POST", "/tasks/{edu_task}/claim", {EDU: Expect(302)}),
    Row("POST", "/tasks/{edu_task}/unclaim", {EDU: Expect(302)}),
    Row("POST", "/tasks/{edu_task}/comments", {EDU: Expect(302)}, body={"body": "已联系班主任。"}),
    Row("POST", "/tasks/{edu_task}/attachments", {EDU: Expect(302)}),
    Row("POST", "/tasks/{edu_task}/complete", {EDU: Expect(422, (NAME,), (TRIAGE_TEXT,))}),
    # a task's draft: the task's workers only (a coordinator reads the task but holds no draft of it)
    Row("PUT", "/tasks/{edu_task}/draft", {EDU: Expect(200)}, body={"fields": {"note": "已联系班主任"}}),
    Row("GET", "/tasks/{edu_task}/draft", {EDU: Expect(200)}),
    Row("DELETE", "/tasks/{edu_task}/draft", {EDU: Expect(200)}),
    Row("POST", "/inbox/reassign", {}, body={"task_ids": "{edu_task}", "to_user_id": "{edu_user}"}),
    Row("POST", "/inbox/claim", {}, body={"task_ids": "{edu_task}"}),
    Row("POST", "/cases/{case}/conferences/new", {COORD: Expect(302)}, body={
        "title": "个案会商", "scheduled_at": "2026-03-20T10:00", "mode": "in_person",
        "convening_unit_id": "{rescue}", "invited": "education"}),
    Row("POST", "/conferences/{conference}/actions", {COORD: Expect(409)}, body=DECISION),
    Row("POST", "/conferences/{conference}/minutes", {COORD: Expect(302)}, body={"minutes": "各部门通报情况。", **DECISION}),
    Row("POST", "/conferences/{conference}/cancel", {COORD: Expect(409)}, body={"reason": "家长已返乡"}),
]

CONFERENCE_BODY = {"case_id": "{case}", "title": "第二次会商", "scheduled_at": "2026-03-21T02:00:00+00:00",
                   "convening_unit_id": "{rescue}", "invited": [{"department_kind": "education"}]}
API = [Row(r.method, r.url, r.expect, r.default, r.body, api=True) for r in [
    Row("GET", "/api/v1/tasks", {**each((POLICE, HEAD, EDU, INVITED, DIRECTOR, COORD), see(NUMBER)),
                                 **each((NO_BASIS, OTHER_TOWNSHIP, OTHER_COUNTY, OTHER_DIRECTOR, OTHER_COORD),
                                        see(hides=(NUMBER,)))}),
    Row("GET", "/api/v1/tasks/{triage}", each((POLICE, HEAD, COORD), see(NUMBER))),
    Row("GET", "/api/v1/tasks/{edu_task}", each((EDU, COORD), see(NUMBER))),
    Row("POST", "/api/v1/tasks/{edu_task}/claim", {EDU: Expect(200)}),
    Row("POST", "/api/v1/tasks/{edu_task}/unclaim", {EDU: Expect(200)}),
    # bulk commands: a unit head's own unit only (the education bureau's liaison is no head)
    Row("POST", "/api/v1/tasks/bulk/claim", {}, body={"tasks": [{"id": "{edu_task}"}]}),
    Row("POST", "/api/v1/tasks/bulk/reassign", {}, body={"tasks": [{"id": "{edu_task}"}], "to_user_id": "{edu_user}"}),
    Row("POST", "/api/v1/tasks/{edu_task}/complete", {EDU: Expect(422)}, body={"data": {}}),
    Row("PUT", "/api/v1/tasks/{edu_task}/draft", {EDU: Expect(200)}, body={"fields": {"note": "已联系班主任"}}),
    Row("GET", "/api/v1/tasks/{edu_task}/draft", {EDU: Expect(200)}),
    Row("DELETE", "/api/v1/tasks/{edu_task}/draft", {EDU: Expect(204)}),
    Row("GET", "/api/v1/cases/{case}", {
        REPORTER: see(NUMBER, hides=PRIVATE), POLICE: see(NAME, NARRATIVE, TRIAGE_TEXT, COMMENT, hides=(ID_FULL,)),
        HEAD: see(NAME, NARRATIVE, TRIAGE_TEXT, COMMENT), EDU: see(NAME, hides=NOT_HARM),
        INVITED: see(NAME, hides=NOT_HARM), COORD: see(NAME, NARRATIVE, TRIAGE_TEXT, COMMENT, ID_FULL),
        DIRECTOR: see(NAME, NARRATIVE, TRIAGE_TEXT, ID_FULL), ADMIN: see(NAME, NARRATIVE, hides=(ID_FULL,))}),
    Row("GET", "/api/v1/children?village=t01v01", {
        **each((POLICE, HEAD, EDU, INVITED, ADMIN), see(NAME, NUMBER, hides=(ID_FULL,))),
        **each((COORD, DIRECTOR), see(NAME, NUMBER, ID_FULL))}, default=LIST_NOTHING),
    Row("GET", "/api/v1/children/{child}", {  # the search's row for one child: no basis is no such child
        **each((POLICE, HEAD, EDU, INVITED, ADMIN), see(NAME, NUMBER, hides=(ID_FULL,))),
        **each((COORD, DIRECTOR), see(NAME, NUMBER, ID_FULL))}, default=GONE),
    Row("GET", "/api/v1/cases?village=t01v01", each((POLICE, HEAD, EDU, INVITED, ADMIN, COORD, DIRECTOR),
                                                    see(NAME, NUMBER, hides=(ID_FULL,))), default=LIST_NOTHING),
    Row("GET", "/api/v1/me/reports", {REPORTER: see(NUMBER, hides=PRIVATE)}, default=LIST_NOTHING),
    Row("GET", "/api/v1/cases/{case}/timeline", {
        POLICE: see(TRIAGE_TEXT), HEAD: see(TRIAGE_TEXT), EDU: see(hides=NOT_HARM), INVITED: see(hides=NOT_HARM),
        COORD: see(TRIAGE_TEXT), DIRECTOR: see(TRIAGE_TEXT), ADMIN: Expect(200)}),
    Row("GET", "/api/v1/cases/{case}/tasks", {
        **each((POLICE, HEAD, EDU, INVITED, COORD, DIRECTOR, ADMIN), see(hides=PRIVATE))}),
    Row("GET", "/api/v1/children/merges", each((COORD, ADMIN, OTHER_COORD), see(hides=PRIVATE))),
    Row("POST", "/api/v1/children/merges", each((COORD, ADMIN, OTHER_COORD), GONE),
        body={"kept_id": 999999, "merged_id": 999998, "reason": "重复"}),
    Row("POST", "/api/v1/children/merges/999999/undo", each((COORD, ADMIN, OTHER_COORD), GONE)),
    Row("GET", "/api/v1/conferences?case_id={case}", each((POLICE, HEAD, EDU, INVITED, COORD, ADMIN, DIRECTOR),
                                                          see(NAME))),
    Row("GET", "/api/v1/conferences", {**each((POLICE, HEAD, INVITED), see(NAME)),
                                       **each((NO_BASIS, EDU, OTHER_TOWNSHIP, OTHER_COUNTY, DIRECTOR, OTHER_DIRECTOR),
                                              see(hides=(NAME,)))}),
    Row("GET", "/api/v1/conferences/{conference}", each((POLICE, HEAD, EDU, INVITED, COORD, ADMIN, DIRECTOR),
                                                        see(NAME))),
    Row("GET", "/api/v1/conferences/team", {**each((POLICE, HEAD, INVITED), see(NUMBER)),
                                            **each((NO_BASIS, EDU, OTHER_TOWNSHIP, OTHER_COUNTY, DIRECTOR,
                                                    OTHER_DIRECTOR), see(hides=(NUMBER,))),
                                            **each((COORD, OTHER_COORD), Expect(422))}),
    Row("POST", "/api/v1/conferences", {COORD: Expect(201)}, body=CONFERENCE_BODY),
    Row("POST", "/api/v1/conferences/{conference}/actions", {COORD: Expect(201)},
        body={"decisions": [{"decision": "学校结对帮扶", "department_kind": "education", "deadline": "5WD"}]}),
    Row("POST", "/api/v1/conferences/{conference}/minutes", {COORD: Expect(409)}, body={"minutes": "通报情况。"}),
    Row("POST", "/api/v1/conferences/{conference}/cancel", {COORD: Expect(409)}, body={"reason": "家长已返乡"}),
    # notifications (issue 16): the caller's own; a note about a case is listed only with need to know of it
    Row("GET", "/api/v1/notifications", each((POLICE, HEAD, EDU, INVITED, DIRECTOR), see(NUMBER)),
        default=see(hides=(NUMBER, NAME))),
    Row("POST", "/api/v1/notifications/{note}/read", {POLICE: see(NUMBER, hides=(NAME,))}, default=GONE),
    Row("GET", "/api/v1/dashboard", each((COORD, ADMIN, OTHER_COORD), Expect(200))),
    Row("GET", "/api/v1/dashboard/overdue", each((COORD, ADMIN, OTHER_COORD), Expect(200))),
    Row("GET", "/api/v1/dashboard/tasks?overdue=false", {**each((COORD, ADMIN), see(NUMBER)),
                                                         OTHER_COORD: see(hides=(NUMBER,))}),
    Row("GET", "/api/v1/dashboard/export/tasks.csv?overdue=false", {**each((COORD, ADMIN), see(NUMBER)),
                                                                    OTHER_COORD: see(hides=(NUMBER,))}),
    Row("GET", "/api/v1/dashboard/counties", each(OVERSEERS, COUNTS_ONLY)),
    Row("GET", "/api/v1/dashboard/export/counties.csv", each(OVERSEERS, COUNTS_ONLY)),
    Row("GET", "/api/v1/children/{child}/record.pdf", {
        POLICE: see(*FULL, TRIAGE_TEXT, hides=(ID_FULL,)), HEAD: see(*FULL, TRIAGE_TEXT, hides=(ID_FULL,)),
        EDU: see(NAME, EDU_FILE, hides=NOT_HARM), INVITED: see(NAME, hides=(*NOT_HARM, EDU_FILE)),
        COORD: see(*FULL, TRIAGE_TEXT, ID_FULL), DIRECTOR: see(*FULL, TRIAGE_TEXT, ID_FULL),
        ADMIN: see(*FULL, TRIAGE_TEXT, hides=(ID_FULL,))}),
    Row("GET", "/api/v1/roster/export.xlsx", {COORD: Expect(200), OTHER_COORD: Expect(200)}),
    Row("POST", "/api/v1/roster/checks", {COORD: Expect(422), OTHER_COORD: Expect(422)}),
    Row("GET", "/api/v1/roster/imports/999999", {COORD: GONE, OTHER_COORD: GONE}),
    Row("POST", "/api/v1/roster/imports/999999/confirm", {COORD: GONE, OTHER_COORD: GONE}),
    Row("GET", "/api/v1/duties/children/{child}", each(MANAGERS, Expect(200))),
    Row("GET", "/api/v1/duties/cycles", each((COORD, ADMIN, DIRECTOR, OTHER_DIRECTOR, OTHER_COORD), Expect(200))),
    Row("POST", "/api/v1/duties/enrolments", each(MANAGERS, Expect(409)),
        body={"child": {"id": "{child}"}, "tags": ["left_behind"], "start_reason": "parents_left_to_work"}),
    Row("POST", "/api/v1/duties/children/{child}/assessments", each(MANAGERS, Expect(201)), body={"reason": "复评"}),
    Row("POST", "/api/v1/duties/dropouts", each((REPORTER, NO_BASIS, EDU, *MANAGERS), Expect(201)),
        body={"child_id": "{child}", "school": "东城镇中心小学", "note": "连续一周未到校"}),
    Row("POST", "/api/v1/duties/entrustments", each(MANAGERS, Expect(201)), body={
        "child_id": "{child}", "caregiver_name": "邻居张某", "relation": "neighbour", "is_relative": False,
        "agreement_signed_on": "2026-03-01", "filed_with_township": True, "filed_with_village": True}),
    Row("POST", "/api/v1/duties/enrolments/{enrolment}/end", each(MANAGERS, Expect(200)),
        body={"end_reason": "parent_returned"}),
]]
ROWS = PAGES + API

NO_CHILD_DATA = {
    "static": "browser assets", "designer.static": "designer assets", "home.index": "deployed processes",
    "home.healthz": "liveness", "api-docs.openapi_json": "the API's description",
    "pwa.service_worker": "the offline worker's script (no user data: tests/web/test_offline_pages.py)",
    "pwa.manifest": "the install manifest (names, icons)", "pwa.offline": "the offline fallback page (no user data)",
    "home.readyz": "readiness: database, Redis, sweep lag, outbox backlog (counts and times)",
    "metrics.metrics": "Prometheus counts by endpoint name, department kind and queue (loopback or a metrics token)",
    "processes.TimerIncidents": "timer incidents (designers, admins): case and instance ids, the timer element and "
                                "its error with quoted data values elided",
    "auth.login": "sign-in", "auth.logout": "sign-out", "auth.set_locale": "language switch",
    "absence.page": "a worker's absence: dates, substitute (tests/tasks/test_absence_week.py)",
    "absence.save": "a worker's absence", "absence.end": "a worker's absence",
    "org.UserAbsence": "a worker's absence: dates and the substitute's name (self or the unit head; 404 to others, "
                       "tests/tasks/test_absence_week.py)",
    **{e: "accounts (admins, of their jurisdiction's people only: tests/org/test_admin_jurisdiction.py)"
       for e in ("admin.users", "admin.new_user", "admin.edit_user", "admin.reset_password")},
    "inbox.save_inbox_view": "a saved filter (a query string)", "inbox.delete_inbox_view": "a saved filter",
    "saved_views.SavedViews": "saved filters (query strings, owners' names) and how many of the caller's own tasks "
                              "each matches",
    "saved_views.SavedViewResource": "a saved filter and the caller's own count",
    "alerts.count": "a number", "alerts.read": "marks the user's own notes read",
    "notifications.ReadAll": "marks the caller's own notes read; answers how many",
    "channels.preferences": "the user's own channels, phone number and robot host",
    "channels.delivery_list": "deliveries: kind, channel, state, error (own; admins their jurisdiction's people's: "
                              "tests/org/test_admin_jurisdiction.py), never the message",
    "notification_channels.Preferences": "the caller's own channels, phone number and robot host",
    "notification_channels.Deliveries": "deliveries: kind, channel, state, error (own; admins their jurisdiction's "
                                        "people's: tests/org/test_admin_jurisdiction.py), never the message",
    "workspace.new_report": "the intake form; answers with the submitter's own new case",
    "cases.Reports": "intake; answers with the submitter's own new case (number and status)",
    "org.Me": "the caller's own account",
    "org.Tokens": "token names and times (own; admins: their jurisdiction's people's, tests/org/test_admin_jurisdiction.py)",
    "org.RevokeToken": "a token's names and times", "admin.end_user_sessions": "accounts (admins)",
    "admin.revoke_user_token": "accounts (admins)",
    **{e: "service accounts: names, client ids, scopes (admins, of their jurisdiction's units: "
          "tests/org/test_service_accounts.py, tests/org/test_admin_jurisdiction.py)"
       for e in ("service_accounts.ServiceAccounts", "service_accounts.RotateSecret", "service_accounts.RevokeAccount",
                 "service_pages.index", "service_pages.rotate", "service_pages.revoke")},
    "oauth.Token": "a service account's token for its client credentials",
    "jobs.FailedJobs": "job ids and errors (admins over every county: tests/org/test_admin_jurisdiction.py)",
    "duties.Frequencies": "cadence rules",
    **{e: "the organisation for other systems' lookups (department kinds, regions, units): codes and names"
       for e in ("lookups.DepartmentKinds", "lookups.Regions", "lookups.RegionResource", "lookups.Units")},
    **{e: "late reports (the county's coordinator): case numbers, reporter types and names, learned and received "
          "times; never the child's name, ID number or the narrative (tests/cases/test_reporting_findings.py)"
       for e in ("workspace.late_reports", "findings.LateReports")},
    **{e: "findings on mandatory reporting (the coordinator; the supervising unit): the reporter's unit, person, "
          "dates, the coordinator's facts about their conduct and the case number; never the child's name, ID "
          "number or the narrative (tests/cases/test_reporting_findings.py, tests/web/test_browser_findings.py)"
       for e in ("workspace.findings", "workspace.new_finding", "workspace.finding_page", "workspace.answer_finding",
                 "findings.Findings", "findings.FindingResource", "findings.FindingAnswer")},
    **{e: "webhook subscribers and their delivery log (admins, of their jurisdiction's counties; `*` only over "
          "every county): ids, event kinds, case ids, statuses, the receiver's answers; never a secret after it "
          "is issued, never a child's data (tests/webhooks, tests/org/test_admin_jurisdiction.py)"
       for e in ("webhooks.Subscriptions", "webhooks.Subscription", "webhooks.Secret", "webhooks.Deliveries",
                 "webhooks.Redeliver", "webhook_admin.subscribers", "webhook_admin.new_subscriber",
                 "webhook_admin.edit_subscriber", "webhook_admin.set_active", "webhook_admin.new_secret",
                 "webhook_admin.redeliver")},
    "inbox.outbox": "an empty frame: the phone's queue is drawn from the device's own storage",
    "inbox.outbox_session": "the caller's own user id and a CSRF token",
    "tasks.Attachments": "the caller's own upload (id, name, size, hash); members of the task's unit only",
    **{e: "process definitions, drafts and sandbox test runs (designers); migration plans name case numbers only"
       for e in ("processes.Specs", "processes.Diff", "processes.Versions", "processes.Version",
                 "processes.VersionFile", "processes.Migrate", "processes.MigrationPlan", "processes.Designers",
                 "processes.Designer", "processes.Drafts", "processes.Draft", "processes.DraftDeploy",
                 "processes.DraftDiff", "processes.DraftElements", "processes.DraftElement", "processes.DraftFiles",
                 "processes.DraftFile", "processes.DraftForm", "processes.TestRuns", "processes.MigrationRollback",
                 "processes.TestRun", "processes.TestRunClock", "processes.TestRunStep", "processes.MakeCurrent")},
    **{e: "the process designer's pages (designers): definitions, forms, sandbox runs, migration plans"
       for e in ("designer.index", "designer.modeler", "designer.deploy", "designer.draft_file", "designer.new_form",
                 "designer.form_editor", "designer.save", "designer.test_runs", "designer.upload",
                 "designer.new_draft", "designer.form_preview", "designer.rollback", "designer.versions",
                 "designer.diff", "designer.edit", "designer.migration_plan", "designer.migrate",
                 "designer.test_run", "designer.test_clock", "designer.test_step", "designer.make_current")},
}
"""Routes that return no child's data, each with the reason; everything else must be in ``ROWS``."""


IDS = ("id", "child_id", "case_id", "convening_unit_id", "to_user_id")


@dataclass
class World:
    ids: dict[str, Any] = field(default_factory=dict)

    def fill(self, value: Any, typed: bool = False) -> Any:
        """``value`` with the world's ids filled in (as JSON numbers where ``typed``, for API bodies)."""
        if isinstance(value, str):
            return value.format(**self.ids)
        if isinstance(value, dict):
            filled = {k: self.fill(v, typed) for k, v in value.items()}
            return {k: (int(v) if typed and k in IDS else v) for k, v in filled.items()}
        if isinstance(value, list):
            return [self.fill(v, typed) for v in value]
        return value


def _unit_reporter() -> None:
    """The second county (c02) with its police liaison and coordinator comes with the demo."""
    from app.org.demo import DEMO_PASSWORD
    from app.org.operations import create_user
    from app.org.queries import user_by_username
    from app.org.roles import Role

    station = user_by_username(POLICE).unit  # type: ignore[union-attr]
    create_user(UNIT_REPORTER, "东城镇派出所 文员", DEMO_PASSWORD, {Role.REPORTER}, station, None)


@pytest.fixture
def world(as_user: Any) -> World:
    """The case above, built through the real operations, committed."""
    from flows.scenarios import SCENARIOS

    from app.cases.models import Case
    from app.conferences.operations import schedule
    from app.duties.operations import enrol
    from app.notifications.models import Notification
    from app.org.queries import user_by_username
    from app.tasks.attachments import add_attachment
    from app.tasks.comments import add_comment
    from app.tasks.models import Task
    from app.workflow import commands as operations

    _unit_reporter()
    db.session.commit()
    created = as_user(REPORTER).post("/api/v1/reports", json=report_payload(id_number=ID_FULL))
    assert created.status_code == 201, created.get_json()
    case = db.session.get(Case, created.get_json()["case_id"])
    assert case is not None
    police = user_by_username(POLICE)

    def task_of(bpmn_id: str) -> Task:
        db.session.expire_all()
        task = db.session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.bpmn_id == bpmn_id))
        assert task is not None, bpmn_id
        return task

    steps = {s.bpmn_id: s.data for s in SCENARIOS["living_alone_parents_reached_good_caring"].steps}
    for step in ("police_triage", "police_living_alone", "police_legal_disposition"):
        operations.complete(task_of(step), police, steps[step])  # type: ignore[arg-type]
        db.session.commit()
    triage, edu_task = task_of("police_triage"), task_of("education_assessment_input")
    police_file = add_attachment(triage, police, POLICE_FILE, io.BytesIO(b"%PDF-1.4 statement"))  # type: ignore[arg-type]
    add_comment(triage, police, COMMENT + "。")  # type: ignore[arg-type]
    edu_file = add_attachment(edu_task, user_by_username(EDU), EDU_FILE,  # type: ignore[arg-type]
                              io.BytesIO("班主任家访记录".encode()))
    rescue = user_by_username("rescue_center_c01").unit_id  # type: ignore[union-attr]
    conference = schedule(case, user_by_username(COORD), title=f"{NAME}个案会商",  # type: ignore[arg-type]
                          scheduled_at=datetime(2026, 3, 12, 6, 0, tzinfo=UTC), convening_unit_id=rescue,
                          invited=[{"department_kind": "justice"}, {"department_kind": "police"}])
    enrolment = enrol(case.child, None, tags=["left_behind"], start_reason="survey")  # type: ignore[arg-type]
    db.session.commit()
    note = db.session.scalars(sa.select(Notification).where(Notification.user_id == police.id)).first()  # type: ignore[union-attr]
    assert note is not None
    return World({"case": case.id, "number": case.number, "triage": triage.id, "edu_task": edu_task.id,
                  "instance": triage.instance_id, "police_file": police_file.id, "edu_file": edu_file.id,
                  "conference": conference.id, "note": note.id, "rescue": rescue, "child": case.child_id,
                  "enrolment": enrolment.id, "edu_user": user_by_username("education_c01_head").id})  # type: ignore[union-attr]


def _text(resp: Any) -> str:
    if resp.is_json and resp.get_data():  # a 204 has no body
        return json.dumps(resp.get_json(), ensure_ascii=False)
    if resp.mimetype == "application/pdf" and resp.get_data().rstrip().endswith(b"%%EOF"):
        # the court-ready record (an attached "PDF" is a few bytes): its text, without the layout's line breaks
        pages = PdfReader(io.BytesIO(resp.get_data())).pages
        return "".join(re.sub(r"\s+", "", p.extract_text() or "") for p in pages)
    data = resp.get_data()
    return data.decode("utf-8-sig", errors="replace")


def _check(row: Row, role: str | None, resp: Any, world: World) -> list[str]:
    expect = row.for_role(role)
    where = f"{role or 'anon'} {row.method} {row.url}"
    body = _text(resp)
    if resp.status_code != expect.status:
        return [f"{where}: {resp.status_code} != {expect.status}"]
    problems = []
    if resp.status_code >= 300:
        leaked = [m for m in (*PRIVATE, world.ids["number"]) if m in body]
        if leaked and resp.status_code in (302, 401, 403, 404):
            problems.append(f"{where}: a refusal carries {leaked}")
        if resp.status_code == 302 and role is None and "/login" not in resp.headers.get("Location", ""):
            problems.append(f"{where}: not sent to the login page")
        if resp.status_code in (401, 403, 404) and row.api and not (resp.is_json and resp.get_json().get("message")):
            problems.append(f"{where}: no JSON message")
    problems += [f"{where}: does not show {world.fill(m)}" for m in expect.shows if world.fill(m) not in body]
    problems += [f"{where}: shows {world.fill(m)}" for m in expect.hides if world.fill(m) in body]
    return problems


_ANON_ADDRESSES = itertools.count()


def _call(app: Flask, page: Any, as_user: Any, row: Row, role: str | None, world: World) -> Any:
    path = world.fill(row.url)
    body = world.fill(row.body, typed=row.api) if row.body is not None else None
    if row.api:
        # anonymous calls each from their own address: refused tokens are throttled per address (tests/org)
        client: Any = app.test_client() if role is None else as_user(role)
        if role is None:
            client.environ_base["REMOTE_ADDR"] = f"198.51.100.{next(_ANON_ADDRESSES) % 250 + 1}"
        if row.method in ("PUT", "DELETE"):
            raw = getattr(client, "client", client)  # an ApiClient's test client, or the anonymous one
            return raw.open(path, method=row.method, json=body, headers=getattr(client, "headers", {}))
        return client.get(path) if row.method == "GET" else client.post(path, json=body if body is not None else {})
    browser = page(role)
    if row.method in ("PUT", "DELETE"):  # the task page's fetch calls: JSON with the CSRF header
        token = browser.csrf()
        browser._forget_cached_user()
        return browser.client.open(path, method=row.method, json=body, headers={"X-CSRFToken": token})
    return browser.get(path) if row.method == "GET" else browser.post(path, data=body or {})


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anon")
def test_need_to_know_matrix(app: Flask, page: Any, as_user: Any, world: World, role: str | None) -> None:
    """Every row of the matrix as one role, pages first, then the API, in order (one world per role)."""
    failures: list[str] = []
    for row in ROWS:
        resp = _call(app, page, as_user, row, role, world)
        failures += _check(row, role, resp, world)
        resp.close()
        db.session.rollback()
    assert not failures, "\n".join(failures)


def _endpoint(app: Flask, method: str, url: str) -> str:
    path = url.split("?")[0]
    for key in ("case", "triage", "edu_task", "instance", "police_file", "edu_file", "conference", "note",
                "child", "enrolment"):
        path = path.replace("{" + key + "}", "1")
    endpoint, _ = app.url_map.bind("localhost").match(path, method)
    return str(endpoint)


def test_every_route_is_in_the_matrix_or_says_why_not(app: Flask) -> None:
    covered = {(_endpoint(app, row.method, row.url), row.method) for row in ROWS}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NO_CHILD_DATA:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (rule.endpoint, method) not in covered:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert missing == [], "routes that may return a child's data but are not in the need-to-know matrix"
    stale = [e for e in NO_CHILD_DATA if e not in {r.endpoint for r in app.url_map.iter_rules()}]
    assert stale == []


def test_matrix_size() -> None:
    """The matrix's size, for the report: every role runs every row."""
    assert len(ROLES) == 18
    assert len(ROWS) * len(ROLES) >= 800
