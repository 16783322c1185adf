"""SpiffWorkflow's own log lines stay out of the app's log: they carried a child's form answers.

SpiffWorkflow 3.2.0 logs each task state change at INFO with the task's data whenever the ``spiff.task``
logger's own level is below INFO (it is NOTSET by default), so an INFO root logger wrote ~7 lines per
completion holding names and notes (and the time to format them).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.engine import parse_bundle, runtime

MINI = (Path(__file__).resolve().parent.parent / "data" / "mini.bpmn").read_text(encoding="utf-8")
SECRET = "张小花的监护人住在村东头"


def test_running_a_process_logs_nothing_from_spiffworkflow(caplog: pytest.LogCaptureFixture) -> None:
    bundle = parse_bundle({"mini.bpmn": MINI})
    caplog.set_level(logging.DEBUG)  # the root as verbose as it gets: only SpiffWorkflow's own levels hold
    # In this process (the pooled engine workers are forks of it and inherit the levels).
    started = runtime._start("spiff-logs", bundle.spec_json, {"note": SECRET}, None)
    [task] = started.ready_tasks
    done = runtime._complete("spiff-logs", bundle.spec_json, started.state, task.id, {"ok": True, "who": SECRET}, None)

    assert done.steps  # the engine did run (and would have logged each state change)
    spiff = [r for r in caplog.records if r.name.startswith("spiff")]
    assert spiff == [], [r.getMessage() for r in spiff[:3]]
    assert not [r for r in caplog.records if SECRET in str(r.__dict__)]
