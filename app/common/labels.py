"""Display labels for the domain's codes, in the user's language (``label("situation", code)``).

Codes stay English in the data and the API; pages show these. Process step names and form
labels come from the deployed BPMN and JSON Schema (Chinese) and are shown as written.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

LABELS: dict[str, dict[str, Any]] = {
    "situation": {
        "living_alone": _l("Living alone without guardianship"),
        "guardian_incapable": _l("Guardian incapable or not performing duties"),
        "missing": _l("Missing"),
        "domestic_violence": _l("Suspected domestic violence"),
        "other_harm": _l("Suspected accidental injury or unlawful harm"),
        "parent_detained": _l("Parent detained by the police: children needing care"),
    },
    "reporter_type": {
        "school": _l("School"), "kindergarten": _l("Kindergarten"), "medical": _l("Medical institution"),
        "village_committee": _l("Village / residents' committee"), "social_work": _l("Social-work agency"),
        "rescue_institution": _l("Rescue or welfare institution"), "hotline_12355": _l("12355 hotline"),
        "police": _l("Police"), "other": _l("Other"),
    },
    "tag": {
        "left_behind": _l("Left-behind child"), "orphan": _l("Orphan"),
        "de_facto_unsupported": _l("De-facto unsupported child"), "hiv": _l("HIV-infected"),
        "severely_disabled": _l("Severely disabled"), "seriously_ill": _l("Seriously ill"),
        "low_income": _l("Low-income family"), "harmed_by_guardian": _l("Harmed by guardian"),
        "street_child": _l("Street child"), "emergency_affected": _l("Hit by an emergency or accident"),
    },
    "grade": {"good": _l("Good"), "fair": _l("Fair"), "poor": _l("Poor")},
    "help_tier": {"caring": _l("Caring help"), "loving": _l("Loving help"), "protective": _l("Protective help")},
    "sex": {"male": _l("Male"), "female": _l("Female")},
    "case_status": {"open": _l("Open"), "closed": _l("Closed")},
    "report_stage": {"reported": _l("Reported"), "accepted": _l("Accepted"), "police_handled": _l("Police handled"),
                     "assessed": _l("Assessed"), "help_decided": _l("Help decided"), "closed": _l("Closed")},
    "task_state": {"open": _l("Open"), "completed": _l("Completed"), "cancelled": _l("Cancelled")},
    "instance_status": {"running": _l("Running"), "completed": _l("Completed"), "failed": _l("Failed")},
    "entrustment_status": {"pending_check": _l("Caregiver not yet checked"), "capable": _l("Caregiver capable"),
                           "inadequate": _l("Caregiver not adequate"), "ended": _l("Entrustment ended")},
    "bpmn_type": {
        "startEvent": _l("Start event"), "endEvent": _l("End event"), "intermediateCatchEvent": _l("Waiting event"),
        "intermediateThrowEvent": _l("Signal event"), "boundaryEvent": _l("Boundary event"), "task": _l("Step"),
        "userTask": _l("Task for a person"), "manualTask": _l("Task done by hand"), "scriptTask": _l("Script step"),
        "serviceTask": _l("Automatic step"), "businessRuleTask": _l("Decision table step"),
        "sendTask": _l("Message sent"), "receiveTask": _l("Message awaited"), "callActivity": _l("Called process"),
        "subProcess": _l("Sub-process"), "transaction": _l("Transaction"), "adHocSubProcess": _l("Ad-hoc sub-process"),
        "exclusiveGateway": _l("Choice (one way)"), "parallelGateway": _l("Split or join (all ways)"),
        "inclusiveGateway": _l("Choice (one or more ways)"), "eventBasedGateway": _l("Wait for the first event"),
        "complexGateway": _l("Complex gateway"), "sequenceFlow": _l("Flow"), "lane": _l("Lane"),
        "process": _l("Process"), "participant": _l("Pool"), "cancelled": _l("Withdrawn"), "clock": _l("Time passed"),
    },
    "element_detail": {
        "type": _l("Kind of element"), "name": _l("Name"), "lane": _l("Lane"), "documentation": _l("Documentation"),
        "from": _l("Flow from"), "to": _l("Flow to"), "condition": _l("Condition"), "script": _l("Script"),
        "scriptFormat": _l("Script language"), "event": _l("Event"), "executable": _l("Executable"),
        "property department": _l("Department (overrides the lane)"), "property formJsonSchemaFilename": _l("Form"),
        "property formUiSchemaFilename": _l("Form layout"), "property deadline": _l("Deadline"),
        "property instructions": _l("Instructions"), "property escalation": _l("Escalation ladder"),
        "timer timeDuration": _l("Timer: after"), "timer timeDate": _l("Timer: at"), "timer timeCycle": _l("Timer: every"),
    },
    "role": {
        "liaison": _l("Department liaison"), "unit_head": _l("Unit head"), "child_director": _l("Child director"),
        "child_supervisor": _l("Child supervisor"), "county_coordinator": _l("County coordinator"),
        "process_designer": _l("Process designer"), "admin": _l("Administrator"), "reporter": _l("Reporter"),
        "regional_supervisor": _l("City or province supervisor"),
    },
    "timeline": {
        "report_received": _l("Report received"), "report_added": _l("Report added to the open case"),
        "child_merged": _l("Child's files merged"), "child_unmerged": _l("Merge of child's files undone"),
        "process_started": _l("Process started"),
        "task_created": _l("Task created"), "task_unrouted": _l("Task without a unit"),
        "task_claimed": _l("Task claimed"), "task_unclaimed": _l("Task released"),
        "task_reassigned": _l("Task reassigned"), "task_completed": _l("Task completed"),
        "task_cancelled": _l("Task withdrawn"), "task_comment": _l("Comment"),
        "attachment_added": _l("File attached"), "engine_step": _l("Process step"),
        "case_closed": _l("Case closed"), "task_overdue": _l("Task overdue"),
        "process_cancelled": _l("Process withdrawn"), "conference_scheduled": _l("Case conference scheduled"),
        "conference_held": _l("Case conference held"), "conference_cancelled": _l("Case conference cancelled"),
        "task_escalated": _l("Escalated"), "process_migrated": _l("Moved to a new process version"),
        "process_migration_rolled_back": _l("Moved back to the earlier process version"),
        "file_opened": _l("Care file opened"), "file_reopened": _l("Care file reopened"),
        "enrolled": _l("Entered the care programme"), "left_programme": _l("Left the care programme"),
        "entrustment_recorded": _l("Entrusted care recorded"), "duty_missed": _l("Recurring duty missed"),
        "roster_updated": _l("Updated from the county roster"),
    },
    "duty": {"weekly_contact": _l("Weekly contact by the child director"),
             "home_visit": _l("Home visit by the child director"), "assessment": _l("Child assessment"),
             "entrusted_care_check": _l("Check of entrusted care"), "dropout_return": _l("Dropout back to school"),
             "data_comparison": _l("Education, police and civil affairs data comparison"),
             "annual_report": _l("Township annual progress report"),
             "village_verification": _l("Village committee's quarterly verification")},
    "cycle_status": {"open": _l("Open"), "done": _l("Done on time"), "late": _l("Done late"),
                     "missed": _l("Missed"), "cancelled": _l("Cancelled")},
    "roster_status": {"checked": _l("Checked (dry run)"), "imported": _l("Imported")},
    "roster_outcome": {"create": _l("New child"), "update": _l("Update"), "unchanged": _l("Unchanged"),
                       "refused": _l("Refused")},
    "roster_change": {"name": _l("Name"), "sex": _l("Sex"), "birth_date": _l("Birth date"),
                      "id_number": _l("ID number"), "village": _l("Village"), "school": _l("School"),
                      "tags": _l("Category"), "guardians": _l("Guardians"), "caregiver": _l("Entrusted caregiver"),
                      "enrolment": _l("Enrolment in the care programme")},
    "roster_reason": {
        "missing_value": _l("a required value is empty"), "bad_sex": _l("sex must be 男 or 女"),
        "bad_date": _l("not a date"), "id_as_number": _l("the ID number is stored as a number and lost digits: format the column as text"),
        "id_format": _l("not an ID number (17 digits and a digit or X)"),
        "id_checksum": _l("the ID number's check digit is wrong"),
        "birth_date_mismatch": _l("the birth date differs from the one in the ID number"),
        "sex_mismatch": _l("the sex differs from the one in the ID number"),
        "too_old": _l("too old for the programme (18, or 16 for a left-behind child)"),
        "unknown_category": _l("unknown category"), "needs_sub_type": _l("a child in difficulty needs a sub-type"),
        "unknown_sub_type": _l("unknown sub-type"), "unknown_village": _l("no such township and village"),
        "outside_county": _l("the village is outside your county"), "bad_phone": _l("not a phone number"),
        "unknown_relation": _l("unknown relation"), "guardian_incomplete": _l("a name is missing"),
        "needs_agreement": _l("a caregiver who is no relative needs the agreement's date"),
        "duplicate_in_file": _l("the same child is in the file more than once (rows)"),
        "id_in_other_county": _l("this ID number belongs to a child of another county"),
        "likely_duplicate": _l("same name, birth date and village as an existing child with another ID number"),
        "ambiguous_match": _l("several existing children have this name, birth date and village"),
    },
    "basis": {"county": _l("County oversight"), "jurisdiction": _l("Your jurisdiction"),
              "unit": _l("Your unit has or had a task"), "reporter": _l("You reported it"),
              "conference": _l("Invited to a case conference on it")},
    "conference_status": {"scheduled": _l("Scheduled"), "held": _l("Held"), "cancelled": _l("Cancelled")},
    "conference_mode": {"in_person": _l("In person"), "call": _l("Phone or video call")},
    "conference_role": {"convener": _l("Convener"), "invited": _l("Invited")},
    "action_status": {"pending": _l("Not started"), "open": _l("Open"), "done": _l("Done"),
                      "cancelled": _l("Withdrawn")},
    "action_outcome": {"done": _l("Carried out"), "partly_done": _l("Partly carried out"),
                       "not_possible": _l("Not possible")},
    "notification": {"new_task": _l("New task in my unit"), "task_unrouted": _l("Task without a unit in the county"), "task_reassigned": _l("Task reassigned to me"),
                     "remind": _l("Deadline approaching"), "overdue": _l("Task overdue"),
                     "coordinator": _l("Overdue: reported to the county coordinator"),
                     "escalation": _l("Overdue: escalated further"), "conference": _l("Case conference"),
                     "police_handled": _l("The police have handled a case in my township"),
                     "reporting_finding": _l("A mandatory reporter my unit supervises failed to report in time"),
                     "village_verified": _l("A village in my township filed its quarterly verification"),
                     "report_added": _l("Another report on an open case")},
    "finding_kind": {"failed": _l("Did not report"), "delayed": _l("Reported late")},
    "channel": {"email": _l("Email"), "sms": _l("SMS"), "chat": _l("Work chat")},
    "delivery_state": {"queued": _l("Queued"), "held": _l("Held for quiet hours"), "sent": _l("Sent"),
                       "failed": _l("Failed")},
    "escalation_step": {"remind": _l("Deadline approaching"), "overdue": _l("Overdue"),
                        "coordinator": _l("Reported to the county coordinator"),
                        "escalation": _l("Escalated further")},
    "relation": {"father": _l("Father"), "mother": _l("Mother"), "grandparent": _l("Grandparent"),
                 "grandmother": _l("Grandmother"), "grandfather": _l("Grandfather"), "other": _l("Other")},
}


def bpmn_type(kind: str | None) -> str:
    """A BPMN element type in words, from either spelling: the XML's ``userTask`` or the engine's ``UserTask``."""
    if not kind:
        return ""
    kind = kind.removeprefix("bpmn:")
    return label("bpmn_type", kind[:1].lower() + kind[1:])


def label(group: str, code: Any) -> str:
    """The label of ``code`` in ``group``, or the code itself when there is none."""
    if code is None:
        return ""
    value = LABELS.get(group, {}).get(str(code))
    return str(value) if value is not None else str(code)


def options(group: str) -> list[tuple[str, str]]:
    return [(code, str(text)) for code, text in LABELS[group].items()]
