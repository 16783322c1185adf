"""The read matrix: which parts of a case a unit reads, by its department kind (docs/security.md, "Read matrix").

Need-to-know has two questions: may this user see the case at all (``access.access_basis``), and if so, which
of its words. This module answers the second one for units, as data: ``READS`` maps a department kind to the
parts of a case its liaisons and head read, and ``STEP_PARTS`` says which part each step's free text (and its
attachments, its comments) belongs to. ``CaseAccess`` consults it; ``docs/security.md`` holds the same table,
rendered from here (``render_markdown``) and held equal to it by ``tests/cases/test_read_matrix.py``.

Why these cells (DOMAIN.md, section 3; seeds 000 and 002): the police receive the report and hand their handling
to the township ("依法处置并通报乡镇"); the township leads assessment and help and reviews closure, so it reads
the report and the police handling; the units that act on harm (civil affairs, procuratorate, court, rescue
centre, welfare institution) decide on guardianship and read everything; education and the village committee
help with assessment and the help plan and read those steps, not the report's details of abuse nor the police
notes; every other unit (a school, a clinic, an invited bureau) reads only the steps its own unit worked.
County coordinators and admins, and the child directors / supervisors of the case's region, read every part.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from app.org.kinds import DEPARTMENT_KINDS


class Part(StrEnum):
    """A part of a case whose words are read by some units and not others."""

    REPORT = "report"
    """The report's narrative (and a later report's), conference decisions' wording."""
    POLICE = "police"
    """The police handling: triage, on-scene handling, legal disposition."""
    ASSESSMENT = "assessment"
    """Assessment inputs (schooling, guardianship, home visit), the township's grading."""
    HELP = "help"
    """Help plans and follow-up visits, a conference decision being carried out."""
    GUARDIANSHIP = "guardianship"
    """Shelter, temporary guardianship, the petition, the court's decision, long-term guardianship."""
    CLOSURE = "closure"
    """The township's closure review."""
    CONFERENCE = "conference"
    """A unit's preparation for a case conference."""
    DUTY = "duty"
    """The recurring duties of the care programme: contacts, visits, checks, lists, annual reports."""
    UNCLASSIFIED = "unclassified"
    """A step no process in ``bpmn/`` names (a retired or foreign definition): its own unit and the county only."""


PART_LABELS: dict[Part, str] = {
    Part.REPORT: "report narrative", Part.POLICE: "police handling", Part.ASSESSMENT: "assessment",
    Part.HELP: "help plan, follow-up", Part.GUARDIANSHIP: "guardianship, court", Part.CLOSURE: "closure",
    Part.CONFERENCE: "conference preparation", Part.DUTY: "care duties", Part.UNCLASSIFIED: "unclassified steps",
}

STEP_PARTS: dict[str, Part] = {
    **dict.fromkeys(("police_triage", "police_living_alone", "police_guardian_incapable", "police_missing_search",
                     "police_stop_harm", "police_stop_violence", "police_temporary_care",
                     "police_missing_case_filed", "police_legal_disposition"), Part.POLICE),
    **dict.fromkeys(("education_assessment_input", "civil_affairs_assessment_input", "village_home_visit",
                     "township_assessment", "assessment_visit", "assessment_grading"), Part.ASSESSMENT),
    **dict.fromkeys(("village_caring_help", "township_loving_help", "civil_affairs_protective_help",
                     "village_return_home_followup", "village_appointed_guardian_followup", "carry_out_decision"),
                    Part.HELP),
    **dict.fromkeys(("civil_affairs_dv_shelter", "civil_affairs_temporary_guardianship",
                     "civil_affairs_court_petition", "procuratorate_petition_support", "court_hearing_decision",
                     "welfare_institution_long_term_guardianship", "civil_affairs_guardian_placement"), Part.GUARDIANSHIP),
    "township_case_closure": Part.CLOSURE,
    "prepare_for_conference": Part.CONFERENCE,
    **dict.fromkeys(("home_visit", "weekly_contact", "caregiver_check", "notify_parents", "education_persuade",
                     "township_persuade", "village_persuade", "education_return_outcome",
                     "township_progress_report", "civil_affairs_review", "civil_affairs_list", "education_list",
                     "police_list", "comparison_analysis", "difference_followup", "village_quarterly_verification"),
                    Part.DUTY),
}
"""Every user task of every process in ``bpmn/`` (a test holds it complete), by the part its words belong to."""

_EVERYTHING = frozenset(Part) - {Part.UNCLASSIFIED}

READS: dict[str, frozenset[Part]] = {
    "police": _EVERYTHING,
    "civil_affairs": _EVERYTHING,
    "procuratorate": _EVERYTHING,
    "court": _EVERYTHING,
    "rescue_center": _EVERYTHING,
    "welfare_institution": _EVERYTHING,
    "township": _EVERYTHING,
    "education": frozenset({Part.ASSESSMENT, Part.HELP}),
    "village_committee": frozenset({Part.ASSESSMENT, Part.HELP, Part.DUTY}),
}
"""Department kind -> the parts its liaisons and head read on a case they have a unit or conference basis on.
A kind not named here reads only its own unit's steps (``NOTHING``)."""

NOTHING: frozenset[Part] = frozenset()


def step_part(bpmn_id: str | None) -> Part:
    return STEP_PARTS.get(bpmn_id or "", Part.UNCLASSIFIED)


def unit_reads(kind: str | None, part: Part) -> bool:
    """Whether a unit of ``kind`` reads ``part`` of a case it has a basis on (beyond its own steps)."""
    return part in READS.get(kind or "", NOTHING)


def rows() -> list[tuple[str, frozenset[Part]]]:
    """Every department kind with the parts it reads, the named kinds first (the doc's order)."""
    named = [(kind, READS[kind]) for kind in READS]
    return named + [(kind, NOTHING) for kind in DEPARTMENT_KINDS if kind not in READS]


COLUMNS: tuple[Part, ...] = tuple(part for part in Part if part is not Part.UNCLASSIFIED)
"""The parts a reader may be granted (an unclassified step is granted to nobody beyond its unit)."""


def render_markdown(columns: Iterable[Part] = COLUMNS) -> str:
    """The matrix as the Markdown table in docs/security.md (between its ``read-matrix`` markers)."""
    cols = list(columns)
    lines = ["| department kind | " + " | ".join(PART_LABELS[p] for p in cols) + " |",
             "|---|" + "---|" * len(cols),
             "| county, jurisdiction (coordinators, admins, supervisors, directors) | "
             + " | ".join("✓" for _ in cols) + " |"]
    for kind, parts in rows():
        label = f"{DEPARTMENT_KINDS[kind].name_en} (`{kind}`)"
        lines.append(f"| {label} | " + " | ".join("✓" if p in parts else "—" for p in cols) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # regenerate the table in docs/security.md
    print(render_markdown(), end="")
