"""Issue 14, part 5: the audit page reads as sentences. People and records by name, actions in words in both
languages, details as "field: value" lines (never JSON, never escape codes), and text typed about a child
shown only to a reader who may open the case (``detail_lines(free_text=False)``; on the page every reader of
a case's rows has a county basis on it today, so the page test checks that another county sees no row)."""

from __future__ import annotations

import ast
import html as htmllib
import io
import re
from pathlib import Path
from typing import Any

from webhelpers import first_open_task, open_case

from app.audit.describe import ACTIONS, FIELDS, OBJECTS, Names, detail_lines, record_words
from app.extensions import db
from app.org.queries import user_by_username

ROOT = Path(__file__).resolve().parents[2]


def _written_actions_and_objects() -> tuple[set[str], set[str]]:
    actions, objects = set(), set()
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "audit":
                for arg, into in ((node.args[1:2], actions), (node.args[2:3], objects)):
                    for a in arg:
                        for value in (a.body, a.orelse) if isinstance(a, ast.IfExp) else (a,):
                            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                                into.add(value.value)
    return actions, objects


def test_every_action_and_record_kind_written_has_words() -> None:
    actions, objects = _written_actions_and_objects()
    assert len(actions) > 25 and "reassign" in actions
    assert sorted(actions - ACTIONS.keys()) == [] and sorted(objects - OBJECTS.keys()) == []


def test_the_words_are_translated_in_both_languages(app: Any) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        chinese = {key: str(text) for key, text in {**ACTIONS, **OBJECTS, **FIELDS}.items()}
        untranslated = [k for k, text in chinese.items() if re.search(r"[A-Za-z]{3}", text.replace("API", "")) and k != "content_hash"]
        assert untranslated == [] and chinese["reassign"] == "改派任务"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert str(ACTIONS["reassign"]) == "Reassigned a task"


def test_details_are_lines_with_names_and_an_account_change_per_field(app: Any) -> None:
    names = Names(users={7: "王五 (police_t01)"}, units={3: "东城派出所"}, tasks={12: "受理研判"})
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        lines = detail_lines({"from_user_id": None, "to_user_id": 7, "task": "受理研判"}, names, free_text=True)
        assert lines == [("Previous assignee", "—"), ("New assignee", "王五 (police_t01)"), ("Task", "受理研判")]
        change = detail_lines({"before": {"roles": ["liaison"], "unit_id": 3, "active": True},
                               "after": {"roles": ["liaison", "unit_head"], "unit_id": 3, "active": False}},
                              names, free_text=True)
        assert change == [("Roles", "Department liaison → Department liaison、Unit head"), ("Active", "Yes → No")]
        assert detail_lines({"name": "李小明.pdf", "size": 2048}, names, free_text=False) == [
            ("File name", "(hidden: need to know)"), ("Size", "2.0 KB")]
        assert record_words("task", "12", names) == "Task: 受理研判"
        assert record_words("task", "99", names) == "Task #99"
        assert record_words("user", "7", names) == "Account: 王五 (police_t01)"


def _cells(html: str, action: str) -> list[str]:
    rows = re.findall(rf'<tr data-action="{action}">(.*?)</tr>', html, re.S)
    return [htmllib.unescape(re.sub(r"<[^>]+>", " ", r)) for r in rows]


def test_the_audit_page_shows_people_records_and_actions_by_name_and_details_as_lines(page: Any, as_user: Any) -> None:
    case = open_case(as_user)
    task = first_open_task(case["case_id"])
    police = page("police_t01")
    police.get(f"/cases/{case['case_id']}")
    resp = police.post(f"/tasks/{task.id}/attachments", {"file": (io.BytesIO(b"%PDF-1.4 x"), "李小明的照片.pdf")},
                       content_type="multipart/form-data")
    assert resp.status_code in (200, 302)
    head = page("police_t01_head")
    member = user_by_username("police_t01")
    assert member is not None
    resp = head.post("/inbox/reassign", {"task_ids": str(task.id), "to_user_id": str(member.id)})
    assert resp.status_code == 302
    admin = page("admin")
    resp = admin.post(f"/admin/users/{member.id}", [("display_name", "王五"), ("roles", "liaison"),
                                                   ("roles", "unit_head"), ("unit_id", str(member.unit_id)),
                                                   ("active", "1")])
    assert resp.status_code == 302
    db.session.commit()

    html = page("coordinator").get("/audit").get_data(as_text=True)
    assert "{&#34;" not in html and "&#34;:" not in html and "\\u" not in html and "<code>" not in html
    [view] = _cells(html, "view")[-1:]
    assert "查看" in view and "王五" in view and "police_t01" in view and "其单位承办过该个案的任务" in view and "个案档案" in view
    [upload] = _cells(html, "upload")
    assert "上传附件" in upload and "李小明的照片.pdf" in upload and "文件：李小明的照片.pdf" in upload and f"任务 {task.name}" in " ".join(upload.split())
    [reassign] = _cells(html, "reassign")
    assert "改派任务" in reassign and "王五 (police_t01)" in reassign and "负责人" in reassign
    [change] = _cells(html, "user_update")
    assert "修改账号" in change and "部门联络员 → 部门联络员、单位负责人" in change
    assert re.search(r"<option value=\"reassign\"[^>]*>改派任务</option>", html)

    # Need to know: the neighbouring county's coordinator gets no row of this case, so no file name either.
    other = page("coordinator_c02").get("/audit").get_data(as_text=True)
    assert _cells(other, "upload") == [] and "李小明" not in other
