"""The one source of "now", so tests and operators can run the platform as of a given time."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, has_app_context


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock tests move by hand (``clock.advance(hours=2)``)."""

    def __init__(self, at: datetime):
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self.at = self.at + timedelta(**delta)
        return self.at


def now() -> datetime:
    """Current UTC time from the app's clock (the system clock outside an app)."""
    if has_app_context():
        clock = current_app.extensions.get("liandong.clock")
        if clock is not None:
            return clock.now()
    return datetime.now(UTC)
