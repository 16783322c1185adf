"""An unhandled error on a page answers with the app's own 500 page (security headers, nothing saved), in
the reader's language; on the API with the JSON error shape; and when the layout itself cannot render,
with a fixed page that touches no database."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask


def _boom() -> Any:
    raise RuntimeError("李小明 narrative that must not reach the reader")


@pytest.fixture
def broken(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setitem(app.view_functions, "inbox.index", _boom)
    monkeypatch.setitem(app.view_functions, "tasks.TaskList", _boom)
    return app


def test_a_page_that_fails_answers_with_the_apps_500_page(broken: Flask, page: Any) -> None:
    resp = page("police_t01").get("/inbox")
    assert resp.status_code == 500
    html = resp.get_data(as_text=True)
    assert "500" in html and "李小明" not in html and "Traceback" not in html
    assert "<nav" in html or "header" in html  # the layout, not Werkzeug's bare page
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "no-store" in resp.headers["Cache-Control"]


def test_the_api_answers_500_in_its_error_shape(broken: Flask, as_user: Any) -> None:
    resp = as_user("police_t01").get("/api/v1/tasks")
    assert resp.status_code == 500
    body = resp.get_json()
    assert body["code"] == 500 and "李小明" not in str(body)


def test_when_the_layout_fails_too_a_fixed_page_answers(broken: Flask, page: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import app.common.pages as pages

    def layout_fails(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database down")

    monkeypatch.setattr(pages, "error_page", layout_fails)
    resp = page("police_t01").get("/inbox")
    assert resp.status_code == 500
    assert "Server error" in resp.get_data(as_text=True) and "李小明" not in resp.get_data(as_text=True)
    assert "Content-Security-Policy" in resp.headers
