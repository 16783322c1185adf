"""The recurring-duty job: start the duty cycles that are due (weekly contact, visits, assessments ...).

Runs from RQ's cron scheduler every ``DUTIES_INTERVAL`` seconds (``workers.cron``)
and, without Redis, from the in-process loop (``workers.loop``). Periods are a
week or longer, so a quarter of an hour between runs is ample.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from app.common.clock import now
from app.duties.scheduler import start_due_duties as run
from app.extensions import db

from .jobs import job_context

log = logging.getLogger(__name__)

DUTIES_INTERVAL = 900
"""Seconds between scheduler runs."""


def start_due_duties(at_iso: str | None = None) -> int:
    """Queue ``default``; retried. Start the duty cycles due at ``at_iso`` (default: now); commits once.

    Idempotent: each (duty, subject, period) is one ``duty_cycle`` row, inserted
    with ON CONFLICT DO NOTHING, so reruns and concurrent runs start nothing twice.
    """

    with job_context():
        at = datetime.fromisoformat(at_iso) if at_iso else now()
        started = run(at)
        db.session.commit()
        return started


class DutiesTicker:
    """Runs the duties job from the inline loop at most once per ``interval`` seconds."""

    def __init__(self, interval: float = DUTIES_INTERVAL) -> None:
        self.interval = interval
        self.last: float | None = None

    def maybe_run(self) -> int:
        """Never raises: a failing duty run is logged and must not stop the deadline sweep."""
        if self.last is not None and time.monotonic() - self.last < self.interval:
            return 0
        self.last = time.monotonic()
        try:
            return start_due_duties()
        except Exception:
            log.exception("recurring duties failed; retried at the next interval")
            return 0
