"""Issue 14, part 5, in the pages' HTML: a skip link first, every control labelled (no placeholder- or title-only
names), due times in words and as a date and time, no title-only text, and codes in words in both languages
(lane names on the case diagram, element kinds and statuses in the designer, an entrustment's status).
The same pages in Chromium with axe-core: test_browser_a11y.py."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

from webhelpers import first_open_task, open_case

from app.cases.views import lanes_in_words
from app.common.labels import bpmn_type, label
from app.extensions import db
from app.processes.models import ProcessInstance


def _english(client: Any) -> None:
    """The user switches the page language to English (stored on the account)."""
    assert client.post("/locale", {"locale": "en", "next": "/inbox"}).status_code == 302




class Controls(HTMLParser):
    """Form controls and what names them: a <label for>, a wrapping <label>, aria-label(ledby)."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.open_labels = 0
        self.first_in_body: str | None = None
        self.titles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self.first_in_body == "" and tag != "script":
            self.first_in_body = f"{tag}.{a.get('class', '')}"
        if tag == "body":
            self.first_in_body = ""
        if "title" in a and tag not in ("abbr",):
            self.titles.append(f"{tag} {a['title']}")
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "button"):
            self.controls.append({**a, "_tag": tag, "_wrapped": "1" if self.open_labels else ""})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels = max(0, self.open_labels - 1)

    def unlabelled(self) -> list[str]:
        return [f"{c['_tag']} name={c.get('name')}" for c in self.controls
                if not (c["_wrapped"] or c.get("id") in self.label_for or c.get("aria-label")
                        or c.get("aria-labelledby"))]


def _parse(html: str) -> Controls:
    parser = Controls()
    parser.feed(html)
    return parser


def test_pages_start_with_a_skip_link_label_every_control_and_carry_no_title_only_text(page: Any,
                                                                                       as_user: Any) -> None:
    case = open_case(as_user)
    task = first_open_task(case["case_id"])
    pages = {
        None: ["/login"],
        "police_t01": ["/inbox", f"/tasks/{task.id}", f"/cases/{case['case_id']}", "/reports/new", "/conferences",
                       "/notifications"],
        "police_t01_head": ["/inbox"],
        "coordinator": ["/dashboard/", "/dashboard/tasks", "/audit", f"/cases/{case['case_id']}/conferences/new"],
        "admin": ["/admin/users", "/admin/users/new"],
        "designer": ["/designer/"],
    }
    checked = 0
    for user, paths in pages.items():
        client = page(user)
        for path in paths:
            resp = client.get(path)
            assert resp.status_code == 200, (user, path, resp.status_code)
            parsed = _parse(resp.get_data(as_text=True))
            assert parsed.first_in_body == "a.skip-link", (user, path, parsed.first_in_body)
            assert 'id="content"' in resp.get_data(as_text=True)
            assert parsed.unlabelled() == [], (user, path, parsed.unlabelled())
            assert parsed.titles == [], (user, path, parsed.titles)
            checked += 1
    assert checked == 15


def test_due_times_are_shown_in_words_and_as_a_date_and_time(page: Any, as_user: Any) -> None:
    case = open_case(as_user)
    task = first_open_task(case["case_id"])
    police = page("police_t01")
    due = re.compile(r'<span class="rel-due">([^<]+)</span>\s*<time class="abs-due" datetime="[^"]+">'
                     r'(\d{4}-\d{2}-\d{2} \d{2}:\d{2})</time>')
    for path in ("/inbox", f"/tasks/{task.id}", f"/cases/{case['case_id']}"):
        found = due.search(police.get(path).get_data(as_text=True))
        assert found, path
        assert "小时" in found.group(1) or "分钟" in found.group(1), found.group(1)
    _english(police)
    english = due.search(police.get("/inbox").get_data(as_text=True))
    assert english and english.group(1).startswith("in "), english


def test_case_diagram_lanes_are_named_by_department_in_the_readers_language(page: Any, as_user: Any) -> None:
    case = open_case(as_user)
    instance = db.session.query(ProcessInstance).filter_by(case_id=case["case_id"]).first()
    assert instance is not None
    url = f"/cases/{case['case_id']}/instances/{instance.id}/diagram.bpmn"
    coordinator = page("coordinator")
    chinese = coordinator.get(url).get_data(as_text=True)
    assert re.search(r'<bpmn:lane id="Lane_police" name="公安派出所"', chinese)
    assert 'name="police"' not in chinese and 'name="village_committee"' not in chinese
    _english(coordinator)
    english = coordinator.get(url).get_data(as_text=True)
    assert '<bpmn:lane id="Lane_police" name="Police station"' in english
    # a lane a designer named in words keeps its name; markup in a name stays escaped
    xml = '<lane id="a" name="自定义"/><bpmn:lane id="b" name="&lt;x&gt;"/><bpmn:task name="police"/>'
    assert lanes_in_words(xml) == xml


def test_designer_pages_show_element_kinds_lanes_and_statuses_in_words(page: Any, app: Any) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert bpmn_type("userTask") == bpmn_type("UserTask") == bpmn_type("bpmn:UserTask") == "Task for a person"
        assert bpmn_type("somethingNew") == "somethingNew"
        assert label("entrustment_status", "pending_check") == "Caregiver not yet checked"
    designer = page("designer")
    resp = designer.post("/designer/processes/four_in_one/edit")
    draft_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    start = {"situation": "living_alone", "reporter_type": "school", "child_age": 9, "case_number": "T-1"}
    resp = designer.post(f"/designer/drafts/{draft_id}/test", {"data": json.dumps(start)})
    assert resp.status_code == 302
    run = designer.get(resp.headers["Location"]).get_data(as_text=True)
    path = re.search(r'<ol class="path-list" id="path">(.*?)</ol>', run, re.S)
    assert path is not None
    assert "开始事件" in path.group(1) and "StartEvent" not in path.group(1)
    assert re.search(r"<small>(运行中|已完成)</small>", run) and ">running<" not in run
    modeler = designer.get(f"/designer/drafts/{draft_id}").get_data(as_text=True)
    text = json.loads(re.search(r'id="designer-text">(.*?)</script>', modeler, re.S).group(1))  # type: ignore[union-attr]
    assert text["types"]["userTask"] == "人工办理的任务" and text["types"]["lane"] == "泳道"
    assert '<option value="police">公安派出所 (police)</option>' in modeler
    _english(designer)
    english = designer.get(f"/designer/drafts/{draft_id}").get_data(as_text=True)
    assert '<option value="police">Police station (police)</option>' in english
    runs = designer.get(f"/designer/drafts/{draft_id}/test").get_data(as_text=True)
    assert re.search(r"</a> (Running|Completed) ·", runs) and not re.search(r"</a> (running|completed) ·", runs)


def test_conference_action_deadlines_are_in_words_and_as_a_date_and_time(page: Any, as_user: Any) -> None:
    from xss_scenario import schedule_conference

    case = open_case(as_user)
    conference_id = schedule_conference(page, case["case_id"])
    html = page("coordinator").get(f"/conferences/{conference_id}").get_data(as_text=True)
    actions = html.split('data-action="', 1)[1]
    assert re.search(r'<span class="rel-due">[^<]+</span>\s*<time class="abs-due" datetime="[^"]+">'
                     r'\d{4}-\d{2}-\d{2} \d{2}:\d{2}</time>', actions), actions[:600]
