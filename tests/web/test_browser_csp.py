"""In real Chromium, with every payload of ``xss_scenario`` stored: the main pages of each role (inbox, task,
case file with its bpmn-js diagram, conference, dashboard chart, the designer's modeler holding a BPMN whose
names and documentation carry script, a test run, user admin) open without a single dialog, script error or
Content-Security-Policy violation, and the diagram's URL is a download, not a page."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from webhelpers import SHOTS, browser_login
from xss_scenario import build

pytestmark = [pytest.mark.committing, pytest.mark.browser]

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


class Watch:
    """Everything a page did that it should not have: dialogs, uncaught errors, CSP reports."""

    def __init__(self, page: Any):
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        page.add_init_script(WATCH)
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.console.append(msg.text) if msg.type == "error" else None)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def visit(self, url: str, ready: str | None = None) -> None:
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        if ready:
            self.page.wait_for_selector(ready)
        violations = self.page.evaluate("window.__violations || []")
        assert violations == [], (url, violations)
        assert self.dialogs == [], (url, self.dialogs)
        assert self.errors == [], (url, self.errors)
        csp = [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]
        assert csp == [], (url, csp)


def test_main_pages_run_no_stored_script_and_break_no_policy(live_server: str, browser: Any, page: Any,
                                                            as_user: Any) -> None:
    world = build(page, as_user)
    base = live_server
    from helpers import open_tasks

    [action] = open_tasks(as_user("police_t01"), step="carry_out_decision")

    police = browser_login(browser, base, "police_t01")
    watch = Watch(police)
    watch.visit(f"{base}/inbox")
    assert police.evaluate("[htmx.config.allowEval, htmx.config.allowScriptTags, htmx.config.includeIndicatorStyles,"
                           " htmx.config.historyCacheSize]") == [False, False, False, 0]
    with police.expect_response(lambda r: "/inbox?" in r.url and r.request.headers.get("hx-request") == "true"):
        police.check("#filters input[name=due_24h]")  # an htmx swap that pushes the URL into the history
    police.wait_for_url(re.compile(r".*due_24h=1.*"))
    assert police.evaluate("sessionStorage.getItem('htmx-history-cache')") is None  # no copy of the queue kept
    watch.visit(f"{base}/inbox?overdue=1")
    watch.visit(f"{base}/tasks/{world.next_task}")
    watch.visit(f"{base}/tasks/{action['id']}")
    watch.visit(f"{base}/cases/{world.case_id}", ready=".bpmn-canvas[data-rendered='1']")
    assert police.locator(".bpmn-canvas svg").count() >= 1
    assert 'alert("xss-bpmn-name")' in police.locator(".bpmn-canvas").first.inner_text()
    diagram = police.locator(".bpmn-canvas").first.get_attribute("data-bpmn-url")
    watch.visit(f"{base}/conferences/{world.conference_id}")
    watch.visit(f"{base}/notifications")
    with police.expect_download() as download:
        police.evaluate("url => { const a = document.createElement('a'); a.href = url; document.body.append(a);"
                        " a.click(); }", diagram)
    assert download.value.suggested_filename.endswith(".bpmn")
    assert watch.dialogs == [] and watch.errors == []
    police.screenshot(path=str(SHOTS / "csp_case.png"), full_page=True)
    police.context.close()

    coordinator = browser_login(browser, base, "coordinator")
    watch = Watch(coordinator)
    watch.visit(f"{base}/dashboard/", ready="#trend-chart")
    assert coordinator.evaluate("typeof Chart !== 'undefined' && !!Chart.getChart(document.getElementById('trend-chart'))")
    watch.visit(f"{base}/cases/{world.case_id}", ready=".bpmn-canvas[data-rendered='1']")
    watch.visit(f"{base}/conferences/{world.conference_id}")
    watch.visit(f"{base}/audit")
    coordinator.context.close()

    admin = browser_login(browser, base, "admin")
    watch = Watch(admin)
    watch.visit(f"{base}/admin/users")
    watch.visit(f"{base}/admin/users/{world.police_user}")
    admin.context.close()

    designer = browser_login(browser, base, "designer")
    watch = Watch(designer)
    watch.visit(f"{base}/designer/")
    designer.click("form[action$='/four_in_one/edit'] button[type=submit]")
    designer.wait_for_url(re.compile(r".*/designer/drafts/\d+$"))
    watch.visit(designer.url, ready="#canvas[data-rendered='1']")
    designer.locator('#canvas .djs-element[data-element-id="police_triage"]').click()
    designer.wait_for_selector('#panel[data-element-id="police_triage"]')
    assert 'alert("xss-bpmn-name")' in designer.input_value("#panel-name")
    assert "xss-instructions" in designer.input_value("#prop-instructions")
    watch.visit(designer.url, ready="#canvas[data-rendered='1']")
    designer.click('#file-tabs button[data-file="help_tier.dmn"]')  # dmn-js draws the decision table
    designer.wait_for_selector("#dmn-canvas .tjs-container, #dmn-canvas .dmn-definitions, #dmn-canvas .djs-container")
    # the one exception, vendor code: dmn-js writes style="" on its logo; blocked, and designer.css places it
    # (waited for: a fixed 300 ms could end before dmn-js drew it on a loaded machine)
    designer.wait_for_selector("#dmn-canvas .bjs-powered-by", state="attached")
    vendor = designer.evaluate("window.__violations")
    assert all(v.startswith("style-src-attr ") and "/vendor/dmn-js/" in v for v in vendor), vendor
    assert designer.evaluate("getComputedStyle(document.querySelector('#dmn-canvas .bjs-powered-by')).position"
                             ) == "absolute"
    assert watch.errors == [] and watch.dialogs == []
    watch.console.clear()  # the console reports of that exception; the next pages start clean
    draft_id = designer.url.rsplit("/", 1)[1]
    watch.visit(f"{base}/designer/drafts/{draft_id}/test")
    watch.visit(f"{base}/designer/drafts/{draft_id}/forms/four_in_one/police_triage.json")
    watch.visit(f"{base}/designer/processes/four_in_one")
    designer.screenshot(path=str(SHOTS / "csp_designer.png"), full_page=True)

    # control: markup that slipped past escaping would still not run, and the watch would see it
    designer.evaluate("""() => { document.body.insertAdjacentHTML('beforeend',
        '<img src="/static/css/app.css?x" onerror="alert(1)"><a id="js" href="javascript:alert(2)">x</a>'); }""")
    designer.click("#js")
    # both refusals reported (the image's error event comes when its fetch fails: not within a fixed 500 ms on
    # a loaded machine), polled in the page for up to 15 s (wait_for_function evaluates with eval: the CSP forbids it)
    designer.evaluate("""() => new Promise(done => { const end = Date.now() + 15000;
        const check = () => window.__violations.length >= 2 || Date.now() > end ? done() : setTimeout(check, 50);
        check(); })""")
    blocked = designer.evaluate("window.__violations")
    assert watch.dialogs == [] and len(blocked) >= 2 and all("script-src" in v for v in blocked), blocked
    designer.context.close()


def test_a_bpmn_file_carrying_xhtml_script_is_saved_never_rendered(live_server: str, browser: Any, page: Any) -> None:
    """XML opened in a tab runs an embedded XHTML <script> (or SVG onload) on our origin. The designer's
    file URLs and the API's must answer with a download instead, so the file never becomes a page."""
    import io
    from pathlib import Path

    from playwright.sync_api import Error as PlaywrightError

    xml = (Path(__file__).resolve().parents[1] / "data" / "mini.bpmn").read_text(encoding="utf-8")
    hostile = xml.replace('<bpmn:process id="mini" name="Mini" isExecutable="true">',
                          '<bpmn:process id="mini" name="Mini" isExecutable="true">'
                          '<bpmn:documentation>see notes</bpmn:documentation>'
                          '<bpmn:extensionElements><html:script xmlns:html="http://www.w3.org/1999/xhtml">'
                          'alert("xss-xml")</html:script><svg:svg xmlns:svg="http://www.w3.org/2000/svg" '
                          'onload="alert(&quot;xss-svg&quot;)"/></bpmn:extensionElements>', 1)
    resp = page("designer").post("/designer/drafts/new", {"files": (io.BytesIO(hostile.encode()), "mini.bpmn"),
                                                          "title": "mini"}, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[-300:]
    draft_url = resp.headers["Location"]
    stored = page("designer").get(f"{draft_url}/files/mini.bpmn").get_data(as_text=True)
    assert "html:script" in stored  # the file is kept as written: the defence is how it is served

    designer = browser_login(browser, live_server, "designer")
    watch = Watch(designer)
    for url in (f"{live_server}{draft_url}/files/mini.bpmn", f"{live_server}{draft_url}/files/mini.bpmn?download=1"):
        # goto raises "Download is starting": the navigation ends in a download, not a page
        with designer.expect_download(timeout=5_000) as download, contextlib.suppress(PlaywrightError):
            designer.goto(url)
        assert download.value.suggested_filename == "mini.bpmn"
    designer.wait_for_timeout(300)
    assert watch.dialogs == [] and watch.errors == []
    watch.visit(f"{live_server}{draft_url}", ready="#canvas[data-rendered]")  # the modeler imports it: inert
    designer.context.close()
