"""Process versions per county: one county runs its own version (here a longer first police deadline) while
the other keeps the deployment's; a county without its own starts on the deployment's (issue 13)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from deadline_helpers import open_case, tasks_of

from app.audit.models import AuditEvent
from app.common.errors import Invalid
from app.config import ROOT as APP_ROOT
from app.extensions import db
from app.org.queries import region_by_code
from app.processes.operations import deploy_folder, make_current, release_county
from app.processes.queries import county_versions, current_spec
from app.processes.versions import history

FOUR_IN_ONE = APP_ROOT / "bpmn" / "four_in_one"


def _slower_police(tmp_path: Path) -> Path:
    """four_in_one with the first police step due in 4 hours instead of 1 (a county's own deadline)."""
    folder = tmp_path / "four_in_one"
    shutil.copytree(FOUR_IN_ONE, folder)
    bpmn = folder / "four_in_one.bpmn"
    text = bpmn.read_text(encoding="utf-8")
    triage = text.index('id="police_triage"')
    at = text.index('name="deadline" value="PT1H"', triage)
    bpmn.write_text(text[:at] + 'name="deadline" value="PT4H"' + text[at + len('name="deadline" value="PT1H"'):],
                    encoding="utf-8")
    return folder


def _region_id(code: str) -> int:
    region = region_by_code(code)
    assert region is not None
    return region.id


def test_a_county_runs_its_own_version_and_the_other_the_deployments(county: Any, tmp_path: Path) -> None:
    default = current_spec("four_in_one")
    assert default is not None
    own = deploy_folder(_slower_police(tmp_path), APP_ROOT / "forms", note="邻县：出警时限4小时", county="c02")
    db.session.commit()
    assert own.version == default.version + 1
    assert current_spec("four_in_one") == default  # the deployment's pointer did not move
    assert current_spec("four_in_one", _region_id("t21v01")) == own
    assert current_spec("four_in_one", _region_id("t01v01")) == default
    assert county_versions("four_in_one") == {"c02": own.id}
    rows = {r["version"]: r for r in history("four_in_one")}
    assert rows[own.version]["counties"] == ["c02"] and not rows[own.version]["current"]
    assert rows[default.version]["current"] and rows[default.version]["counties"] == []

    first, second = open_case("four_in_one", "t01v01"), open_case("four_in_one", "t21v01")
    [a], [b] = tasks_of(first.id), tasks_of(second.id)
    assert (a.bpmn_id, b.bpmn_id) == ("police_triage", "police_triage")
    assert a.due_at - a.created_at == timedelta(hours=1)
    assert b.due_at - b.created_at == timedelta(hours=4)
    assert db.session.query(AuditEvent).filter_by(action="process_deploy", object_id=str(own.id)).one().detail[
        "county"] == "c02"

    # Back to the deployment's version for that county's new cases; running cases keep theirs.
    assert release_county("four_in_one", "c02", None, "统一时限") is True
    db.session.commit()
    assert current_spec("four_in_one", _region_id("t21v01")) == default
    third = open_case("four_in_one", "t21v02")
    [c] = tasks_of(third.id)
    assert c.due_at - c.created_at == timedelta(hours=1)
    assert tasks_of(second.id)[0].due_at - tasks_of(second.id)[0].created_at == timedelta(hours=4)
    # and "make current" for one county points it at an existing version again
    assert make_current(own, None, "再试行", county="c02") is True
    assert make_current(own, None, "再试行", county="c02") is False
    assert current_spec("four_in_one", _region_id("t21v01")) == own


@pytest.mark.parametrize("code", ["t21", "m01", "nowhere", ""])
def test_only_a_county_can_have_its_own_version(county: Any, code: str) -> None:
    spec = current_spec("four_in_one")
    assert spec is not None
    with pytest.raises(Invalid):
        make_current(spec, None, county=code)


def test_the_cli_deploys_a_folder_for_one_county(app: Any, county: Any, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    out = runner.invoke(args=["processes", "deploy", "--county", "c02", "--folder", str(_slower_police(tmp_path))])
    assert out.exit_code == 0, out.output
    assert current_spec("four_in_one", _region_id("t21v01")) != current_spec("four_in_one")
    refused = runner.invoke(args=["processes", "deploy", "--county", "m01", "--folder", str(FOUR_IN_ONE)])
    assert refused.exit_code == 1 and "not a county" in refused.output
