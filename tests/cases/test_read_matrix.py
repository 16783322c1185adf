"""The read matrix (``app.cases.read_matrix``, docs/security.md "Read matrix"): one test per cell, through the
API and the case page, plus the doc and the processes held to the module.

Each cell's world: a case reported with a narrative of its own; for every part, a completed step of that part
worked by a county finance office (a unit no reader belongs to) carrying a comment whose words name the part;
the reader is the liaison of a fresh unit of the row's kind that worked a step of its own on the case (its
basis). The reader sees the part's words on the page and in the API exactly where the matrix says so, and
always the words of its own unit's step.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import report_payload

from app.cases.read_matrix import READS, Part, render_markdown, step_part, unit_reads
from app.extensions import db
from app.org.kinds import DEPARTMENT_KINDS

ROOT = Path(__file__).resolve().parents[2]
PARTS = [p for p in Part if p is not Part.UNCLASSIFIED]
NARRATIVE = "阅读矩阵报告叙述"
OWN = "本单位自己的步骤记录"
_usernames = itertools.count()


def words(part: Part) -> str:
    return f"阅读矩阵-{part.value}-记录"


def _world(as_user: Any, kind: str) -> tuple[int, str]:
    """(case id, reader's username) as described in the module's docstring."""
    from app.cases.models import Case, TimelineEntry
    from app.common.clock import now
    from app.org.models import Unit
    from app.org.operations import create_unit, create_user
    from app.org.roles import Role
    from app.processes.models import ProcessInstance
    from app.tasks.models import Task, TaskState

    body = report_payload()
    body["report"]["description"] = NARRATIVE
    resp = as_user("reporter_school").post("/api/v1/reports", json=body)
    assert resp.status_code == 201, resp.get_json()
    case = db.session.get(Case, resp.get_json()["case_id"])
    assert case is not None
    instance = db.session.scalar(sa.select(ProcessInstance).where(ProcessInstance.case_id == case.id))
    assert instance is not None
    def unit_of(of_kind: str) -> Unit:
        """The county's unit of that kind (the demo's, or a new one in the case's village)."""
        found = db.session.scalars(sa.select(Unit).where(Unit.kind == of_kind)).first()
        return found if found is not None else create_unit(of_kind, case.region, f"阅读矩阵{of_kind}")

    writer = unit_of("finance" if kind != "finance" else "cyberspace")
    reader_unit = unit_of(kind)
    username = f"reader_{kind}_{next(_usernames)}"
    reader = create_user(username, "阅读矩阵读者", None, {Role.LIAISON}, reader_unit, case.region)
    at = now()

    def step(bpmn_id: str, unit_id: int, text: str) -> None:
        task = Task(instance_id=instance.id, case_id=case.id, engine_task_id=str(uuid.uuid4()), bpmn_id=bpmn_id,
                    name=bpmn_id, unit_id=unit_id, state=TaskState.COMPLETED, created_at=at, completed_at=at,
                    department_kind=db.session.get(type(reader_unit), unit_id).kind)  # type: ignore[union-attr]
        db.session.add(task)
        db.session.flush()
        db.session.add(TimelineEntry(case_id=case.id, at=at, kind="task_comment", summary=text, task_id=task.id,
                                     unit_id=unit_id, detail={"comment_id": task.id}))

    for part in PARTS[1:]:
        bpmn_id = next(b for b in _steps_of(part))
        step(bpmn_id, writer.id, words(part))
    step("reader_own_step", reader_unit.id, OWN)  # its basis (a unit that had a task), unclassified
    db.session.commit()
    del reader
    return case.id, username


def _steps_of(part: Part) -> list[str]:
    from app.cases.read_matrix import STEP_PARTS

    return [b for b, p in STEP_PARTS.items() if p is part]


def _marker(part: Part) -> str:
    return NARRATIVE if part is Part.REPORT else words(part)


CELLS = [(kind, part) for kind in DEPARTMENT_KINDS for part in PARTS]


@pytest.mark.parametrize(("kind", "part"), CELLS, ids=[f"{k}-{p.value}" for k, p in CELLS])
def test_each_cell_through_the_api_and_the_page(app: Flask, as_user: Any, page: Any, kind: str, part: Part) -> None:
    case_id, reader = _world(as_user, kind)
    api = as_user(reader)
    case = api.get(f"/api/v1/cases/{case_id}")
    timeline = api.get(f"/api/v1/cases/{case_id}/timeline?page_size=100")
    shown = page(reader).get(f"/cases/{case_id}")
    assert case.status_code == timeline.status_code == shown.status_code == 200
    api_text = json.dumps([case.get_json(), timeline.get_json()], ensure_ascii=False)
    page_text = shown.get_data(as_text=True)
    expected = unit_reads(kind, part)
    marker = _marker(part)
    assert (marker in api_text) is expected, f"API: {kind} reads {part}: {expected}"
    assert (marker in page_text) is expected, f"page: {kind} reads {part}: {expected}"
    assert OWN in api_text and OWN in page_text  # a unit always reads its own steps


def test_the_doc_is_the_matrix() -> None:
    doc = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- read-matrix:begin -->\n(.*?)<!-- read-matrix:end -->", doc, re.S)
    assert found is not None, "docs/security.md lost its read-matrix markers"
    assert found.group(1) == render_markdown(), "regenerate it: python -m app.cases.read_matrix"


def test_every_step_of_every_process_has_its_part() -> None:
    """A new step is placed in the matrix on purpose: unclassified steps are read by their own unit only."""
    steps = set()
    for path in (ROOT / "bpmn").rglob("*.bpmn"):
        steps |= set(re.findall(r'<bpmn:userTask id="([A-Za-z0-9_]+)"', path.read_text(encoding="utf-8")))
    assert steps, "no processes found"
    assert sorted(s for s in steps if step_part(s) is Part.UNCLASSIFIED) == []


def test_the_lead_township_reads_the_report_and_the_police_handling() -> None:
    """The policy's division of work, in words: the township leads assessment and help (DOMAIN.md, section 3)."""
    assert unit_reads("township", Part.REPORT) and unit_reads("township", Part.POLICE)
    assert not unit_reads("education", Part.POLICE) and not unit_reads("village_committee", Part.REPORT)
    assert set(READS) <= set(DEPARTMENT_KINDS)
