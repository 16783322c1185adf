"""``flask org import FILE``: a real county's regions and units without ``flask demo load`` (docs/organisation.md).

The shipped example file is imported as an operator would on a new installation; a second run changes nothing,
a changed name is a rename, a file with any problem changes nothing and names every problem's line, and each
change is an audit row written by the operation (no acting user, address ``cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.extensions import db
from app.org.jurisdiction import jurisdiction
from app.org.models import Region, Unit, User
from app.org.queries import region_by_code

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "organisation.csv"
HEADER = "type,code,name,parent,kind\n"


def _counts(app: Any) -> tuple[int, ...]:
    """Regions, units and audit rows."""
    with app.app_context():
        return tuple(int(db.session.scalar(sa.select(sa.func.count()).select_from(m)) or 0)
                     for m in (Region, Unit, AuditEvent))


def _audited(app: Any, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                                       .order_by(AuditEvent.id)))


def test_the_example_file_builds_a_county_once_and_its_first_admin_can_manage_it(app: Any) -> None:
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["org", "import", str(EXAMPLE), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: 27 created, 0 renamed, 0 unchanged" in dry.output and _counts(app) == (0, 0, 0)

    first = runner.invoke(args=["org", "import", str(EXAMPLE)])
    assert first.exit_code == 0, first.output
    assert "line 14: create unit civil_affairs at c371722 单县民政局" in first.output
    assert first.output.endswith("27 created, 0 renamed, 0 unchanged\n")
    assert _counts(app) == (8, 19, 27)
    with app.app_context():
        township = region_by_code("t37172201")
        assert township is not None and township.parent is not None and township.parent.code == "c371722"
        village_unit = db.session.scalar(sa.select(Unit).join(Region).where(Region.code == "t37172201v001"))
        assert village_unit is not None and village_unit.name == "王庄村村（居）民委员会"  # the demo's naming
    created = _audited(app, "region_create") + _audited(app, "unit_create")
    assert len(created) == 27 and {(e.user_id, e.address) for e in created} == {(None, "cli")}
    county_row = next(e for e in created if e.detail.get("code") == "c371722")
    assert county_row.detail == {"code": "c371722", "level": "county", "parent": "m3717", "title": "单县"}

    again = runner.invoke(args=["org", "import", str(EXAMPLE)])
    assert again.exit_code == 0 and again.output == "0 created, 0 renamed, 27 unchanged\n"
    assert _counts(app) == (8, 19, 27)

    made = runner.invoke(args=["users", "create-admin", "admin_shanxian", "--region", "c371722"],
                         input="long-enough-1\nlong-enough-1\n")
    assert made.exit_code == 0, made.output
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin_shanxian"))
        assert admin is not None
        assert len(jurisdiction(admin).regions) == 1 + 2 + 3  # the county, its townships and villages


def test_a_changed_name_is_renamed_and_audited_nothing_else_changes(app: Any, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["org", "import", str(EXAMPLE)]).exit_code == 0
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(EXAMPLE.read_text(encoding="utf-8").replace("township,t37172201,东岭镇,", "township,t37172201,东岭街道,")
                       .replace("单县民政局", "单县民政局（未成年人保护中心）"), encoding="utf-8-sig")  # Excel's BOM
    out = runner.invoke(args=["org", "import", str(renamed)])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [
        "line 9: rename township t37172201 东岭镇 → 东岭街道",
        "line 14: rename unit civil_affairs at c371722 单县民政局 → 单县民政局（未成年人保护中心）",
        "line 24: rename unit township at t37172201 东岭镇乡镇人民政府 → 东岭街道乡镇人民政府",  # named after its region
        "0 created, 3 renamed, 24 unchanged"]
    assert _counts(app) == (8, 19, 30)
    [region_row] = _audited(app, "region_update")
    assert region_row.detail == {"code": "t37172201", "before": {"title": "东岭镇"}, "after": {"title": "东岭街道"}}
    assert len(_audited(app, "unit_update")) == 2
    assert runner.invoke(args=["org", "import", str(renamed)]).output == "0 created, 0 renamed, 27 unchanged\n"


def test_a_file_with_any_problem_changes_nothing_and_names_every_line(app: Any, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["org", "import", str(EXAMPLE)]).exit_code == 0
    before = _counts(app)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\n".join([
        "county,c9001,新县,m3717,",                     # 2: fine on its own, yet not written: the file is refused
        "township,t9001,新镇,,",                        # 3: no parent
        "village,t9001v01,新村,c9001,",                 # 4: a village under a county
        "unit,,市民政局,m3717,civil_affairs",            # 5: a unit above a county
        "unit,,,t37172201,spaceship",                   # 6: no such kind
        "township,t37172201,东岭镇,c9001,",              # 7: stored under c371722: no moves
        "county,t37172202,西河乡,m3717,",                # 8: stored as a township: no level changes
        "province,bad code!,x,,",                       # 9: not a code
        "unit,,x,t9999,police",                         # 10: no such region
        "county,c9001,again,m3717,",                    # 11: twice
        "village,t9002v01,\x07村,t37172201,",            # 12: a control character
    ]) + "\n", encoding="utf-8")
    out = runner.invoke(args=["org", "import", str(bad)])
    assert out.exit_code == 1
    lines = out.output.splitlines()
    assert lines[0] == f"refused: {bad} has 10 problem(s); nothing was changed"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [f"line {n}" for n in range(3, 13)]
    assert "a township needs its parent (county)" in lines[1] and "cannot sit under c9001, a county" in lines[2]
    assert "moves no region" in out.output and "changes no level" in out.output and "already on line 2" in out.output
    assert _counts(app) == before
    with app.app_context():
        assert region_by_code("c9001") is None

    for content, problem in ((b"type,code,name,parent,kind\ncounty,c9,\xff,,\n", "line 2: the file is not UTF-8"),
                             (b"", "line 1: the file has no header row"),
                             (b"type,code,name\n", "line 1: the header must name the columns"),
                             (b'type,code,name,parent,kind\ncounty,c9,"open\n', "line 2: not CSV"),
                             (b"type,code,name,parent,kind,extra\n", "unknown: extra")):
        bad.write_bytes(content)
        refused = runner.invoke(args=["org", "import", str(bad)])
        assert refused.exit_code == 1 and problem in refused.output, (content, refused.output)
    assert _counts(app) == before


def test_the_demo_county_described_as_stored_is_unchanged(app: Any, tmp_path: Path) -> None:
    """A deployment that began with ``flask demo load`` adds its real townships with the same command."""
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "load"])
    regions, units, audits = _counts(app)
    more = tmp_path / "more.csv"
    more.write_text(HEADER + "county,c01,示范县,m01,\ntownship,t04,北湖镇,c01,\nvillage,t04v01,湖滨村,t04,\n"
                    "unit,,,t04,township\nunit,,北湖派出所,t04,police\nunit,,,t04v01,village_committee\n"
                    "unit,,示范县民政局,c01,civil_affairs\n", encoding="utf-8")
    out = runner.invoke(args=["org", "import", str(more)])
    assert out.exit_code == 0 and out.output.endswith("5 created, 0 renamed, 2 unchanged\n"), out.output
    assert _counts(app) == (regions + 2, units + 3, audits + 5)
