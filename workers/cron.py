"""The periodic jobs, on RQ's cron scheduler (``flask cron`` runs it; run one per installation).

Two jobs are periodic. The recurring-duty scheduler (``workers.duties``, every
quarter of an hour; idempotent per duty cycle). And the sweep: it reads the
database for due ladder steps, timers and unsent mail and enqueues the jobs for them, and enqueues the
digest job (which does nothing until the county's digest time on a working
day, and then once per user). A second scheduler would only enqueue harmless
duplicate sweeps.
"""

from __future__ import annotations

from redis import Redis
from rq.cron import CronScheduler

from . import duties, jobs
from .queues import DEFAULT, JOB_TIMEOUT, RESULT_TTL


def build_scheduler(connection: Redis, sweep_interval: int) -> CronScheduler:
    scheduler = CronScheduler(connection=connection)
    scheduler.register(jobs.sweep, DEFAULT, interval=sweep_interval, job_timeout=JOB_TIMEOUT,
                       result_ttl=RESULT_TTL, name="liandong.sweep")
    scheduler.register(duties.start_due_duties, DEFAULT, interval=duties.DUTIES_INTERVAL, job_timeout=JOB_TIMEOUT,
                       result_ttl=RESULT_TTL, name="liandong.duties")
    return scheduler
