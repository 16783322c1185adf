"""The limiter looks only at the views ``rate_limited`` wrapped (``app.extensions``): every other request skips its
per-request search for limits, of which it has none. The login's own limits are held by test_login_throttle.py."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from app.extensions import LIMITED_VIEWS, _not_limited

APP = Path(__file__).resolve().parents[2] / "app"


def test_only_the_login_is_looked_at_by_the_limiter(app: Flask) -> None:
    limited = {endpoint for endpoint, view in app.view_functions.items() if view in LIMITED_VIEWS}
    assert limited == {"auth.login"}
    for path, method in [("/login", "POST"), ("/login", "GET")]:
        with app.test_request_context(path, method=method):
            assert _not_limited() is False
    for path in ["/healthz", "/api/v1/tasks", "/no/such/page"]:
        with app.test_request_context(path):
            assert _not_limited() is True


def test_no_view_is_limited_past_rate_limited() -> None:
    """``limiter.limit`` used directly would limit nothing: the filter exempts every view ``rate_limited`` did not
    wrap. So the app names it nowhere but in ``rate_limited`` itself (nor ``shared_limit``, ``limiter.exempt``)."""
    offenders = []
    for path in APP.rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\blimiter\.(limit|shared_limit|exempt)\b", line) and path.name != "extensions.py":
                offenders.append(f"{path.relative_to(APP.parent)}:{n}: {line.strip()}")
    assert offenders == []
