"""The case timeline reads in the reader's language: sentences composed from the entry's kind and detail."""

from __future__ import annotations

import re
from typing import Any

from flows.scenarios import SCENARIOS
from webhelpers import first_open_task, open_case

from app.cases.models import TimelineEntry
from app.cases.timeline_text import timeline_text

FIRST = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0]


def _timeline_cells(html: str) -> list[str]:
    table = re.search(r'<table class="list timeline">(.*?)</table>', html, re.S)
    assert table
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", table.group(1), re.S)]


def test_the_timeline_follows_the_readers_language(page: Any, as_user: Any, clock: Any) -> None:
    case_id = open_case(as_user)["case_id"]
    task = first_open_task(case_id)
    clock.advance(hours=2)  # the police triage (PT1H) is overdue
    from workers.jobs import sweep

    sweep()
    clock.advance(minutes=5)
    done = as_user("police_t01").post(f"/api/v1/tasks/{task.id}/complete", json={"data": FIRST.data})
    assert done.status_code == 200, done.get_json()

    police = page("police_t01")
    chinese = " ".join(_timeline_cells(police.get(f"/cases/{case_id}").get_data(as_text=True)))
    assert "学校报告：脱离监护单独居住生活" in chinese and "report from" not in chinese
    assert f"{task.name}: 已逾期" in chinese and f"{task.name}（逾期完成）" in chinese
    assert "(overdue)" not in chinese

    police.post("/locale", {"locale": "en"})
    english = " ".join(_timeline_cells(police.get(f"/cases/{case_id}").get_data(as_text=True)))
    assert "From School: Living alone without guardianship" in english
    assert f"{task.name}: Overdue" in english and f"{task.name}, completed late" in english


def test_entries_without_the_detail_fall_back_to_their_summary() -> None:
    old = TimelineEntry(kind="task_completed", summary="警情研判 (overdue)", detail={"bpmn_id": "police_triage"})
    assert timeline_text(old) == "警情研判 (overdue)"
    assert timeline_text({"kind": "engine_step", "summary": "帮扶层级判定", "detail": {}}) == "帮扶层级判定"
