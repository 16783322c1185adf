"""The recurring duties Liandong runs, their processes, and the default frequencies.

Defaults (each with the clause it comes from; ``docs/conferences-and-duties.md`` has the table):

* weekly contact: weekly for every child (003 二（三）8 “儿童主任至少每周联系一次”);
* home visit: monthly (003 二（三）8 “每月入户走访一次”), semimonthly for key children (“加大走访频次”);
* assessment: semiannual (004 三（二）4 “评估每年进行2次，重点对象随时评估”);
* entrusted-care follow-up: monthly while a caregiver is found inadequate (003 二（二）5);
* data comparison: quarterly, county level, led by civil affairs (003 二（三）10 “至少每季度进行一次比对分析”);
* township progress report: yearly, opened 1 October, due 1 November (003 三（二） “每年11月1日前”);
* village verification: quarterly, each village with children in the programme, filed to the township
  (001 二（一）6 “每季度核实困境儿童家庭情况、监护情况、就学情况等基本信息，并向乡镇（开发区）报告”).

A county overrides frequencies in the ``duty_frequency`` table; rows there replace
the default for the same (duty, selector), and ``none`` switches a rule off.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.cases.models import ChildTag

from .models import KeyReason


@dataclass(frozen=True)
class DutyDef:
    code: str
    process_key: str
    """The folder under ``bpmn/`` (and the process id) started for each cycle."""
    name_zh: str
    subject: str
    """``child``, ``village``, ``township`` or ``county``."""
    recurring: bool
    """Started by the calendar (``start_due_duties``) rather than by an operation."""
    done_step: str | None = None
    """The step whose completion fulfils the duty (later steps are someone else's follow-up); None: the end."""


DUTIES: dict[str, DutyDef] = {d.code: d for d in (
    DutyDef("weekly_contact", "duty_weekly_contact", "儿童主任每周联系", "child", True),
    DutyDef("home_visit", "duty_home_visit", "儿童主任入户走访", "child", True),
    DutyDef("assessment", "duty_assessment", "儿童评估", "child", True),
    DutyDef("entrusted_care_check", "duty_entrusted_care", "委托照护核查", "child", False),
    DutyDef("dropout_return", "duty_dropout_return", "辍学劝返复学", "child", False),
    DutyDef("data_comparison", "duty_data_comparison", "教育公安民政数据比对分析", "county", True,
            done_step="comparison_analysis"),
    DutyDef("annual_report", "duty_annual_report", "乡镇年度工作进展报告", "township", True,
            done_step="township_progress_report"),
    DutyDef("village_verification", "duty_village_verification", "村（居）委会季度核实", "village", True,
            done_step="village_quarterly_verification"),
)}

CHILD_CALENDAR_DUTIES = ("weekly_contact", "home_visit", "assessment")
"""Per-child duties whose frequency the county configures per tag, grade or key status."""

DEFAULT_FREQUENCIES: dict[tuple[str, str], str] = {
    ("weekly_contact", "default"): "weekly",
    ("home_visit", "default"): "monthly",
    ("home_visit", "key"): "semimonthly",
    ("assessment", "default"): "semiannual",
}
"""(duty, selector) -> cadence. Selectors: ``default``, ``key``, ``tag:<child tag>``, ``grade:<grade>``."""

ENTRUSTED_CARE_FOLLOW_UP = "monthly"
DATA_COMPARISON_CADENCE = "quarterly"
VILLAGE_VERIFICATION_CADENCE = "quarterly"

ANNUAL_REPORT_OPENS = (10, 1)
"""(month, day): the township's progress-report task opens on 1 October..."""
ANNUAL_REPORT_DUE = (11, 1)
"""...and is due at 00:00 on 1 November, county time (“每年11月1日前”)."""

KEY_TAGS = {ChildTag.SEVERELY_DISABLED.value, ChildTag.SERIOUSLY_ILL.value, ChildTag.HARMED_BY_GUARDIAN.value,
            ChildTag.DE_FACTO_UNSUPPORTED.value}
"""Tags that make a child a key child on their own (000 附件3 第4项: 患病、残疾; 监护情况较差)."""

KEY_REASONS = {r.value for r in KeyReason}
