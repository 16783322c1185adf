"""Issue 15, part 8, as pages: upload a ledger, read the dry run, confirm; export; in Chromium too."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from webhelpers import SHOTS, browser_login

from app.cases.models import Child
from app.common.clock import local_today
from app.duties.models import RosterImport
from app.duties.roster_layout import write_xlsx
from app.duties.roster_sample import sample_rows
from app.extensions import db
from app.org.queries import region_by_code


def _ledger(rows: int, bad_every: int) -> bytes:
    county = region_by_code("c01")
    assert county is not None
    return write_xlsx(sample_rows(county, rows, bad_every=bad_every, today=local_today())[0])


def test_upload_dry_run_confirm_and_export_through_the_pages(page: Any) -> None:
    coordinator = page("coordinator")
    home = coordinator.get("/roster")
    assert home.status_code == 200 and 'enctype="multipart/form-data"' in home.get_data(as_text=True)
    resp = coordinator.post("/roster/checks", {"file": (io.BytesIO(_ledger(30, 10)), "示范县台账.xlsx")},
                            content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:300]
    assert re.search(r'data-count="refused">\s*3<', html) and re.search(r'data-count="create">\s*27<', html)
    assert "校验位" in html or "check digit" in html  # the reason in words
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Child)) == 0
    record = db.session.scalars(sa.select(RosterImport)).one()
    done = coordinator.post(f"/roster/imports/{record.id}/confirm")
    assert done.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Child)) == 27
    assert "27" in coordinator.get("/roster").get_data(as_text=True)
    again = coordinator.post(f"/roster/imports/{record.id}/confirm")
    assert again.status_code == 409
    exported = coordinator.get("/roster/export.xlsx")
    assert exported.status_code == 200 and exported.data.startswith(b"PK")
    # a file that is no ledger: the form again with the reason, nothing kept
    bad = coordinator.post("/roster/checks", {"file": (io.BytesIO(b"hello"), "x.xlsx")},
                           content_type="multipart/form-data")
    assert bad.status_code == 422 and "xlsx" in bad.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RosterImport)) == 1


def test_the_roster_is_not_for_other_roles(page: Any) -> None:
    for username in ("police_t01", "director_t01v01", "admin", "reporter_school"):
        assert page(username).get("/roster").status_code == 403, username
        assert "/roster" not in page(username).get("/inbox").get_data(as_text=True), username
    assert 'href="/roster"' in page("civil_affairs_c01").get("/inbox").get_data(as_text=True)


@pytest.mark.committing
@pytest.mark.browser
def test_a_coordinator_imports_a_ledger_in_chromium(live_server: str, browser: Any, tmp_path: Path) -> None:
    ledger = tmp_path / "台账.xlsx"
    ledger.write_bytes(_ledger(20, 10))
    page = browser_login(browser, live_server, "coordinator")
    page.goto(f"{live_server}/roster")
    page.set_input_files("input[name=file]", str(ledger))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#roster-summary")
    assert page.inner_text('[data-count="refused"]').strip() == "2"
    assert page.locator("#roster-refused tr.roster-refused").count() == 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "roster-dry-run.png"), full_page=True)
    page.click("#roster-confirm")
    page.wait_for_url(re.compile(r".*/roster$"))
    assert "18" in page.inner_text("#flash")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Child)) == 18
