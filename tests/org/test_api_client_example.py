"""The example client of docs/api.md, run as it is written against a live server (issue 16 part 4).

The script is cut from the page (the one ``python`` block of its section), so the page cannot drift from what works: it
gets a token with a service account's client credentials and files a report with it, over real HTTP.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.cases.models import Case, Report
from app.extensions import db
from app.org.models import ServiceAccount, Unit
from app.org.service_accounts import create_account

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


HEADING = "## Example client: file a report with a service account's token"


def example_script() -> str:
    """The one ``python`` block of the section ``HEADING`` (other sections have examples of their own)."""
    section = DOC.read_text(encoding="utf-8").split(HEADING, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```$", section, flags=re.S | re.M)
    assert len(blocks) == 1, f"docs/api.md, {HEADING!r}, holds one python block: the example client"
    return str(blocks[0])


@pytest.mark.committing
def test_the_documented_client_files_a_report_with_a_service_accounts_token(live_server: str,
                                                                           tmp_path: Path) -> None:
    unit = db.session.scalars(sa.select(Unit).where(Unit.kind == "youth_league")).first()
    account, secret = create_account(None, "12355 hotline", unit, ["reports:file"])
    db.session.commit()
    script = tmp_path / "client.py"
    script.write_text(example_script(), encoding="utf-8")
    env = {**os.environ, "LIANDONG_URL": live_server, "LIANDONG_CLIENT_ID": account.client_id,
           "LIANDONG_CLIENT_SECRET": secret}
    ran = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60,
                         check=False)
    assert ran.returncode == 0, ran.stderr + ran.stdout
    number = re.fullmatch(r"case (\S+) \(new_case\)\n", ran.stdout)
    assert number is not None, ran.stdout
    db.session.expire_all()
    case = db.session.scalars(sa.select(Case).where(Case.number == number.group(1))).one()
    user_id = db.session.get(ServiceAccount, account.id).user_id  # type: ignore[union-attr]
    report = db.session.scalars(sa.select(Report).where(Report.case_id == case.id)).one()
    assert report.submitted_by_id == user_id
    audited = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.user_id == user_id)).all()
    assert "token_issue" in audited and len(audited) >= 2

    wrong = subprocess.run([sys.executable, str(script)], env={**env, "LIANDONG_CLIENT_SECRET": secret + "x"},
                           capture_output=True, text=True, timeout=60, check=False)
    assert wrong.returncode == 1 and "no token: 401 invalid_client" in wrong.stderr
