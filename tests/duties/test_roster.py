"""Issue 15, part 8: the county roster of children, imported from XLSX (dry run, then the import) and
exported in the same layout. Through the API as the county coordinator and civil affairs; the page in
tests/duties/test_roster_page.py."""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from app.audit.models import AuditEvent
from app.cases.id_number import make
from app.cases.models import Case, Child, Guardian, TimelineEntry
from app.common.clock import local_today, now
from app.duties.models import Enrolment, Entrustment, RosterImport
from app.duties.roster_layout import COLUMNS, write_xlsx
from app.duties.roster_sample import BAD_KINDS, sample_rows
from app.extensions import db
from app.org.queries import region_by_code

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPECTED_CODE = {"missing_name": "missing_value"}


def upload(api: Any, data: bytes, name: str = "台账.xlsx") -> Any:
    return api.client.post("/api/v1/roster/checks", headers=api.headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), name)})


def ledger(rows: int, bad_every: int = 0) -> tuple[list[dict[str, Any]], dict[str, int]]:
    county = region_by_code("c01")
    assert county is not None
    return sample_rows(county, rows, bad_every=bad_every, today=local_today())


def count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_the_dry_run_reports_every_row_and_writes_no_child(as_user: Any) -> None:
    rows, bad = ledger(len(BAD_KINDS) * 4, bad_every=4)
    assert set(bad) == set(BAD_KINDS)
    resp = upload(as_user("coordinator"), write_xlsx(rows))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    by_row = {r["row"]: r for r in body["rows"]}
    assert len(by_row) == len(rows) and min(by_row) == 2  # the header is row 1
    for i in range(len(rows)):
        if i % 4 == 3:
            kind = [k for k in BAD_KINDS if bad.get(k)][(i // 4) % len(BAD_KINDS)]
            got = by_row[i + 2]
            assert got["outcome"] == "refused", (kind, got)
            codes = {p["code"] for p in got["problems"]}
            assert EXPECTED_CODE.get(kind, kind) in codes, (kind, got["problems"])
    # a copied row refuses the row it copies too
    dups = [r["row"] for r in body["rows"] if any(p["code"] == "duplicate_in_file" for p in r["problems"])]
    assert len(dups) == 2 and dups[1] == dups[0] + 1
    counts = body["import"]["counts"]
    assert counts["refused"] == len(bad) + 1 and counts["create"] == len(rows) - counts["refused"]
    assert counts["update"] == counts["unchanged"] == 0
    # the refusal names the column as the ledger does
    checksum = next(r for r in body["rows"] if any(p["code"] == "id_checksum" for p in r["problems"]))
    assert checksum["problems"][0]["column"] == "公民身份号码"
    assert count(Child) == 0 and count(Case) == 0 and count(Enrolment) == 0
    assert db.session.get(RosterImport, body["import"]["id"]).status == "checked"  # type: ignore[union-attr]


def test_the_import_creates_files_enrolments_and_caregivers_once(as_user: Any) -> None:
    rows, _ = ledger(60, bad_every=20)
    api = as_user("coordinator")
    checked = upload(api, write_xlsx(rows)).get_json()
    created = checked["import"]["counts"]["create"]
    resp = api.post(f"/api/v1/roster/imports/{checked['import']['id']}/confirm")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["import"]["status"] == "imported"
    assert count(Child) == created and count(Enrolment) == created
    cases = db.session.scalars(sa.select(Case)).all()
    assert len(cases) == created and all(c.kind == "care" and c.number and c.status == "open" for c in cases)
    enrolments = db.session.scalars(sa.select(Enrolment)).all()
    assert {e.start_reason for e in enrolments} == {"survey"} and all("left_behind" in e.tags for e in enrolments)
    caregivers = [r for r in rows if r.get("caregiver_name") and r["name"]]
    assert 0 < count(Entrustment) <= len(caregivers)
    assert {e.status for e in db.session.scalars(sa.select(Entrustment))} == {"pending_check"}
    assert count(Guardian) == 2 * created
    kinds = Counter(db.session.scalars(sa.select(TimelineEntry.kind)))
    assert kinds == {"file_opened": created, "enrolled": created}
    audited = Counter(db.session.execute(sa.select(AuditEvent.action, AuditEvent.object_type)).all())
    assert audited[("create", "child")] == created and audited[("create", "roster_import")] == 1
    child = db.session.scalars(sa.select(Child).order_by(Child.id)).first()
    assert child is not None and child.school and child.id_number and len(child.id_number) == 18
    # a second confirmation is refused and writes nothing
    again = api.post(f"/api/v1/roster/imports/{checked['import']['id']}/confirm")
    assert again.status_code == 409 and count(Child) == created


def test_export_then_dry_run_is_all_unchanged_and_an_edit_is_an_update(as_user: Any) -> None:
    rows, _ = ledger(40)
    api = as_user("civil_affairs_c01")
    checked = upload(api, write_xlsx(rows)).get_json()
    assert api.post(f"/api/v1/roster/imports/{checked['import']['id']}/confirm").status_code == 200
    exported = api.get("/api/v1/roster/export.xlsx")
    assert exported.status_code == 200 and exported.mimetype == XLSX
    assert exported.headers["Cache-Control"] == "private, no-store"
    sheet = load_workbook(io.BytesIO(exported.data), read_only=True).worksheets[0]
    header, *body = list(sheet.iter_rows(values_only=True))
    assert list(header) == [c.header for c in COLUMNS] and len(body) == 40
    again = upload(api, exported.data).get_json()
    assert again["import"]["counts"] == {"create": 0, "update": 0, "unchanged": 40, "refused": 0}
    # the bureau corrects a school and a phone number: two updates, and only those change
    rows[0]["school"], rows[1]["guardian1_phone"] = "新校区小学", "13000000000"
    third = upload(api, write_xlsx(rows)).get_json()
    assert third["import"]["counts"] == {"create": 0, "update": 2, "unchanged": 38, "refused": 0}
    changed = {r["row"]: r["changes"] for r in third["rows"] if r["outcome"] == "update"}
    assert changed == {2: ["school"], 3: ["guardians"]}
    assert api.post(f"/api/v1/roster/imports/{third['import']['id']}/confirm").status_code == 200
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(Child.school == "新校区小学")) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(Guardian.phone == "13000000000")) == 1
    assert count(Child) == 40 and count(Enrolment) == 40
    assert Counter(db.session.scalars(sa.select(TimelineEntry.kind)))["roster_updated"] == 2
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "export")) == 1


def test_duplicates_against_existing_children(as_user: Any) -> None:
    rows, _ = ledger(3)
    api = as_user("coordinator")
    checked = upload(api, write_xlsx(rows[:1])).get_json()
    api.post(f"/api/v1/roster/imports/{checked['import']['id']}/confirm")
    same_id = dict(rows[0])
    no_id = dict(rows[0], id_number="")
    sex = "male" if rows[0]["sex"] == "男" else "female"
    other_id = dict(rows[0], id_number=make("110101", date.fromisoformat(rows[0]["birth_date"]), 1, sex))
    report = upload(api, write_xlsx([same_id])).get_json()["rows"]
    assert report[0]["outcome"] == "unchanged" and report[0]["child_id"]
    full_width = dict(rows[0], guardian1_phone=rows[0]["guardian1_phone"].translate(
        {ord(c): ord(c) + 0xFEE0 for c in "0123456789"}))  # １３８…: typed with a Chinese input method
    assert upload(api, write_xlsx([full_width])).get_json()["rows"][0]["outcome"] == "unchanged"
    report = upload(api, write_xlsx([no_id])).get_json()["rows"]
    assert report[0]["outcome"] == "unchanged"  # no ID number: the same name, birth date and village is the child
    report = upload(api, write_xlsx([other_id])).get_json()["rows"]  # the same child with another ID number?
    assert report[0]["outcome"] == "refused" and report[0]["problems"][0]["code"] == "likely_duplicate"
    # a child of another county with this ID number
    other = region_by_code("t21v01")
    assert other is not None
    db.session.add(Child(name="外县儿童", sex="male", birth_date=None, id_number=rows[2]["id_number"],
                         village=other, tags=[], created_at=now()))
    db.session.flush()
    report = upload(api, write_xlsx([rows[2]])).get_json()["rows"]
    assert report[0]["outcome"] == "refused" and report[0]["problems"][0]["code"] == "id_in_other_county"


@pytest.mark.parametrize("username", ["police_t01", "director_t01v01", "admin", "reporter_school", "coordinator_c02",
                                      "city_supervisor", "education_c01"])
def test_only_the_county_coordinator_and_civil_affairs_keep_the_roster(as_user: Any, username: str) -> None:
    rows, _ = ledger(2)
    api = as_user(username)
    resp = upload(api, write_xlsx(rows))
    if username == "coordinator_c02":  # their own county: the rows' villages are outside it
        assert resp.status_code == 201
        assert {r["problems"][0]["code"] for r in resp.get_json()["rows"]} == {"outside_county"}
        return
    assert resp.status_code == 403
    assert api.get("/api/v1/roster/export.xlsx").status_code == 403
    assert count(RosterImport) == 0


def test_a_file_that_is_no_ledger_is_422_and_changes_nothing(as_user: Any) -> None:
    api = as_user("coordinator")
    assert upload(api, b"not a spreadsheet").status_code == 422
    book = Workbook()
    book.active.append(["姓名", "性别", "乡镇（街道）"])  # three known columns, four required ones missing
    out = io.BytesIO()
    book.save(out)
    resp = upload(api, out.getvalue())
    assert resp.status_code == 422 and "公民身份号码" in str(resp.get_json())
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/huge.xml", "0" * (250 * 1024 * 1024))
    resp = upload(api, bomb.getvalue())
    assert resp.status_code == 422 and "unpacks" in str(resp.get_json())
    assert api.client.post("/api/v1/roster/checks", headers=api.headers).status_code == 422  # no file at all
    rows, _ = ledger(3)
    good = write_xlsx(rows)
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            target.writestr(item, content[: len(content) // 2] if "worksheets/" in item.filename else content)
    resp = upload(api, damaged.getvalue())  # the sheet's XML cut in half
    assert resp.status_code == 422, resp.get_json()
    assert count(RosterImport) == 0 and count(Child) == 0


def _statements(fn: Any) -> int:
    """Statements sent while ``fn`` runs; on PostgreSQL ``COPY`` (``common.bulk.copy_rows``) goes through the
    driver's own cursor, not SQLAlchemy's events, so those are counted where they are made."""
    from app.audit import operations as audit_ops
    from app.common import bulk as common_bulk
    from app.duties import roster_apply

    seen: list[str] = []
    real_copy = common_bulk.copy_rows

    def copy_rows(model: Any, rows: Any) -> None:
        if rows and db.session.get_bind().dialect.name == "postgresql":
            seen.append(f"COPY {model.__tablename__}")
        real_copy(model, rows)

    def listen(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    roster_apply.copy_rows = audit_ops.copy_rows = copy_rows  # type: ignore[assignment]
    try:
        fn()
    finally:
        roster_apply.copy_rows = audit_ops.copy_rows = real_copy  # type: ignore[assignment]
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    return len(seen)


@pytest.mark.parametrize(("rows", "statements"), [(500, 9 + 2), (1000, 2 * 9 + 2)])
def test_an_import_costs_nine_statements_per_batch_of_500_new_children(as_user: Any, rows: int,
                                                                        statements: int) -> None:
    """New children: ids reserved for children and care files, then child, guardian, care file, enrolment,
    caregiver, timeline and audit rows: one multi-row statement each per batch, plus the import's own row and
    audit row."""
    from app.duties.roster import plan
    from app.duties.roster_apply import BATCH, import_plan
    from app.duties.roster_layout import read_rows
    from app.org.queries import user_by_username

    assert BATCH == 500
    county, user = region_by_code("c01"), user_by_username("coordinator")
    assert county is not None and user is not None
    data, _ = ledger(rows)
    columns, read = read_rows(write_xlsx(data), max_bytes=10**8, max_rows=10**5)
    checked = plan(county, columns, read)
    record = RosterImport(county_id=county.id, filename="t.xlsx", stored_name="t", sha256="", size=0, rows=rows,
                          counts={}, uploaded_by_id=user.id, uploaded_at=now())
    db.session.add(record)
    db.session.flush()
    assert _statements(lambda: import_plan(checked, user, record)) == statements
    assert count(Child) == rows and count(Enrolment) == rows
    # updating them (a new school for everyone): reads and writes per batch, also fixed
    for row in data:
        row["school"] = "新校区小学"
    columns, read = read_rows(write_xlsx(data), max_bytes=10**8, max_rows=10**5)
    again = plan(county, columns, read)
    assert again.counts()["update"] == rows
    per_batch = 5 + 3  # children, guardians, caregivers, enrolments, care files; children, timeline, audit
    assert _statements(lambda: import_plan(again, user, record)) == rows // BATCH * per_batch + 2


def test_the_scheduler_starts_the_first_check_of_each_imported_caregiver_once(as_user: Any) -> None:
    from app.duties.models import DutyCycle
    from app.duties.scheduler import start_due_duties

    rows, _ = ledger(10)
    api = as_user("coordinator")
    checked = upload(api, write_xlsx(rows)).get_json()
    assert api.post(f"/api/v1/roster/imports/{checked['import']['id']}/confirm").status_code == 200
    caregivers = count(Entrustment)
    assert caregivers == 5
    checks = sa.select(sa.func.count()).where(DutyCycle.duty == "entrusted_care_check")
    start_due_duties(now())
    assert db.session.scalar(checks) == caregivers
    start_due_duties(now())
    assert db.session.scalar(checks) == caregivers
    tasks = db.session.scalars(sa.select(DutyCycle.instance_id).where(DutyCycle.duty == "entrusted_care_check")).all()
    assert all(tasks)


def test_a_cell_escaping_a_character_no_text_can_hold_is_422_and_changes_nothing(as_user: Any) -> None:
    """XLSX writes control characters as ``_xHHHH_`` and calamine unescapes them: a name holding ``_x0000_``
    arrived as a NUL (PostgreSQL refuses it: the import's 500; SQLite stored it). The file is refused, as a
    request body with one is."""
    api = as_user("coordinator")
    rows, _ = ledger(3)
    rows[1]["name"] = "张_x0000_三"
    resp = upload(api, write_xlsx(rows))
    assert resp.status_code == 422, resp.get_json()
    assert "row 3" in str(resp.get_json())  # where: the header is row 1
    assert count(RosterImport) == 0 and count(Child) == 0
