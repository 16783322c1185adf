"""Scenario catalogue for the ``four_in_one`` process (bpmn/four_in_one/four_in_one.bpmn).

Pure data: tests drive a case through the real service layer by starting the
process with ``Scenario.start`` and completing ``Scenario.steps`` in order (each
step names the user task, the lane it must be in, and form data that is valid
against ``forms/four_in_one/<bpmn_id>.json``). Where the process forks in
parallel, every branch task is listed in one valid order; any order works.

Together the scenarios reach every user task and every gateway branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROCESS_ID = "four_in_one"
END_EVENT = "end_case_closed"


@dataclass(frozen=True)
class Step:
    bpmn_id: str
    lane: str
    data: dict


@dataclass(frozen=True)
class Scenario:
    start: dict
    steps: list[Step]
    ends_with: str
    description: str = ""
    # keys the process data must hold, with these values, once the case is closed
    expect: dict = field(default_factory=dict)


def _start(situation: str, reporter_type: str, child_age: int, n: int) -> dict:
    return {
        "situation": situation,
        "reporter_type": reporter_type,
        "child_age": child_age,
        "case_number": f"LD-2025-{n:04d}",
    }


# ----------------------------------------------------------------- emergency steps

def _triage(situation: str, urgency: str = "urgent") -> Step:
    return Step("police_triage", "police", {
        "situation": situation,
        "urgency": urgency,
        "police_station": "城关派出所",
        "dispatched_at": "2025-03-03T08:20:00+08:00",
        "officers": "王警官、李警官",
        "reporter_contacted": True,
        "triage_notes": "接学校报告后出警核实。",
    })


def _living_alone(parents_reached: bool) -> Step:
    data: dict = {
        "parents_reached": parents_reached,
        "living_alone_measures": ["order_parents_return", "reprimand_parents"],
        "living_alone_notes": "儿童独自在家三天。",
    }
    if parents_reached:
        data.update({
            "living_alone_measures": ["order_parents_return", "appoint_entrusted_guardian", "reprimand_parents"],
            "parents_return_date": "2025-03-05",
            "entrusted_guardian_name": "张某某",
            "entrusted_guardian_relation": "grandparent",
        })
    return Step("police_living_alone", "police", data)


def _guardian_incapable(parents_reached: bool) -> Step:
    return Step("police_guardian_incapable", "police", {
        "incapacity_reason": "serious_illness",
        "parents_reached": parents_reached,
        "care_arrangement": "relative_entrusted" if parents_reached else "pending",
        "relatives_contacted": [
            {"name": "刘某", "relation": "other_relative", "phone": "13800000001",
             "outcome": "agreed" if parents_reached else "unreachable"},
        ],
    })


def _detained_care(relative_found: bool) -> Step:
    """The care arrangement for the children of a parent the police detained (situation ``parent_detained``)."""
    return Step("police_guardian_incapable", "police", {
        "incapacity_reason": "detained",
        "parents_reached": relative_found,
        "care_arrangement": "relative_entrusted" if relative_found else "pending",
        "relatives_contacted": [
            {"name": "孙某", "relation": "grandparent", "phone": "13800000002",
             "outcome": "agreed" if relative_found else "refused"},
        ],
        "guardian_incapable_notes": "父亲被刑事拘留，母亲外出务工。",
    })


TEMPORARY_CARE = Step("police_temporary_care", "police", {
    "temporary_care_placement": "village_committee",
    "escorted_at": "2025-03-03T10:00:00+08:00",
    "temporary_caregiver": "村委会儿童之家",
    "parent_contact_attempts": [
        {"attempted_at": "2025-03-03T09:30:00+08:00", "method": "phone", "result": "no_answer"},
        {"attempted_at": "2025-03-03T11:00:00+08:00", "method": "employer", "result": "reached_will_return"},
    ],
    "parents_notified": True,
})


def _missing_search(found: bool) -> Step:
    data: dict = {
        "search_started_at": "2025-03-03T08:30:00+08:00",
        "search_measures": ["tuanyuan_release", "video_surveillance", "area_search"],
        "child_found": found,
    }
    if found:
        data.update({"found_at": "2025-03-03T15:00:00+08:00", "found_condition": "safe"})
    return Step("police_missing_search", "police", data)


MISSING_CASE_FILED = Step("police_missing_case_filed", "police", {
    "missing_case_number": "A2025030301",
    "missing_case_filed_at": "2025-03-04T08:00:00+08:00",
    "continued_search_measures": ["dna_collection", "cross_region_coordination"],
    "township_notified_missing": True,
})


def _stop_violence(shelter: bool) -> Step:
    return Step("police_stop_violence", "police", {
        "violence_stopped": True,
        "perpetrator_relation": "father",
        "dv_injury_found": shelter,
        "dv_evidence_collected": True,
        "dv_medical_care": "outpatient" if shelter else "not_needed",
        "shelter_needed": shelter,
    })


DV_SHELTER = Step("civil_affairs_dv_shelter", "civil_affairs", {
    "shelter_placement": "rescue_center",
    "sheltered_at": "2025-03-03T12:00:00+08:00",
    "shelter_caseworker": "赵社工",
})

STOP_HARM = Step("police_stop_harm", "police", {
    "harm_type": "unlawful_harm",
    "harm_stopped": True,
    "evidence_collected": True,
    "medical_care": "hospitalised",
    "injury_assessment": "requested",
})


def _disposition(kind: str) -> Step:
    data: dict = {"legal_disposition": kind, "township_notified_at": "2025-03-04T09:00:00+08:00"}
    if kind == "criminal_case_filed":
        data["criminal_case_number"] = "X2025030401"
    if kind == "written_warning":
        data["warning_number"] = "告字〔2025〕12号"
        data["family_education_guidance_ordered"] = True
    return Step("police_legal_disposition", "police", data)


# ----------------------------------------------------------------- assessment steps

def _assessment_inputs(poor: bool = False) -> list[Step]:
    return [
        Step("education_assessment_input", "education", {
            "schooling_status": "truancy" if poor else "in_school",
            "school_name": "城关镇中心小学",
            "boarding": False,
            "psych_concerns": poor,
            "education_support_needed": ["psych_counselling"] if poor else [],
        }),
        Step("civil_affairs_assessment_input", "civil_affairs", {
            "child_categories": ["left_behind", "harmed_by_guardian"] if poor else ["left_behind"],
            "benefits_receiving": ["dibao"] if poor else [],
            "guardianship_check": "inadequate" if poor else "basic",
        }),
        Step("village_home_visit", "village_committee", {
            "home_visit_date": "2025-03-06",
            "child_seen": True,
            "caregiver_present": not poor,
            "living_conditions": "poor" if poor else "basic",
            "caregiver_capacity": "incapable" if poor else "capable",
        }),
    ]


def _assessment(grade: str, trigger: str = "none") -> Step:
    guardianship = {"good": "performs_well", "fair": "performs_basically", "poor": "absent_or_inadequate"}[grade]
    health = {"good": "good", "fair": "concerns", "poor": "serious"}[grade]
    safety = {"good": "safe", "fair": "at_risk", "poor": "in_danger"}[grade]
    return Step("township_assessment", "township", {
        "safety_situation": safety,
        "guardianship_status": guardianship,
        "health_status": health,
        "grade": grade,
        "revocation_trigger": trigger,
        "key_child": grade != "good",
        "assessment_participants": ["civil_affairs", "education", "police", "village_committee"],
        "next_assessment_date": "2025-09-01",
        "assessment_summary": "经会同评估，定级如上。",
    })


CARING_HELP = Step("village_caring_help", "village_committee", {
    "caring_contact_frequency": "weekly",
    "caring_visit_frequency": "monthly",
    "caring_focus": ["daily_life", "study"],
    "caring_plan_start": "2025-03-10",
    "caring_plan": "儿童主任每周电话联系，每月入户走访。",
})

LOVING_HELP = Step("township_loving_help", "township", {
    "loving_measures": ["psych_counselling", "school_follow_up", "parent_contact"],
    "school_contact_teacher": "陈老师",
    "loving_visit_frequency": "biweekly",
    "loving_plan_start": "2025-03-10",
    "loving_plan": "学校心理老师每两周辅导一次，乡镇每两周走访。",
})

PROTECTIVE_HELP = Step("civil_affairs_protective_help", "civil_affairs", {
    "protective_services": ["living_assistance", "schooling", "guardianship_guidance"],
    "case_conference_held": True,
    "protective_responsible_units": ["civil_affairs", "education", "justice"],
    "protective_plan_start": "2025-03-10",
    "protective_plan": "纳入临时救助，劝返复学，对受委托监护人开展监护指导。",
})

# ----------------------------------------------------------------- guardianship intervention

TEMP_GUARDIANSHIP = Step("civil_affairs_temporary_guardianship", "civil_affairs", {
    "placement": "foster_family",
    "temp_guardianship_started_at": "2025-03-10T10:00:00+08:00",
    "temp_caregiver": "寄养家庭孙某",
    "temp_guardianship_services": ["medical_treatment", "psych_counselling", "legal_aid"],
})

COURT_PETITION = Step("civil_affairs_court_petition", "civil_affairs", {
    "petitioner": "civil_affairs",
    "petition_requests": ["revoke_guardianship", "appoint_guardian", "protection_order"],
    "petition_filed_at": "2025-03-20",
    "petition_case_number": "(2025)民特12号",
})

PROCURATORATE_SUPPORT = Step("procuratorate_petition_support", "procuratorate", {
    "procuratorate_action": "support_petition",
    "procuratorial_suggestion_issued": False,
    "procuratorate_document_number": "检支诉〔2025〕3号",
})


def _court(decision: str) -> Step:
    data = {
        "hearing_date": "2025-04-15",
        "court_decision": decision,
        "judgment_number": "(2025)民特12号",
        "court_family_education_order": not decision.startswith("revoke"),
        "judicial_suggestion_issued": False,
    }
    if decision.startswith("revoke_appoint_"):  # another guardian than civil affairs, named in the judgment
        data.update({"appointed_guardian_name": "李外婆", "appointed_guardian_relation": "外祖母"})
    return Step("court_hearing_decision", "court", data)


def _intervention(decision: str) -> list[Step]:
    return [TEMP_GUARDIANSHIP, COURT_PETITION, PROCURATORATE_SUPPORT, _court(decision)]


LONG_TERM = Step("welfare_institution_long_term_guardianship", "welfare_institution", {
    "admitted_at": "2025-04-20",
    "long_term_care_mode": "institutional",
    "schooling_arranged": True,
    "adoption_assessment": "pending",
})


def _placement(kind: str) -> Step:
    """Civil affairs hands the child to the guardian the court appointed (not civil affairs itself)."""
    return Step("civil_affairs_guardian_placement", "civil_affairs", {
        "handed_over_on": "2025-04-20",
        "new_guardian_name": {"relative": "李外婆", "individual": "邻居王某",
                              "village_committee": "柳树村村民委员会"}[kind],
        "new_guardian_kind": kind,
        "new_guardian_phone": "13800000003",
        "living_arrangement": "with_guardian" if kind != "village_committee" else "guardian_home_in_village",
        "schooling_arranged": True,
    })


APPOINTED_FOLLOWUP = Step("village_appointed_guardian_followup", "village_committee", {
    "placed_on": "2025-04-20",
    "followup_visits": [{"visit_date": "2025-04-27", "risk_found": "none", "findings": "新监护人照料良好。"}],
    "guardian_complies": True,
})


def _return_home(protection_order: bool) -> Step:
    return Step("village_return_home_followup", "village_committee", {
        "returned_home_on": "2025-04-20",
        "followup_visits": [
            {"visit_date": "2025-04-27", "risk_found": "none", "findings": "监护人按时接送上学。"},
            {"visit_date": "2025-05-20", "risk_found": "low"},
        ],
        "guardian_complies": True,
        "protection_order_status": "observed" if protection_order else "not_applicable",
    })


def _closure(outcome: str = "routine_care") -> Step:
    return Step("township_case_closure", "township", {
        "closure_outcome": outcome,
        "file_complete": True,
        "closure_reviewed_on": "2025-05-30",
        "supervisor_name": "周督导员",
        "closure_summary": "处置完毕，资料齐全，同意结案。",
    })


# ----------------------------------------------------------------- catalogue

SCENARIOS: dict[str, Scenario] = {
    "living_alone_parents_reached_good_caring": Scenario(
        description="单独居住，联系上父母并确定受委托监护人；训诫；评估较好→关心式帮扶",
        start=_start("living_alone", "school", 9, 1),
        steps=[
            _triage("living_alone"),
            _living_alone(parents_reached=True),
            _disposition("written_warning"),
            *_assessment_inputs(),
            _assessment("good"),
            CARING_HELP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "caring", "lead_department": "village_committee"},
    ),
    "living_alone_parents_unreachable_temporary_care_fair_loving": Scenario(
        description="单独居住，联系不上父母→护送村委会临时照料；评估一般→关爱式帮扶",
        start=_start("living_alone", "village_committee", 12, 2),
        steps=[
            _triage("living_alone"),
            _living_alone(parents_reached=False),
            TEMPORARY_CARE,
            _disposition("education_only"),
            *_assessment_inputs(),
            _assessment("fair"),
            LOVING_HELP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "loving", "lead_department": "township"},
    ),
    "guardian_incapable_relative_entrusted_poor_no_trigger_protective": Scenario(
        description="监护人重病，联系上父母、委托亲属照料；评估差但无撤销情形→保护式帮扶，不进入监护干预",
        start=_start("guardian_incapable", "medical", 7, 3),
        steps=[
            _triage("guardian_incapable"),
            _guardian_incapable(parents_reached=True),
            _disposition("no_fault"),
            *_assessment_inputs(poor=True),
            _assessment("poor", "none"),
            PROTECTIVE_HELP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "protective", "lead_department": "civil_affairs"},
    ),
    "guardian_incapable_parents_unreachable_temporary_care_good_caring": Scenario(
        description="监护缺失且联系不上父母→护送临时照料，随后父母返回；评估较好→关心式帮扶",
        start=_start("guardian_incapable", "hotline_12355", 10, 4),
        steps=[
            _triage("guardian_incapable", urgency="immediate_danger"),
            _guardian_incapable(parents_reached=False),
            TEMPORARY_CARE,
            _disposition("written_warning"),
            *_assessment_inputs(),
            _assessment("good"),
            CARING_HELP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "caring"},
    ),
    "parent_detained_grandparent_entrusted_good_caring": Scenario(
        description="公安机关拘留父亲时登记需照料的子女→委托祖父母照料；评估较好→关心式帮扶",
        start=_start("parent_detained", "police", 8, 41),
        steps=[
            _triage("parent_detained"),
            _detained_care(relative_found=True),
            _disposition("written_warning"),
            *_assessment_inputs(),
            _assessment("good"),
            CARING_HELP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "caring"},
    ),
    "parent_detained_nobody_to_care_temporary_care_good_caring": Scenario(
        description="公安机关羁押父母，亲属拒绝照料→护送临时监护照料；评估较好→关心式帮扶",
        start=_start("parent_detained", "police", 5, 42),
        steps=[
            _triage("parent_detained"),
            _detained_care(relative_found=False),
            TEMPORARY_CARE,
            _disposition("written_warning"),
            *_assessment_inputs(),
            _assessment("good"),
            CARING_HELP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "caring"},
    ),
    "missing_found_fair_loving": Scenario(
        description="失踪，快速查找找到；批评教育；评估一般→关爱式帮扶",
        start=_start("missing", "school", 11, 5),
        steps=[
            _triage("missing", urgency="immediate_danger"),
            _missing_search(found=True),
            _disposition("education_only"),
            *_assessment_inputs(),
            _assessment("fair"),
            LOVING_HELP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "loving"},
    ),
    "missing_not_found_case_filed_closed": Scenario(
        description="失踪，快速查找未找到→立案侦查、持续查找→乡镇审核结案（不评估）",
        start=_start("missing", "other", 6, 6),
        steps=[
            _triage("missing", urgency="immediate_danger"),
            _missing_search(found=False),
            MISSING_CASE_FILED,
            _closure("missing_investigation"),
        ],
        ends_with=END_EVENT,
        expect={"child_found": False},
    ),
    "domestic_violence_no_shelter_good_caring": Scenario(
        description="家庭暴力，已制止、无需庇护；训诫并出具告诫书；评估较好→关心式帮扶",
        start=_start("domestic_violence", "kindergarten", 5, 7),
        steps=[
            _triage("domestic_violence", urgency="immediate_danger"),
            _stop_violence(shelter=False),
            _disposition("written_warning"),
            *_assessment_inputs(),
            _assessment("good"),
            CARING_HELP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "caring"},
    ),
    "domestic_violence_shelter_poor_abuse_court_revokes_long_term": Scenario(
        description="家庭暴力，民政临时庇护；立案侦查；评估差且虐待致严重损害→临时监护、申请撤销、检察支持→法院撤销并指定民政→福利机构长期监护",
        start=_start("domestic_violence", "medical", 8, 8),
        steps=[
            _triage("domestic_violence", urgency="immediate_danger"),
            _stop_violence(shelter=True),
            DV_SHELTER,
            _disposition("criminal_case_filed"),
            *_assessment_inputs(poor=True),
            _assessment("poor", "abuse_or_abandonment_serious_harm"),
            *_intervention("revoke_and_appoint"),
            LONG_TERM,
            _closure("long_term_guardianship"),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "protective", "court_decision": "revoke_and_appoint"},
    ),
    "domestic_violence_poor_court_appoints_relative_placement_followup": Scenario(
        description="家庭暴力；评估差且虐待致严重损害→监护干预→法院撤销并指定其他近亲属担任监护人→民政移交新监护人→儿童主任跟踪回访",
        start=_start("domestic_violence", "medical", 9, 60),
        steps=[
            _triage("domestic_violence", urgency="immediate_danger"),
            _stop_violence(shelter=True),
            DV_SHELTER,
            _disposition("criminal_case_filed"),
            *_assessment_inputs(poor=True),
            _assessment("poor", "abuse_or_abandonment_serious_harm"),
            *_intervention("revoke_appoint_relative"),
            _placement("relative"),
            APPOINTED_FOLLOWUP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "protective", "court_decision": "revoke_appoint_relative"},
    ),
    "domestic_violence_poor_court_appoints_individual_placement_followup": Scenario(
        description="家庭暴力；评估差且虐待致严重损害→监护干预→法院撤销并指定关系密切的其他个人担任监护人→民政移交新监护人→儿童主任跟踪回访",
        start=_start("domestic_violence", "medical", 9, 64),
        steps=[
            _triage("domestic_violence", urgency="immediate_danger"),
            _stop_violence(shelter=True),
            DV_SHELTER,
            _disposition("criminal_case_filed"),
            *_assessment_inputs(poor=True),
            _assessment("poor", "abuse_or_abandonment_serious_harm"),
            *_intervention("revoke_appoint_individual"),
            _placement("individual"),
            APPOINTED_FOLLOWUP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "protective", "court_decision": "revoke_appoint_individual"},
    ),
    "domestic_violence_poor_court_appoints_village_committee_placement_followup": Scenario(
        description="家庭暴力；评估差且虐待致严重损害→监护干预→法院撤销并指定村（居）民委员会担任监护人→民政移交新监护人→儿童主任跟踪回访",
        start=_start("domestic_violence", "medical", 9, 66),
        steps=[
            _triage("domestic_violence", urgency="immediate_danger"),
            _stop_violence(shelter=True),
            DV_SHELTER,
            _disposition("criminal_case_filed"),
            *_assessment_inputs(poor=True),
            _assessment("poor", "abuse_or_abandonment_serious_harm"),
            *_intervention("revoke_appoint_village_committee"),
            _placement("village_committee"),
            APPOINTED_FOLLOWUP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "protective", "court_decision": "revoke_appoint_village_committee"},
    ),
    "other_harm_poor_unattended_danger_court_protection_order_return_home": Scenario(
        description="其他不法侵害，制止、取证、就医；评估差且置于无人监管危险教育不改→监护干预→法院发出人身安全保护令→返家跟踪回访",
        start=_start("other_harm", "social_work", 13, 9),
        steps=[
            _triage("other_harm"),
            STOP_HARM,
            _disposition("public_security_penalty"),
            *_assessment_inputs(poor=True),
            _assessment("poor", "unattended_danger_refuses_correction"),
            *_intervention("protection_order"),
            _return_home(protection_order=True),
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"court_decision": "protection_order"},
    ),
    "living_alone_poor_refuses_duties_court_dismisses_return_home": Scenario(
        description="单独居住，联系不上父母→临时照料；评估差且拒不履行监护职责6个月以上→监护干预→法院驳回→返家跟踪回访",
        start=_start("living_alone", "village_committee", 14, 10),
        steps=[
            _triage("living_alone"),
            _living_alone(parents_reached=False),
            TEMPORARY_CARE,
            _disposition("written_warning"),
            *_assessment_inputs(poor=True),
            _assessment("poor", "refuses_duties_6_months"),
            *_intervention("dismiss"),
            _return_home(protection_order=False),
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"court_decision": "dismiss"},
    ),
    "other_harm_accident_good_with_trigger_ignored_caring": Scenario(
        description="意外伤害；评估较好时即使误选撤销情形也不进入监护干预（撤销情形仅在评估为差时生效）→关心式帮扶",
        start=_start("other_harm", "rescue_institution", 15, 11),
        steps=[
            _triage("other_harm", urgency="general"),
            Step("police_stop_harm", "police", {
                "harm_type": "accidental_injury",
                "harm_stopped": True,
                "evidence_collected": False,
                "medical_care": "outpatient",
                "injury_assessment": "not_needed",
            }),
            _disposition("no_fault"),
            *_assessment_inputs(),
            _assessment("good", "refuses_duties_6_months"),
            CARING_HELP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"help_tier": "caring"},
    ),
    "triage_reclassifies_report_to_domestic_violence": Scenario(
        description="报告时选“其他侵害”，出警研判更正为家庭暴力，按家暴分流；无需庇护；评估一般→关爱式帮扶",
        start=_start("other_harm", "police", 10, 12),
        steps=[
            _triage("domestic_violence", urgency="immediate_danger"),
            _stop_violence(shelter=False),
            _disposition("written_warning"),
            *_assessment_inputs(),
            _assessment("fair"),
            LOVING_HELP,
            _closure(),
        ],
        ends_with=END_EVENT,
        expect={"situation": "domestic_violence", "help_tier": "loving"},
    ),
}
