"""County time comes from one helper: ``county_zone`` / ``local`` / ``local_today``."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask

from app.common.clock import FixedClock, county_zone, local, local_today


def test_today_turns_at_county_midnight_not_utc_midnight(ctx: Flask, clock: FixedClock) -> None:
    assert county_zone().key == "Asia/Shanghai"
    clock.at = datetime(2026, 3, 10, 15, 59, tzinfo=UTC)  # 23:59 in the county
    assert local_today() == date(2026, 3, 10)
    clock.at = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 00:00 the next day there, still the 10th in UTC
    assert local_today() == date(2026, 3, 11)
    assert local(clock.at).hour == 0


def test_a_naive_time_is_refused(ctx: Flask) -> None:
    with pytest.raises(ValueError, match="aware"):
        local(datetime(2026, 3, 10, 9, 0))
