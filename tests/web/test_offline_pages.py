"""Issue 14, part 2, on the server's side: which answers a phone may keep (only a worker's own inbox and
open tasks, marked with their user key) and which stay ``no-store``; the worker script, the manifest and the
offline page hold no user's data; the page after a sign-out tells the phone to wipe."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from webhelpers import first_open_task, open_case

from app.common.offline import OFFLINE_HEADER, user_key
from app.extensions import db
from app.org.queries import user_by_username
from app.processes.models import ProcessInstance
from app.workflow import commands


def _key(username: str) -> str:
    user = user_by_username(username)
    assert user is not None
    return user_key(user.id)


def _kept(resp: Any, username: str) -> bool:
    if resp.headers.get(OFFLINE_HEADER) is None:
        assert "no-store" in resp.headers["Cache-Control"]
        return False
    assert resp.headers[OFFLINE_HEADER] == _key(username)
    assert resp.headers["Cache-Control"] == "private, no-cache" and "Cookie" in resp.headers["Vary"]
    return True


def test_only_a_workers_own_inbox_and_open_tasks_may_be_kept(page: Any, as_user: Any) -> None:
    case = open_case(as_user)
    task = first_open_task(case["case_id"])
    police, coordinator = page("police_t01"), page("coordinator")

    assert _kept(police.get("/inbox"), "police_t01")
    assert _kept(police.get("/inbox?scope=mine"), "police_t01")
    assert not _kept(police.get("/inbox", headers={"HX-Request": "true", "HX-Target": "inbox-table"}), "police_t01")
    assert _kept(police.get(f"/tasks/{task.id}"), "police_t01")
    assert not _kept(police.get(f"/tasks/{task.id}/draft"), "police_t01")  # JSON: never
    assert not _kept(police.get(f"/cases/{case['case_id']}"), "police_t01")  # the case file: never
    assert not _kept(police.get("/notifications"), "police_t01")
    assert not _kept(police.get("/reports/new"), "police_t01")  # a one-use idempotency key
    assert _kept(police.get("/outbox"), "police_t01")  # drawn from the phone's own queue: no child's data
    # a coordinator reads the task and the county's queue at a desk: not kept
    assert not _kept(coordinator.get(f"/tasks/{task.id}"), "coordinator")
    assert not _kept(coordinator.get("/inbox"), "coordinator")
    # another unit's task: 403, not kept
    refused = page("education_c01").get(f"/tasks/{task.id}")
    assert refused.status_code == 403 and not _kept(refused, "education_c01")
    # a task no longer open is not kept any more
    instance = db.session.get(ProcessInstance, task.instance_id)
    assert instance is not None
    commands.cancel(instance, None, "test")
    db.session.commit()
    assert not _kept(police.get(f"/tasks/{task.id}"), "police_t01")


def test_user_keys_are_stable_distinct_and_not_the_id(app: Flask, page: Any) -> None:
    police = user_by_username("police_t01")
    assert police is not None
    keys = {_key(name) for name in ("police_t01", "director_t01v01", "township_t01", "coordinator")}
    assert len(keys) == 4 and all(re.fullmatch(r"[0-9a-f]{24}", k) for k in keys)
    assert _key("police_t01") == user_key(police.id) and str(police.id) not in _key("police_t01")
    html = page("police_t01").get("/inbox").get_data(as_text=True)
    assert f'<meta name="ld-user-key" content="{_key("police_t01")}">' in html
    assert 'name="ld-user-key"' not in page(None).get("/login").get_data(as_text=True)


def test_worker_manifest_and_offline_page_hold_no_users_data(page: Any) -> None:
    police = page("police_t01")
    sw = police.get("/sw.js")
    assert sw.status_code == 200 and sw.mimetype == "text/javascript"
    assert sw.headers["Service-Worker-Allowed"] == "/" and sw.headers["Cache-Control"] == "no-store"
    body = sw.get_data(as_text=True)
    config = json.loads(re.search(r"self\.LD_CONFIG = (\{.*\});", body).group(1))  # type: ignore[union-attr]
    urls = {e["url"]: e["revision"] for e in config["precache"]}
    assert {"/static/css/app.css", "/static/js/offline.js", "/static/icons/icon-512.png", "/offline"} <= set(urls)
    assert all(re.fullmatch(r"[0-9a-f]{16}", r) for r in urls.values())
    assert "workbox-precaching.prod.js" in body and "/static/js/service-worker.js?v=" in body
    assert "police" not in body.lower() and "东城" not in body
    assert page(None).get("/sw.js").get_data(as_text=True).split("importScripts")[1] == body.split("importScripts")[1]

    manifest = police.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = manifest.get_json(force=True)
    assert data["start_url"] == "/inbox" and data["display"] == "standalone" and "联动" in data["name"]
    assert "Liandong" in data["name"]
    for icon in data["icons"]:
        assert police.get(icon["src"]).status_code == 200

    offline = police.get("/offline").get_data(as_text=True)
    user = user_by_username("police_t01")
    assert user is not None and user.display_name not in offline and "csrf" not in offline.lower()


def test_the_page_after_sign_out_tells_the_phone_to_wipe(page: Any) -> None:
    police = page("police_t01")
    resp = police.post("/logout")
    assert resp.status_code == 302 and resp.headers["Clear-Site-Data"] == '"cache", "storage"'
    after = police.client.get("/login").get_data(as_text=True)
    assert '<meta name="ld-signed-out" content="1">' in after
    assert '<meta name="ld-signed-out"' not in police.client.get("/login").get_data(as_text=True)  # once


def _statements(client: Any, path: str) -> tuple[int, int]:
    from races import statement_hooks

    seen: list[str] = []
    with statement_hooks(db.engine, before=lambda _thread, sql: seen.append(sql)):
        status = client.get(path).status_code
    return status, len(seen)


def test_the_worker_script_manifest_and_offline_page_cost_no_query_for_a_signed_out_phone(page: Any) -> None:
    """The browser asks for /sw.js on navigations (update checks): it must stay cheap. Signed out: no SQL;
    signed in: only what loading the session's user costs anyway (the same as the offline page); the
    manifest never depends on who asks."""
    anonymous, police = page(None), page("police_t01")
    for path in ("/sw.js", "/manifest.webmanifest", "/offline"):
        assert _statements(anonymous, path) == (200, 0), path
    signed_in = {path: _statements(police, path) for path in ("/sw.js", "/manifest.webmanifest", "/offline")}
    assert {status for status, _ in signed_in.values()} == {200}
    assert signed_in["/manifest.webmanifest"][1] == 0, signed_in  # never looks at who asks
    assert signed_in["/sw.js"][1] == signed_in["/offline"][1] == 1, signed_in  # the session's user with its roles
