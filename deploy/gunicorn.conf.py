"""Gunicorn settings for Liandong (``make serve``; systemd: deploy/systemd/liandong-web.service).

Every value can be overridden from the environment (``LIANDONG_WEB_*``, docs/settings.md) so one file serves a pilot
county on two cores and a shared deployment behind a reverse proxy.
"""

import os
import sys
from pathlib import Path

from app.common.logs import JSON_RENAMES, JSON_TIME, wants_json
from app.config import Settings

# The same settings object as the app: a wrong LIANDONG_WEB_* value stops gunicorn's master with one
# line naming it (docs/settings.md), before any worker starts.
_settings = Settings.from_env()

bind = _settings.web_bind
wsgi_app = "app:create_app()"
# Sync workers with a few threads: requests are short database transactions; threads cover the
# time a request waits on PostgreSQL, processes give CPU parallelism (SpiffWorkflow is pure Python).
# One process per core (the default of LIANDONG_WEB_WORKERS): more processes than cores only take turns
# on them, each with its own cold caches (compiled SQL, specs, calendars) -- bench/README.md, session 9.
workers = _settings.web_workers
threads = _settings.web_threads
worker_class = "gthread"
# A request that takes longer than this is killed and its worker replaced (the transaction rolls
# back); longer than any page or completion takes, shorter than a proxy's 60 s read timeout.
timeout = _settings.web_timeout
# SIGTERM: stop accepting, finish requests in flight for up to this long, then exit.
graceful_timeout = _settings.web_graceful_timeout
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound (jitter: not all at once). Not often:
# each new worker spends CPU-seconds importing the app and warming its caches (LIANDONG_WEB_MAX_REQUESTS).
max_requests = _settings.web_max_requests
max_requests_jitter = max(200, max_requests // 10)
# Load the app in each worker, not the master: database pools and Redis clients are never
# shared across a fork.
preload_app = False
accesslog = None if _settings.web_access_log in ("", "off") else _settings.web_access_log
errorlog = "-"
loglevel = _settings.web_log_level
# The access log never carries query strings (they may name a child).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
forwarded_allow_ips = _settings.web_forwarded_allow_ips
# gunicorn's control socket (``gunicornc``) defaults to one path per user (~/.gunicorn/gunicorn.ctl): a second
# gunicorn of that user (another installation on the host, a test stack) would take it over from the first.
# systemd and signals (HUP, TERM, TTIN/TTOU) manage ours.
control_socket_disable = True

if wants_json(_settings, debug=False, stream=sys.stderr):
    # gunicorn's own lines (start, worker exits, the access log) as JSON like the app's (app/common/logs.py);
    # the root logger is left to the app, which installs its handler in each worker.
    _json = {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": "%(levelname)s %(name)s %(message)s",
             "rename_fields": JSON_RENAMES, "timestamp": JSON_TIME}
    _access = ({"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
               if accesslog in (None, "-") else
               {"class": "logging.FileHandler", "formatter": "json", "filename": accesslog})
    logconfig_dict = {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": _json},
        "handlers": {"error": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
                     "access": _access},
        "root": {"level": _settings.log_level, "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"] if accesslog else [], "propagate": False},
        },
    }

# Prometheus multiprocess mode (app/common/metrics.py): each worker writes its samples to files in this
# folder and a scrape of any worker adds them all up. Set before any worker imports prometheus_client.
_metrics_dir = Path(_settings.prometheus_multiproc_dir or _settings.instance_dir / "prometheus")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)


def on_starting(server):  # noqa: ARG001 - gunicorn's hook signature
    """A new server starts from empty counters: files of a previous run's workers would be added in.
    Only prometheus_client's own files (``*.db``) go, whatever else an operator keeps in the folder."""
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in _metrics_dir.glob("*.db"):
        stale.unlink(missing_ok=True)


def child_exit(server, worker):  # noqa: ARG001
    """A worker that exits (recycled by max_requests, killed by timeout) stops counting in live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# Profiling for bench/ (off unless LIANDONG_WEB_PROFILE_DIR names a folder): each worker thread profiles the requests
# it serves with its own cProfile (a profile sees only the thread that enabled it) and each worker writes their sum to
# web-<pid>.prof in that folder when it exits. Read with pstats (bench/README.md, issue 17 part 3). The clock is the
# thread's CPU time: on a busy host a wall clock shows mostly the waits for the database and for a CPU.
_profile_dir = os.environ.get("LIANDONG_WEB_PROFILE_DIR")
if _profile_dir:
    import cProfile
    import threading
    import time

    _profiles: list[cProfile.Profile] = []
    _thread_profile = threading.local()

    def pre_request(worker, req):  # noqa: ARG001
        profile = getattr(_thread_profile, "profile", None)
        if profile is None:
            profile = _thread_profile.profile = cProfile.Profile(time.thread_time)
            _profiles.append(profile)
        profile.enable()

    def post_request(worker, req, environ, resp):  # noqa: ARG001
        _thread_profile.profile.disable()

    def worker_exit(server, worker):  # noqa: ARG001
        import pstats

        if _profiles:
            stats = pstats.Stats(_profiles[0])
            for profile in _profiles[1:]:
                stats.add(profile)
            stats.dump_stats(str(Path(_profile_dir) / f"web-{os.getpid()}.prof"))


# Accounting for bench/load.py (off unless LIANDONG_WEB_ACCOUNT_DIR names a folder, and never with the profile): each
# worker adds up the requests it served and the CPU their threads spent inside them (``time.thread_time`` from gunicorn's
# pre_request to its post_request hook: the app, the response's writing), and writes them with its whole CPU and
# its CPU before its first request (start-up) to account-<pid>.json there when it exits. What is left, the process's
# CPU minus both, is gunicorn's own: reading and parsing requests, the thread pool, keep-alive (bench/README.md,
# session 18).
_account_dir = os.environ.get("LIANDONG_WEB_ACCOUNT_DIR")
if _account_dir and not _profile_dir:
    import json
    import resource
    import threading
    import time

    _account = {"requests": 0, "request_cpu": 0.0, "startup_cpu": None}
    _account_lock = threading.Lock()
    _account_local = threading.local()

    def _process_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def pre_request(worker, req):  # noqa: ARG001
        if _account["startup_cpu"] is None:
            _account["startup_cpu"] = _process_cpu()
        _account_local.started = time.thread_time()

    def post_request(worker, req, environ, resp):  # noqa: ARG001
        spent = time.thread_time() - _account_local.started
        with _account_lock:
            _account["requests"] += 1
            _account["request_cpu"] += spent

    def worker_exit(server, worker):  # noqa: ARG001
        Path(_account_dir, f"account-{os.getpid()}.json").write_text(
            json.dumps({**_account, "process_cpu": _process_cpu()}))
