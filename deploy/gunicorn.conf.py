"""Gunicorn settings for Liandong (``make serve``; systemd: deploy/systemd/liandong-web.service).

Every value can be overridden from the environment (``LIANDONG_WEB_*``) so one file serves a pilot
county on two cores and a shared deployment behind a reverse proxy.
"""

import multiprocessing
import os

bind = os.environ.get("LIANDONG_WEB_BIND", "127.0.0.1:8000")
wsgi_app = "app:create_app()"
# Sync workers with a few threads: requests are short database transactions; threads cover the
# time a request waits on PostgreSQL, processes give CPU parallelism (SpiffWorkflow is pure Python).
workers = int(os.environ.get("LIANDONG_WEB_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9)))
threads = int(os.environ.get("LIANDONG_WEB_THREADS", 4))
worker_class = "gthread"
# A request that takes longer than this is killed and its worker replaced (the transaction rolls
# back); longer than any page or completion takes, shorter than a proxy's 60 s read timeout.
timeout = int(os.environ.get("LIANDONG_WEB_TIMEOUT", 30))
# SIGTERM: stop accepting, finish requests in flight for up to this long, then exit.
graceful_timeout = int(os.environ.get("LIANDONG_WEB_GRACEFUL_TIMEOUT", 20))
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound (jitter: not all at once).
max_requests = int(os.environ.get("LIANDONG_WEB_MAX_REQUESTS", 2000))
max_requests_jitter = 200
# Load the app in each worker, not the master: database pools and Redis clients are never
# shared across a fork.
preload_app = False
accesslog = os.environ.get("LIANDONG_WEB_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
loglevel = os.environ.get("LIANDONG_WEB_LOG_LEVEL", "info")
# The access log never carries query strings (they may name a child).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
forwarded_allow_ips = os.environ.get("LIANDONG_WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")
