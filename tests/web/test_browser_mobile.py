"""Issue 14, part 1, in real Chromium: every page of every kind of user at 390 x 844 (a phone: isMobile,
touch, device scale 3) scrolls only vertically, folds the menu behind a button, shows list tables as cards,
puts a task's form above the fold with the case details folded, keeps touch targets at least 40 px high,
and the modeler says "use a larger screen" instead of failing; at 1280 px the same pages keep the
dense table layout. Screenshots at 390 px go to the test's tmp dir (and test-output/screenshots/mobile/), one image pixel per CSS
pixel (``scale="css"``: the phone's 3x pixels would cost most of this test's time to encode).

The pages hold every stored payload of ``xss_scenario`` (long unbroken names and URLs): they must wrap.
Every test walks the same world (the ``mobile_walk`` dataset, tests/walks.py: built once per xdist worker,
copied back for each test); the phone pages are one test per kind of user and up to 8 of their pages, so
xdist can spread them.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import expect
from walks import MOBILE_USERS, check_parts, pages_of, walk_tests
from webhelpers import SHOTS, browser_login

pytestmark = [pytest.mark.committing, pytest.mark.browser]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}

MEASURE = """() => {
  const visible = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && !el.closest('[hidden], template'); };
  const small = [...document.querySelectorAll('main a, main button, main summary')].filter(visible)
    .filter(el => el.getBoundingClientRect().height < 40 && !el.closest('.djs-container, .bpmn-canvas, .designer'))
    .map(el => el.tagName + ':' + (el.textContent || '').trim().slice(0, 30) + ':' + Math.round(el.getBoundingClientRect().height));
  const wide = [...document.querySelectorAll('body *')].filter(visible)
    .filter(el => el.getBoundingClientRect().right > innerWidth + 1 && !el.closest('.djs-container'))
    .slice(0, 5).map(el => el.tagName + '.' + el.className + ':' + Math.round(el.getBoundingClientRect().right));
  const tables = [...document.querySelectorAll('main table.list')].filter(visible);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth, small, wide,
          tableDisplays: tables.map(t => getComputedStyle(t).display)};
}"""


PARTS = {"police_t01": 2, "coordinator": 2}
"""How many tests of at most ``walks.PAGES_PER_TEST`` pages a user's phone pages take (1 unless named)."""
WALKS = walk_tests(MOBILE_USERS, PARTS)


def _phone(browser: Any, base: str, username: str) -> Any:
    page = browser_login(browser, base, username)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **PHONE)
    context.add_cookies(page.context.cookies())
    page.context.close()
    context.set_default_timeout(15_000)
    phone = context.new_page()
    errors: list[str] = []
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    phone.errors = errors  # type: ignore[attr-defined]
    return phone


def _name(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", url.lower()).strip("_") or "home"


def _check_phone_page(phone: Any, url: str, shots: Path, user: str) -> None:
    phone.goto(url)
    phone.wait_for_load_state("networkidle")
    m = phone.evaluate(MEASURE)
    where = f"{user} {url}"
    assert m["scrollWidth"] <= m["innerWidth"], (where, m["scrollWidth"], m["wide"])
    assert m["small"] == [], (where, m["small"])
    assert all(d == "block" for d in m["tableDisplays"]), (where, m["tableDisplays"])  # cards, not columns
    # the menu is folded behind its button, which opens it
    menu = phone.locator("#site-menu")
    assert not menu.is_visible(), where
    toggle = phone.locator(".menu-toggle")
    assert toggle.is_visible() and toggle.bounding_box()["height"] >= 40, where
    assert phone.errors == [], (where, phone.errors)
    phone.screenshot(path=str(shots / f"{user}-{_name(url.split('//', 1)[1].split('/', 1)[1])}.png"), full_page=True, scale="css")


@pytest.mark.dataset("mobile_walk")
def test_the_walk_has_pages_for_every_kind_of_user(demo: dict[str, Any]) -> None:
    """The phone walk below is parametrized by user and part: the world must give each of them pages, none
    to a user it would not walk, and no more pages than a user's parts hold."""
    check_parts(demo["visits"], MOBILE_USERS, PARTS)


@pytest.mark.dataset("mobile_walk")
def test_a_phone_folds_the_menu_and_the_case_details_and_a_desktop_keeps_its_density(
        live_server: str, browser: Any, demo: dict[str, Any], clock: Any, tmp_path: Path) -> None:
    clock.at = demo["clock"]
    world = SimpleNamespace(case_id=demo["case_id"], next_task=demo["next_task"])
    visits = demo["visits"]
    shots = tmp_path
    (SHOTS / "mobile").mkdir(parents=True, exist_ok=True)

    # The police liaison's phone: open the menu; the inbox as cards with child, step, village and a due time.
    phone = _phone(browser, live_server, "police_t01")
    phone.goto(f"{live_server}/inbox")
    phone.click(".menu-toggle")
    expect(phone.locator("#site-menu")).to_be_visible()
    expect(phone.locator("#site-menu nav a", has_text="新报告")).to_be_visible()
    expect(phone.locator(".menu-toggle")).to_have_attribute("aria-expanded", "true")
    phone.screenshot(path=str(shots / "menu-open.png"), scale="css")
    phone.click(".menu-toggle")
    card = phone.locator("table.inbox tbody tr").first
    for cell in ("td.child", "a.step", "td.village", "td.due-at .abs-due"):
        assert card.locator(cell).is_visible(), cell
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", card.locator(".abs-due").inner_text())
    assert card.locator("td.child").evaluate("el => getComputedStyle(el, '::before').content").strip('"') == "儿童"

    # A task page: the form's first field above the fold, the case details folded.
    phone.goto(f"{live_server}/tasks/{world.next_task}")
    first = phone.locator("#task-form .field").first
    box = first.bounding_box()
    assert box is not None and box["y"] + 20 < 844, box
    details = phone.locator("details.context")
    assert details.count() == 1 and details.get_attribute("open") is None
    details.locator(":scope > summary").click()
    expect(details.locator("dl.facts").first).to_be_visible()
    phone.screenshot(path=str(shots / "task-phone.png"), full_page=True, scale="css")

    # The case diagram fits the phone's width.
    phone.goto(f"{live_server}/cases/{world.case_id}")
    phone.wait_for_selector(".bpmn-canvas[data-rendered='1']")
    canvas = phone.locator(".bpmn-canvas").first.bounding_box()
    assert canvas is not None and canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= 390
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.context.close()

    # The modeler on a phone: a clear message, no script error, no sideways scrolling.
    designer = _phone(browser, live_server, "designer")
    designer.goto(f"{live_server}/designer/")
    draft_url = next(p for p in visits["designer"] if p.count("/") == 3 and "/drafts/" in p)
    designer.goto(f"{live_server}{draft_url}")
    designer.wait_for_load_state("networkidle")
    message = designer.locator(".small-screen")
    assert message.is_visible() and "更大的屏幕" in message.inner_text()
    assert designer.errors == [] and designer.evaluate("document.documentElement.scrollWidth") <= 390
    designer.screenshot(path=str(shots / "modeler-phone.png"), full_page=True, scale="css")
    designer.context.close()

    # 1280 px: the same lists stay tables (density), the menu is inline and the case details open.
    wide = browser_login(browser, live_server, "police_t01")
    wide.set_viewport_size({"width": 1280, "height": 900})
    wide.goto(f"{live_server}/inbox")
    assert wide.locator("table.inbox").evaluate("t => getComputedStyle(t).display") == "table"
    assert wide.locator("table.inbox thead").is_visible()
    assert wide.locator("#site-menu nav").is_visible() and not wide.locator(".menu-toggle").is_visible()
    due = wide.locator("table.inbox tbody tr td.due-at").first  # in words and as a date and time (issue 14, part 5)
    assert due.locator(".abs-due").is_visible() and due.locator(".rel-due").is_visible()
    row = wide.locator("table.inbox tbody tr").first.bounding_box()
    assert row is not None and row["height"] < 90, row  # one line per task, not a card
    wide.goto(f"{live_server}/tasks/{world.next_task}")
    assert wide.locator("details.context").get_attribute("open") is not None
    assert wide.evaluate("document.documentElement.scrollWidth") <= 1280
    wide.context.close()
    _keep(shots)


@pytest.mark.dataset("mobile_walk")
@pytest.mark.parametrize(("user", "part"), WALKS, ids=[f"{user}-{part}" for user, part in WALKS])
def test_every_page_fits_a_phone(user: str, part: int, live_server: str, browser: Any, demo: dict[str, Any],
                                 clock: Any, tmp_path: Path) -> None:
    clock.at = demo["clock"]
    phone = _phone(browser, live_server, user)
    for path in pages_of(demo["visits"], user, part):
        if "/designer/drafts/" in path and path.count("/") == 3:
            continue  # the modeler: above
        _check_phone_page(phone, f"{live_server}{path}", tmp_path, user)
    phone.context.close()
    _keep(tmp_path)


def _keep(shots: Path) -> None:
    (SHOTS / "mobile").mkdir(parents=True, exist_ok=True)
    for shot in shots.glob("*.png"):
        (SHOTS / "mobile" / shot.name).write_bytes(shot.read_bytes())
