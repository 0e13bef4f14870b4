"""Prometheus metrics (prometheus-client), all named ``mailroom_*``.

    mailroom_tasks_accepted_total                    tasks stored and queued by the API
    mailroom_tasks_delivered_total                   tasks completed
    mailroom_tasks_failed_total{reason}              tasks that failed for good
    mailroom_tasks_retried_total{reason}             attempts that failed and were rescheduled
    mailroom_delivery_duration_seconds{result}       one hand-over to the mailer (histogram;
                                                     result "ok" or "error")
    mailroom_deliveries_in_flight                    deliveries being handled now
    mailroom_queue_depth                             queue entries not yet acknowledged (ready,
                                                     leased or waiting for a retry), read at
                                                     scrape time; NaN when the store cannot tell
    mailroom_smtp_pool_connections                   open pooled SMTP connections

``reason`` is one of ``REASONS``: the SMTP reply class when the server answered (RFC 5321
§4.2.1), else the kind of error that ended the exchange.

Several processes (``mailroom api`` and ``mailroom worker`` on one host) share their metrics
through prometheus-client's multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` (set from
``MAILROOM_METRICS_DIR`` by the command line, before prometheus-client is imported) names a
directory where each process writes its values, and ``/metrics`` of any of them adds them up.
"""

import os
import ssl
from collections.abc import Iterator
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from application.errors import DeliveryFailed

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""The Prometheus text exposition format, as prometheus-client writes it."""

REASONS: Final = (
    "smtp_4xx",
    "smtp_5xx",
    "timeout",
    "tls",
    "connection",
    "io",
    "worker_lost",
    "other",
)
DURATION_BUCKETS_S: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multiprocess mode, or None when it is off."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """Mailroom's metrics, in their own ``registry`` (one per container, so that several apps in
    one process, as in tests, do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.accepted = Counter("mailroom_tasks_accepted", "Tasks accepted", registry=r)
        self.delivered = Counter("mailroom_tasks_delivered", "Tasks delivered", registry=r)
        self.failed = Counter(
            "mailroom_tasks_failed", "Tasks failed for good", ["reason"], registry=r
        )
        self.retried = Counter(
            "mailroom_tasks_retried", "Failed attempts rescheduled", ["reason"], registry=r
        )
        self.delivery_seconds = Histogram(
            "mailroom_delivery_duration_seconds",
            "Time to hand one message to the mailer",
            ["result"],
            buckets=DURATION_BUCKETS_S,
            registry=r,
        )
        self.in_flight = Gauge(
            "mailroom_deliveries_in_flight",
            "Deliveries being handled",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.queue_depth = Gauge(
            "mailroom_queue_depth",
            "Queue entries not yet acknowledged",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.smtp_connections = Gauge(
            "mailroom_smtp_pool_connections",
            "Open pooled SMTP connections",
            registry=r,
            multiprocess_mode="livesum",
        )
        for reason in REASONS:
            self.failed.labels(reason)
            self.retried.labels(reason)

    def exposition(self) -> bytes:
        """Every metric in the text format; in multiprocess mode, summed over all processes."""
        path = multiprocess_dir()
        if path is None:
            return generate_latest(self.registry)
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected, path=path)  # type: ignore[no-untyped-call]
        return generate_latest(collected)


def mark_process_dead(pid: int) -> None:
    """In multiprocess mode, drop the live gauges of a process that exits (in-flight
    deliveries, pool connections); counters and histograms keep counting its past work."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def failure_reason(exc: DeliveryFailed) -> str:
    """The ``reason`` label of a delivery error: ``smtp_4xx``/``smtp_5xx`` from its reply code,
    else from the exception it was raised from: ``timeout``, ``tls``, ``connection`` (refused,
    reset, closed), ``io`` (another ``OSError``), ``other``."""
    if exc.code is not None and 400 <= exc.code <= 599:
        return f"smtp_{exc.code // 100}xx"
    for cause in _causes(exc):
        if isinstance(cause, TimeoutError):
            return "timeout"
        if isinstance(cause, ssl.SSLError):
            return "tls"
        if isinstance(cause, ConnectionError):
            return "connection"
        if isinstance(cause, OSError):
            return "io"
    return "other"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current = exc.__cause__ or exc.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
