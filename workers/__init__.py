"""Background work: RQ queues by purpose, thin job functions, the cron schedule, the inline loop.

With ``REDIS_URL`` the job functions run in ``flask worker`` processes and
``flask cron`` enqueues the periodic ones; without it the same functions run
inline, driven by the in-process loop (``workers.loop``) or ``flask deadlines
sweep``. Either way the work to do is read from the database, so nothing is
lost while Redis or a worker is down. See docs/deadlines-and-escalation.md.
"""
