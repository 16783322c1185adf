"""Prometheus metrics: request latency by endpoint here; the domain gauges are computed at scrape time
(:mod:`app.dashboard.metrics_views`). docs/operations.md lists every metric.

Under gunicorn each worker is a process: with ``PROMETHEUS_MULTIPROC_DIR`` set (deploy/gunicorn.conf.py
sets it) prometheus_client keeps each process's samples in files there and a scrape adds them up, so
one scrape of any worker sees the whole server. Without it (``flask run``, tests) the process's own
registry is served.

Only the endpoint *name* labels a sample (``cases.case_detail``), never the URL: ids in paths would make
a series per case, and a path could carry text a caller typed.
"""

from __future__ import annotations

import hmac
import time
from ipaddress import ip_address

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from app.config import Settings

REQUEST_LATENCY = Histogram(
    "liandong_http_request_duration_seconds", "Time to answer a request, by Flask endpoint, method and status.",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
UNMATCHED = "unmatched"
"""The endpoint label of a request no route matched (a 404 or 405 scan): one series, whatever the URL."""


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _observed(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        REQUEST_LATENCY.labels(request.endpoint or UNMATCHED, request.method,
                               str(response.status_code)).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, _started)
    app.after_request(_observed)


def may_scrape(settings: Settings) -> int | None:
    """None when this request may read the metrics, else the status to answer: 404 to a stranger (the
    endpoint is not advertised), 403 to a caller whose bearer token is wrong."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if scheme.lower() == "bearer" and raw.strip():
        if token and hmac.compare_digest(raw.strip().encode(), token.encode()):
            return None
        return 403
    try:
        peer = ip_address(request.remote_addr or "")
    except ValueError:
        return 404
    if any(peer in network for network in settings.metrics_allowed_networks):
        return None
    return 404


def exposition(settings: Settings, *collectors: Collector) -> Response:
    """The text exposition of this server's metrics plus ``collectors`` (computed now, once)."""
    if settings.prometheus_multiproc_dir:  # the variable that also switched prometheus_client's storage
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        for collector in collectors:
            registry.register(collector)
        body = generate_latest(registry)
    else:
        registry = CollectorRegistry()
        for collector in collectors:
            registry.register(collector)
        body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
