"""Issue 14, part 2, in real Chromium at phone size: the app installs (manifest, icons, a service worker that
controls the page), keeps the pages a village child director opened online (the inbox, an open duty task
with its form and the child's summary) and opens them offline with the offline banner; a page never kept
(the case file, served ``no-store``) gives the offline page, which lists what is kept; signing out empties
every cache and unregisters the worker; another user on the same phone never gets the first user's pages.
Screenshots at 390 px: test-output/screenshots/offline/."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from webhelpers import SHOTS, evaluate_until

from app.cases.models import Child, Guardian
from app.common.clock import now
from app.duties.models import DutyCycle
from app.duties.operations import enrol
from app.duties.scheduler import start_due_duties
from app.extensions import db
from app.org.queries import region_by_code, user_by_username
from app.tasks.models import Task

pytestmark = [pytest.mark.committing, pytest.mark.browser]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
OUT = SHOTS / "offline"
CACHES = "async () => (await caches.keys()).sort()"
KEPT = """async () => { const out = {}; for (const n of await caches.keys()) if (n.startsWith('ld-pages-'))
  out[n] = (await (await caches.open(n)).keys()).map(r => new URL(r.url).pathname + new URL(r.url).search).sort();
  return out; }"""


def _duty_task(name: str) -> Task:
    """An enrolled child in village t01v01 and their first duty task (the village director's), committed."""
    from datetime import date

    child = Child(name=name, sex="female", birth_date=date(2014, 5, 1), id_number=None,
                  village=region_by_code("t01v01"), tags=["left_behind"], created_at=now())
    child.guardians = [Guardian(name="祖母", relation="grandmother", lives_with_child=True)]
    db.session.add(child)
    db.session.flush()
    enrolment = enrol(child, None, tags=["left_behind"], key_reasons=[], start_reason="survey",
                      started_on=date(2026, 1, 1))
    db.session.commit()
    start_due_duties(MONDAY)
    db.session.commit()
    director = user_by_username("director_t01v01")
    assert director is not None
    task = db.session.scalars(
        sa.select(Task).join(DutyCycle, DutyCycle.instance_id == Task.instance_id)
        .where(DutyCycle.child_id == enrolment.child_id, Task.state == "open", Task.unit_id == director.unit_id)
        .order_by(Task.id)).first()
    assert task is not None
    db.session.commit()
    return task


def _sign_in(context: Any, base: str, username: str) -> Any:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "liandong-demo")
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r".*/inbox.*"))
    _worker_ready(page)
    return page


def _worker_ready(page: Any) -> None:
    """The worker controls the page and has taken this user's key (and kept the page if it could not yet)."""
    assert page.evaluate("async () => !!(await window.LD.offline.ready)") is True
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def _phone(browser: Any) -> Any:
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **PHONE)
    context.set_default_timeout(15_000)
    return context


def _kept_when(page: Any, ready: Any, seconds: float = 15) -> dict[str, list[str]]:
    """The pages the worker keeps once ``ready(kept)`` holds (polled: the worker's network-first strategy
    answers the page first and stores its copy after, in the background)."""
    return dict(evaluate_until(page, KEPT, ready, seconds))


def _offline_goto(page: Any, url: str) -> None:
    """Offline, the worker waits out its network timeout (4 s, ``NETWORK_TIMEOUT_SECONDS``) before it answers
    from the cache: on a loaded machine that, the worker's start and the page's load took longer than the
    context's 15 s (a -n 2 run at load 20-26: ``Page.goto: Timeout 15000ms exceeded``)."""
    page.goto(url, timeout=45_000)
    page.wait_for_load_state("domcontentloaded")


def test_installable_kept_pages_open_offline_and_sign_out_empties_the_phone(
        live_server: str, browser: Any, clock: Any) -> None:
    clock.at = MONDAY
    task = _duty_task("留守小芳")
    other = _duty_task("留守小梅")  # never opened: kept by the inbox's "keep these tasks"
    OUT.mkdir(parents=True, exist_ok=True)
    context = _phone(browser)
    page = _sign_in(context, live_server, "director_t01v01")

    # installable: the manifest as Chromium reads it, no installability errors, a worker at the root scope
    cdp = context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [], manifest["errors"]
    assert manifest["url"].endswith("/manifest.webmanifest")
    parsed = page.evaluate("async () => (await fetch('/manifest.webmanifest')).json()")
    assert parsed["name"] == "联动 Liandong" and parsed["display"] == "standalone" and parsed["start_url"] == "/inbox"
    assert {"192x192", "512x512"} <= {i["sizes"] for i in parsed["icons"] if i["type"] == "image/png"}
    assert any(i["purpose"] == "maskable" for i in parsed["icons"])
    for icon in parsed["icons"]:
        assert page.evaluate("async src => (await fetch(src)).status", icon["src"]) == 200
    # Playwright's contexts are off-the-record profiles, where Chromium never offers installing; every other
    # criterion (manifest fields, icons, a worker controlling the start URL) must pass
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == [], errors
    assert page.evaluate("async () => (await navigator.serviceWorker.getRegistration()).scope") == f"{live_server}/"
    sw = page.evaluate("async () => { const r = await fetch('/sw.js'); return [r.status, r.headers.get('cache-control'),"
                       " r.headers.get('service-worker-allowed')]; }")
    assert sw == [200, "no-store", "/"]

    # online: the inbox (the first page, kept once the worker took over) and the duty task
    key = page.get_attribute("meta[name=ld-user-key]", "content")
    page.goto(f"{live_server}/tasks/{task.id}")
    page.wait_for_selector("#task-form[data-draft-ready='1']")
    page.goto(f"{live_server}/outbox")  # what waits to be sent: no child's data, kept
    page.goto(f"{live_server}/cases/{task.case_id}")  # the case file: no-store, never kept

    page.wait_for_selector("main h1")
    kept = _kept_when(page, lambda kept: len(kept.get(f"ld-pages-{key}", [])) >= 3)
    assert kept == {f"ld-pages-{key}": ["/inbox", "/outbox", f"/tasks/{task.id}"]}, kept
    shell = page.evaluate("async () => (await (await caches.open((await caches.keys()).find(n => n.includes('precache'))))"
                          ".keys()).map(r => new URL(r.url).pathname)")
    assert "/static/css/app.css" in shell and "/offline" in shell and "/static/icons/icon-192.png" in shell

    # "keep these tasks" fetches the listed task pages now (only those the server marks for this user)
    page.goto(f"{live_server}/inbox")
    page.click("[data-ld-keep-tasks]")
    page.wait_for_function("() => /\\d/.test(document.querySelector('[data-ld-keep] [role=status]').textContent)")
    assert f"/tasks/{other.id}" in page.evaluate(KEPT)[f"ld-pages-{key}"]
    page.screenshot(path=str(OUT / "inbox-kept-390.png"), full_page=True)

    # offline: the kept pages open with the banner; the task's form and the child's summary are there
    context.set_offline(True)
    _offline_goto(page, f"{live_server}/inbox")
    expect(page.locator(".offline-banner")).to_be_visible()  # shown by the page's script once it has run
    expect(page.locator(".offline-banner")).to_contain_text("离线", use_inner_text=True)
    expect(page.locator(f"a[href='/tasks/{task.id}']").first).to_be_attached()
    page.screenshot(path=str(OUT / "inbox-offline-390.png"), full_page=True)
    _offline_goto(page, f"{live_server}/tasks/{task.id}")
    expect(page.locator(".offline-banner")).to_be_visible()
    expect(page.locator("#task-form")).to_have_count(1)
    assert "留守小芳" in page.content()
    page.screenshot(path=str(OUT / "task-offline-390.png"), full_page=True)
    _offline_goto(page, f"{live_server}/outbox")
    expect(page.locator("#outbox-list")).to_have_count(1)
    expect(page.locator(".offline-banner")).to_be_visible()
    _offline_goto(page, f"{live_server}/tasks/{other.id}")  # kept by the button, never opened before
    assert page.locator("#task-form").count() == 1 and "留守小梅" in page.content()

    # a page never kept: the offline page, listing what the phone keeps
    _offline_goto(page, f"{live_server}/cases/{task.case_id}")
    page.wait_for_selector("[data-ld-kept-pages]:not([hidden]) li")
    assert "留守小芳" not in page.inner_text("main h1")
    assert page.locator("body.offline-page").count() == 1
    links = page.eval_on_selector_all("[data-ld-kept-pages] a", "els => els.map(a => new URL(a.href).pathname)")
    assert links[:2] == ["/inbox", "/outbox"] and {f"/tasks/{task.id}", f"/tasks/{other.id}"} <= set(links[2:])
    assert all(re.fullmatch(r"/tasks/\d+", link) for link in links[2:]), links
    page.screenshot(path=str(OUT / "fallback-offline-390.png"), full_page=True)
    _offline_goto(page, f"{live_server}/notifications")
    assert page.locator("body.offline-page").count() == 1

    # back online: the network answers again (no banner)
    context.set_offline(False)
    page.goto(f"{live_server}/inbox")
    expect(page.locator(".offline-banner")).to_be_hidden()

    # a feature may hold the sign-out (e.g. visits not sent yet): then nothing is wiped
    page.evaluate("document.addEventListener('ld:signout', e => e.preventDefault(), {once: true})")
    page.evaluate("new Promise(done => { const r = indexedDB.open('ld-outbox:test'); r.onsuccess = () => "
                  "{ r.result.close(); done(); }; })")
    page.click(".menu-toggle")
    page.locator("#site-menu button", has_text="退出").click()
    page.wait_for_timeout(500)
    assert page.url.endswith("/inbox") and f"ld-pages-{key}" in page.evaluate(CACHES)

    # sign out: every cache, store and the worker go; the task is not served offline any more
    page.locator("#site-menu button", has_text="退出").click()
    page.wait_for_url(re.compile(r".*/login.*"))
    page.wait_for_function("async () => (await caches.keys()).length === 0 "
                           "&& (await navigator.serviceWorker.getRegistrations()).length === 0")
    assert page.evaluate(CACHES) == []
    assert page.evaluate("async () => (await indexedDB.databases()).map(d => d.name)") == []  # ld-outbox:test too
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ld-'))") == []
    context.set_offline(True)
    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
        page.goto(f"{live_server}/tasks/{task.id}")  # no worker, no copy: the browser's own offline error
    assert page.errors == []  # type: ignore[attr-defined]
    context.close()


def test_another_user_on_the_same_phone_never_gets_the_first_users_pages(
        live_server: str, browser: Any, clock: Any) -> None:
    clock.at = MONDAY
    task = _duty_task("留守小兰")
    context = _phone(browser)
    first = _sign_in(context, live_server, "director_t01v01")
    first.goto(f"{live_server}/tasks/{task.id}")
    first.wait_for_selector("#task-form[data-draft-ready='1']")
    first_key = first.get_attribute("meta[name=ld-user-key]", "content")
    assert list(first.evaluate(KEPT)) == [f"ld-pages-{first_key}"]

    # the session ends without a sign-out (expired, cookies cleared); someone else signs in on this phone
    context.clear_cookies()
    second = _sign_in(context, live_server, "township_t01")
    second_key = second.get_attribute("meta[name=ld-user-key]", "content")
    assert second_key != first_key
    second.wait_for_function(f"async () => !(await caches.keys()).includes('ld-pages-{first_key}')")
    assert list(second.evaluate(KEPT)) in ([], [f"ld-pages-{second_key}"])

    # online the server refuses the first user's task; offline the phone has nothing of it either
    second.goto(f"{live_server}/tasks/{task.id}")
    assert "留守小兰" not in second.content()
    second.context.set_offline(True)
    _offline_goto(second, f"{live_server}/tasks/{task.id}")
    assert second.locator("body.offline-page").count() == 1
    assert "留守小兰" not in second.content()
    second.wait_for_selector("[data-ld-kept-pages]:not([hidden]), [data-ld-none-kept]:not([hidden])")
    kept = second.eval_on_selector_all("[data-ld-kept-pages] a", "els => els.map(a => new URL(a.href).pathname)")
    assert f"/tasks/{task.id}" not in kept and set(kept) <= {"/inbox"}, kept
    second.screenshot(path=str(OUT / "second-user-offline-390.png"), full_page=True)
    context.close()


def test_installable_in_a_real_profile_and_sign_out_wipes_without_clear_site_data(
        live_server: str, browser: Any, clock: Any, tmp_path: Any) -> None:
    """A persistent profile (not Playwright's off-the-record one): Chromium reports no installability error at
    all. Then the sign-out answer loses its Clear-Site-Data header (browsers that ignore it, or a proxy
    that drops it): the page's own wipe still leaves no cache, store or worker behind."""
    from webhelpers import ARGS, CHROMIUM

    clock.at = MONDAY
    task = _duty_task("留守小雨")
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True, locale="zh-CN",
        timezone_id="Asia/Shanghai", **PHONE)
    try:
        context.set_default_timeout(15_000)
        page = _sign_in(context, live_server, "director_t01v01")
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
        page.goto(f"{live_server}/tasks/{task.id}")
        page.wait_for_selector("#task-form[data-draft-ready='1']")
        key = page.get_attribute("meta[name=ld-user-key]", "content")
        _kept_when(page, lambda kept: f"/tasks/{task.id}" in kept.get(f"ld-pages-{key}", []))

        stripped: list[str] = []

        def without_clear_site_data(route: Any) -> None:
            response = route.fetch(max_redirects=0)
            headers = {k: v for k, v in response.headers.items() if k.lower() != "clear-site-data"}
            stripped.append(response.headers.get("clear-site-data", ""))
            route.fulfill(response=response, headers=headers)

        page.route("**/logout", without_clear_site_data)
        page.click(".menu-toggle")
        page.locator("#site-menu button", has_text="退出").click()
        page.wait_for_url(re.compile(r".*/login.*"))
        assert stripped == ['"cache", "storage"']  # the server sent it; the browser never saw it
        page.wait_for_function("async () => (await caches.keys()).length === 0 "
                               "&& (await navigator.serviceWorker.getRegistrations()).length === 0")
        assert page.evaluate("async () => (await indexedDB.databases()).map(d => d.name)") == []
        assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ld-'))") == []
        context.set_offline(True)
        with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
            page.goto(f"{live_server}/tasks/{task.id}")
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
