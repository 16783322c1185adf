"""A stamped start (``engine.prepare_start`` + ``StartTemplate.stamp``) is the start the engine would make.

Compared field by field with a real ``start_instance`` of the same data: the stored state (task ids
numbered by first appearance and state-change times left out, the only things two real starts of the
same data differ in), the process data, the ready tasks with their evaluated properties, the timers and
the steps. Then the stamped state is loaded back and worked like any other.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app import engine
from app.engine.stamping import normalized

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
COMMON = {"duty": "weekly_contact", "duty_name": "儿童主任每周联系", "period": "2026-W10",
          "duty_deadline": "PT561600S", "duty_due_local": "2026-03-09 00:00", "cadence": "weekly"}
CHILDREN = [{"case_number": f"LD-2026-{n:06d}", "subject": name}
            for n, name in enumerate(["王小明", "李\"引号\"\\斜杠", "张三\n换行", "赵四 ✓"], 1)]


def _bundle(key: str) -> tuple[str, dict[str, Any]]:
    files = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "bpmn" / key).iterdir()}
    parsed = engine.parse_bundle(files)
    return f"stamp-test-{key}", parsed.spec_json


def _without_ids(snap: engine.InstanceSnapshot) -> tuple[Any, ...]:
    return ([(t.bpmn_id, t.name, t.lane, t.properties) for t in snap.ready_tasks],
            [(t.bpmn_id, t.name, t.due_at, t.error) for t in snap.timers],
            [(s.bpmn_id, s.name, s.kind, s.lane) for s in snap.steps],
            snap.completed, snap.end_event, snap.serializer_version, snap.data)


@pytest.mark.parametrize("key", ["duty_weekly_contact", "duty_home_visit", "duty_assessment"])
def test_a_stamped_start_equals_a_normal_start(key: str) -> None:
    spec_key, spec = _bundle(key)
    template = engine.prepare_start(spec_key, spec, COMMON, CHILDREN[:2], now=AT)
    assert template is not None, "the shipped duty processes read neither the case number nor the subject"
    for child in CHILDREN[2:] + CHILDREN[:1]:
        stamped = template.stamp(child)
        real = engine.start_instance(spec_key, spec, {**COMMON, **child}, now=AT)
        assert json.loads(normalized(stamped.state)) == json.loads(normalized(real.state))
        assert _without_ids(stamped) == _without_ids(real)
        state = json.loads(stamped.state)
        assert [t.id for t in stamped.ready_tasks] == [t for t in state["tasks"]
                                                       if state["tasks"][t]["state"] == 16]  # READY
        for task_id in state["tasks"]:
            assert uuid.UUID(task_id).version == 4
        worked = engine.complete_task(spec_key, spec, stamped.state, stamped.ready_tasks[0].id, _answers(key),
                                      now=AT)
        assert worked.state != stamped.state


def test_every_stamp_gets_its_own_task_ids() -> None:
    spec_key, spec = _bundle("duty_weekly_contact")
    template = engine.prepare_start(spec_key, spec, COMMON, CHILDREN[:2], now=AT)
    assert template is not None
    ids = [set(json.loads(template.stamp(CHILDREN[0]).state)["tasks"]) for _ in range(50)]
    assert len(set().union(*ids)) == 50 * len(ids[0])


def test_no_template_when_the_process_could_read_a_varying_value() -> None:
    spec_key, spec = _bundle("duty_weekly_contact")
    # ``duty_deadline`` is read by the task's deadline property: it may not vary per instance.
    samples = [{"duty_deadline": "PT100S"}, {"duty_deadline": "PT200S"}]
    assert engine.prepare_start(spec_key, spec, {}, samples, now=AT) is None
    # Two instances with the same value prove nothing about that key.
    same = [{"case_number": "LD-1", "subject": "甲"}, {"case_number": "LD-1", "subject": "乙"}]
    assert engine.prepare_start(spec_key, spec, COMMON, same, now=AT) is None
    assert engine.prepare_start(spec_key, spec, COMMON, CHILDREN[:1], now=AT) is None


def _answers(key: str) -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "duties"))
    from duty_helpers import FORM_DATA

    step = {"duty_weekly_contact": "weekly_contact", "duty_home_visit": "home_visit",
            "duty_assessment": "assessment_visit"}[key]
    return FORM_DATA[step]


def test_stamped_task_ids_are_version_4_uuids_as_spiffworkflow_writes_them() -> None:
    import uuid

    from app.engine.stamping import uuid4_texts

    texts = uuid4_texts(500)
    assert len(set(texts)) == 500
    for text in texts:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
