"""``flask worker``, ``flask cron`` and ``flask jobs``: RQ inside the app context."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .cron import SurvivingCron
from .failed import failed_jobs, requeue
from .queues import QUEUES, REDIS_ERRORS, redis_connection
from .worker import SurvivingWorker

jobs_cli = AppGroup("jobs", help="Background jobs (RQ): failed jobs for admins.")


CRON_REDIS_TIMEOUT = 5.0
"""Seconds the cron waits on a hung Redis before it sweeps from the database instead."""


def _redis_or_exit(timeout: float | None = None):  # type: ignore[no-untyped-def]
    if not current_app.config["LIANDONG"].redis_url:
        click.echo("REDIS_URL is not set: jobs run inline (the web server's loop or `flask deadlines sweep`)",
                   err=True)
        sys.exit(1)
    return redis_connection() if timeout is None else redis_connection(timeout=timeout)


@click.command("worker")
@click.option("--queues", "queue_names", default=",".join(QUEUES), show_default=True,
              help="comma-separated queues, drained in this order")
@click.option("--burst", is_flag=True, help="exit when the queues are empty")
@with_appcontext
def worker_command(queue_names: str, burst: bool) -> None:
    """Run an RQ worker in this app's context (jobs run in this process; retries are scheduled here)."""
    _redis_or_exit()
    names = [n.strip() for n in queue_names.split(",") if n.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if unknown:
        click.echo(f"unknown queue(s) {unknown}; known: {', '.join(QUEUES)}", err=True)
        sys.exit(2)
    # SimpleWorker: no fork per job, so the database pool is reused and SQLAlchemy connections are
    # never shared across a fork. A worker that dies leaves its job "abandoned"; RQ's registry
    # cleanup retries it once the heartbeat expires. SurvivingWorker: Redis errors never end it,
    # and its scheduler is a thread (workers/worker.py).

    url = current_app.config["LIANDONG"].redis_url
    worker = SurvivingWorker(names, lambda: redis_connection(url))
    if not burst:
        worker.install_signal_handlers()
    worker.run(burst=burst)


@click.command("cron")
@with_appcontext
def cron_command() -> None:
    """Run the cron scheduler: enqueues the deadline sweep every LIANDONG_SWEEP_INTERVAL seconds.

    Survives Redis outages and hangs (it sweeps from the database meanwhile); only SIGTERM/SIGINT end it.
    """

    connection = _redis_or_exit(timeout=CRON_REDIS_TIMEOUT)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cron = SurvivingCron(app, connection, current_app.config["LIANDONG"].sweep_interval)
    cron.install_signal_handlers()
    cron.run()


@jobs_cli.command("failed")
@click.option("--limit", default=50, show_default=True)
def jobs_failed(limit: int) -> None:
    """List failed jobs, newest first (id, queue, function, error)."""

    try:
        rows = failed_jobs(_redis_or_exit(timeout=2.0), limit)
    except REDIS_ERRORS as exc:
        click.echo(f"Redis is unavailable ({type(exc).__name__}): the failed-job registry cannot be read now",
                   err=True)
        sys.exit(1)
    for job in rows:
        ended = job.ended_at.isoformat(timespec="seconds") if job.ended_at else "-"
        click.echo(f"{job.id}  {job.queue:8} {ended}  {job.func}{job.args}\n    {job.error}")
    if not rows:
        click.echo("no failed jobs")


@jobs_cli.command("requeue")
@click.argument("job_id")
def jobs_requeue(job_id: str) -> None:
    """Put a failed job back on its queue."""

    click.echo(f"requeued {job_id} on {requeue(_redis_or_exit(), job_id)}")


COMMANDS = (worker_command, cron_command, jobs_cli)
