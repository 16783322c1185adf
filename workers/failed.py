"""Failed jobs, for admins: what failed, on which queue, why, and how many retries it had."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from .queues import QUEUES


@dataclass
class FailedJob:
    id: str
    queue: str
    func: str
    args: str
    ended_at: datetime | None
    error: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def failed_jobs(connection: Redis, limit: int = 100) -> list[FailedJob]:
    found: list[FailedJob] = []
    for name in QUEUES:
        registry = FailedJobRegistry(name, connection=connection)
        for job_id in registry.get_job_ids(0, limit - 1, desc=True):
            job = Job.fetch(job_id, connection=connection) if Job.exists(job_id, connection) else None
            if job is None:
                continue
            result = job.latest_result()
            error = (result.exc_string if result is not None and result.exc_string else "") or ""
            found.append(FailedJob(job.id, name, job.func_name or "", repr(job.args)[:200], job.ended_at,
                                   error.strip().splitlines()[-1][:500] if error.strip() else ""))
    return sorted(found, key=lambda j: j.ended_at or datetime.min, reverse=True)[:limit]


def requeue(connection: Redis, job_id: str) -> str:
    """Put a failed job back on its queue; returns the queue name."""
    job = Job.fetch(job_id, connection=connection)
    queue = Queue(job.origin, connection=connection)
    FailedJobRegistry(queue.name, connection=connection).requeue(job_id)
    return queue.name
